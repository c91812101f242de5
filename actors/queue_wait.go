package actors

import (
	"context"
	"slices"
	"time"
)

// A call that waits in Queue().Next holds the actor's mailbox (one call at a
// time), so the messages that would end its wait must not queue behind it:
// while it waits, push hands queue sends to it, and it appends them itself,
// each its own event before its sender is answered, between its own reads.
// A destroy arriving meanwhile ends the wait with ErrAborted, and then runs
// in its turn; so does any later wait before it. Resolves of the actor (a
// client's getOrCreate before its send) are answered by the wait too. A send whose connection has
// hooks to run (the type has OnBeforeConnect, ConnState...) is not handed
// over: it waits for the call to end, as any other call does.

// queueWaiter is the waiting call's inbox. Its fields are guarded by inst.mu.
type queueWaiter struct {
	signal chan struct{} // cap 1: something was handed over
	sends  []*op
}

func (w *queueWaiter) notify() {
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// handOver gives o to a waiting call instead of the mailbox, if o is a
// queue send and a call waits; a destroy also ends the wait (and queues as
// usual). inst.mu is held.
func (inst *instance) handOver(o *op) bool {
	if o.kind == opDestroy || (o.kind == opSleep && o.force) {
		inst.aborting = true // queue waits end now (a destroy, the runtime's stop), not at its turn
	}
	w := inst.qwait
	if w == nil {
		return false
	}
	switch o.kind {
	case opResolve:
		// A client resolving the actor before its send (the gateway's
		// getOrCreate): for an existing actor it only reads, so the wait
		// answers it rather than leaving the send stuck behind it.
		w.sends = append(w.sends, o)
		w.notify()
		return true
	case opQueueSend:
		if inst.lim.connectHooks {
			// Its connection's hooks (a possible refusal, state they build)
			// need a turn of their own: it waits for the call to end.
			return false
		}
		w.sends = append(w.sends, o)
		w.notify()
		return true
	case opDestroy, opSleep:
		if inst.aborting {
			w.notify() // inst.aborting ends the wait
		}
	}
	return false
}

// wait is NextBatch's wait, in the mailbox: until a matching message is
// committed, the timeout, the call's deadline, ctx's end or a destroy.
func (q *Queue) wait(ctx context.Context, o NextOptions) ([]*Message, error) {
	r, inst := q.r, q.r.inst
	if r.replay != nil {
		// A replay never waits: what the call received while it waited is
		// already in the log before it (see the README's replay notes).
		return nil, nil
	}
	until := r.deadline
	if o.Timeout > 0 {
		until = minTime(until, time.Now().Add(o.Timeout))
	}
	w := &queueWaiter{signal: make(chan struct{}, 1)}
	inst.mu.Lock()
	if inst.aborting {
		inst.mu.Unlock()
		return nil, errorf(ErrAborted, "actor %s is being destroyed or stopped", inst.id)
	}
	inst.qwait = w
	if !inst.lim.connectHooks {
		// Sends that queued behind this call before it waited are its too,
		// in their order (they would otherwise wait for its end).
		kept := inst.queue[:0]
		for _, q := range inst.queue {
			if q.kind == opQueueSend || q.kind == opResolve {
				w.sends = append(w.sends, q)
			} else {
				kept = append(kept, q)
			}
		}
		clear(inst.queue[len(kept):])
		inst.queue = kept
		if len(w.sends) > 0 {
			w.notify()
		}
	}
	inst.mu.Unlock()
	defer func() {
		inst.mu.Lock()
		inst.qwait = nil
		left := w.sends
		inst.mu.Unlock()
		inst.serveSends(left) // handed over after the last look
	}()
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	for {
		select {
		case <-w.signal:
		case <-timer.C:
			return nil, nil
		case <-ctx.Done():
			return nil, withCause(errorf(ErrAborted, "the wait for a queue message on %s ended: %v", inst.id, context.Cause(ctx)), ctx.Err())
		}
		inst.mu.Lock()
		sends, aborted := w.sends, inst.aborting
		w.sends = nil
		inst.mu.Unlock()
		inst.serveSends(sends)
		r.kv.base = inst.image.KV // the sends' KV writes (the map is new if the KV was empty)
		if aborted {
			return nil, errorf(ErrAborted, "actor %s is being destroyed or stopped", inst.id)
		}
		if msgs := q.take(o); len(msgs) > 0 {
			return msgs, nil
		}
	}
}

// serveSends appends queue sends handed to a waiting call and answers them,
// and answers the resolves handed over with them. A resolve that would
// create the actor (it was destroyed meanwhile) goes back to the mailbox.
func (inst *instance) serveSends(sends []*op) {
	for i, o := range sends {
		if err := o.ctx.Err(); err != nil {
			o.reply <- result{err: err} // its sender gave up: never started
			continue
		}
		if o.kind == opResolve {
			if !inst.image.Exists {
				inst.mu.Lock()
				inst.queue = append(slices.Clone(sends[i:i+1]), inst.queue...)
				inst.mu.Unlock()
				continue
			}
			res := inst.doResolve(o) // reads only: the actor exists
			res.generation = inst.image.Generation
			o.reply <- res
			continue
		}
		o.reply <- inst.doQueueSend(o, true)
	}
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
