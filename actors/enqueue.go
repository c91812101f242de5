package actors

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Enqueues from an actor: an effect recorded in the actor's event, performed
// after the append is acknowledged (DESIGN.md, "Effects and the outbox"),
// like a one-way send (send.go). Two paths perform it: the runtime's fast
// path right after the commit, and the outbox (projections.Outbox) from the
// log, after a crash too. Both give the queue the effect ID as the message's
// dedup ID (JetStream's Nats-Msg-Id), so within the queue's dedupWindowMs
// the message is enqueued once however many times it is performed. Past the
// window a repeat (an outbox that performs the event later than that after
// the fast path did, on a node that does not remember it) adds a second
// message: enqueues are at least once, in effect once within the window.
//
// The runtime does not know queues (package queues imports this one): it
// performs enqueues through RuntimeOptions.Enqueuer, which a node sets to
// its queues.Manager.

// EffectEnqueue is the eventlog.Effect Type of an enqueue.
const EffectEnqueue = "enqueue"

// MaxEnqueueBodyBytes bounds an enqueued body whatever the actor's
// MaxArgsBytes: the largest message any queue takes
// (queues.MaxMessageBytesLimit). A queue's own maxMessageBytes is checked
// when the enqueue is performed.
const MaxEnqueueBodyBytes = 1<<20 - 8<<10

// Errors an Enqueuer returns for an enqueue that can never succeed as
// recorded (EnqueueUndeliverable): the outbox records it as a dead letter at
// once. Any other error is retried with backoff.
var (
	// ErrQueueNotFound: no queue of the name.
	ErrQueueNotFound = newError(errcode.QueueNotFound, "queue not found", 0)
	// ErrMessageTooLarge: the body exceeds the queue's maxMessageBytes.
	ErrMessageTooLarge = newError(errcode.MessageTooLarge, "message too large for the queue", 0)
)

// Bounds of EnqueueOptions: those of the queue API (package queues).
const (
	// MaxEnqueueKeyBytes bounds EnqueueOptions.Key (queues.MaxKeyBytes).
	MaxEnqueueKeyBytes = 256
	// MaxEnqueueDelay bounds EnqueueOptions.Delay (queues.MaxDelay).
	MaxEnqueueDelay = 365 * 24 * time.Hour
	// Enqueue priorities (queues.HighestPriority to queues.LowestPriority);
	// 0 means the queue's default, 3.
	HighestEnqueuePriority = 1
	LowestEnqueuePriority  = 5
)

// EnqueueOptions are the optional parts of an enqueue, as in the queue API
// (POST /v1/queues/{name}/messages). The zero value is a plain enqueue.
type EnqueueOptions struct {
	// Key, when set, orders the message after every earlier message of the
	// same key in the queue (one per key in flight at a time). At most
	// MaxEnqueueKeyBytes of UTF-8 text without control characters.
	Key string
	// Priority is 1 (most urgent) to 5; 0 means the default, 3.
	Priority int
	// Delay holds the message back for this long, at most MaxEnqueueDelay,
	// counted in whole milliseconds (rounded up) from when the enqueue is
	// performed: right after the commit, normally; after a crash, when the
	// outbox performs it.
	Delay time.Duration
}

// validate checks o as Context.Enqueue and DecodeEnqueue do.
func (o EnqueueOptions) validate(queue string) error {
	if len(o.Key) > MaxEnqueueKeyBytes || !utf8.ValidString(o.Key) || strings.ContainsFunc(o.Key, unicode.IsControl) {
		return errorf(ErrInvalidArgs, "enqueue into %s: key: at most %d bytes of UTF-8 text without control characters", queue, MaxEnqueueKeyBytes)
	}
	if o.Priority != 0 && (o.Priority < HighestEnqueuePriority || o.Priority > LowestEnqueuePriority) {
		return errorf(ErrInvalidArgs, "enqueue into %s: priority %d: must be %d (most urgent) to %d; 0 means 3", queue, o.Priority, HighestEnqueuePriority, LowestEnqueuePriority)
	}
	if o.Delay < 0 || o.Delay > MaxEnqueueDelay {
		return errorf(ErrInvalidArgs, "enqueue into %s: delay %s: must be 0 to %s", queue, o.Delay, MaxEnqueueDelay)
	}
	return nil
}

// Enqueuer performs enqueues for the runtime and the outbox: it adds body
// to queue with dedupID as the message's dedup ID (a repeat within the
// queue's dedup window adds nothing and succeeds) and with the options of
// opts (at most one; none is a plain enqueue). An unknown queue is
// ErrQueueNotFound, a body or options the queue refuses ErrMessageTooLarge
// or ErrInvalidArgs; other errors (a full queue) are retried.
// queues.Manager.EnqueueEffect is one.
type Enqueuer interface {
	EnqueueEffect(ctx context.Context, queue string, body json.RawMessage, dedupID string, opts ...EnqueueOptions) error
}

