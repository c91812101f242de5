package actors_test

import (
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

func TestSubscribeCheckedRunsCanSubscribe(t *testing.T) {
	allow := func(ok bool) func(c *actors.Context[ftState]) (bool, error) {
		return func(c *actors.Context[ftState]) (bool, error) {
			c.State.Log = append(c.State.Log, "asked:"+c.Conn().ID())
			return ok, nil
		}
	}
	typ := ftType("ftsub", actors.Options[ftState]{Events: map[string]actors.EventSpec[ftState]{
		"open": {CanSubscribe: allow(true)}, "secret": {CanSubscribe: allow(false)},
	}}).Action("emit", actors.Act(func(c *actors.Context[ftState], name string) (bool, error) {
		c.Broadcast(name, name)
		return true, nil
	}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "ftsub", "a")
	conn, err := h.Connect(ftCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SubscribeChecked(ftCtx(t), "open"); err != nil {
		t.Fatalf("allowed subscription: %v", err)
	}
	var ue *actors.UserError
	for _, name := range []string{"secret", actors.AllEvents} {
		if err := conn.SubscribeChecked(ftCtx(t), name); !errors.As(err, &ue) || ue.Code != "forbidden" {
			t.Fatalf("subscription to %q: %v, want forbidden", name, err)
		}
	}
	if err := conn.SubscribeChecked(ftCtx(t), "unlisted"); err != nil {
		t.Fatalf("an event without CanSubscribe takes any subscriber: %v", err)
	}
	ftCall[bool](t, h, "emit", "secret")
	ftCall[bool](t, h, "emit", "open")
	if got := ftWait(t, conn.Events(), "the allowed event"); got.Name != "open" {
		t.Fatalf("first event delivered: %q, want open (secret was refused)", got.Name)
	}
	// What CanSubscribe changed is recorded: both checks, in order.
	st := ftCall[ftState](t, h, "state")
	if len(st.Log) != 2 || st.Log[0] != "asked:"+conn.ID() {
		t.Fatalf("state log %v, want the two checks", st.Log)
	}
}
