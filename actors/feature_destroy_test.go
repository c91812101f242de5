package actors_test

import (
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestFeatureDestroy(t *testing.T) {
	t.Parallel()
	destroyed := make(chan int64, 2)
	typ := ftWithKV(ftType("ftdestroy", actors.Options[ftState]{
		State:     ftState{Text: "fresh"},
		OnDestroy: func(c *actors.Context[ftState]) error { destroyed <- c.State.Count; return nil },
	}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	cl := b.rt.Client()
	h := ftCreate(t, b, "ftdestroy", "a")
	ftCall[int64](t, h, "inc", 5)
	ftCall[string](t, h, "setText", "old")
	ftCall[bool](t, h, "kvput", "k", "v")
	conn, err := h.Subscribe(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}

	if err := h.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ftWait(t, destroyed, "OnDestroy"); got != 5 {
		t.Fatalf("OnDestroy saw count %d", got)
	}
	evs := ftEvents(t, b, h.ID)
	last := evs[len(evs)-1]
	if last.Kind != eventlog.KindDestroy || last.Generation != 1 || last.HasState {
		t.Fatalf("last event: kind %v gen %d hasState %v, want a generation 1 tombstone", last.Kind, last.Generation, last.HasState)
	}
	// Open connections close, saying why.
	ftWait(t, conn.Done(), "the connection to close")
	if !errors.Is(conn.Err(), actors.ErrNotFound) {
		t.Fatalf("conn Err %v", conn.Err())
	}
	if _, ok := <-conn.Events(); ok {
		t.Fatal("events still open")
	}

	for what, err := range map[string]error{
		"get":         func() error { _, err := cl.Get(ctx, "ftdestroy", []string{"a"}); return err }(),
		"getByID":     func() error { _, err := cl.GetByID(ctx, h.ID); return err }(),
		"old handle":  func() error { _, err := h.Action(ctx, "get"); return err }(),
		"destroy":     h.Destroy(ctx),
		"connect":     func() error { _, err := h.Connect(ctx, nil); return err }(),
		"conn action": func() error { _, err := conn.Action(ctx, "get", nil); return err }(),
	} {
		want := actors.ErrNotFound
		if what == "conn action" {
			want = actors.ErrConnClosed
		}
		if !errors.Is(err, want) {
			t.Errorf("%s after destroy: %v, want %v", what, err, want)
		}
	}
	seq := ftLastSeq(t, b, h.ID)
	if seq != last.Seq {
		t.Fatal("calls on a destroyed actor appended")
	}

	// A new create starts generation 2 from scratch.
	check := func(step string, h2 *actors.Handle) {
		t.Helper()
		if h2.Generation != 2 {
			t.Fatalf("%s: generation %d, want 2", step, h2.Generation)
		}
		if st := ftCall[ftState](t, h2, "state"); st.Count != 0 || st.Text != "fresh" {
			t.Fatalf("%s: state %+v, want the initial one", step, st)
		}
		if got := ftCall[[]ftKV](t, h2, "kvlist", ""); len(got) != 0 {
			t.Fatalf("%s: KV %v survived the destroy", step, got)
		}
	}
	h2, created, err := cl.GetOrCreate(ctx, "ftdestroy", []string{"a"}, nil)
	if err != nil || !created {
		t.Fatalf("create after destroy: %v %v", created, err)
	}
	check("recreated", h2)
	var creates []*eventlog.Event
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Kind == eventlog.KindCreate {
			creates = append(creates, ev)
		}
	}
	if len(creates) != 2 || creates[1].Generation != 2 || creates[1].Seq <= seq {
		t.Fatalf("create events: %d, want a second one after the tombstone with generation 2", len(creates))
	}
	b.restart(t)
	h3, err := b.rt.Client().Get(ftCtx(t), "ftdestroy", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	check("after restart", h3)
	if err := h3.Destroy(ftCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := ftWait(t, destroyed, "OnDestroy"); got != 0 {
		t.Fatalf("second OnDestroy saw %d", got)
	}
	h4, err := b.rt.Client().Create(ftCtx(t), "ftdestroy", []string{"a"}, nil)
	if err != nil || h4.Generation != 3 {
		t.Fatalf("third generation: %v %+v", err, h4)
	}
}

func TestFeatureContextDestroy(t *testing.T) {
	t.Parallel()
	typ := ftType("ftselfdestroy", actors.Options[ftState]{}).
		Action("selfDestruct", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			c.State.Count = 42
			c.Destroy()
			return "bye", nil
		})).
		Action("selfDestructFail", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			c.Destroy()
			return "", actors.NewUserError("nope", "nope", nil)
		}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftselfdestroy", "a")
	if _, err := h.Action(ctx, "selfDestructFail"); err == nil {
		t.Fatal("selfDestructFail succeeded")
	}
	if _, err := b.rt.Client().Get(ctx, "ftselfdestroy", []string{"a"}); err != nil {
		t.Fatalf("a failed call destroyed the actor: %v", err)
	}
	if got := ftCall[string](t, h, "selfDestruct"); got != "bye" {
		t.Fatalf("output %q", got)
	}
	// The destroy is done when the caller is answered.
	if _, err := b.rt.Client().Get(ctx, "ftselfdestroy", []string{"a"}); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get after c.Destroy: %v", err)
	}
	evs := ftEvents(t, b, h.ID)
	n := len(evs)
	if evs[n-2].Action != "selfDestruct" || string(evs[n-2].State) != `{"count":42}` || evs[n-1].Kind != eventlog.KindDestroy {
		t.Fatalf("last events: %s %s, %v", evs[n-2].Action, evs[n-2].State, evs[n-1].Kind)
	}
	if evs[n-1].Caller != "actor:"+h.ID {
		t.Fatalf("tombstone caller %q", evs[n-1].Caller)
	}
	h2, created, err := b.rt.Client().GetOrCreate(ctx, "ftselfdestroy", []string{"a"}, nil)
	if err != nil || !created || h2.Generation != 2 || ftCall[int64](t, h2, "get") != 0 {
		t.Fatalf("recreate: %v %v %+v", err, created, h2)
	}
}
