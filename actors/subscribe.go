package actors

import (
	"context"
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// EventSpec is one of an actor type's events (a broadcast name).
type EventSpec[S any] struct {
	// CanSubscribe decides whether a connection may subscribe to the event;
	// false refuses with a "forbidden" user error. c.Conn() is the
	// subscribing connection. It runs in the actor's mailbox, and what it
	// changes is recorded in a "$subscribe" event. nil takes any subscriber.
	CanSubscribe func(c *Context[S]) (bool, error)
}

func hasSubscribeHook[S any](events map[string]EventSpec[S]) bool {
	for _, e := range events {
		if e.CanSubscribe != nil {
			return true
		}
	}
	return false
}

// SubscribeChecked subscribes the connection to broadcasts named name once
// the event's CanSubscribe (Options.Events), if any, allows it; a refusal is
// a *UserError "forbidden" and subscribes nothing. A type whose events check
// subscriptions refuses AllEvents (subscribe to each event by name). Without
// hooks it is Subscribe.
func (c *Conn) SubscribeChecked(ctx context.Context, name string) error {
	h := c.handle
	if !h.client.rt.limits[h.ref.Type].subscribeHooks {
		c.Subscribe(name)
		return nil
	}
	if name == AllEvents {
		return &UserError{Group: "auth", Code: string(errcode.Forbidden), Message: "actor type " + h.ref.Type + " checks who subscribes to its events (CanSubscribe): subscribe to each event by name"}
	}
	var allowed bool
	_, err := h.client.rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opDo, action: "$subscribe", caller: h.client.caller, fn: func(r *run) error {
		r.conn, r.req = c, c.req
		hooked, ok, err := r.inst.h.canSubscribe(r, name)
		if err != nil {
			return err
		}
		allowed = ok || !hooked
		if hooked {
			args, _ := json.Marshal(map[string]any{"event": name, "conn": c.ID(), "allowed": ok})
			r.eventArgs = args
		}
		return nil
	}})
	if err != nil {
		return err
	}
	if !allowed {
		return &UserError{Group: "auth", Code: string(errcode.Forbidden), Message: "subscribing to event " + name + " was refused (CanSubscribe)"}
	}
	c.Subscribe(name)
	return nil
}
