package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

// The push modes of bench queue: --via watermill (a Watermill router whose
// handlers consume the queue through watermillq) and --via actor (the
// node's Deliverer calls a bench actor's action for each message of an
// actor-bound queue). Producers enqueue through the queues.Manager as with
// --via go; the consumers run for the whole run, and each slice only
// observes them (runQueueSlice).

// pushDriver is a side whose messages are pushed to handlers that run for
// the whole run.
type pushDriver interface {
	queueDriver
	// observe sends every delivery's body to w, which records its latency
	// (nil: to none).
	observe(w *pushWindow)
	// settled counts the messages settled since the driver was made.
	settled() int64
	// pending counts the queue's messages, waiting and in flight.
	pending(ctx context.Context) (int64, error)
}

// pushWindowShards spreads concurrent handlers over several histograms.
const pushWindowShards = 8

// pushWindow records the latencies of one slice's deliveries, from any
// number of handlers at once, until its deadline.
type pushWindow struct {
	deadline time.Time
	next     atomic.Uint32
	shards   [pushWindowShards]struct {
		mu sync.Mutex
		h  loadgen.Histogram
	}
}

func newPushWindow(deadline time.Time) *pushWindow { return &pushWindow{deadline: deadline} }

// record records the latency of body delivered now, if before the deadline.
func (w *pushWindow) record(body []byte) {
	now := time.Now()
	if !now.Before(w.deadline) {
		return
	}
	t := bornAt(body)
	if t.IsZero() {
		return
	}
	s := &w.shards[w.next.Add(1)%pushWindowShards]
	s.mu.Lock()
	s.h.Record(now.Sub(t))
	s.mu.Unlock()
}

func (w *pushWindow) mergeInto(h *loadgen.Histogram) {
	for i := range w.shards {
		s := &w.shards[i]
		s.mu.Lock()
		h.Merge(&s.h)
		s.mu.Unlock()
	}
}

// pushBase is what both push drivers share: enqueue through the Manager
// (not claim: the handlers consume), the window observed, and the queue's
// stats.
type pushBase struct {
	q     managerDriver
	pause atomic.Int64 // handler time per message, ns (the memory check's slow consumer)
	win   atomic.Pointer[pushWindow]
}

func (d *pushBase) enqueue(ctx context.Context, body []byte, opts enqueueOpts) error {
	return d.q.enqueue(ctx, body, opts)
}

func (d *pushBase) observe(w *pushWindow) { d.win.Store(w) }

// delivered records a delivery in the window observed, then takes d.pause.
func (d *pushBase) delivered(body []byte) {
	if w := d.win.Load(); w != nil {
		w.record(body)
	}
	if p := time.Duration(d.pause.Load()); p > 0 {
		time.Sleep(p)
	}
}

func (d *pushBase) pending(ctx context.Context) (int64, error) {
	info, err := d.q.m.Get(ctx, d.q.name)
	if err != nil {
		return 0, err
	}
	return info.Stats.Depth + info.Stats.InFlight, nil
}

// wmDriver is a queue consumed by handlers of a Watermill router through a
// watermillq.Subscriber: a handler records the delivery and returns nil,
// and the router acks the message.
type wmDriver struct {
	pushBase
	handled atomic.Int64
}

func (d *wmDriver) handle(msg *message.Message) error {
	d.delivered(msg.Payload)
	d.handled.Add(1)
	return nil
}

func (d *wmDriver) settled() int64 { return d.handled.Load() }

// wmRouter is the bench's Watermill router: handlers are added before run.
type wmRouter struct {
	r    *message.Router
	subs []*watermillq.Subscriber
	done chan error
}

func newWMRouter(lg *slog.Logger) (*wmRouter, error) {
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 5 * time.Second}, watermill.NewSlogLogger(lg))
	if err != nil {
		return nil, err
	}
	return &wmRouter{r: r}, nil
}

// add subscribes handlers handlers to d's queue, each with up to inFlight
// messages claimed at once (claims of up to inFlight).
func (w *wmRouter) add(m *queues.Manager, d *wmDriver, handlers, inFlight int, lg *slog.Logger) error {
	sub, err := watermillq.NewSubscriber(m, watermillq.SubscriberConfig{MaxInFlight: inFlight, ClaimBatch: inFlight,
		ClaimWait: time.Second, ErrorDelay: 100 * time.Millisecond, Logger: lg})
	if err != nil {
		return err
	}
	w.subs = append(w.subs, sub)
	for i := range handlers {
		w.r.AddConsumerHandler(fmt.Sprintf("bench-%s-%d", d.q.name, i), d.q.name, sub, d.handle)
	}
	return nil
}

