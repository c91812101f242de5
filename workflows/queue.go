package workflows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// Actor queues (design §5, RivetKit's c.queue): every run actor has named
// queues. Messages come from the send action (Engine.Send, the gateway's
// queue route) or from the workflow's own actions (QueueOf), wait in the
// run's inbox, and the run function takes them with Queue().Next or
// NextBatch. A sender may wait for the message's completion
// (Message.Complete).

// CodeMessageTimeout is the code of ErrTimeout.
const CodeMessageTimeout errcode.Code = "message_timeout"

// ErrTimeout is what Next and NextBatch return when their timeout passes
// with no message: the run goes on (it is not a failure of the run).
var ErrTimeout = &Error{Code: CodeMessageTimeout, Message: "no message arrived before the wait's timeout"}

// MaxBatch bounds NextOptions.Count.
const MaxBatch = 100

// NextOptions configure Next and NextBatch (RivetKit queue.next's
// options).
type NextOptions struct {
	// Names are the queues to take from; none: any queue.
	Names []string
	// Timeout ends the wait with ErrTimeout (journaled: a replay times out
	// too); 0 or less: no timeout.
	Timeout time.Duration
	// Completable: the caller completes the messages it takes
	// (Message.Complete) and their senders wait for that response. Without
	// it a message is completed (with null) when taken.
	Completable bool
	// Count is how many messages NextBatch takes at most: it returns as
	// soon as there is one. Defaults to 1; more than MaxBatch is MaxBatch.
	Count int
}

// Message is a message a wait took from the run's queues.
type Message struct {
	// ID is the message's ID in the run, increasing in send order.
	ID uint64
	// Name is the queue it was sent to.
	Name string
	// Body is what was sent (JSON).
	Body json.RawMessage
	// At is when it was sent.
	At time.Time
	// Completable reports whether Complete delivers a response to a sender
	// waiting for it: the wait was completable and the message owed one.
	Completable bool

	w         *W
	entry     Path
	completed atomic.Bool
}

// Queue is the run function's side of the run's queues (w.Queue()).
type Queue struct{ w *W }

// Queue returns the run's queues, to take messages from.
func (w *W) Queue() *Queue { return &Queue{w: w} }

// Next takes the oldest message of opts.Names (any queue when none), as
// the journaled call entry (RivetKit queue.next(name, opts): the first
// argument names the entry, opts.Names the queues). A message sent before
// the call is taken at once; otherwise the run waits as WaitSignal does
// (in memory, then parked, woken by the message). A replay returns the
// journaled message. ErrTimeout when opts.Timeout passes first.
func (q *Queue) Next(entry string, opts NextOptions) (*Message, error) {
	msgs, err := q.take(entry, opts, 1)
	if err != nil {
		return nil, err
	}
	return msgs[0], nil
}

// NextBatch is Next taking up to opts.Count messages at once (oldest
// first): it returns as soon as at least one is there.
func (q *Queue) NextBatch(entry string, opts NextOptions) ([]*Message, error) {
	count := opts.Count
	if count <= 0 {
		count = 1
	}
	return q.take(entry, opts, min(count, MaxBatch))
}

// take is Next and NextBatch.
func (q *Queue) take(entry string, opts NextOptions, count int) ([]*Message, error) {
	w := q.w
	for _, n := range opts.Names {
		if err := ValidateName(n); err != nil {
			return nil, w.fail(fmt.Errorf("queue wait %s: queue name: %w", entry, err))
		}
	}
	p, err := w.scope.Child(entry)
	if err != nil {
		return nil, w.fail(err)
	}
	taken, err := w.take(entry, takeSpec{names: slices.Clone(opts.Names), count: count, completable: opts.Completable}, opts.Timeout)
	if err != nil {
		return nil, err
	}
	out := make([]*Message, len(taken))
	for i, m := range taken {
		out[i] = &Message{ID: m.ID, Name: m.Name, Body: m.Body, At: m.At, Completable: m.Owed, w: w, entry: p}
	}
	return out, nil
}

// completeArgs are the args of a complete event: the response is in the
// log, beside the owed mark the event deletes.
type completeArgs struct {
	wfArgs
	ID       uint64          `json:"id"`
	Response json.RawMessage `json:"response"`
}

