package queues

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// binding is what a worker delivers: a queue's DeliverTo, in one
// incarnation of the queue (its stream's creation time).
type binding struct {
	to      DeliverTo
	created int64
}

// settleTimeout bounds an ack or a release, which are made even after the
// run's context ended (a committed call is acked during a hard stop).
const settleTimeout = 5 * time.Second

// queueWorker delivers one actor-bound queue: one claim loop, and one
// goroutine per actor with a message in flight, which then takes the
// actor's next waiting message.
type queueWorker struct {
	d      *Deliverer
	name   string
	b      binding
	client *actors.Client
	cancel context.CancelFunc // ends the claim loop
	done   chan struct{}      // closed once the claim loop ended and every message it claimed is settled
	slots  chan struct{}      // one per message held (Concurrency)
	held   sync.WaitGroup     // messages claimed and not settled

	mu         sync.Mutex
	lines      map[string][]Message // actor ID -> messages waiting behind the one in flight (present while one is)
	leased     map[string]bool      // receipts held, whose leases are extended
	misconfLog time.Time            // last "unknown type or action" logged
}

// startWorker starts delivering queue name under b; deliveries run under
// ctx (the run's), claims until stopClaiming.
func (d *Deliverer) startWorker(ctx context.Context, name string, b binding) *queueWorker {
	cctx, cancel := context.WithCancel(ctx)
	w := &queueWorker{d: d, name: name, b: b, client: d.rt.Client().WithCaller("queue:" + name), cancel: cancel,
		done: make(chan struct{}), slots: make(chan struct{}, d.opts.Concurrency),
		lines: map[string][]Message{}, leased: map[string]bool{}}
	d.lg.Info("delivering queue to actors", "queue", name, "type", b.to.Type, "action", b.to.Action, "keyFrom", b.to.KeyFrom)
	d.active.Add(1)
	go func() {
		defer d.active.Done()
		defer close(w.done)
		ectx, stopExtend := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { w.extendLoop(ectx) })
		w.claimLoop(cctx, ctx)
		w.held.Wait()
		stopExtend()
		wg.Wait()
	}()
	return w
}

// stopClaiming ends the claim loop; what was claimed is still delivered.
func (w *queueWorker) stopClaiming() { w.cancel() }

