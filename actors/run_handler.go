package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// Options.Run: a long-running handler per awake actor, outside the mailbox.

// RunContext is the Run handler's view of its actor.
type RunContext[S any] struct{ core runCore }

// runCore is the non-generic part of a RunContext.
type runCore struct {
	inst *instance
	ctx  context.Context
}

// Context ends when the actor sleeps, is destroyed or the runtime stops:
// the handler should return then.
func (rc *RunContext[S]) Context() context.Context { return rc.core.ctx }

// ActorID returns the actor's ID.
func (rc *RunContext[S]) ActorID() string { return rc.core.inst.id }

// Key returns the actor's key, as its namespace sees it.
func (rc *RunContext[S]) Key() []string {
	_, key := SplitNamespace(rc.core.inst.ref.Key)
	return key
}

// Do runs fn in the actor's mailbox like an action: its state changes,
// broadcasts, KV writes and queue takes are recorded in an event before Do
// returns. It fails with ErrAborted once the handler's context has ended.
func (rc *RunContext[S]) Do(fn func(c *Context[S]) error) error { return rc.Submit(fn)() }

// Submit queues fn in the actor's mailbox now, as Do does, and returns the
// wait for its outcome: calls Submitted one after the other run in that
// order (the order Do calls on several goroutines run in is unknown).
func (rc *RunContext[S]) Submit(fn func(c *Context[S]) error) (wait func() error) {
	return rc.core.submit(func(r *run) error { return fn(r.inst.h.(*typed[S]).ctx(r)) })
}

// do runs fn in this instance's mailbox (never another's: a handler does
// not outlive its instance).
func (rc runCore) do(fn func(r *run) error) error { return rc.submit(fn)() }

// submit queues fn in the mailbox and returns the wait for its outcome.
func (rc runCore) submit(fn func(r *run) error) func() error {
	inst := rc.inst
	o := &op{kind: opDo, action: "$run", caller: "actor:" + inst.id, fn: fn, ctx: rc.ctx, reply: make(chan result, 1)}
	if ok, err := inst.enqueue(o); err != nil {
		return func() error { return err }
	} else if !ok {
		return func() error { return errorf(ErrAborted, "actor %s left memory", inst.id) }
	}
	return func() error { return rc.await(o) }
}

// await waits for the outcome of o, a queued turn of the handler.
func (rc runCore) await(o *op) error {
	inst := rc.inst
	select {
	case res := <-o.reply:
		if res.err != nil && rc.ctx.Err() != nil {
			return withCause(errorf(ErrAborted, "actor %s is stopping", inst.id), res.err)
		}
		return res.err
	case <-rc.ctx.Done():
	}
	// Stopping: a turn not started yet is taken back; one that started is
	// answered (the mailbox always answers), so what it committed is known.
	inst.mu.Lock()
	for i, q := range inst.queue {
		if q == o {
			inst.queue = append(inst.queue[:i], inst.queue[i+1:]...)
			inst.mu.Unlock()
			return errorf(ErrAborted, "actor %s is stopping", inst.id)
		}
	}
	inst.mu.Unlock()
	if res := <-o.reply; res.err != nil {
		return withCause(errorf(ErrAborted, "actor %s is stopping", inst.id), res.err)
	}
	return nil
}

// QueueSignal returns a channel closed at the next send committed to the
// actor's queues. Take it before looking at the queue (in a Do), then wait
// on it with Idle: a send between the look and the wait is not missed.
func (rc *RunContext[S]) QueueSignal() <-chan struct{} { return rc.core.inst.queueSignal() }

// Idle waits, without keeping the actor awake, until wake is closed (nil:
// never), until (zero: no deadline) or the handler's context ends; woken
// reports that wake was closed. The actor may sleep meanwhile, which ends
// the context (ErrAborted): a handler that must go on at until sets an
// alarm (WakeAction) first, so that the next wake starts it again.
func (rc *RunContext[S]) Idle(wake <-chan struct{}, until time.Time) (woken bool, err error) {
	inst, ctx := rc.core.inst, rc.core.ctx
	var deadline <-chan time.Time
	if !until.IsZero() {
		t := time.NewTimer(time.Until(until))
		defer t.Stop()
		deadline = t.C
	}
	inst.busy.Add(-1)
	defer inst.busy.Add(1)
	select {
	case <-wake:
		return true, nil
	case <-deadline:
		return false, nil
	case <-ctx.Done():
		return false, errorf(ErrAborted, "actor %s is stopping", inst.id)
	}
}

