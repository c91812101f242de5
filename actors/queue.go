package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// An actor's own queues (Options.Queues): messages live in the actor's KV
// under reserved keys, so the log records every send and every take, and a
// snapshot or a replay rebuilds the queue with the state. The KV the actor's
// code sees (c.KV()) never shows them.

const (
	defaultMaxQueue        = 1000
	defaultMaxQueueMessage = 64 << 10

	reservedKVPrefix = "\x00"    // keys the runtime keeps in an actor's KV
	queueKeyPrefix   = "\x00q/"  // + the message ID as 16 hex digits: key order is arrival order
	queueMetaKey     = "\x00q:n" // the next message ID, decimal
)

// QueueSpec is one of an actor type's queues.
type QueueSpec[S any] struct {
	// CanPublish decides whether a sender may put a message on the queue;
	// false refuses the send with a "forbidden" user error. c.Conn() is the
	// sending connection (its params and state); c.Request() its request. It
	// must not change the state (a change is undone, never recorded). nil
	// lets every sender publish.
	CanPublish func(c *Context[S]) (bool, error)
}

// QueueMessage is a message in an actor's queue.
type QueueMessage struct {
	ID        uint64          `json:"id"`
	Name      string          `json:"name"`
	Body      json.RawMessage `json:"body"`
	CreatedAt time.Time       `json:"createdAt"`
}

// storedMessage is a message's KV value.
type storedMessage struct {
	Name string          `json:"name"`
	Body json.RawMessage `json:"body"`
	At   int64           `json:"at"` // Unix milliseconds
}

func queueKey(id uint64) string { return fmt.Sprintf("%s%016x", queueKeyPrefix, id) }

// decodeQueued turns a queue KV entry into a message; ok is false for keys
// that are not messages.
func decodeQueued(key string, value []byte) (QueueMessage, bool) {
	hex, found := strings.CutPrefix(key, queueKeyPrefix)
	if !found {
		return QueueMessage{}, false
	}
	id, err := strconv.ParseUint(hex, 16, 64)
	var sm storedMessage
	if err != nil || json.Unmarshal(value, &sm) != nil {
		return QueueMessage{}, false
	}
	return QueueMessage{ID: id, Name: sm.Name, Body: sm.Body, CreatedAt: time.UnixMilli(sm.At).UTC()}, true
}

// queued lists the messages in kv (committed plus a run's writes), oldest
// first.
func (o *kvOverlay) queued() []QueueMessage {
	var out []QueueMessage
	for _, e := range o.rangeRaw(queueKeyPrefix, prefixEnd(queueKeyPrefix)) {
		if m, ok := decodeQueued(e.Key, e.Value); ok {
			out = append(out, m)
		}
	}
	return out
}

// Message is a queue message taken by Next. A completable one stays in the
// queue until Complete, and a sender waiting for it gets Complete's response.
type Message struct {
	QueueMessage
	complete    func(response json.RawMessage) error
	completable bool
	completed   bool
}

// Decode decodes the body into v.
func (m *Message) Decode(v any) error { return json.Unmarshal(m.Body, v) }

// Completable reports whether the message was taken with
// NextOptions.Completable.
func (m *Message) Completable() bool { return m.completable }

// Complete removes a completable message from the queue, recorded in the
// event of the call that completes it, and hands response (nil: none) to a
// sender waiting for it. A second Complete fails with
// ErrMessageAlreadyCompleted. A message taken without Completable has left
// the queue already: Complete only answers its waiting sender. Complete
// within the call (or, from a Run handler, any time: a turn of its own).
func (m *Message) Complete(response any) error {
	if m.completed {
		return errorf(ErrMessageAlreadyCompleted, "queue message %d (%s) was already completed", m.ID, m.Name)
	}
	var raw json.RawMessage
	if response != nil {
		var err error
		if raw, err = json.Marshal(response); err != nil {
			return errorf(ErrInvalidArgs, "the response to queue message %d does not encode as JSON: %v", m.ID, err)
		}
	}
	if err := m.complete(raw); err != nil {
		return err
	}
	m.completed = true
	return nil
}

// NextOptions says which messages Next takes and how long it waits.
type NextOptions struct {
	// Names are the queues to take from; empty takes from any.
	Names []string
	// Count is the most messages NextBatch takes (default 1).
	Count int
	// Timeout bounds the wait; 0 waits until the context ends (inside a
	// call, at most until the action timeout).
	Timeout time.Duration
	// Completable leaves the messages in the queue until Message.Complete:
	// one not completed is taken again by a later Next.
	Completable bool
}

