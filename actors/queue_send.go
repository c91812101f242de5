package actors

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Queue sends from outside the actor (Handle.SendQueue, the RivetKit
// client's handle.send) and the senders waiting for a completion.

// Queue send statuses (QueueSendResult.Status), RivetKit's spellings.
const (
	QueueCompleted = "completed"
	QueueTimedOut  = "timedOut"
)

// QueueSendOptions configures Handle.SendQueue.
type QueueSendOptions struct {
	// Params are the sending connection's parameters (JSON), as its
	// connection hooks and CanPublish see them.
	Params json.RawMessage
	// Wait waits until the actor completes the message (Message.Complete)
	// or Timeout passes (0: until ctx ends).
	Wait    bool
	Timeout time.Duration
}

// QueueSendResult is the outcome of a send: the message's ID and, for a
// send that waited, QueueCompleted with the completion's response, or
// QueueTimedOut.
type QueueSendResult struct {
	ID       uint64
	Status   string
	Response json.RawMessage
}

// HasQueues reports whether the actor's type declares queues (Options.Queues).
func (h *Handle) HasQueues() bool { return h.client.rt.limits[h.ref.Type].hasQueues }

// TypeHasQueues reports whether the actor type typ declares queues.
func (rt *Runtime) TypeHasQueues(typ string) bool { return rt.limits[typ].hasQueues }

// SendQueue puts body (JSON; empty is null) on the actor's queue name. Like
// an HTTP action, the send comes through a connection that lives for it:
// the connection hooks run with o.Params, then the queue's CanPublish. The
// message is appended to the actor's log before SendQueue returns. Errors:
// ErrUnknownQueue, ErrQueueFull, ErrQueueMessageTooLarge, a refusal's
// *UserError ("forbidden"), and those of any call.
func (h *Handle) SendQueue(ctx context.Context, name string, body json.RawMessage, o QueueSendOptions) (QueueSendResult, error) {
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	if !json.Valid(body) {
		return QueueSendResult{}, errorf(ErrInvalidArgs, "the body for queue %s is not valid JSON", name)
	}
	if len(o.Params) > 0 && !json.Valid(o.Params) {
		return QueueSendResult{}, errorf(ErrInvalidArgs, "connection parameters are not valid JSON")
	}
	rt := h.client.rt
	conn := &Conn{id: rt.connIDs.Add(1), rt: rt, handle: h, params: o.Params, req: requestOf(ctx), stateless: true,
		done: make(chan struct{})}
	sent := &op{kind: opQueueSend, action: name, args: body, conn: conn, caller: h.client.caller}
	if o.Wait {
		sent.done = make(chan queueDone, 1)
	}
	res, err := rt.submit(ctx, h.def, h.ref, h.subj, sent)
	if err != nil {
		if o.Wait && ctx.Err() != nil {
			// Given up while queued: the send may still be appended later;
			// then its waiter must not outlive it.
			go func() {
				if r := <-sent.reply; r.err == nil {
					id, _ := strconv.ParseUint(string(r.output), 10, 64)
					rt.queueWaits.forget(waitScope(h.subj, r.generation), id, sent.done)
				}
			}()
		}
		return QueueSendResult{}, err
	}
	id, _ := strconv.ParseUint(string(res.output), 10, 64)
	out := QueueSendResult{ID: id, Status: QueueCompleted}
	if !o.Wait {
		return out, nil
	}
	scope := waitScope(h.subj, res.generation)
	answered := func(d queueDone) (QueueSendResult, error) {
		if d.gone {
			return QueueSendResult{}, errorf(ErrAborted, "actor %s was destroyed before it completed queue message %d", h.ID, id)
		}
		out.Response = d.response
		return out, nil
	}
	var timeout <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-sent.done:
		return answered(d)
	case <-timeout:
	case <-ctx.Done():
	}
	if d, ok := rt.queueWaits.forget(scope, id, sent.done); ok {
		return answered(d) // answered as the wait ended
	}
	out.Status = QueueTimedOut
	return out, nil
}

// doQueueSend runs a queue send: its connection's hooks (not for a send
// handed to a waiting call, whose turn cannot take another connection's
// state changes), CanPublish, the limits, and the append of its own event.
func (inst *instance) doQueueSend(o *op, handed bool) result {
	if !inst.image.Exists {
		return result{err: errorf(ErrNotFound, "actor %s does not exist", inst.id)}
	}
	if conn := o.conn; conn != nil {
		conn.inst = inst
		if !handed {
			if err := inst.openStateless(o); err != nil {
				return result{err: err}
			}
			defer inst.closeStateless(conn)
		}
	}
	name := o.action
	r := newRun(o.ctx, inst, o.caller, o.conn)
	var known, hooked, allowed bool
	_, err := inst.safely("CanPublish", func() (any, error) {
		var err error
		known, hooked, allowed, err = inst.h.canPublish(r, name)
		return nil, err
	})
	r.release()
	if hooked && !handed {
		inst.rollback() // CanPublish may not change the state: what it did is not recorded, so undo it
	}
	switch {
	case err != nil:
		return result{err: inst.report("CanPublish", err)}
	case !known:
		return result{err: errorf(ErrUnknownQueue, "actor type %s has no queue %q", inst.ref.Type, name)}
	case !allowed:
		return result{err: NewUserError("forbidden", "the sender may not publish to queue "+name, nil)}
	}
	if err := inst.checkQueueRoom(name, o.args, queuedCount(inst.image.KV)); err != nil {
		return result{err: err}
	}
	id := inst.nextQueueID()
	if o.done != nil {
		inst.rt.queueWaits.add(inst.waitScope(), id, o.done)
	}
	args, _ := json.Marshal(map[string]any{"name": name, "id": id})
	if err := inst.appendKV("$queue", args, o.caller, queueWrites(id, name, o.args, inst.rt.clock.Now())); err != nil {
		inst.rt.queueWaits.forget(inst.waitScope(), id, o.done)
		return result{err: err}
	}
	inst.queueNotify()
	return result{output: json.RawMessage(strconv.FormatUint(id, 10)), generation: inst.image.Generation}
}

