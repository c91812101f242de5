package queues

import (
	"time"
)

// A queue's consumer has one lease for every delivery: ackWaitMs. A claim
// or an extend that asks for another lease is kept by the node that
// answered it: a shorter lease ends with a release (the message is
// delivered again at once, as if its lease had expired), a longer one is
// renewed every half ackWaitMs until it ends. If that node stops, the
// queue's ackWaitMs applies again from the last renewal: a message is never
// lost by it, only delivered again sooner or later than asked.

// keepLease arranges for the delivery to be leased for lease from now
// (0 or ackWaitMs: nothing to keep), replacing what was kept for it.
func (m *Manager) keepLease(q *queue, rc receipt, lease time.Duration) {
	m.dropLease(rc.subject)
	ackWait := dur(q.cfg.AckWaitMs)
	if lease <= 0 || lease == ackWait {
		return
	}
	end := time.Now().Add(lease)
	nc := m.js.Conn()
	var t *time.Timer
	var tick func()
	tick = func() {
		m.mu.Lock()
		if m.leases[rc.subject] != t {
			m.mu.Unlock()
			return // settled or replaced
		}
		left := time.Until(end)
		if lease < ackWait || left <= 0 {
			delete(m.leases, rc.subject)
			m.mu.Unlock()
			if lease < ackWait {
				// A release counts like an expiry: the attempt is used up.
				_ = nc.Publish(rc.subject, []byte("-NAK"))
				m.notify(q.name, change{released: 1})
			}
			return
		}
		// Renew: the consumer's lease runs ackWait from now; the next
		// renewal comes before it ends, or the last lets it end at end.
		_ = nc.Publish(rc.subject, []byte("+WPI"))
		next := min(ackWait/2, left)
		if left <= ackWait {
			next = left // the renewal just sent covers the rest
		}
		t.Reset(next)
		m.mu.Unlock()
	}
	first := lease
	if lease > ackWait {
		first = ackWait / 2
	}
	m.mu.Lock()
	if m.leases == nil {
		m.leases = map[string]*time.Timer{}
	}
	t = time.AfterFunc(first, tick)
	m.leases[rc.subject] = t
	m.mu.Unlock()
}

// dropLease stops keeping a delivery's lease (it was settled).
func (m *Manager) dropLease(subject string) {
	m.mu.Lock()
	if t := m.leases[subject]; t != nil {
		t.Stop()
		delete(m.leases, subject)
	}
	m.mu.Unlock()
}
