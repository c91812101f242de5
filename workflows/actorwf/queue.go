package actorwf

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Queue is the actor's queues seen from its workflow: each take is
// journaled, so a replay returns the same messages without taking again.
type Queue[S any] struct{ w *W[S] }

// Queue returns the actor's queues (Options.Queues) for w.
func (w *W[S]) Queue() *Queue[S] { return &Queue[S]{w: w} }

// Message is a queue message a workflow took.
type Message struct {
	ID          uint64          `json:"id"`
	Name        string          `json:"name"`
	Body        json.RawMessage `json:"body"`
	CreatedAt   time.Time       `json:"createdAt"`
	Completable bool            `json:"completable,omitempty"`

	complete func(response any) error
	// completed forgets the message as pending in the execution.
	completed func()
}

// Decode decodes the body into v.
func (m *Message) Decode(v any) error { return json.Unmarshal(m.Body, v) }

// Complete removes a completable message from the queue and hands response
// (nil: none) to a sender waiting for it, in a mailbox turn of its own.
// Completing a message again (a replay reaching the same Complete) changes
// nothing. Inside a step, use CompleteIn, which joins the step's event.
func (m *Message) Complete(response any) error { return m.complete(response) }

// CompleteIn completes the message as part of the call of c (a step's
// actor Context), in that call's event.
func (m *Message) CompleteIn(c interface{ Queue() *actors.Queue }, response any) error {
	if err := c.Queue().CompleteID(m.ID, response); err != nil {
		return err
	}
	if m.completed != nil {
		m.completed()
	}
	return nil
}

// Next takes the oldest message of the queues o names as the journaled
// call name, waiting for one (without keeping the actor awake) up to
// o.Timeout, recorded at the first visit; nil when none came in time.
func (q *Queue[S]) Next(name string, o actors.NextOptions) (*Message, error) {
	o.Count = 1
	msgs, err := q.NextBatch(name, o)
	if len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], err
}

// NextBatch takes up to o.Count messages as Next does, at least one unless
// the timeout passed. A completable message must be completed before the
// workflow takes the next (actors.ErrMessageNotCompleted).
func (q *Queue[S]) NextBatch(name string, o actors.NextOptions) ([]*Message, error) {
	w, x := q.w, q.w.x
	p, v, err := w.enter(workflows.KindMessage, name)
	if err != nil {
		return nil, err
	}
	if v.Found && v.Entry.Status == workflows.EntryCompleted {
		var msgs []*Message
		if err := decode(v.Entry.Output, &msgs); err != nil {
			return nil, x.fail(fmt.Errorf("workflow queue wait %s: the recorded messages do not decode: %w", p, err))
		}
		for _, m := range msgs {
			q.bind(m)
			if m.Completable {
				q.hold(m) // completed by an earlier execution or not: the next take looks
			}
		}
		return msgs, nil
	}
	// The completable messages held are checked in the first take's turn
	// (checkHeld), not a turn of their own.
	held := q.heldSnapshot()
	var deadline time.Time
	if v.Found {
		deadline = v.Entry.NextAt
	} else if o.Timeout > 0 {
		e := workflows.Entry{Kind: workflows.KindMessage, Ord: v.Ord, Status: workflows.EntryWaiting}
		err := w.do(func(c *actors.Context[S]) error {
			e.At = c.Now()
			e.NextAt = e.At.Add(o.Timeout)
			if o.Timeout >= LongSleep { // the actor may sleep: wake it at the timeout
				id, err := c.Schedule().At(e.NextAt, actors.WakeAction)
				if err != nil {
					return err
				}
				e.Alarm = id
			}
			return x.put(c, p, e)
		})
		if err != nil {
			return nil, err
		}
		_ = x.replay.Commit(p, e)
		deadline = e.NextAt
	}
	take := actors.NextOptions{Names: o.Names, Count: o.Count, Completable: o.Completable}
	for {
		signal := x.rc.QueueSignal() // before the look: a send after it closes it
		var msgs []*Message
		var e workflows.Entry
		var still error
		err := w.do(func(c *actors.Context[S]) error {
			if still = q.checkHeld(c, held); still != nil {
				return nil
			}
			taken, err := c.Queue().TryNextBatch(take)
			if err != nil {
				return err
			}
			timedOut := !deadline.IsZero() && !c.Now().Before(deadline)
			if len(taken) == 0 && !timedOut {
				return nil
			}
			msgs = make([]*Message, len(taken))
			for i, m := range taken {
				msgs[i] = &Message{ID: m.ID, Name: m.Name, Body: m.Body, CreatedAt: m.CreatedAt, Completable: m.Completable()}
			}
			e = workflows.Entry{Kind: workflows.KindMessage, Ord: v.Ord, Status: workflows.EntryCompleted, At: c.Now()}
			e.Output, _ = json.Marshal(msgs)
			return x.put(c, p, e)
		})
		if err != nil {
			return nil, err
		}
		if still != nil {
			return nil, x.fail(still)
		}
		q.forget(held)
		held = nil
		if e.Status == workflows.EntryCompleted {
			_ = x.replay.Commit(p, e)
			for _, m := range msgs {
				q.bind(m)
				if m.Completable {
					q.hold(m)
				}
			}
			return msgs, nil
		}
		w.block()
		if !deadline.IsZero() && time.Until(deadline) < LongSleep {
			// A short timeout keeps the actor awake, as a short Sleep
			// does: no alarm would wake it.
			err = waitOr(w.ctx, signal, deadline)
		} else {
			stop := make(chan struct{})
			_, err = x.rc.Idle(anyOf(signal, w.ctx.Done(), stop), deadline)
			close(stop)
		}
		if err != nil || w.ctx.Err() != nil {
			return nil, w.stopped()
		}
	}
}

