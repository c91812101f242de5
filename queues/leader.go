package queues

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// One dispatcher per queue across the cluster: a node dispatches a queue
// while it holds the queue's lease, an entry in a JetStream key-value
// bucket it renews every third of the lease TTL. A node that stops hands
// its leases back (deletes them); one that dies loses them when they
// expire, except to itself: a node restarted with the same NodeID takes its
// leases back at once, so a single node never waits out its own lease.

// DefaultLeaseTTL is how long a dispatcher's lease lasts without renewal.
const DefaultLeaseTTL = 10 * time.Second

const leaseBucket = "rf_queue_dispatch"

// lease is the value of a queue's lease entry.
type lease struct {
	Node  string        `json:"node"`
	Stats dispatchStats `json:"stats"`
}

// Start starts dispatching the queues whose lease this node gets, and
// keeps looking for queues created on any node. It runs until Stop or
// until ctx ends.
func (m *Manager) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := m.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: leaseBucket, Description: "rivet-flow queue dispatcher leases",
		TTL: m.leaseTTL, Storage: jetstream.FileStorage, History: 1,
	})
	if err != nil {
		stopped()
		return err
	}
	m.mu.Lock()
	m.kv = kv
	m.mu.Unlock()
	go func() {
		defer stopped()
		var wg sync.WaitGroup
		loops := map[string]context.CancelFunc{}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		started()
		for {
			names, err := m.names(ctx)
			if err != nil && ctx.Err() == nil {
				m.lg.Warn("queues: list queues to dispatch", "err", err)
			}
			if err == nil {
				seen := map[string]bool{}
				for _, n := range names {
					seen[n] = true
					if loops[n] == nil {
						lctx, cancel := context.WithCancel(ctx)
						loops[n] = cancel
						wg.Go(func() { m.leaseLoop(lctx, n) })
					}
				}
				for n, cancel := range loops {
					if !seen[n] {
						cancel()
						delete(loops, n)
					}
				}
			}
			select {
			case <-ctx.Done():
				for _, cancel := range loops {
					cancel()
				}
				wg.Wait()
				return
			case <-tick.C:
			case <-m.changed:
			}
		}
	}()
	return nil
}

// queuesChanged tells Start's loop that a queue was created or deleted here.
func (m *Manager) queuesChanged() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// leaseLoop tries to get the queue's lease, dispatches while it holds it,
// and hands it back when ctx ends.
func (m *Manager) leaseLoop(ctx context.Context, name string) {
	for ctx.Err() == nil {
		rev, ok := m.acquire(ctx, name)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-time.After(m.leaseTTL / 4):
			}
			continue
		}
		d := newDispatcher(m, name)
		dctx, cancel := context.WithCancel(ctx)
		m.mu.Lock()
		m.dispatchers[name] = d
		m.mu.Unlock()
		var wg sync.WaitGroup
		var runErr error
		wg.Go(func() { defer cancel(); runErr = d.run(dctx) })
		rev = m.renew(dctx, name, rev, d)
		cancel()
		wg.Wait()
		m.mu.Lock()
		delete(m.dispatchers, name)
		m.mu.Unlock()
		// Hand the lease back so another node need not wait for it to expire.
		if rev != 0 {
			dctx, dcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = m.kv.Delete(dctx, name, jetstream.LastRevision(rev))
			dcancel()
		}
		// A queue not found is being created (its streams are made one by
		// one) or was deleted (Start's loop then ends this one): look again
		// soon either way.
		if runErr != nil && !errors.Is(runErr, errRestart) && ctx.Err() == nil {
			pause := 250 * time.Millisecond
			if !errors.Is(runErr, ErrNotFound) {
				m.lg.Warn("queues: dispatcher stopped; trying again", "queue", name, "err", runErr)
				pause = time.Second
			}
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
		}
	}
}

// acquire takes the queue's lease if it is free or already this node's.
func (m *Manager) acquire(ctx context.Context, name string) (uint64, bool) {
	val, _ := json.Marshal(lease{Node: m.nodeID})
	rev, err := m.kv.Create(ctx, name, val)
	if err == nil {
		return rev, true
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, false
	}
	e, err := m.kv.Get(ctx, name)
	if err != nil {
		return 0, false
	}
	var l lease
	if json.Unmarshal(e.Value(), &l) != nil || l.Node != m.nodeID {
		return 0, false
	}
	rev, err = m.kv.Update(ctx, name, val, e.Revision())
	return rev, err == nil
}

// renew keeps the lease, with the dispatcher's stats, until ctx ends or a
// renewal fails; it returns the last revision held (0: lost).
func (m *Manager) renew(ctx context.Context, name string, rev uint64, d *dispatcher) uint64 {
	t := time.NewTicker(m.leaseTTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return rev
		case <-t.C:
		}
		val, _ := json.Marshal(lease{Node: m.nodeID, Stats: d.report()})
		uctx, cancel := context.WithTimeout(ctx, m.leaseTTL/3)
		next, err := m.kv.Update(uctx, name, val, rev)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return rev
			}
			m.lg.Warn("queues: lost the dispatcher lease", "queue", name, "err", err)
			return 0
		}
		rev = next
	}
}

// dispatchStats are the queue dispatcher's stats: from this node's
// dispatcher, or from the lease of the node that dispatches.
func (m *Manager) dispatchStats(ctx context.Context, name string) (dispatchStats, bool) {
	m.mu.Lock()
	d, kv := m.dispatchers[name], m.kv
	m.mu.Unlock()
	if d != nil {
		return d.report(), true
	}
	if kv == nil {
		return dispatchStats{}, false
	}
	e, err := kv.Get(ctx, name)
	if err != nil {
		return dispatchStats{}, false
	}
	var l lease
	if json.Unmarshal(e.Value(), &l) != nil {
		return dispatchStats{}, false
	}
	return l.Stats, true
}

// names lists the queues, in no particular order.
func (m *Manager) names(ctx context.Context) ([]string, error) {
	infos := m.js.StreamNames(ctx, jetstream.WithStreamListSubject("rf.q.>"))
	var out []string
	for n := range infos.Name() {
		if q, ok := strings.CutPrefix(n, streamPrefix); ok {
			out = append(out, q)
		}
	}
	return out, infos.Err()
}

// randomNodeID names a Manager given no NodeID.
func randomNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
