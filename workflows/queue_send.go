package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeQueueNotSupported: a queue send to an actor that is not a workflow
// run (only runs have queues: their run function consumes them).
const CodeQueueNotSupported errcode.Code = "queue_not_supported"

// ErrQueueNotSupported is Engine.Send to an actor of a type that is not a
// workflow this engine runs.
var ErrQueueNotSupported = &Error{Code: CodeQueueNotSupported, Message: "only workflow run actors have queues"}

// DefaultSendTimeout is how long a waiting Send waits when its Timeout is
// not set.
const DefaultSendTimeout = time.Minute

// SendOptions configure Engine.Send.
type SendOptions struct {
	// Wait: wait until the run completes the message (Message.Complete, a
	// non-completable take, or the run's end) and return the response.
	Wait bool
	// Timeout bounds a Wait: past it Send returns SendTimedOut (the message
	// stays sent). Defaults to DefaultSendTimeout.
	Timeout time.Duration
}

// Send statuses (RivetKit's queue send result).
const (
	SendCompleted = "completed"
	SendTimedOut  = "timedOut"
)

// SendResult is what Send returns.
type SendResult struct {
	// ID is the message's ID in the run.
	ID uint64 `json:"id"`
	// Status is SendCompleted (without Wait: once the message is
	// committed) or SendTimedOut.
	Status string `json:"status"`
	// Response is what the run completed the message with (null when it
	// completed it without one); empty unless Wait and completed.
	Response json.RawMessage `json:"response,omitempty"`
}

// QueueSupported reports whether actors of type typ have queues: typ is a
// workflow this engine runs.
func (e *Engine) QueueSupported(typ string) bool {
	_, ok := e.defs[typ]
	return ok
}

// Send sends body (JSON; nil is null) to queue of the run actor actorID
// (a workflow run of this engine; other types are ErrQueueNotSupported).
// The message waits in the run's inbox until the run function takes it
// (Queue().Next). Without o.Wait, Send returns once the message is
// committed; with it, Send waits in memory until the run completes the
// message and returns the response, or returns SendTimedOut after
// o.Timeout. A finished run is ErrRunFinished, a full inbox ErrInboxFull.
func (e *Engine) Send(ctx context.Context, actorID, queue string, body json.RawMessage, o SendOptions) (SendResult, error) {
	typ, key, err := actors.ParseID(actorID)
	if err != nil {
		return SendResult{}, fmt.Errorf("send to %s: %w", actorID, err)
	}
	c, ok := e.defs[typ]
	if !ok || len(key) != 1 {
		return SendResult{}, fmt.Errorf("%w: actor %s is of type %s, not a workflow this server runs", ErrQueueNotSupported, actorID, typ)
	}
	if body == nil {
		body = json.RawMessage("null")
	}
	if !json.Valid(body) {
		return SendResult{}, actors.NewUserError("invalid_request", "message body is not valid JSON", nil)
	}
	h, err := e.rt.Client().GetByID(ctx, actorID)
	if errors.Is(err, actors.ErrNotFound) {
		return SendResult{}, fmt.Errorf("%w: %s of %s", ErrRunNotFound, key[0], typ)
	}
	if err != nil {
		return SendResult{}, fmt.Errorf("send to run %s of %s: %w", key[0], typ, err)
	}
	var id uint64
	var ch chan json.RawMessage
	// Not retried: an unknown outcome may have appended the message. The
	// waiter is registered in the mailbox, before anything can complete
	// the message.
	err = actors.Do(ctx, h, wfEvent, mustJSON(sendArgs{Op: "send", Queue: queue, Wait: o.Wait}), func(ac *actors.Context[RunState]) error {
		if ch != nil {
			forgetWaiter(c, actorID, id, ch)
			ch = nil
		}
		var err error
		if id, err = c.enqueue(ac, "message", queue, body, o.Wait); err != nil {
			return err
		}
		if o.Wait {
			ch = addWaiter(c, actorID, id)
		}
		return nil
	})
	if err != nil {
		if ch != nil {
			forgetWaiter(c, actorID, id, ch)
		}
		return SendResult{}, inboxError(fmt.Sprintf("send to run %s of %s", key[0], typ), err)
	}
	if !o.Wait {
		return SendResult{ID: id, Status: SendCompleted}, nil
	}
	return e.awaitCompletion(ctx, c, typ, key[0], actorID, id, ch, o.Timeout)
}

