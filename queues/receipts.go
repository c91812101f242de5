package queues

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A receipt is the delivery's JetStream ack subject
// ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>, or
// the form with a domain and an account hash), base64url without padding:
// everything needed to settle the delivery, so no state is kept per claim and
// a receipt still works after a restart, within its lease.

func encodeReceipt(reply string) string { return base64.RawURLEncoding.EncodeToString([]byte(reply)) }

// receipt is a decoded receipt.
type receipt struct {
	subject   string
	stream    string
	consumer  string
	delivered int
	seq       uint64 // in the ready stream
	id        uint64 // the message's ID: its sequence in the inbox (0: unknown)
	inboxAck  string // the dispatcher's inbox delivery's ack subject ("": unknown)
}

// decodeReceipt parses a receipt of the queue's consumer.
func decodeReceipt(name, r string) (receipt, error) {
	bad := func(why string) (receipt, error) {
		return receipt{}, fmt.Errorf("%w: %s", ErrInvalidReceipt, why)
	}
	raw, err := base64.RawURLEncoding.DecodeString(r)
	if err != nil || len(raw) == 0 || len(raw) > 512 {
		return bad("not a receipt")
	}
	subj := string(raw)
	toks := strings.Split(subj, ".")
	if len(toks) < 9 || toks[0] != "$JS" || toks[1] != "ACK" {
		return bad("not a receipt")
	}
	if len(toks) > 9 { // $JS.ACK.<domain>.<hash>.<stream>...
		if len(toks) < 11 {
			return bad("not a receipt")
		}
		toks = append(toks[:2:2], toks[4:]...)
	}
	rc := receipt{subject: subj, stream: toks[2], consumer: toks[3]}
	dc, err1 := strconv.ParseUint(toks[4], 10, 32)
	seq, err2 := strconv.ParseUint(toks[5], 10, 64)
	if err1 != nil || err2 != nil || seq == 0 || dc == 0 {
		return bad("not a receipt")
	}
	rc.delivered, rc.seq = int(dc), seq
	if rc.stream != readyStream(name) || rc.consumer != consumerName {
		return bad("the receipt is of another queue")
	}
	return rc, nil
}

// receipts decodes a batch of receipts and checks that each one's message
// is still in the queue, so that a call with a bad receipt settles none.
func (m *Manager) receipts(ctx context.Context, q *queue, rs []string) ([]receipt, error) {
	if len(rs) == 0 || len(rs) > MaxReceipts {
		return nil, fmt.Errorf("%w: receipts: 1 to %d", ErrInvalid, MaxReceipts)
	}
	out := make([]receipt, len(rs))
	for i, r := range rs {
		rc, err := decodeReceipt(q.name, r)
		if err != nil {
			return nil, fmt.Errorf("receipts[%d]: %w", i, err)
		}
		out[i] = rc
	}
	// The lookups are independent round trips: in flight together.
	errs := make([]error, len(out))
	concurrently(len(out), func(i int) {
		raw, err := q.ready.GetMsg(ctx, out[i].seq)
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				errs[i] = fmt.Errorf("receipts[%d]: %w: its message is no longer in the queue (acknowledged, dead-lettered or purged)", i, ErrInvalidReceipt)
				return
			}
			errs[i] = m.notFound(q.name, err)
			return
		}
		out[i].id, _ = strconv.ParseUint(raw.Header.Get(hdrID), 10, 64)
		out[i].inboxAck = raw.Header.Get(hdrInboxAck)
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// settleConcurrency bounds the round trips one settle or receipt check has
// in flight at once.
const settleConcurrency = 64

// concurrently runs fn(0..n-1), at most settleConcurrency at once, and
// returns when all have.
func concurrently(n int, fn func(i int)) {
	sem := make(chan struct{}, settleConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			fn(i)
		}()
	}
	wg.Wait()
}

// settle sends one ack-protocol body for every receipt and waits for the
// server to confirm each.
func (m *Manager) settle(ctx context.Context, name string, rs []string, body func(receipt) string) (int, error) {
	return m.settleThen(ctx, name, rs, body, nil)
}