// Complete completes the message with response (encoded as JSON; nil is
// null), which a sender waiting for it receives. It is journaled and
// compare-and-set: once the completion is committed, a replay's Complete
// does nothing, so the sender is told once. A message not Completable has
// nothing to complete: Complete returns nil. Completing the same Message
// twice is an error; a completable message left uncompleted is completed
// with null when the run ends.
func (m *Message) Complete(response any) error {
	w := m.w
	if w == nil {
		return errors.New("workflows: Complete of a message that no queue wait returned")
	}
	if err := w.failed(); err != nil {
		return err
	}
	if !m.completed.CompareAndSwap(false, true) {
		return fmt.Errorf("workflows: message %d of queue %s is already completed", m.ID, m.Name)
	}
	if !m.Completable || w.ro != nil {
		// Replay only: a completion is no journal entry, nothing to check.
		return nil
	}
	raw, err := json.Marshal(response)
	if err != nil {
		m.completed.Store(false)
		return fmt.Errorf("workflows: the response to message %d does not encode as JSON: %w", m.ID, err)
	}
	if len(raw) > MaxSignalBytes {
		m.completed.Store(false)
		return &Error{Code: CodeEntryTooLarge, Message: fmt.Sprintf("the response to message %d is %d bytes, limit %d", m.ID, len(raw), MaxSignalBytes)}
	}
	owed := false
	args := completeArgs{wfArgs: wfArgs{Op: "complete", Entry: m.entry.String(), Status: StatusRunning}, ID: m.ID, Response: raw}
	err = do(w.ctx, w.h, args, func(ac *actors.Context[RunState]) error {
		st := ac.State
		if st.Epoch != w.epoch || st.Status.Finished() {
			return errStop
		}
		if _, ok := ac.KV().Get(owedKey(m.ID)); !ok {
			return nil // completed already (an earlier execution)
		}
		ac.KV().Delete(owedKey(m.ID))
		owed = true
		st.UpdatedAt = ac.Now()
		ac.Broadcast("wf.progress", map[string]any{"entry": m.entry.String(), "message": m.ID, "status": EntryCompleted})
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return w.fail(errStop)
		}
		return w.fail(fmt.Errorf("workflow %s run %s: complete message %d: %w", w.c.name, w.runID, m.ID, err))
	}
	if owed {
		notifyCompleted(w.c, w.actorID, m.ID, raw)
	}
	return nil
}

// completeLeftovers completes with null every message of the run in ac
// still owed a completion (taken by a completable wait and not completed,
// or never taken): call it in the Do that finishes the run, and the
// returned function once that Do is committed, to tell their senders.
func (e *Engine) completeLeftovers(ac *actors.Context[RunState]) (notify func()) {
	c := e.defs[ac.Type()]
	var ids []uint64
	for _, kv := range ac.KV().List(owedPrefix) {
		id, err := strconv.ParseUint(kv.Key[len(owedPrefix):], 10, 64)
		if err != nil {
			continue
		}
		ac.KV().Delete(kv.Key)
		ids = append(ids, id)
	}
	actorID := ac.ActorID()
	return func() {
		for _, id := range ids {
			notifyCompleted(c, actorID, id, nil)
		}
	}
}

// registerQueueActions adds the actions of the run's own queues: the
// public send(name, body, completable).
func registerQueueActions(t *actors.Type[RunState], c *core) {
	t.Action("send", c.send)
}

// send is the public send(name, body, completable) action: it appends a
// message to queue name of the run (as signal does) and answers its ID
// and the run's status. completable marks it owed a completion (a sender
// waits for it).
func (c *core) send(ac *actors.Context[RunState], args json.RawMessage) (any, error) {
	var tuple []json.RawMessage
	if t := bytes.TrimSpace(args); len(t) > 0 {
		if err := json.Unmarshal(t, &tuple); err != nil {
			return nil, actors.NewUserError("invalid_request", "send takes the arguments [name, body, completable]", nil)
		}
	}
	var name string
	var completable bool
	if len(tuple) < 1 || len(tuple) > 3 || json.Unmarshal(tuple[0], &name) != nil {
		return nil, actors.NewUserError("invalid_request", "send takes the arguments [name, body, completable]: name a string", nil)
	}
	var body json.RawMessage
	if len(tuple) > 1 {
		body = tuple[1]
	}
	if len(tuple) > 2 && json.Unmarshal(tuple[2], &completable) != nil {
		return nil, actors.NewUserError("invalid_request", "send's third argument, completable, is a boolean", nil)
	}
	id, err := c.enqueue(ac, "message", name, body, completable)
	if err != nil {
		return nil, err
	}
	return SignalResult{ID: id, Status: ac.State.Status}, nil
}

// ActorQueue is a run actor's queues as its own actions see them
// (QueueOf).
type ActorQueue struct {
	c  *core
	ac *actors.Context[RunState]
}

// QueueOf returns the queues of the run actor whose action (a workflow's
// Options.Actions) ac is running, to enqueue into (RivetKit c.queue).
func QueueOf(ac *actors.Context[RunState]) *ActorQueue {
	q := &ActorQueue{ac: ac}
	if v, ok := ac.Vars.(*runVars); ok {
		q.c = v.c
	}
	return q
}

// Send appends body (encoded as JSON; nil is null) to queue name of the
// run, in the running action's event, and returns the message's ID. A run
// parked on a wait for name runs again. It fails as the send action does:
// a finished run (run_finished), a full inbox (inbox_full), an invalid
// name, a body over MaxSignalBytes.
func (q *ActorQueue) Send(name string, body any) (uint64, error) {
	if q.c == nil {
		return 0, fmt.Errorf("workflows: QueueOf: actor type %s is not a workflow's", q.ac.Type())
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("workflows: queue %s: body does not encode as JSON: %w", name, err)
	}
	return q.c.enqueue(q.ac, "message", name, raw, false)
}