func (o NextOptions) count() int { return max(1, o.Count) }

func (o NextOptions) matches(name string) bool {
	return len(o.Names) == 0 || slices.Contains(o.Names, name)
}

// Queue is the actor's queues seen from inside one call (c.Queue()).
type Queue struct {
	r       *run
	pending map[uint64]*Message // completable messages taken and not completed
}

// Queue returns the actor's queues for this call: what it takes and sends
// is recorded in the call's event.
func (c *Context[S]) Queue() *Queue {
	if c.run.queue == nil {
		c.run.queue = &Queue{r: c.run}
	}
	return c.run.queue
}

// Send puts a message on the actor's own queue name, as part of this call:
// it is visible to Next once the call's event is committed (and at once to
// this call). It skips CanPublish (the actor trusts itself) but not the
// queue limits.
func (q *Queue) Send(name string, body any) (uint64, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, errorf(ErrInvalidArgs, "the body for queue %s does not encode as JSON: %v", name, err)
	}
	inst := q.r.inst
	if err := inst.checkQueueRoom(name, raw, len(q.r.kv.queued())); err != nil {
		return 0, err
	}
	id := inst.nextQueueID()
	for _, w := range queueWrites(id, name, raw, q.r.now) {
		q.r.kv.set(string(w.Key), w)
	}
	q.r.commits = append(q.r.commits, inst.queueNotify)
	return id, nil
}

// Next takes the oldest message of the queues o names, waiting for one up
// to o.Timeout; nil when none came. See NextBatch.
func (q *Queue) Next(ctx context.Context, o NextOptions) (*Message, error) {
	o.Count = 1
	msgs, err := q.NextBatch(ctx, o)
	if len(msgs) == 0 {
		return nil, err
	}
	return msgs[0], err
}

// NextBatch takes up to o.Count of the oldest messages of the queues o
// names, waiting for at least one up to o.Timeout (empty when none came).
// While it waits, the actor's mailbox stays with this call, but messages
// sent to the actor meanwhile are appended and reach it. It fails with
// ErrAborted when ctx ends or the actor is being destroyed, and with
// ErrMessageNotCompleted while a completable message this call took is not
// completed.
func (q *Queue) NextBatch(ctx context.Context, o NextOptions) ([]*Message, error) {
	if err := q.checkPending(); err != nil {
		return nil, err
	}
	if msgs := q.take(o); len(msgs) > 0 {
		return msgs, nil
	}
	return q.wait(ctx, o)
}

// TryNextBatch is NextBatch without the wait.
func (q *Queue) TryNextBatch(o NextOptions) ([]*Message, error) {
	if err := q.checkPending(); err != nil {
		return nil, err
	}
	return q.take(o), nil
}

// Messages lists the messages waiting, oldest first, without taking them.
func (q *Queue) Messages() []QueueMessage { return q.r.kv.queued() }

func (q *Queue) checkPending() error {
	for id, m := range q.pending {
		if !m.completed {
			return errorf(ErrMessageNotCompleted, "queue message %d (%s) is completable and not completed: call Complete before taking the next", id, m.Name)
		}
	}
	return nil
}

// take removes (or, completable, holds) up to o.count() matching messages.
func (q *Queue) take(o NextOptions) []*Message {
	var out []*Message
	for _, m := range q.r.kv.queued() {
		if len(out) == o.count() {
			break
		}
		if !o.matches(m.Name) {
			continue
		}
		msg := &Message{QueueMessage: m, completable: o.Completable}
		msg.complete = func(response json.RawMessage) error { return q.complete(msg, response) }
		if o.Completable {
			if q.pending == nil {
				q.pending = map[uint64]*Message{}
			}
			q.pending[m.ID] = msg
		} else {
			q.r.kv.set(queueKey(m.ID), eventlog.KVWrite{Key: []byte(queueKey(m.ID)), Delete: true})
		}
		out = append(out, msg)
	}
	return out
}

