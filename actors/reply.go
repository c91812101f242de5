package actors

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Sends with a reply: a one-way send (send.go) whose outcome comes back to
// the sender as a call of one of its own actions, without the sender waiting
// for it. The send is an effect of the sender's event like any other; after
// the delivery to the target returns (its output, its error, or an error
// saying it cannot be delivered at all), the deliverer calls the sender's
// reply action with (tag, Outcome).
//
// Exactly once, in effect: the reply runs under ReplyCallID(effect ID), a
// call ID the sender remembers like an effect ID (it starts with a digit, so
// it shares the bound actorstate.MaxRememberedEffects); before it delivers a
// send with a reply, the deliverer asks the sender whether it already
// remembers that ID (whatever its arguments: a redelivery may see another
// outcome, a user error is not remembered by the target), and if it does the
// send is complete. A transient failure (of the target or of the reply)
// leaves the whole send to the outbox, which tries it again: the target
// answers a repeat from its record, and the reply is applied once.

// ReplyTo is the reply part of a send effect: the sender's action to call
// with the outcome, and the tag to pass it (JSON).
type ReplyTo struct {
	Action string          `json:"action"`
	Tag    json.RawMessage `json:"tag,omitempty"`
}

// Outcome is the second argument of a reply action: what the delivery of a
// send with a reply came to. OK with the target's Output, or Code and
// Message: the target's user error, or the runtime's error (action_not_found,
// actor_not_found, action_timeout, ...) when the send could not be performed.
type Outcome struct {
	// EffectID is the send's effect ID: the same for every delivery of it.
	EffectID string `json:"effectId"`
	// Target is the receiver's actor ID.
	Target string `json:"target"`
	// OK is true when the target's action succeeded.
	OK bool `json:"ok"`
	// Output is the target's output, when OK.
	Output json.RawMessage `json:"output,omitempty"`
	// Code and Message describe the failure, when not OK.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

// ReplyCallerPrefix starts the caller of every reply ("reply:<target ID>"):
// no other path calls as it, so a reply action can refuse other callers.
const ReplyCallerPrefix = "reply:"

// IsReply reports whether caller (Context.Caller) is the runtime delivering
// a reply.
func IsReply(caller string) bool { return strings.HasPrefix(caller, ReplyCallerPrefix) }

// ReplyCallID returns the call ID under which the reply to the send with
// effect ID effectID runs on the sender: "<seq>/<index>/reply". It is
// distinct from the effect ID (under which the target runs the send, even
// when the target is the sender itself) and, starting with a digit, is
// remembered and bounded with the effect IDs.
func ReplyCallID(effectID string) string { return effectID + "/reply" }

// SendReply is Send with a reply: once the send is delivered, replyAction,
// an action of this actor's type, is called on this actor with (tag,
// Outcome) by the caller "reply:<actorID>". The reply comes whatever the
// target answered, its errors included, and when the send can never be
// delivered (the target or its action is gone); it does not come while a
// delivery fails for a reason that may pass (the outbox retries it), nor
// ever if the outbox gives up on it (a dead letter), so the sender should
// bound how long it waits. SendReply checks what Send checks, and that
// replyAction exists, and records nothing if any is wrong.
func (c *Context[S]) SendReply(actorID, action string, args []any, replyAction string, tag any) error {
	r := c.run
	if !r.inst.def.hasAction(replyAction) {
		return errorf(ErrActionNotFound, "send %s to %s: reply action %q: actor type %s has no such action", action, actorID, replyAction, r.inst.ref.Type)
	}
	raw, err := json.Marshal(tag)
	if err != nil {
		return errorf(ErrInvalidArgs, "send %s to %s: reply tag does not encode as JSON: %v", action, actorID, err)
	}
	if limit := r.inst.lim.maxArgs; len(raw) > limit {
		return errorf(ErrArgsTooLarge, "send %s to %s: reply tag is %d bytes, limit %d", action, actorID, len(raw), limit)
	}
	return r.send(actorID, action, args, &ReplyTo{Action: replyAction, Tag: raw})
}

// CheckSend reports whether Send could send action to the actor with ID
// actorID now: the ID is valid, its type registered, the action one of the
// type's. It records nothing and does not look at whether the actor exists.
func (c *Context[S]) CheckSend(actorID, action string) error {
	typ, _, err := ParseID(actorID)
	if err != nil {
		return err
	}
	def, err := c.run.inst.rt.reg.lookup(typ)
	if err != nil {
		return err
	}
	if !def.hasAction(action) {
		return errorf(ErrActionNotFound, "actor type %s has no action %q", typ, action)
	}
	return nil
}

// deliverWithReply performs a send with a reply (deliver has claimed it): it
// asks the sender whether the reply was applied already, delivers the send
// to the target, then applies the reply. It returns nil once the reply is
// applied (or can never be: the sender is gone), and an error for the outbox
// to retry the whole send otherwise.
func (rt *Runtime) deliverWithReply(ctx context.Context, def Definition, ref eventlog.ActorRef, subj string, d Delivery) error {
	sender, err := rt.Client().WithCaller(ReplyCallerPrefix + d.Target).Ref(d.From)
	if err != nil {
		return err // the sender's ID came from the log: not a valid ID is undeliverable
	}
	replyID := ReplyCallID(d.EffectID)
	applied, err := rt.replied(ctx, sender, replyID)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	case applied:
		return nil
	}
	o := newOp()
	o.kind, o.action, o.args, o.caller = opAction, d.Action, d.Args, "actor:"+d.From
	o.ids = callIDs{callID: d.EffectID, recorded: true}
	res, err := rt.submit(ctx, def, ref, subj, o)
	out := Outcome{EffectID: d.EffectID, Target: d.Target, OK: err == nil, Output: res.output}
	if err != nil {
		if !finalOutcome(err) {
			return err // the outbox tries the whole send again
		}
		out.Code, out.Message = outcomeError(err)
		rt.logger.Debug("send with a reply failed; replying with the error", "from", d.From, "target", d.Target,
			"action", d.Action, "effect", d.EffectID, "err", err)
	}
	args, err := json.Marshal([]any{d.Reply.Tag, out})
	if err != nil {
		return withCause(ErrInternal, err)
	}
	ro := newOp()
	ro.kind, ro.action, ro.args, ro.caller = opAction, d.Reply.Action, args, ReplyCallerPrefix+d.Target
	ro.ids = callIDs{callID: replyID, recorded: true}
	_, err = rt.submit(ctx, sender.def, sender.ref, sender.subj, ro)
	if errors.Is(err, ErrNotFound) {
		rt.logger.Info("reply dropped: the sender no longer exists", "from", d.From, "target", d.Target, "effect", d.EffectID)
		return nil
	}
	return err
}