// Log returns the actor's logger.
func (rc *RunContext[S]) Log() *slog.Logger {
	return rc.core.inst.rt.logger.With("actor", rc.core.inst.id)
}

// Queue returns the actor's queues as the Run handler takes from them.
func (rc *RunContext[S]) Queue() *RunQueue { return &RunQueue{core: rc.core} }

// RunQueue is the actor's queues seen from its Run handler: each take is a
// turn of the mailbox, and the wait between is outside it (the actor may
// sleep meanwhile, which ends the wait with ErrAborted).
type RunQueue struct {
	core    runCore
	pending []*Message // completable messages taken and not completed
}

// Next takes the oldest message of the queues o names, waiting up to
// o.Timeout (0: until the handler's context ends); nil when none came.
func (q *RunQueue) Next(o NextOptions) (*Message, error) {
	o.Count = 1
	msgs, err := q.NextBatch(o)
	if len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], err
}

// NextBatch takes up to o.Count messages, waiting for at least one. A
// completable message's Complete is a turn of the mailbox of its own.
func (q *RunQueue) NextBatch(o NextOptions) ([]*Message, error) {
	for _, m := range q.pending {
		if !m.completed {
			return nil, errorf(ErrMessageNotCompleted, "queue message %d (%s) is completable and not completed: call Complete before taking the next", m.ID, m.Name)
		}
	}
	q.pending = nil
	inst, ctx := q.core.inst, q.core.ctx
	var timeout <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	for {
		signal := inst.queueSignal() // before the look: a send after it closes this
		var msgs []*Message
		err := q.core.do(func(r *run) error {
			msgs = (&Queue{r: r}).take(o)
			return nil
		})
		if err != nil {
			return nil, err // the turn did not commit: nothing was taken
		}
		if len(msgs) > 0 {
			for _, m := range msgs {
				q.hold(m)
			}
			return msgs, nil
		}
		inst.busy.Add(-1) // waiting for a message does not keep the actor awake
		select {
		case <-signal:
		case <-timeout:
			inst.busy.Add(1)
			return nil, nil
		case <-ctx.Done():
			inst.busy.Add(1)
			return nil, errorf(ErrAborted, "actor %s is stopping", inst.id)
		}
		inst.busy.Add(1)
	}
}

// hold makes a message taken in a finished turn completable by a turn of
// its own.
func (q *RunQueue) hold(m *Message) {
	m.complete = func(response json.RawMessage) error {
		return q.core.do(func(r *run) error {
			if _, queued := r.kv.base[queueKey(m.ID)]; !queued {
				m.completable = false // gone already (taken by another call): only answer its sender
			}
			return (&Queue{r: r}).complete(m, response)
		})
	}
	if m.completable {
		q.pending = append(q.pending, m)
	}
}

// startRun starts the type's Run handler, if it has one and none runs. The
// handler counts as busy (the actor stays awake) except while it waits for
// a queue message.
func (inst *instance) startRun() {
	if !inst.lim.hasRun || inst.runCancel != nil || inst.h == nil {
		return
	}
	ctx, cancel := context.WithCancel(inst.rt.ctx)
	done := make(chan struct{})
	inst.runCancel, inst.runDone = cancel, done
	h := inst.h
	inst.busy.Add(1)
	inst.rt.work.Add(1)
	go func() {
		defer inst.rt.work.Done()
		defer close(done)
		defer inst.busy.Add(-1)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("panic in Run: %v\n%s", p, debug.Stack())
				}
			}()
			return h.runHandler(runCore{inst: inst, ctx: ctx})
		}()
		switch {
		case err != nil && ctx.Err() == nil:
			inst.rt.logger.Warn("Run handler failed; the actor sleeps when idle", "actor", inst.id, "err", err)
		case ctx.Err() == nil:
			inst.rt.logger.Debug("Run handler returned; the actor sleeps when idle", "actor", inst.id)
		}
	}()
}

// stopRun ends the Run handler's context and, with wait, waits (bounded by
// the action timeout) for it to return. It runs in the mailbox, where the
// handler's pending Do (if any) is taken back since its context has ended;
// a destroy does not wait (it may run inside the handler's own Do).
func (inst *instance) stopRun(wait bool) {
	cancel, done := inst.runCancel, inst.runDone
	inst.runCancel, inst.runDone = nil, nil
	if cancel == nil {
		return
	}
	cancel()
	if !wait {
		return
	}
	t := time.NewTimer(inst.lim.actionTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		inst.rt.logger.Error("Run handler did not return after its context ended; the actor leaves memory anyway", "actor", inst.id, "waited", inst.lim.actionTimeout)
	}
}