// queuedCount is how many messages wait in kv.
func queuedCount(kv map[string][]byte) int {
	n := 0
	for key := range kv {
		if strings.HasPrefix(key, queueKeyPrefix) {
			n++
		}
	}
	return n
}

// appendKV appends a system event that only writes KV (no state, no
// hooks), as a queue send does even while a call holds the mailbox with its
// own uncommitted changes: the holder's state is not read, nor rolled back.
func (inst *instance) appendKV(action string, args json.RawMessage, caller string, kv []eventlog.KVWrite) error {
	kvAfter, _, err := inst.checkSize(nil, false, kv, 0)
	if err != nil {
		return err
	}
	ev := &eventlog.Event{Kind: eventlog.KindSystem, Generation: inst.image.Generation, Action: action, Args: args,
		Caller: caller, Time: inst.rt.clock.Now().UTC(), CodeVersion: inst.lim.codeVersion, KV: kv}
	seq, _, err := inst.appendFenced(ev, action)
	if err != nil {
		return err
	}
	ev.Seq, ev.Subject = seq, inst.subject
	inst.image.ApplyKnown(ev, nil)
	inst.lastSeq, inst.codeVersion, inst.kvBytes = seq, ev.CodeVersion, kvAfter
	inst.sinceSnapshot++
	return nil
}

// QueueStatus is what waits in an actor's queues.
type QueueStatus struct {
	Size      int            `json:"size"`
	MaxSize   int            `json:"maxSize"`
	Truncated bool           `json:"truncated"` // Messages stops at the limit asked for
	Messages  []QueueMessage `json:"messages"`
}

// QueueStatus lists up to limit (0: all) of the messages waiting in the
// actor's queues, oldest first, read in its mailbox (nothing is appended).
func (h *Handle) QueueStatus(ctx context.Context, limit int) (QueueStatus, error) {
	var st QueueStatus
	_, err := h.client.rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opDo, action: "$inspect", caller: h.client.caller, fn: func(r *run) error {
		msgs := r.kv.queued()
		st = QueueStatus{Size: len(msgs), MaxSize: r.inst.lim.maxQueue, Messages: msgs}
		if limit > 0 && len(msgs) > limit {
			st.Messages, st.Truncated = msgs[:limit], true
		}
		if st.Messages == nil {
			st.Messages = []QueueMessage{}
		}
		return nil
	}})
	return st, err
}

// queueWaits are the senders waiting for their messages' completion, by
// actor subject, generation and message ID: they outlive the actor's
// instance (it may sleep and wake before the message is completed), and a
// destroy (after which IDs start again) answers them all.
type queueWaits struct {
	mu sync.Mutex
	m  map[string]chan queueDone
}

// queueDone is a waiting sender's answer: the completion's response, or
// gone when the actor was destroyed first.
type queueDone struct {
	response json.RawMessage
	gone     bool
}

// waitScope is the actor's current generation's prefix of waitKey.
func (inst *instance) waitScope() string { return waitScope(inst.subject, inst.image.Generation) }

func waitScope(subject string, gen uint64) string {
	return subject + "@" + strconv.FormatUint(gen, 10) + "#"
}

func (w *queueWaits) add(scope string, id uint64, ch chan queueDone) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan queueDone{}
	}
	w.m[scope+strconv.FormatUint(id, 10)] = ch
}

// done hands response to the message's waiting sender, if any.
func (w *queueWaits) done(scope string, id uint64, response json.RawMessage) {
	key := scope + strconv.FormatUint(id, 10)
	w.mu.Lock()
	ch, ok := w.m[key]
	delete(w.m, key)
	w.mu.Unlock()
	if ok {
		ch <- queueDone{response: response} // cap 1, one answer per message
	}
}

// drop answers every sender waiting on the actor (any generation) as gone.
func (w *queueWaits) drop(subject string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for key, ch := range w.m {
		if strings.HasPrefix(key, subject+"@") {
			delete(w.m, key)
			ch <- queueDone{gone: true}
		}
	}
}

// forget stops waiting; ok with the answer if it came first.
func (w *queueWaits) forget(scope string, id uint64, ch chan queueDone) (queueDone, bool) {
	if ch == nil {
		return queueDone{}, false
	}
	key := scope + strconv.FormatUint(id, 10)
	w.mu.Lock()
	if w.m[key] == ch {
		delete(w.m, key)
	}
	w.mu.Unlock()
	select {
	case d := <-ch:
		return d, true
	default:
		return queueDone{}, false
	}
}
