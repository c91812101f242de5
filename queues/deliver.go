package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// Actor-bound delivery. A queue whose configuration has DeliverTo is
// consumed by the Deliverer of every node that runs one: it claims the
// queue's messages, reads each one's actor key at DeliverTo.KeyFrom, and
// calls DeliverTo.Action on the actor of type DeliverTo.Type and that key
// (created, with no input, if it does not exist or was destroyed) with the
// body as the action's one argument. It acks the message once the call
// returned, that is once the actor's event is committed to the log.
//
// Exactly once in effect. Every call carries the idempotency key
// "queue:<name>:<incarnation>:<message id>" (Manager.DeliveryIdempotencyKey),
// so a message delivered again after its event was committed (the ack was
// lost: a crash, a lease that expired) is answered from the actor's record
// and appends nothing. The actor remembers a key for the runtime's
// IdempotencyWindow (24 h by default) and at most its last 1,000 keys
// (actorstate.MaxRememberedKeys), and a destroy forgets them: a redelivery
// later than that, or after 1,000 other keyed calls to the same actor, runs
// again. Redrive gives a message a new ID, so a redriven message runs again
// (with its edited body, if edited).
//
// Order and concurrency. A Deliverer has at most Concurrency messages of a
// queue claimed at once, and delivers one message at a time per actor: a
// message for an actor with a call in flight waits, with its lease kept, in
// a line per actor, in the order claimed. Messages of one priority without
// a key are claimed in enqueue order, so one Deliverer delivers them in
// enqueue order per actor; a retry (a failed call, a lease lost) goes after
// what was claimed meanwhile. Across nodes (several Deliverers) only the
// actor's mailbox serialises calls: for strict order per actor, enqueue with
// the message key set to something that names the actor (the queue keeps
// one message per key in flight, in order, across every consumer).
//
// Failures. A call that fails is released for redelivery after the queue's
// backoffMs (after the error's Retry-After for an overloaded actor) and, at
// maxDeliveries, moves to the dead letters. A message with no valid actor
// key moves to the dead letters at once (ReasonNoActorKey). A binding whose
// type or action this node's registry does not have is a configuration
// mistake: it is logged (once per change) and the queue is not consumed
// here until the configuration or the registry is fixed; its messages wait.
// Leases are extended every third of the queue's ackWaitMs while a message
// is held, so a long call is not delivered twice.

// DefaultDeliverConcurrency is DelivererOptions.Concurrency when unset.
const DefaultDeliverConcurrency = 64

// MaxDeliverConcurrency bounds DelivererOptions.Concurrency.
const MaxDeliverConcurrency = maxInFlight

// DelivererOptions configures a Deliverer. A nil *DelivererOptions means
// defaults.
type DelivererOptions struct {
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Concurrency bounds the messages of one queue this Deliverer holds at
	// once: being delivered, or waiting behind another message to the same
	// actor. At most 10,000. Defaults to DefaultDeliverConcurrency (64).
	Concurrency int
	// Poll is how often the queues are listed to find bindings added,
	// changed or removed. Defaults to 1s.
	Poll time.Duration
	// ClaimWait is the long poll of one claim. Defaults to 5s.
	ClaimWait time.Duration
	// MisconfiguredDelay is the release delay of a message whose call
	// failed because the action or the type is unknown (at most 12h).
	// Defaults to 30s.
	MisconfiguredDelay time.Duration
}

func (o DelivererOptions) withDefaults() DelivererOptions {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultDeliverConcurrency
	}
	o.Concurrency = min(o.Concurrency, maxInFlight)
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.ClaimWait <= 0 {
		o.ClaimWait = 5 * time.Second
	}
	o.ClaimWait = min(o.ClaimWait, MaxClaimWait)
	if o.MisconfiguredDelay <= 0 {
		o.MisconfiguredDelay = 30 * time.Second
	}
	o.MisconfiguredDelay = min(o.MisconfiguredDelay, dur(maxAckWaitMs))
	return o
}

// DeliverStats count a Deliverer's deliveries since it was created.
type DeliverStats struct {
	// Delivered counts calls that returned, their messages then acked (a
	// repeat answered from the actor's record included).
	Delivered int64
	// Failed counts calls that failed and were released for redelivery.
	Failed int64
	// DeadLettered counts messages moved to the dead letters at once
	// (ReasonNoActorKey).
	DeadLettered int64
}

// Deliverer delivers the messages of actor-bound queues (Config.DeliverTo)
// to actor actions; see the comment at the top of this file. It is a
// service with the common lifecycle (internal/startstop); stop it before
// the actor runtime and the Manager it uses. It is safe for concurrent use.
type Deliverer struct {
	startstop.BaseStartStop

	m      *Manager
	rt     *actors.Runtime
	lg     *slog.Logger
	opts   DelivererOptions
	stats  struct{ delivered, failed, dead atomic.Int64 }
	active sync.WaitGroup // workers' claim loops and deliveries, of every run

	mu       sync.Mutex
	workers  map[string]*queueWorker // by queue: the bound queues delivered now
	draining bool
}