// complete removes a held message in this call and answers its waiting
// sender once the call's event is committed.
func (q *Queue) complete(m *Message, response json.RawMessage) error {
	if q.r.released {
		return errorf(ErrInvalidArgs, "queue message %d was taken by a call that has ended: complete it during that call", m.ID)
	}
	if m.completable {
		key := queueKey(m.ID)
		q.r.kv.set(key, eventlog.KVWrite{Key: []byte(key), Delete: true})
		delete(q.pending, m.ID)
	}
	inst, id, scope := q.r.inst, m.ID, q.r.inst.waitScope()
	q.r.commits = append(q.r.commits, func() { inst.rt.queueWaits.done(scope, id, response) })
	return nil
}

// CompleteID completes message id, taken by an earlier call (a Run
// handler's take that a workflow journaled, say), as Message.Complete does:
// in this call's event the message leaves the queue, if it is still there,
// and once the event is committed a sender waiting for it gets response.
func (q *Queue) CompleteID(id uint64, response any) error {
	var raw json.RawMessage
	if response != nil {
		var err error
		if raw, err = json.Marshal(response); err != nil {
			return errorf(ErrInvalidArgs, "the response to queue message %d does not encode as JSON: %v", id, err)
		}
	}
	key := queueKey(id)
	if len(q.r.kv.rangeRaw(key, key+"\x00")) > 0 {
		q.r.kv.set(key, eventlog.KVWrite{Key: []byte(key), Delete: true})
	}
	delete(q.pending, id)
	inst, scope := q.r.inst, q.r.inst.waitScope()
	q.r.commits = append(q.r.commits, func() { inst.rt.queueWaits.done(scope, id, raw) })
	return nil
}

// queueWrites are the KV writes that put a message on the queue.
func queueWrites(id uint64, name string, body json.RawMessage, now time.Time) []eventlog.KVWrite {
	v, _ := json.Marshal(storedMessage{Name: name, Body: body, At: now.UnixMilli()})
	return []eventlog.KVWrite{
		{Key: []byte(queueKey(id)), Value: v},
		{Key: []byte(queueMetaKey), Value: []byte(strconv.FormatUint(id+1, 10))},
	}
}

// checkQueueRoom enforces MaxQueueMessageBytes and MaxQueueSize (waiting
// is how many messages wait now).
func (inst *instance) checkQueueRoom(name string, body json.RawMessage, waiting int) error {
	if size := len(name) + len(body); size > inst.lim.maxQueueMsg {
		return errorf(ErrQueueMessageTooLarge, "Queue message too large (%d bytes). Limit is %d bytes (MaxQueueMessageBytes of actor type %s).",
			size, inst.lim.maxQueueMsg, inst.ref.Type)
	}
	if waiting >= inst.lim.maxQueue {
		return errorf(ErrQueueFull, "Queue is full. Limit is %d messages (MaxQueueSize of actor type %s); retry once the actor has taken some.",
			inst.lim.maxQueue, inst.ref.Type)
	}
	return nil
}

// nextQueueID hands out message IDs: above every ID the actor's KV records
// (the counter key and the messages), and never twice while it is awake.
func (inst *instance) nextQueueID() uint64 {
	if inst.qnext == 0 {
		inst.qnext = 1
		if n, err := strconv.ParseUint(string(inst.image.KV[queueMetaKey]), 10, 64); err == nil {
			inst.qnext = max(inst.qnext, n)
		}
		for key, v := range inst.image.KV {
			if m, ok := decodeQueued(key, v); ok {
				inst.qnext = max(inst.qnext, m.ID+1)
			}
		}
	}
	id := inst.qnext
	inst.qnext++
	return id
}

// queueNotify wakes whatever waits for a message outside the mailbox (a
// Run handler's Next).
func (inst *instance) queueNotify() {
	inst.mu.Lock()
	if inst.qsig != nil {
		close(inst.qsig)
		inst.qsig = nil
	}
	inst.mu.Unlock()
}

// queueSignal returns a channel closed at the next committed send.
func (inst *instance) queueSignal() <-chan struct{} {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.qsig == nil {
		inst.qsig = make(chan struct{})
	}
	return inst.qsig
}

// keepQueueCounter makes a call's write of the message counter the highest
// ID handed out (next): a send handed to the call while it waited committed
// a higher one than the call's own Send wrote, and the counter must never
// go back (after a wake, IDs start from it).
func (o *kvOverlay) keepQueueCounter(next uint64) {
	if w, ok := o.writes[queueMetaKey]; ok && !w.Delete {
		w.Value = []byte(strconv.FormatUint(next, 10))
	}
}