// run starts the router and waits until it runs.
func (w *wmRouter) run(ctx context.Context) error {
	w.done = make(chan error, 1)
	go func() { w.done <- w.r.Run(context.WithoutCancel(ctx)) }()
	select {
	case <-w.r.Running():
		return nil
	case err := <-w.done:
		return fmt.Errorf("the Watermill router stopped at once: %v", err)
	case <-time.After(10 * time.Second):
		return errors.New("the Watermill router did not start within 10s")
	}
}

// stop closes the router (its handlers finish) and the subscribers (their
// unsettled messages are nacked).
func (w *wmRouter) stop() error {
	err := w.r.Close()
	for _, s := range w.subs {
		err = errors.Join(err, s.Close())
	}
	if w.done != nil {
		err = errors.Join(err, <-w.done)
	}
	return err
}

// The bench actor: the type a queue of --via actor is bound to. Its one
// action, record, counts the message in its state (so every delivery is a
// committed event, as for any actor) and tells the queue's actorDriver,
// found by the call's caller ("queue:<name>", the Deliverer's), that the
// message arrived.
const (
	benchActorType   = "benchQueueSink"
	benchActorAction = "record"
	benchActorKey    = "/a" // the key's place in a body made by queueBody(n, true)
)

type benchActorState struct {
	Count int64 `json:"count"`
}

// benchActorDrivers holds the actorDrivers by queue name, for the action.
var benchActorDrivers sync.Map

var benchActor = actors.NewType(benchActorType, actors.Options[benchActorState]{}).
	Action(benchActorAction, func(c *actors.Context[benchActorState], args json.RawMessage) (any, error) {
		c.State.Count++
		if d, ok := benchActorDrivers.Load(strings.TrimPrefix(c.Caller(), "queue:")); ok {
			d.(*actorDriver).calls.Add(1)
			d.(*actorDriver).delivered(args) // args: [body]
		}
		return c.State.Count, nil
	})

// benchRegistry is the registry of the node bench queue starts: the
// built-in types and the bench actor (which `rivet-flow serve` does not
// have).
func benchRegistry() (*actors.Registry, error) {
	r := builtin.Registry()
	if err := r.Register(benchActor); err != nil {
		return nil, err
	}
	return r, nil
}

// actorDriver is an actor-bound queue: the node's Deliverer calls the
// bench actor's record action for each message, on the actor the body
// names, and acks the message once the action's event is committed.
// settled counts those (Deliverer.Stats().Delivered, of every actor-bound
// queue: the bench's run one at a time).
type actorDriver struct {
	pushBase
	dl    *queues.Deliverer
	calls atomic.Int64 // actions run (before their commit)
}

func (d *actorDriver) settled() int64 { return d.dl.Stats().Delivered }

// newActorDriver makes the driver of queue name (created with
// benchDeliverTo) and registers it for the action; the returned function
// unregisters it.
func newActorDriver(m *queues.Manager, dl *queues.Deliverer, name string, pause time.Duration) (*actorDriver, func()) {
	d := &actorDriver{pushBase: pushBase{q: managerDriver{m: m, name: name}}, dl: dl}
	d.pause.Store(int64(pause))
	benchActorDrivers.Store(name, d)
	return d, func() { benchActorDrivers.Delete(name) }
}

// unbind removes the queue's binding and waits (up to 10s) until the
// Deliverer has delivered what it held, at full speed: the queue can then
// be deleted with no delivery in flight (each would log a failed ack).
func (d *actorDriver) unbind(ctx context.Context) error {
	d.pause.Store(0)
	if _, err := d.q.m.Update(ctx, d.q.name, queues.Patch{ClearDeliverTo: true}); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		info, err := d.q.m.Get(ctx, d.q.name)
		if err != nil {
			return err
		}
		if info.Stats.InFlight == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("deliveries still in flight after 10s")
}

// benchDeliverTo binds a queue to the bench actor.
func benchDeliverTo() *queues.DeliverTo {
	return &queues.DeliverTo{Type: benchActorType, KeyFrom: benchActorKey, Action: benchActorAction}
}

// warmUp sends one message through d and waits until it is settled and the
// queue is empty: the consumers are running (the Deliverer has found the
// binding), and the first slice does not measure their start.
func warmUp(ctx context.Context, d pushDriver, bodyBytes int, actor bool) error {
	const limit = 15 * time.Second
	s0 := d.settled()
	body := queueBody(bodyBytes, actor)
	stamp(body, time.Now())
	if err := d.enqueue(ctx, body, enqueueOpts{}); err != nil {
		return fmt.Errorf("warm-up enqueue: %w", err)
	}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if d.settled() > s0 {
			n, err := d.pending(ctx)
			if err != nil {
				return fmt.Errorf("warm-up: queue stats: %w", err)
			}
			if n == 0 {
				if ad, ok := d.(*actorDriver); ok && ad.calls.Load() == 0 {
					return errors.New("warm-up: the bench action ran but did not find its queue by the caller")
				}
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return fmt.Errorf("warm-up: one message was not delivered within %v", limit)
}
