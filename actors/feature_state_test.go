package actors_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

func TestFeatureInitialState(t *testing.T) {
	t.Parallel()
	typ := ftType("ftinit", actors.Options[ftState]{State: ftState{Count: 10, Log: []string{"init"}}}).
		Action("note", actors.Act(func(c *actors.Context[ftState], s string) (int, error) {
			c.State.Log = append(c.State.Log, s)
			c.State.Log[0] = "changed"
			return len(c.State.Log), nil
		}))
	b := ftSetup(t, nil, typ)
	a := ftCreate(t, b, "ftinit", "a")
	if st := ftCall[ftState](t, a, "state"); st.Count != 10 || len(st.Log) != 1 || st.Log[0] != "init" {
		t.Fatalf("initial state %+v", st)
	}
	ftCall[int](t, a, "note", "x")
	ftCall[int64](t, a, "inc", 5)
	// Every new actor starts from the initial value, untouched by others' changes.
	other := ftCreate(t, b, "ftinit", "b")
	if st := ftCall[ftState](t, other, "state"); st.Count != 10 || len(st.Log) != 1 || st.Log[0] != "init" {
		t.Fatalf("a second actor's initial state %+v", st)
	}
	if st := ftCall[ftState](t, a, "state"); st.Count != 15 || len(st.Log) != 2 || st.Log[0] != "changed" {
		t.Fatalf("first actor's state %+v", st)
	}
}

func TestFeatureStatePersists(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		move func(t *testing.T, b *bundle)
	}{
		{"restart", func(t *testing.T, b *bundle) { b.restart(t) }},
		{"sleep and wake", func(t *testing.T, b *bundle) { ftAsleep(t, b) }},
		{"restart without snapshots", func(t *testing.T, b *bundle) {
			b.stop(t)
			if err := os.RemoveAll(filepath.Join(b.dir, "snapshots")); err != nil {
				t.Fatal(err)
			}
			b.start(t)
		}},
		{"sleep, wake, restart", func(t *testing.T, b *bundle) {
			ftAsleep(t, b)
			h, err := b.rt.Client().Get(ftCtx(t), "ftpersist", []string{"a"})
			if err != nil {
				t.Fatal(err)
			}
			ftCall[int64](t, h, "get")
			b.restart(t)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ftSetup(t, nil, ftType("ftpersist", actors.Options[ftState]{State: ftState{Log: []string{}}}))
			h := ftCreate(t, b, "ftpersist", "a")
			for i := 1; i <= 7; i++ {
				ftCall[int64](t, h, "inc", i)
			}
			ftCall[string](t, h, "setText", "kept")
			want := ftCall[ftState](t, h, "state")
			tc.move(t, b)
			h, err := b.rt.Client().Get(ftCtx(t), "ftpersist", []string{"a"})
			if err != nil {
				t.Fatalf("get after %s: %v", tc.name, err)
			}
			if got := ftCall[ftState](t, h, "state"); ftJSON(t, got) != ftJSON(t, want) || got.Count != 28 {
				t.Fatalf("state after %s: %+v, want %+v", tc.name, got, want)
			}
			// And it keeps going from there.
			if got := ftCall[int64](t, h, "inc", 2); got != 30 {
				t.Fatalf("inc after %s: %d", tc.name, got)
			}
		})
	}
}

type ftVars struct {
	wake  int64 // CreateVars calls when these vars were built
	calls int   // calls since then
}

func TestFeatureVarsRebuiltOnWake(t *testing.T) {
	t.Parallel()
	var built atomic.Int64
	typ := ftType("ftvars", actors.Options[ftState]{
		CreateVars: func(c *actors.Context[ftState]) (any, error) {
			return &ftVars{wake: built.Add(1)}, nil
		},
	}).Action("vars", actors.Act0(func(c *actors.Context[ftState]) ([2]int64, error) {
		v := c.Vars.(*ftVars)
		v.calls++
		return [2]int64{v.wake, int64(v.calls)}, nil
	}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "ftvars", "a")
	check := func(step string, wake, calls int64) {
		t.Helper()
		got := ftCall[[2]int64](t, h, "vars")
		if got != [2]int64{wake, calls} {
			t.Fatalf("%s: vars built by CreateVars call %d, %d calls; want %d, %d", step, got[0], got[1], wake, calls)
		}
	}
	check("after create", 1, 1)
	check("same wake", 1, 2)
	// A failed call does not undo vars (they are memory only), nor rebuild them.
	if _, err := h.Action(ftCtx(t), "fail", "user"); err == nil {
		t.Fatal("fail succeeded")
	}
	check("after a failed call", 1, 3)
	ftAsleep(t, b)
	check("after a wake", 2, 1)
	b.restart(t)
	h, err := b.rt.Client().Get(ftCtx(t), "ftvars", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	check("after a restart", 3, 1)
	// Vars are never part of the persisted state.
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.HasState && string(ev.State) != `{"count":0}` {
			t.Fatalf("event %d records state %s", ev.Seq, ev.State)
		}
	}
}