// EnqueueEffect is the Data of an enqueue effect, as JSON. The options are
// omitted when zero, so an enqueue without options encodes as it did before
// they existed, and such events decode to zero options.
type EnqueueEffect struct {
	// Queue is the queue's name.
	Queue string `json:"queue"`
	// Body is the message, a JSON value.
	Body json.RawMessage `json:"body"`
	// Key, Priority and DelayMs are EnqueueOptions (DelayMs in whole
	// milliseconds).
	Key      string `json:"key,omitempty"`
	Priority int    `json:"priority,omitempty"`
	DelayMs  int64  `json:"delayMs,omitempty"`
}

// Options returns the enqueue's options.
func (q EnqueueEffect) Options() EnqueueOptions {
	return EnqueueOptions{Key: q.Key, Priority: q.Priority, Delay: time.Duration(q.DelayMs) * time.Millisecond}
}

// DecodeEnqueue decodes the Data of an enqueue effect.
func DecodeEnqueue(data []byte) (EnqueueEffect, error) {
	var q EnqueueEffect
	if err := json.Unmarshal(data, &q); err != nil {
		return q, errorf(ErrInvalidArgs, "enqueue effect does not decode: %v", err)
	}
	if err := eventlog.ValidateType(q.Queue); err != nil {
		return q, errorf(ErrInvalidArgs, "enqueue effect: invalid queue name %q", q.Queue)
	}
	if len(q.Body) == 0 || !json.Valid(q.Body) {
		return q, errorf(ErrInvalidArgs, "enqueue effect: the body is not a JSON value")
	}
	if q.DelayMs < 0 || q.DelayMs > MaxEnqueueDelay.Milliseconds() {
		return q, errorf(ErrInvalidArgs, "enqueue effect: delayMs %d: must be 0 to %d", q.DelayMs, MaxEnqueueDelay.Milliseconds())
	}
	if err := q.Options().validate(q.Queue); err != nil {
		return q, err
	}
	return q, nil
}

// EnqueueDelivery is one enqueue to perform, with its options
// (EnqueueEffect.Options).
type EnqueueDelivery struct {
	// EffectID is the enqueue's effect ID (EffectID): the message's dedup ID.
	EffectID string
	// From is the enqueuing actor's ID.
	From string
	EnqueueEffect
}

// Enqueues returns the enqueues ev records, with their effect IDs, in
// effect order. ev must have been read from the log or acknowledged (Seq
// set). An enqueue whose data does not decode is left out; the outbox
// reports those.
func Enqueues(ev *eventlog.Event) []EnqueueDelivery {
	var ds []EnqueueDelivery
	for i, e := range ev.Effects {
		if e.Type != EffectEnqueue {
			continue
		}
		q, err := DecodeEnqueue(e.Data)
		if err != nil {
			continue
		}
		ds = append(ds, EnqueueDelivery{EffectID: EffectID(ev.Seq, i), From: idOrSubject(ev.Subject), EnqueueEffect: q})
	}
	return ds
}

// Enqueue adds body (encoded as JSON) to the durable queue named queue, as
// an effect of this call: it is recorded in this call's event and performed
// only once the event is acknowledged, with the effect ID as the message's
// dedup ID, so it is enqueued once within the queue's dedup window, across
// a crash too. Nothing is enqueued if the call fails. Enqueue checks the
// queue name's syntax and the body now (it must encode, to at most the
// actor's MaxArgsBytes and MaxEnqueueBodyBytes) and records nothing if they
// are wrong; the queue must exist, and take the body, when the enqueue is
// performed, or it becomes one of the outbox's dead letters (target
// "queue:<name>"). A full queue is retried.
//
// opts, at most one, sets the message's key, priority and delay
// (EnqueueOptions); they are checked now too: a bad one records nothing and
// returns ErrInvalidArgs.
func (c *Context[S]) Enqueue(queue string, body any, opts ...EnqueueOptions) error {
	return c.run.enqueue(queue, body, opts)
}