// replied reports whether the sender remembers the reply call ID, whatever
// the arguments it ran with. It runs in the sender's mailbox and appends
// nothing.
func (rt *Runtime) replied(ctx context.Context, sender *Handle, replyID string) (bool, error) {
	var found bool
	_, err := rt.submit(ctx, sender.def, sender.ref, sender.subj, &op{kind: opDo, caller: ReplyCallerPrefix, fn: func(r *run) error {
		_, found = r.inst.image.Calls[replyID]
		return nil
	}})
	return found, err
}

// finalOutcome reports whether err, from delivering a send to its target, is
// the send's outcome (the reply carries it) rather than a failure a retry
// may get past: the target's user error, an error no retry can fix
// (Undeliverable), or the action failing by itself (timeout, state too
// large, a call cycle).
func finalOutcome(err error) bool {
	var ue *UserError
	if errors.As(err, &ue) || Undeliverable(err) {
		return true
	}
	for _, e := range []error{ErrActionTimeout, ErrStateTooLarge, ErrCallCycle} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// outcomeError is the code and message of a final error, as a remote
// caller would see them.
func outcomeError(err error) (code, message string) {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue.Code, ue.Message
	}
	var re *Error
	if errors.As(PublicError(err), &re) {
		return re.Code, re.Message
	}
	return string(ErrInternal.Code), ErrInternal.Message
}