// sendArgs are the args of the event of Engine.Send.
type sendArgs struct {
	Op    string `json:"op"`
	Queue string `json:"queue"`
	Wait  bool   `json:"wait,omitempty"`
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v) // plain structs: cannot fail
	return b
}

// awaitCompletion waits for the completion of message id sent by Send:
// its waiter ch, the run's end (its leftovers complete with null), the
// timeout, or ctx.
func (e *Engine) awaitCompletion(ctx context.Context, c *core, name, runID, actorID string, id uint64, ch chan json.RawMessage, timeout time.Duration) (SendResult, error) {
	if timeout <= 0 {
		timeout = DefaultSendTimeout
	}
	expired := make(chan struct{})
	t := e.rt.Clock().AfterFunc(timeout, func() { close(expired) })
	defer t.Stop()
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	finished := make(chan struct{})
	go func() {
		if run, err := e.Await(actx, name, runID); err == nil && run.Status.Finished() {
			close(finished)
		}
	}()
	completed := func(resp json.RawMessage) SendResult {
		if resp == nil {
			resp = json.RawMessage("null")
		}
		return SendResult{ID: id, Status: SendCompleted, Response: resp}
	}
	select {
	case resp := <-ch:
		return completed(resp), nil
	case <-finished:
		// A completion comes before the run's end: look once more.
		if resp, ok := forgetWaiter(c, actorID, id, ch); ok {
			return completed(resp), nil
		}
		return completed(nil), nil
	case <-expired:
		if resp, ok := forgetWaiter(c, actorID, id, ch); ok {
			return completed(resp), nil
		}
		return SendResult{ID: id, Status: SendTimedOut}, nil
	case <-ctx.Done():
		forgetWaiter(c, actorID, id, ch)
		return SendResult{}, ctx.Err()
	}
}

// waitKey names one message of one run of one workflow.
type waitKey struct {
	c     *core
	actor string
	id    uint64
}

// waiters are the Sends waiting for their message's completion on this
// node, told by the Do that completes it once committed.
var waiters = struct {
	sync.Mutex
	m map[waitKey]chan json.RawMessage
}{m: map[waitKey]chan json.RawMessage{}}

// addWaiter registers a waiter for message id of actorID.
func addWaiter(c *core, actorID string, id uint64) chan json.RawMessage {
	ch := make(chan json.RawMessage, 1)
	waiters.Lock()
	waiters.m[waitKey{c, actorID, id}] = ch
	waiters.Unlock()
	return ch
}

// forgetWaiter drops the waiter ch; if it was told already, it returns
// the response.
func forgetWaiter(c *core, actorID string, id uint64, ch chan json.RawMessage) (json.RawMessage, bool) {
	waiters.Lock()
	k := waitKey{c, actorID, id}
	if waiters.m[k] == ch {
		delete(waiters.m, k)
	}
	waiters.Unlock()
	select {
	case resp := <-ch:
		return resp, true
	default:
		return nil, false
	}
}

// notifyCompleted tells the waiter of message id of actorID, if any, that
// the message completed with response (nil: null). Call it after the
// completing Do is committed.
func notifyCompleted(c *core, actorID string, id uint64, response json.RawMessage) {
	waiters.Lock()
	k := waitKey{c, actorID, id}
	ch := waiters.m[k]
	delete(waiters.m, k)
	waiters.Unlock()
	if ch != nil {
		ch <- response // buffered, told once
	}
}
