package actors

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Do runs fn in the actor's mailbox as a system event named name, with args
// recorded in it. It exists for in-process code that runs outside the mailbox
// and must commit to the actor's log, such as a workflow runner recording a
// journal entry: fn sees the actor as an action does, one call at a time with
// every other call, and its state, KV, alarm, broadcast and effect changes
// are appended in one event, fenced by the actor's last sequence, before Do
// returns. When fn changes nothing, no event is appended; when fn fails,
// nothing is, and Do returns fn's error.
//
// name must start with "$" and must not be one the runtime records itself
// ("$create", "$wake", ...): system names are not actions, so no HTTP route
// or Handle.Action reaches a Do. args is small JSON (or nil), bounded by the
// type's MaxArgsBytes. S must be the actor type's state type.
//
// An actor that is asleep wakes as for a call; one that does not exist is
// ErrNotFound. A conflicting writer is ErrConflict (the actor reloads before
// its next call) and an append of unknown outcome is ErrUnknownOutcome: fn
// should then re-read what it meant to write and act only if it is missing.
// Do is not for code inside an action (it would wait on its own mailbox or
// escape the caller's recording): h must come from a Runtime's Client.
func Do[S any](ctx context.Context, h *Handle, name string, args json.RawMessage, fn func(c *Context[S]) error) error {
	if err := checkDo(h, name, args); err != nil {
		return err
	}
	if fn == nil {
		return errorf(ErrInvalidArgs, "Do %s: no function", name)
	}
	if _, ok := h.def.(*Type[S]); !ok {
		return errorf(ErrInvalidArgs, "Do %s: actor type %s does not hold state of type %s", name, h.ref.Type, reflect.TypeFor[S]())
	}
	_, err := h.client.rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opDo, action: name, args: args, caller: h.client.caller,
		fn: func(r *run) error {
			if err := fn(r.inst.h.(*typed[S]).ctx(r)); err != nil {
				return &doError{err}
			}
			return nil
		}})
	if de, ok := errors.AsType[*doError](err); ok {
		return de.err
	}
	return err
}

// doError carries the error of Do's fn through the mailbox, so that Do returns
// it as fn did (not as an internal error) and the runtime does not log it.
// SetEventArgs replaces, from a Do closure, the arguments its system event
// records (valid JSON, within the type's argument limit): for arguments
// that describe what the closure did, known only once it ran. Elsewhere it
// does nothing.
func (c *Context[S]) SetEventArgs(args json.RawMessage) {
	if c.run.kind == eventlog.KindSystem {
		c.run.eventArgs = args
	}
}

type doError struct{ err error }

func (e *doError) Error() string { return e.err.Error() }
func (e *doError) Unwrap() error { return e.err }

// runtimeEvents are the system event names the runtime records itself.
var runtimeEvents = map[string]bool{"$create": true, "$destroy": true, "$wake": true, "$sleep": true, "$migrate": true,
	FireAction: true, ForkAction: true, "$connect": true, "$disconnect": true, "$request": true, "$websocket": true}

// checkDo validates what Do checks before it reaches the mailbox.
func checkDo(h *Handle, name string, args json.RawMessage) error {
	switch {
	case len(name) < 2 || !strings.HasPrefix(name, "$"):
		return errorf(ErrInvalidArgs, "Do %q: a system event's name starts with \"$\"", name)
	case runtimeEvents[name]:
		return errorf(ErrInvalidArgs, "Do %q: the runtime records events of that name itself", name)
	case h.client.rec != nil:
		return errorf(ErrInvalidArgs, "Do %s: not from inside an action (use an action, or a Runtime's Client)", name)
	case len(args) > 0 && !json.Valid(args):
		return errorf(ErrInvalidArgs, "Do %s: arguments are not valid JSON", name)
	}
	if limit := h.client.rt.limits[h.ref.Type].maxArgs; len(args) > limit {
		return errorf(ErrArgsTooLarge, "Do %s on %s: arguments are %d bytes, limit %d", name, h.ID, len(args), limit)
	}
	return nil
}
