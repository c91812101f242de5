package actors

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// One-way sends: an effect recorded in the sender's event, performed after
// the append is acknowledged (DESIGN.md, "Effects and the outbox").
//
// A send is delivered at least once, by two paths: the runtime's fast path
// right after the sender's commit, and the outbox (projections.Outbox), a
// durable JetStream consumer of the log shared by every node on the cluster
// (each event goes to one node, which acknowledges it once its sends are
// delivered or recorded as dead letters), so it delivers after a crash too.
// The receiver records the effect ID as its event's call ID and remembers
// the last actorstate.MaxRememberedEffects of them, so a redelivery is
// answered without running again: in effect once.

// EffectSend is the eventlog.Effect Type of a one-way send.
const EffectSend = "send"

// SendEffect is the Data of a send effect, as JSON.
type SendEffect struct {
	// Target is the receiver's actor ID.
	Target string `json:"target"`
	// Action is the receiver's action.
	Action string `json:"action"`
	// Args are the action's arguments, a JSON array.
	Args json.RawMessage `json:"args"`
	// Reply, when set, is where the outcome goes (Context.SendReply, reply.go).
	Reply *ReplyTo `json:"reply,omitempty"`
}

// DecodeSend decodes the Data of a send effect.
func DecodeSend(data []byte) (SendEffect, error) {
	var s SendEffect
	if err := json.Unmarshal(data, &s); err != nil {
		return s, errorf(ErrInvalidArgs, "send effect does not decode: %v", err)
	}
	return s, nil
}

// Delivery is one send to perform.
type Delivery struct {
	// EffectID is the send's effect ID (EffectID): the receiver's dedup key.
	EffectID string
	// From is the sender's actor ID; the receiver sees the caller "actor:<From>".
	From string
	SendEffect
}

// EffectID returns the ID of the effect at index in the event at stream
// sequence seq: "<seq>/<index>". It is known once the append is
// acknowledged and never changes. Call IDs start with an actor type (a
// letter); effect IDs start with a digit.
func EffectID(seq uint64, index int) string {
	return strconv.FormatUint(seq, 10) + "/" + strconv.Itoa(index)
}

// ParseEffectID returns the sequence and index an effect ID names.
func ParseEffectID(id string) (seq uint64, index int, err error) {
	s, i, ok := strings.Cut(id, "/")
	if ok {
		seq, err = strconv.ParseUint(s, 10, 64)
		if err == nil {
			index, err = strconv.Atoi(i)
		}
	}
	if !ok || err != nil || seq == 0 || index < 0 {
		return 0, 0, errorf(ErrInvalidArgs, "invalid effect ID %q (want <sequence>/<index>)", id)
	}
	return seq, index, nil
}

// Sends returns the sends ev records, with their effect IDs, in effect
// order. ev must have been read from the log or acknowledged (Seq set). A
// send whose data does not decode is left out; the outbox reports those.
func Sends(ev *eventlog.Event) []Delivery {
	var ds []Delivery
	for i, e := range ev.Effects {
		if e.Type != EffectSend {
			continue
		}
		s, err := DecodeSend(e.Data)
		if err != nil {
			continue
		}
		ds = append(ds, Delivery{EffectID: EffectID(ev.Seq, i), From: idOrSubject(ev.Subject), SendEffect: s})
	}
	return ds
}

// SenderID returns the actor ID of an event's subject (the sender of its
// sends), or the subject itself if it names no actor.
func SenderID(subject string) string { return idOrSubject(subject) }

func idOrSubject(subject string) string {
	if rest, ok := strings.CutPrefix(subject, eventlog.SubjectPrefix+"."); ok {
		return rest
	}
	return subject
}

// Send sends action with args (encoded as a JSON array) to the actor with
// ID actorID, one way: it is recorded in this call's event and performed
// only once the event is acknowledged, at least once and in effect once
// (the receiver remembers the effect ID). Nothing is sent if the call fails.
// The receiver must exist when the send is delivered; it sees the caller
// "actor:<this actor's ID>" and its answer is dropped. Send checks the ID,
// the target's type and action and the arguments now, and records nothing
// if they are wrong. Sends are not ordered with one another (each node's
// outbox delivers in the order it gets events, but the fast path, other
// nodes and retried events may overtake one another). Unlike a call
// through Client, a send may target an actor in the call chain, this one
// included: it is how actors call back.
func (c *Context[S]) Send(actorID, action string, args ...any) error {
	return c.run.send(actorID, action, args, nil)
}

// SendTo is Send to the actor of type typ with key.
func (c *Context[S]) SendTo(typ string, key []string, action string, args ...any) error {
	id, err := ActorID(typ, key)
	if err != nil {
		return err
	}
	return c.run.send(id, action, args, nil)
}

func (r *run) send(target, action string, args []any, reply *ReplyTo) error {
	typ, _, err := ParseID(target)
	if err != nil {
		return err
	}
	def, err := r.inst.rt.reg.lookup(typ)
	if err != nil {
		return err
	}
	if !def.hasAction(action) {
		return errorf(ErrActionNotFound, "send to %s: actor type %s has no action %q", target, typ, action)
	}
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return errorf(ErrInvalidArgs, "send %s to %s: arguments do not encode as JSON: %v", action, target, err)
	}
	if limit := r.inst.rt.limits[typ].maxArgs; len(raw) > limit {
		return errorf(ErrArgsTooLarge, "send %s to %s: arguments are %d bytes, limit %d", action, target, len(raw), limit)
	}
	data, err := json.Marshal(SendEffect{Target: target, Action: action, Args: raw, Reply: reply})
	if err != nil {
		return withCause(ErrInternal, err)
	}
	r.mu.Lock()
	r.effects = append(r.effects, eventlog.Effect{Type: EffectSend, Data: data})
	r.mu.Unlock()
	return nil
}