// claimLoop claims while a slot is free, until cctx ends; deliveries run
// under ctx.
func (w *queueWorker) claimLoop(cctx, ctx context.Context) {
	limit := min(cap(w.slots), MaxClaim)
	for cctx.Err() == nil {
		select {
		case w.slots <- struct{}{}:
		case <-cctx.Done():
			return
		}
		n := 1
	more:
		for n < limit {
			select {
			case w.slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		msgs, err := w.d.m.Claim(cctx, w.name, ClaimOptions{Max: n, Wait: w.d.opts.ClaimWait})
		for range n - len(msgs) {
			<-w.slots
		}
		for _, msg := range msgs {
			w.accept(ctx, msg)
		}
		if err != nil && cctx.Err() == nil {
			// The queue deleted (the next refresh stops this worker), or
			// JetStream unavailable for a moment.
			w.d.lg.Warn("claim from an actor-bound queue failed; trying again", "queue", w.name, "err", err)
			select {
			case <-cctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

// accept takes a claimed message (its slot taken): it starts its delivery,
// or lines it up behind the actor's message in flight.
func (w *queueWorker) accept(ctx context.Context, msg Message) {
	w.held.Add(1)
	w.mu.Lock()
	w.leased[msg.Receipt] = true
	w.mu.Unlock()
	key, err := actorKeyFrom(msg.Body, w.b.to.KeyFrom)
	var id string
	if err == nil {
		id, err = actors.ActorID(w.b.to.Type, key)
	}
	if err != nil {
		go w.deadLetter(ctx, msg, err)
		return
	}
	w.mu.Lock()
	if line, busy := w.lines[id]; busy {
		w.lines[id] = append(line, msg)
		w.mu.Unlock()
		return
	}
	w.lines[id] = nil
	w.mu.Unlock()
	go w.run(ctx, id, key, msg)
}

// run delivers msg to actor id, then the actor's next waiting messages,
// one at a time.
func (w *queueWorker) run(ctx context.Context, id string, key []string, msg Message) {
	for {
		w.deliver(ctx, id, key, msg)
		w.mu.Lock()
		line := w.lines[id]
		if len(line) == 0 {
			delete(w.lines, id)
			w.mu.Unlock()
			return
		}
		msg, w.lines[id] = line[0], line[1:]
		w.mu.Unlock()
	}
}

// release forgets a settled message and frees its slot.
func (w *queueWorker) release(msg Message) {
	w.mu.Lock()
	delete(w.leased, msg.Receipt)
	w.mu.Unlock()
	<-w.slots
	w.held.Done()
}

// deliver calls the action for msg and settles it: an ack once the call
// returned, else a release for redelivery.
func (w *queueWorker) deliver(ctx context.Context, id string, key []string, msg Message) {
	defer w.release(msg)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if ctx.Err() != nil { // a hard stop: give it back at once
		w.nack(sctx, msg, new(time.Duration), nil)
		return
	}
	args := make(json.RawMessage, 0, len(msg.Body)+2)
	args = append(append(append(args, '['), msg.Body...), ']')
	err := w.call(ctx, id, key, deliveryKey(w.name, w.b.created, msg.ID), args)
	if err == nil {
		w.d.stats.delivered.Add(1)
		if _, err := w.d.m.Ack(sctx, w.name, []string{msg.Receipt}); err != nil && !errors.Is(err, ErrNotFound) {
			// (A queue deleted meanwhile has nothing left to ack.)
			// The event is committed: a redelivery is answered from the
			// actor's record of the idempotency key.
			w.d.lg.Warn("delivered to the actor, but the ack failed; a redelivery will take no effect", "queue", w.name,
				"message", msg.ID, "actor", id, "err", err)
		}
		return
	}
	w.d.stats.failed.Add(1)
	if errors.Is(err, actors.ErrInvalidArgs) || errors.Is(err, actors.ErrArgsTooLarge) {
		w.reject(sctx, msg, id, err)
		return
	}
	delay, misconfigured := callErrorDelay(err)
	switch {
	case misconfigured:
		delay = &w.d.opts.MisconfiguredDelay
		w.mu.Lock()
		logIt := time.Since(w.misconfLog) > w.d.opts.MisconfiguredDelay
		if logIt {
			w.misconfLog = time.Now()
		}
		w.mu.Unlock()
		if logIt {
			w.d.lg.Error("actor-bound queue: the action cannot be called; fix the queue's deliverTo", "queue", w.name,
				"type", w.b.to.Type, "action", w.b.to.Action, "err", err)
		}
	case ctx.Err() != nil || errors.Is(err, actors.ErrStopping):
		delay = new(time.Duration) // stopping: give it back at once
	default:
		w.d.lg.Warn("actor-bound queue: the call failed; the message is released for redelivery", "queue", w.name,
			"message", msg.ID, "attempt", msg.Attempt, "actor", id, "action", w.b.to.Action, "err", err)
	}
	w.nack(sctx, msg, delay, err)
}

// call calls the bound action on the actor, creating the actor (with no
// input) if it does not exist.
func (w *queueWorker) call(ctx context.Context, id string, key []string, idemKey string, args json.RawMessage) error {
	h, err := w.client.Ref(id)
	if err != nil {
		return err
	}
	ictx := actors.WithIdempotencyKey(ctx, idemKey)
	_, err = h.ActionJSON(ictx, w.b.to.Action, args)
	if !errors.Is(err, actors.ErrNotFound) {
		return err
	}
	if h, _, err = w.client.GetOrCreate(ctx, w.b.to.Type, key, nil); err != nil {
		return err
	}
	_, err = h.ActionJSON(ictx, w.b.to.Action, args)
	return err
}

// nack releases msg for redelivery after delay (nil: the queue's backoff).
func (w *queueWorker) nack(ctx context.Context, msg Message, delay *time.Duration, cause error) {
	if _, err := w.d.m.Nack(ctx, w.name, []string{msg.Receipt}, delay); err != nil && !errors.Is(err, ErrInvalidReceipt) {
		w.d.lg.Warn("actor-bound queue: releasing a message failed; it is delivered again when its lease ends", "queue", w.name,
			"message", msg.ID, "err", err, "cause", cause)
	}
}

// deadLetter moves a message with no valid actor key to the dead letters.
func (w *queueWorker) deadLetter(ctx context.Context, msg Message, why error) {
	defer w.release(msg)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	w.d.lg.Warn("actor-bound queue: the message names no valid actor key; moved to the dead letters", "queue", w.name,
		"message", msg.ID, "keyFrom", w.b.to.KeyFrom, "reason", ReasonNoActorKey, "err", why)
	if err := w.d.m.deadLetterNow(sctx, w.name, msg, ReasonNoActorKey, why); err != nil {
		w.d.lg.Error("actor-bound queue: moving a message to the dead letters failed; it is delivered again when its lease ends",
			"queue", w.name, "message", msg.ID, "err", err)
		return
	}
	w.d.stats.dead.Add(1)
}

// reject moves a message whose body the action refused as arguments to the
// dead letters at once, with the error: a retry would be refused the same.
func (w *queueWorker) reject(ctx context.Context, msg Message, id string, why error) {
	w.d.lg.Warn("actor-bound queue: the action refused the message's body; moved to the dead letters", "queue", w.name,
		"message", msg.ID, "actor", id, "action", w.b.to.Action, "reason", ReasonRejected, "err", why)
	if err := w.d.m.deadLetterNow(ctx, w.name, msg, ReasonRejected, why); err != nil {
		w.d.lg.Error("actor-bound queue: moving a message to the dead letters failed; it is delivered again when its lease ends",
			"queue", w.name, "message", msg.ID, "err", err)
		return
	}
	w.d.stats.dead.Add(1)
}

// extendLoop renews the leases of the messages held every third of the
// queue's ackWaitMs, until ctx ends.
func (w *queueWorker) extendLoop(ctx context.Context) {
	t := time.NewTimer(w.extendEvery(ctx))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		rs := make([]string, 0, len(w.leased))
		for r := range w.leased {
			rs = append(rs, r)
		}
		w.mu.Unlock()
		for chunk := range slices.Chunk(rs, MaxReceipts) {
			w.extend(ctx, chunk)
		}
		t.Reset(w.extendEvery(ctx))
	}
}

// extend renews leases; a receipt settled meanwhile (which makes the whole
// call fail) is skipped by renewing one at a time.
func (w *queueWorker) extend(ctx context.Context, rs []string) {
	_, err := w.d.m.Extend(ctx, w.name, rs, 0)
	if errors.Is(err, ErrInvalidReceipt) && len(rs) > 1 {
		for _, r := range rs {
			w.extend(ctx, []string{r})
		}
		return
	}
	if err != nil && !errors.Is(err, ErrInvalidReceipt) && ctx.Err() == nil {
		w.d.lg.Warn("actor-bound queue: extending leases failed", "queue", w.name, "receipts", len(rs), "err", err)
	}
}

// extendEvery is a third of the queue's ackWaitMs.
func (w *queueWorker) extendEvery(ctx context.Context) time.Duration {
	ackWait := 30 * time.Second
	if q, err := w.d.m.load(ctx, w.name, false); err == nil {
		ackWait = dur(q.cfg.WithDefaults().AckWaitMs)
	}
	return max(ackWait/3, 30*time.Millisecond)
}