// settleThen is settle with a step before each receipt's settle: one that
// fails leaves that delivery unsettled.
func (m *Manager) settleThen(ctx context.Context, name string, rs []string, body func(receipt) string, before func(context.Context, *queue, receipt) error) (int, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	rcs, err := m.receipts(ctx, q, rs)
	if err != nil {
		return 0, err
	}
	nc := m.js.Conn()
	errs := make([]error, len(rcs))
	concurrently(len(rcs), func(i int) {
		rctx, cancel := ctxWithTimeout(ctx, 5*time.Second)
		defer cancel()
		if before != nil {
			if err := before(rctx, q, rcs[i]); err != nil {
				errs[i] = fmt.Errorf("queue %s: settle message %d: %w", name, rcs[i].id, err)
				return
			}
		}
		if _, err := nc.RequestWithContext(rctx, rcs[i].subject, []byte(body(rcs[i]))); err != nil {
			errs[i] = fmt.Errorf("queue %s: settle message %d: %w", name, rcs[i].seq, err)
		}
	})
	settled := 0
	var first error
	for _, err := range errs {
		if err == nil {
			settled++
		} else if first == nil {
			first = err
		}
	}
	return settled, first
}

func ctxWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// Ack settles deliveries as done: their messages leave the queue. A bad
// receipt (ErrInvalidReceipt) settles none; an error after that reports how
// many were settled.
func (m *Manager) Ack(ctx context.Context, name string, receipts []string) (int, error) {
	// The message leaves the inbox (which holds every message until it is
	// settled, so the queue's limits count it), then its delivery is acked.
	n, err := m.settleThen(ctx, name, receipts, func(rc receipt) string { m.dropLease(rc.subject); return "+ACK" }, m.removeFromInbox)
	m.notify(name, change{settled: n})
	return n, err
}

// Nack releases deliveries for redelivery: after delay when it is set, else
// after the queue's backoffMs for the attempt (at once without backoff).
func (m *Manager) Nack(ctx context.Context, name string, receipts []string, delay *time.Duration) (int, error) {
	if delay != nil && (*delay < 0 || *delay > dur(maxAckWaitMs)) {
		return 0, fmt.Errorf("%w: delayMs %d: must be 0 to %d", ErrInvalid, delay.Milliseconds(), maxAckWaitMs)
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	backoff, jitter := q.cfg.BackoffMs, q.cfg.BackoffJitter
	n, err := m.settle(ctx, name, receipts, func(rc receipt) string {
		m.dropLease(rc.subject)
		return nakBody(rc, delay, backoff, jitter)
	})
	m.notify(name, change{released: n})
	return n, err
}

// nakBody is the ack-protocol body releasing a delivery: after delay when
// set, else after backoff for its attempt.
func nakBody(rc receipt, delay *time.Duration, backoff []int64, jitter float64) string {
	var d time.Duration
	switch {
	case delay != nil:
		d = *delay
	case len(backoff) > 0:
		d = dur(backoff[min(rc.delivered, len(backoff))-1])
		d = time.Duration(float64(d) * (1 + jitter*(2*rand.Float64()-1)))
	}
	if d <= 0 {
		return "-NAK"
	}
	return fmt.Sprintf(`-NAK {"delay": %d}`, d.Nanoseconds())
}

// Extend renews deliveries' leases: each is good for another lease from
// now (0: the queue's ackWaitMs). See Claim for how a lease other than
// ackWaitMs is kept.
func (m *Manager) Extend(ctx context.Context, name string, receipts []string, lease time.Duration) (int, error) {
	if lease < 0 || lease > MaxLease {
		return 0, fmt.Errorf("%w: leaseMs %d: must be 0 to %d", ErrInvalid, lease.Milliseconds(), MaxLease.Milliseconds())
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	return m.settle(ctx, name, receipts, func(rc receipt) string {
		m.keepLease(q, rc, lease)
		return "+WPI"
	})
}

// removeFromInbox removes a settled message from the queue's inbox: by an
// ack of the dispatcher's delivery of it (a protocol message the server
// handles in place, far cheaper than a delete through the JetStream API),
// or, when that is not confirmed (a dispatcher taking over has not read the
// message yet), by a delete.
func (m *Manager) removeFromInbox(ctx context.Context, q *queue, rc receipt) error {
	if rc.id == 0 {
		return nil
	}
	if rc.inboxAck != "" {
		actx, cancel := context.WithTimeout(ctx, inboxAckWait)
		_, err := m.js.Conn().RequestWithContext(actx, rc.inboxAck, []byte("+ACK"))
		cancel()
		if err == nil {
			return nil
		}
	}
	if err := q.stream.DeleteMsg(ctx, rc.id); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return err
	}
	return nil
}

// inboxAckWait bounds the wait for the confirmation of an inbox ack before
// the delete is tried instead.
const inboxAckWait = 2 * time.Second