// crashAfterSendAckEnv, set to "1" in a test's child process, kills the
// process (SIGKILL) right after an event with a send is acknowledged, before
// the fast path delivers it: the outbox must deliver it after the restart.
const crashAfterSendAckEnv = "RIVETFLOW_TEST_CRASH_AFTER_SEND_ACK"

var crashAfterSendAck = os.Getenv(crashAfterSendAckEnv) == "1"

// deliverSends starts the fast path for the sends of ev, just acknowledged:
// one goroutine (tracked by rt.work, so Stop waits for it) delivers them in
// order. A send it cannot deliver is left to the outbox.
func (inst *instance) deliverSends(ev *eventlog.Event) {
	if len(ev.Effects) == 0 {
		return
	}
	ds := Sends(ev)
	if len(ds) == 0 {
		return
	}
	if crashAfterSendAck {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
	rt := inst.rt
	tr := rt.sends
	rt.work.Add(1)
	go func() {
		defer rt.work.Done()
		for _, d := range ds {
			if err := rt.deliver(rt.ctx, tr, d); err != nil {
				rt.logger.Debug("send not delivered on the fast path; the outbox delivers it", "from", d.From,
					"target", d.Target, "action", d.Action, "effect", d.EffectID, "err", err)
			}
		}
	}()
}

// DeliverSend performs one send: it calls d.Action on d.Target as
// "actor:<d.From>" under the call ID d.EffectID, which the receiver records
// in its event, so a repeat (a redelivery by the outbox or after a restart)
// is answered without running again. A send this runtime delivered lately
// (the fast path, usually) returns nil at once; one in flight is waited for.
// The receiver's output is dropped. Undeliverable tells the errors no retry
// can fix; Unavailable those of a runtime that is not running. The outbox
// (projections.NewOutbox) delivers through it.
func (rt *Runtime) DeliverSend(ctx context.Context, d Delivery) error {
	return rt.deliver(ctx, rt.sends, d)
}

func (rt *Runtime) deliver(ctx context.Context, tr *sendTracker, d Delivery) error {
	if _, _, err := ParseEffectID(d.EffectID); err != nil {
		return err
	}
	typ, key, err := ParseID(d.Target)
	if err != nil {
		return err
	}
	def, ref, subj, err := rt.resolve(typ, key)
	if err != nil {
		return err
	}
	if len(d.Args) > 0 && !json.Valid(d.Args) {
		return errorf(ErrInvalidArgs, "send arguments are not valid JSON")
	}
	for {
		done, wait := tr.claim(d.EffectID)
		if done {
			return nil
		}
		if wait == nil {
			break // ours to deliver
		}
		select {
		case <-wait: // the other delivery ended: done, or ours to try
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if d.Reply != nil {
		err = rt.deliverWithReply(ctx, def, ref, subj, d)
	} else {
		o := newOp()
		o.kind, o.action, o.args, o.caller = opAction, d.Action, d.Args, "actor:"+d.From
		o.ids = callIDs{callID: d.EffectID, recorded: true}
		_, err = rt.submit(ctx, def, ref, subj, o)
	}
	tr.release(d.EffectID, err == nil)
	return err
}

// Undeliverable reports whether err, from DeliverSend, means the send can
// never succeed as recorded: an invalid or unknown target, type or action,
// or arguments the action refuses as such. Retrying will not help; the
// outbox records it as a dead letter at once.
func Undeliverable(err error) bool {
	for _, e := range []error{ErrNotFound, ErrUnknownType, ErrActionNotFound, ErrInvalidID, ErrInvalidKey, ErrInvalidArgs, ErrArgsTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// Unavailable reports whether err, from DeliverSend, says the runtime is not
// taking calls (stopped or stopping): the send was not attempted, and should
// not count as a failed attempt.
func Unavailable(err error) bool { return errors.Is(err, ErrStopping) }

// sendTracker remembers the effect IDs a runtime delivered lately (a bounded
// ring) and those being delivered now, so the outbox skips what the fast
// path delivered and waits for what it is delivering instead of sending a
// duplicate the receiver would have to answer from the log.
type sendTracker struct {
	mu       sync.Mutex
	done     map[string]struct{}
	ring     []string // done's IDs in delivery order, up to trackedSends
	next     int      // the oldest in a full ring
	inflight map[string]chan struct{}
}

// trackedSends bounds sendTracker.done.
const trackedSends = 1 << 16

// claim reports whether id was delivered; if not, and another delivery of
// it is in flight, wait is closed when it ends; otherwise (wait nil) the
// caller now delivers it and must release it.
func (t *sendTracker) claim(id string) (done bool, wait <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.done[id]; ok {
		return true, nil
	}
	if ch, ok := t.inflight[id]; ok {
		return false, ch
	}
	t.inflight[id] = make(chan struct{})
	return false, nil
}

func (t *sendTracker) release(id string, delivered bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if delivered {
		if len(t.ring) < trackedSends {
			t.ring = append(t.ring, id)
		} else {
			delete(t.done, t.ring[t.next])
			t.ring[t.next] = id
			t.next = (t.next + 1) % trackedSends
		}
		t.done[id] = struct{}{}
	}
	close(t.inflight[id])
	delete(t.inflight, id)
}

func newSendTracker() *sendTracker {
	return &sendTracker{done: map[string]struct{}{}, inflight: map[string]chan struct{}{}}
}