func (r *run) enqueue(queue string, body any, opts []EnqueueOptions) error {
	if err := eventlog.ValidateType(queue); err != nil {
		return errorf(ErrInvalidArgs, "enqueue: queue name %q: 1 to 64 of [A-Za-z0-9_-], starting with a letter", queue)
	}
	var o EnqueueOptions
	switch len(opts) {
	case 0:
	case 1:
		o = opts[0]
	default:
		return errorf(ErrInvalidArgs, "enqueue into %s: %d EnqueueOptions given, at most 1", queue, len(opts))
	}
	if err := o.validate(queue); err != nil {
		return err
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return errorf(ErrInvalidArgs, "enqueue into %s: the body does not encode as JSON: %v", queue, err)
	}
	if limit := min(r.inst.lim.maxArgs, MaxEnqueueBodyBytes); len(raw) > limit {
		return errorf(ErrArgsTooLarge, "enqueue into %s: the body is %d bytes, limit %d", queue, len(raw), limit)
	}
	// Whole milliseconds, rounded up: a delay is never shortened.
	delayMs := int64((o.Delay + time.Millisecond - 1) / time.Millisecond)
	data, err := json.Marshal(EnqueueEffect{Queue: queue, Body: raw, Key: o.Key, Priority: o.Priority, DelayMs: delayMs})
	if err != nil {
		return withCause(ErrInternal, err)
	}
	r.mu.Lock()
	r.effects = append(r.effects, eventlog.Effect{Type: EffectEnqueue, Data: data})
	r.mu.Unlock()
	return nil
}

// deliverEnqueues starts the fast path for the enqueues of ev, just
// acknowledged: one goroutine (tracked by rt.work, so Stop waits for it)
// performs them in order. One it cannot perform is left to the outbox.
// Without an Enqueuer it does nothing.
func (inst *instance) deliverEnqueues(ev *eventlog.Event) {
	if len(ev.Effects) == 0 {
		return
	}
	rt := inst.rt
	if rt.opts.Enqueuer == nil {
		return
	}
	ds := Enqueues(ev)
	if len(ds) == 0 {
		return
	}
	if crashAfterSendAck { // the send hook (send.go) covers enqueues too
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	rt.work.Add(1)
	go func() {
		defer rt.work.Done()
		for _, d := range ds {
			if err := rt.enqueueOnce(rt.ctx, d); err != nil {
				rt.logger.Debug("enqueue not performed on the fast path; the outbox performs it", "from", d.From,
					"queue", d.Queue, "effect", d.EffectID, "err", err)
			}
		}
	}()
}

// DeliverEnqueue performs one enqueue through RuntimeOptions.Enqueuer, with
// d.EffectID as the dedup ID. One this runtime performed lately (the fast
// path, usually) returns nil at once; one in flight is waited for.
// EnqueueUndeliverable tells the errors no retry can fix (no Enqueuer
// included); Unavailable those of a runtime that is not running. The outbox
// performs enqueues through it.
func (rt *Runtime) DeliverEnqueue(ctx context.Context, d EnqueueDelivery) error {
	if rt.stopping.Load() {
		return ErrStopping
	}
	return rt.enqueueOnce(ctx, d)
}

func (rt *Runtime) enqueueOnce(ctx context.Context, d EnqueueDelivery) error {
	if _, _, err := ParseEffectID(d.EffectID); err != nil {
		return err
	}
	if err := eventlog.ValidateType(d.Queue); err != nil {
		return errorf(ErrInvalidArgs, "enqueue: invalid queue name %q", d.Queue)
	}
	if len(d.Body) == 0 || !json.Valid(d.Body) {
		return errorf(ErrInvalidArgs, "enqueue into %s: the body is not a JSON value", d.Queue)
	}
	if d.DelayMs < 0 || d.DelayMs > MaxEnqueueDelay.Milliseconds() {
		return errorf(ErrInvalidArgs, "enqueue into %s: delayMs %d: must be 0 to %d", d.Queue, d.DelayMs, MaxEnqueueDelay.Milliseconds())
	}
	opts := d.Options()
	if err := opts.validate(d.Queue); err != nil {
		return err
	}
	enq := rt.opts.Enqueuer
	if enq == nil {
		return errorf(ErrQueueNotFound, "enqueue into %s: this runtime has no queues (RuntimeOptions.Enqueuer)", d.Queue)
	}
	tr := rt.sends // effect IDs are unique over every kind of effect
	for {
		done, wait := tr.claim(d.EffectID)
		if done {
			return nil
		}
		if wait == nil {
			break // ours to perform
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := enq.EnqueueEffect(ctx, d.Queue, d.Body, d.EffectID, opts)
	tr.release(d.EffectID, err == nil)
	return err
}

// EnqueueUndeliverable reports whether err, from DeliverEnqueue, means the
// enqueue can never succeed as recorded: an unknown queue, or a body the
// queue refuses. The outbox records it as a dead letter at once.
func EnqueueUndeliverable(err error) bool {
	for _, e := range []error{ErrQueueNotFound, ErrMessageTooLarge, ErrInvalidArgs, ErrArgsTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
