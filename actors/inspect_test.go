package actors_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// hookPause is how long each timed hook of the inspected type takes.
const hookPause = 3 * time.Millisecond

func inspType(changes *int) *actors.Type[ftState] {
	return ftType("ftinsp", actors.Options[ftState]{
		CreateState: func(c *actors.Context[ftState], input json.RawMessage) (ftState, error) {
			time.Sleep(hookPause)
			return ftState{Count: 1}, nil
		},
		OnCreate:   func(c *actors.Context[ftState], input json.RawMessage) error { time.Sleep(hookPause); return nil },
		CreateVars: func(c *actors.Context[ftState]) (any, error) { time.Sleep(hookPause); return "vars", nil },
		OnWake:     func(c *actors.Context[ftState]) error { time.Sleep(hookPause); return nil },
		CreateConnState: func(c *actors.Context[ftState], params json.RawMessage) (any, error) {
			return map[string]string{"user": "u1"}, nil
		},
		OnStateChange: func(c *actors.Context[ftState]) { *changes++ },
	})
}

func TestInspectStateConnectionsAndWakeMetrics(t *testing.T) {
	t.Parallel()
	changes := 0
	b := ftSetup(t, nil, inspType(&changes))
	h := ftCreate(t, b, "ftinsp", "a")
	ctx := ftCtx(t)

	in, err := h.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(in.State) != `{"count":1}` {
		t.Fatalf("state %s", in.State)
	}
	w := in.Wake
	if !w.New || w.CreateState < hookPause || w.OnCreate < hookPause || w.CreateVars < hookPause || w.OnWake < hookPause {
		t.Fatalf("new actor's wake metrics %+v: want New and each hook at least %s", w, hookPause)
	}
	if w.Total < 4*hookPause || w.Load <= 0 || w.Reads < 2 || w.At.IsZero() {
		t.Fatalf("new actor's wake metrics %+v: want a total over the hooks, a load, and the snapshot and log reads", w)
	}

	conn, err := h.Connect(ctx, json.RawMessage(`{"token":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	conn.Subscribe("x")
	if in, err = h.Inspect(ctx); err != nil {
		t.Fatal(err)
	}
	if len(in.Connections) != 1 {
		t.Fatalf("connections %+v, want 1", in.Connections)
	}
	c := in.Connections[0]
	if c.ID != conn.ID() || string(c.Params) != `{"token":"t"}` || string(c.State) != `{"user":"u1"}` || c.Subscriptions != 1 || c.Transport != "" {
		t.Fatalf("connection %+v", c)
	}

	// ReplaceState: appended as its own event, seen by the next call.
	before := ftLastSeq(t, b, h.ID)
	if err := h.ReplaceState(ctx, json.RawMessage(`{"count":42,"text":"set"}`)); err != nil {
		t.Fatal(err)
	}
	evs := ftEvents(t, b, h.ID)
	last := evs[len(evs)-1]
	if last.Seq <= before || last.Kind != eventlog.KindSystem || last.Action != actors.InspectStateEvent {
		t.Fatalf("last event %d %v %q, want a new %s", last.Seq, last.Kind, last.Action, actors.InspectStateEvent)
	}
	if got := ftCall[int64](t, h, "get"); got != 42 {
		t.Fatalf("count after ReplaceState %d", got)
	}
	if changes == 0 {
		t.Fatal("OnStateChange did not run for ReplaceState")
	}
	// A state that does not fit the type changes nothing.
	seq := ftLastSeq(t, b, h.ID)
	for _, bad := range []string{`{"count":"many"}`, `not json`} {
		if err := h.ReplaceState(ctx, json.RawMessage(bad)); !errors.Is(err, actors.ErrInvalidArgs) {
			t.Fatalf("ReplaceState(%s): %v, want invalid args", bad, err)
		}
	}
	if got := ftLastSeq(t, b, h.ID); got != seq {
		t.Fatalf("a refused ReplaceState appended: seq %d -> %d", seq, got)
	}
	// Reads append nothing.
	if _, err := h.Inspect(ctx); err != nil || ftLastSeq(t, b, h.ID) != seq {
		t.Fatalf("Inspect: %v, or it appended", err)
	}

	// After a sleep, the wake is measured again: an existing actor.
	conn.Close()
	ftAsleep(t, b)
	if in, err = h.Inspect(ctx); err != nil {
		t.Fatal(err)
	}
	w = in.Wake
	if w.New || w.CreateState != 0 || w.OnCreate != 0 || w.OnWake < hookPause || w.CreateVars < hookPause || w.Reads < 2 || w.Load <= 0 || w.Total < w.Load+w.OnWake {
		t.Fatalf("woken actor's wake metrics %+v", w)
	}
	if string(in.State) != `{"count":42,"text":"set"}` || len(in.Connections) != 0 {
		t.Fatalf("after the wake: state %s, connections %+v", in.State, in.Connections)
	}

	if names := h.ActionNames(); !slices.Equal(names, []string{"fail", "get", "inc", "setText", "state"}) {
		t.Fatalf("action names %v", names)
	}
}

func TestInspectMissingActor(t *testing.T) {
	t.Parallel()
	changes := 0
	b := ftSetup(t, nil, inspType(&changes))
	subj, err := eventlog.ActorRef{Type: "ftinsp", Key: []string{"nobody"}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	h, err := b.rt.Client().Ref(strings.TrimPrefix(subj, eventlog.SubjectPrefix+"."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Inspect(ftCtx(t)); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("Inspect of a missing actor: %v", err)
	}
	if err := h.ReplaceState(ftCtx(t), json.RawMessage(`{}`)); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("ReplaceState of a missing actor: %v", err)
	}
}