// bind gives a taken message its Complete.
func (q *Queue[S]) bind(m *Message) {
	w, x := q.w, q.w.x
	m.completed = func() {
		x.mu.Lock()
		delete(x.pending, m.ID)
		x.mu.Unlock()
	}
	m.complete = func(response any) error {
		err := w.do(func(c *actors.Context[S]) error { return c.Queue().CompleteID(m.ID, response) })
		if err == nil {
			m.completed()
		}
		return err
	}
}

// anyOf returns a channel closed when a or b is; closing stop ends it
// without closing it.
func anyOf(a, b, stop <-chan struct{}) <-chan struct{} {
	out := make(chan struct{})
	go func() {
		select {
		case <-a:
		case <-b:
		case <-stop:
			return
		}
		close(out)
	}()
	return out
}

// waitOr waits, keeping the actor awake, until wake is closed, t or ctx
// ends (errStop).
func waitOr(ctx context.Context, wake <-chan struct{}, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-wake:
	case <-timer.C:
	case <-ctx.Done():
		return errStop
	}
	return nil
}

// hold remembers a completable message the workflow took: it must be
// completed before the next take.
func (q *Queue[S]) hold(m *Message) {
	x := q.w.x
	x.mu.Lock()
	if x.pending == nil {
		x.pending = map[uint64]string{}
	}
	x.pending[m.ID] = m.Name
	x.mu.Unlock()
}

// heldSnapshot copies the completable messages the execution holds.
func (q *Queue[S]) heldSnapshot() map[uint64]string {
	x := q.w.x
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.pending) == 0 {
		return nil
	}
	held := make(map[uint64]string, len(x.pending))
	for id, n := range x.pending {
		held[id] = n
	}
	return held
}

// checkHeld, in a turn of the mailbox, is the error of a held completable
// message still queued: the workflow must complete it before the next
// take. One completed meanwhile (or by an earlier execution, whose replayed
// take this execution holds) is gone.
func (q *Queue[S]) checkHeld(c *actors.Context[S], held map[uint64]string) error {
	if len(held) == 0 {
		return nil
	}
	for _, qm := range c.Queue().Messages() {
		if name, ok := held[qm.ID]; ok {
			return fmt.Errorf("%w: queue message %d (%s) is completable and not completed: complete it before the workflow takes the next", actors.ErrMessageNotCompleted, qm.ID, name)
		}
	}
	return nil
}

// forget drops held messages, checked gone, from the execution's.
func (q *Queue[S]) forget(held map[uint64]string) {
	if len(held) == 0 {
		return
	}
	x := q.w.x
	x.mu.Lock()
	for id := range held {
		delete(x.pending, id)
	}
	x.mu.Unlock()
}