// NewDeliverer returns a Deliverer of m's actor-bound queues to rt's actors.
func NewDeliverer(m *Manager, rt *actors.Runtime, opts *DelivererOptions) (*Deliverer, error) {
	if m == nil || rt == nil {
		return nil, errors.New("queues: a Deliverer needs a Manager and an actor runtime")
	}
	var o DelivererOptions
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	return &Deliverer{m: m, rt: rt, lg: o.Logger.With("component", "queues.deliver"), opts: o}, nil
}

// Stats returns the Deliverer's counts.
func (d *Deliverer) Stats() DeliverStats {
	return DeliverStats{Delivered: d.stats.delivered.Load(), Failed: d.stats.failed.Load(), DeadLettered: d.stats.dead.Load()}
}

// Delivering reports whether this Deliverer runs a worker for the queue
// (its binding is valid here and it claims its messages).
func (d *Deliverer) Delivering(queue string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workers[queue] != nil
}

// Start starts delivering: it lists the queues at once and then every
// Poll, and runs a worker for each actor-bound queue. It runs until Stop.
func (d *Deliverer) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := d.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	d.mu.Lock()
	d.workers, d.draining = map[string]*queueWorker{}, false
	d.mu.Unlock()
	go func() {
		defer stopped()
		started()
		tick := time.NewTicker(d.opts.Poll)
		defer tick.Stop()
		invalid := map[string]DeliverTo{} // bindings logged as unusable
		for {
			d.refresh(ctx, invalid)
			select {
			case <-ctx.Done():
				d.stopWorkers()
				d.active.Wait()
				return
			case <-tick.C:
			}
		}
	}()
	return nil
}

// Stop stops claiming, lets the deliveries in flight finish (bounded by
// ctx), then hard-stops: calls still running are cancelled and their
// messages released for redelivery.
func (d *Deliverer) Stop(ctx context.Context) error { return d.StopDrain(ctx, d.drain) }

func (d *Deliverer) drain(ctx context.Context) error {
	d.mu.Lock()
	d.draining = true
	ws := make([]*queueWorker, 0, len(d.workers))
	for _, w := range d.workers {
		ws = append(ws, w)
	}
	d.mu.Unlock()
	for _, w := range ws {
		w.stopClaiming()
	}
	for _, w := range ws {
		select {
		case <-w.done:
		case <-ctx.Done():
			return fmt.Errorf("deliveries still in flight: %w", ctx.Err())
		}
	}
	return nil
}

// stopWorkers stops every worker's claims (the run is ending).
func (d *Deliverer) stopWorkers() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for name, w := range d.workers {
		w.stopClaiming()
		delete(d.workers, name)
	}
}

// refresh starts a worker for each actor-bound queue that has none, and
// stops those whose queue is gone, unbound or bound anew (a changed
// binding, or the queue deleted and created again).
func (d *Deliverer) refresh(ctx context.Context, invalid map[string]DeliverTo) {
	names, err := d.m.names(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.lg.Warn("list queues to deliver", "err", err)
		}
		return
	}
	slices.Sort(names)
	want := map[string]binding{}
	var unread []string // a worker keeps its binding through a failed read
	for _, name := range names {
		q, err := d.m.load(ctx, name, false)
		if err != nil {
			if !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
				d.lg.Warn("read a queue's configuration", "queue", name, "err", err)
				unread = append(unread, name)
			}
			continue
		}
		if q.cfg.DeliverTo == nil {
			delete(invalid, name)
			continue
		}
		to := *q.cfg.DeliverTo
		if err := d.check(to); err != nil {
			if old, logged := invalid[name]; !logged || old != to {
				d.lg.Error("queue not delivered: its deliverTo names what this node cannot call; its messages wait until the configuration or the actor types are fixed",
					"queue", name, "type", to.Type, "action", to.Action, "err", err)
				invalid[name] = to
			}
			continue
		}
		delete(invalid, name)
		want[name] = binding{to: to, created: q.stream.CachedInfo().Created.UnixNano()}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.draining || ctx.Err() != nil {
		return
	}
	for _, name := range unread {
		if w := d.workers[name]; w != nil {
			want[name] = w.b
		}
	}
	for name, w := range d.workers {
		if b, ok := want[name]; !ok || b != w.b {
			w.stopClaiming() // its deliveries in flight finish under the old binding
			delete(d.workers, name)
		}
	}
	for name, b := range want {
		if d.workers[name] == nil {
			d.workers[name] = d.startWorker(ctx, name, b)
		}
	}
}

// check reports whether this node's registry has the binding's type and
// action.
func (d *Deliverer) check(to DeliverTo) error {
	acts, ok := d.rt.Registry().Actions(to.Type)
	if !ok {
		return fmt.Errorf("%w: no actor type %q here", actors.ErrUnknownType, to.Type)
	}
	if !slices.Contains(acts, to.Action) {
		return fmt.Errorf("%w: actor type %s has no action %q", actors.ErrActionNotFound, to.Type, to.Action)
	}
	return nil
}
