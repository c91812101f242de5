package actors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// ftHookLog records which hooks ran, in order.
type ftHookLog struct {
	mu  sync.Mutex
	got []string
}

func (l *ftHookLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, s)
}

// take returns the hooks recorded so far and forgets them.
func (l *ftHookLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.got
	l.got = nil
	return out
}

func ftHookType(name string, rec *ftHookLog) *actors.Type[ftState] {
	return ftType(name, actors.Options[ftState]{
		OnCreate: func(c *actors.Context[ftState], input json.RawMessage) error {
			rec.add("create:" + string(input))
			c.State.Log = append(c.State.Log, "create")
			return nil
		},
		OnWake: func(c *actors.Context[ftState]) error {
			rec.add("wake")
			c.State.Log = append(c.State.Log, "wake")
			return nil
		},
		OnSleep: func(c *actors.Context[ftState]) error {
			rec.add("sleep")
			c.State.Log = append(c.State.Log, "sleep")
			return nil
		},
		OnDestroy: func(c *actors.Context[ftState]) error {
			rec.add(fmt.Sprintf("destroy:%d", c.State.Count))
			return nil
		},
		OnStateChange: func(c *actors.Context[ftState]) {
			rec.add("stateChange")
			c.State.Text = fmt.Sprintf("changed at %d", c.State.Count)
		},
		OnBeforeActionResponse: func(c *actors.Context[ftState], action string, output any) (any, error) {
			if action != "inc" {
				return output, nil
			}
			return map[string]any{"action": action, "out": output}, nil
		},
	})
}

func TestFeatureLifecycleHooks(t *testing.T) {
	t.Parallel()
	rec := &ftHookLog{}
	b := ftSetup(t, nil, ftHookType("fthooks", rec))
	ctx := ftCtx(t)
	expect := func(step string, want ...string) {
		t.Helper()
		if got := rec.take(); !slices.Equal(got, want) {
			t.Fatalf("%s: hooks %q, want %q", step, got, want)
		}
	}
	h, _, err := b.rt.Client().GetOrCreate(ctx, "fthooks", []string{"a"}, "in")
	if err != nil {
		t.Fatal(err)
	}
	expect("create", `create:"in"`, "wake")
	evs := ftEvents(t, b, h.ID)
	if len(evs) != 2 || evs[0].Kind != eventlog.KindCreate || evs[1].Kind != eventlog.KindSystem {
		t.Fatalf("create events: %d", len(evs))
	}
	if string(evs[1].State) != `{"count":0,"log":["create","wake"]}` {
		t.Fatalf("the wake hook's change is not recorded: %s", evs[1].State)
	}

	// OnStateChange runs only when the state changed, inside the same event;
	// OnBeforeActionResponse replaces the output, and the replacement is recorded.
	out, err := h.Action(ctx, "inc", 2)
	if err != nil {
		t.Fatal(err)
	}
	expect("inc", "stateChange")
	if string(out) != `{"action":"inc","out":2}` {
		t.Fatalf("inc output %s", out)
	}
	evs = ftEvents(t, b, h.ID)
	if len(evs) != 3 {
		t.Fatalf("inc appended %d events, want 1", len(evs)-2)
	}
	last := evs[2]
	if string(last.Output) != string(out) || string(last.State) != `{"count":2,"text":"changed at 2","log":["create","wake"]}` {
		t.Fatalf("inc event output %s state %s", last.Output, last.State)
	}
	if got := ftCall[int64](t, h, "get"); got != 2 {
		t.Fatalf("get %d", got)
	}
	ftCall[map[string]any](t, h, "inc", 0) // no change
	expect("read-only calls")

	// Sleep runs OnSleep (recorded), the next call wakes the actor.
	ftAsleep(t, b)
	expect("sleep", "sleep")
	st := ftCall[ftState](t, h, "state")
	expect("wake", "wake")
	if !slices.Equal(st.Log, []string{"create", "wake", "sleep", "wake"}) {
		t.Fatalf("log after sleep and wake: %q", st.Log)
	}
	// A restart sleeps every actor and wakes it on the next call.
	b.restart(t)
	expect("stop", "sleep")
	h, err = b.rt.Client().Get(ftCtx(t), "fthooks", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	expect("wake after restart", "wake")

	if err := h.Destroy(ftCtx(t)); err != nil {
		t.Fatal(err)
	}
	expect("destroy", "destroy:2")
	evs = ftEvents(t, b, h.ID)
	if evs[len(evs)-1].Kind != eventlog.KindDestroy {
		t.Fatalf("last event %v, want a tombstone", evs[len(evs)-1].Kind)
	}
}

func TestFeatureHookFailures(t *testing.T) {
	t.Parallel()
	refuse := actors.NewUserError("refused", "no", nil)
	tests := []struct {
		name    string
		opts    actors.Options[ftState]
		create  bool // the failure is at create
		wantErr error
	}{
		{"OnCreate error", actors.Options[ftState]{
			OnCreate: func(c *actors.Context[ftState], _ json.RawMessage) error { c.State.Count = 5; return refuse },
		}, true, refuse},
		{"OnCreate panic", actors.Options[ftState]{
			OnCreate: func(*actors.Context[ftState], json.RawMessage) error { panic("boom") },
		}, true, actors.ErrInternal},
		{"CreateState error", actors.Options[ftState]{
			CreateState: func(*actors.Context[ftState], json.RawMessage) (ftState, error) { return ftState{}, errors.New("x") },
		}, true, actors.ErrInternal},
		{"OnStateChange panic", actors.Options[ftState]{
			OnStateChange: func(*actors.Context[ftState]) { panic("boom") },
		}, false, actors.ErrInternal},
		{"OnBeforeActionResponse error", actors.Options[ftState]{
			OnBeforeActionResponse: func(c *actors.Context[ftState], action string, out any) (any, error) {
				if action == "inc" {
					return nil, refuse
				}
				return out, nil
			},
		}, false, refuse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ftSetup(t, nil, ftType("fthookfail", tc.opts))
			ctx := ftCtx(t)
			cl := b.rt.Client()
			id, _ := actors.ActorID("fthookfail", []string{"a"})
			if tc.create {
				_, _, err := cl.GetOrCreate(ctx, "fthookfail", []string{"a"}, nil)
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("create: %v, want %v", err, tc.wantErr)
				}
				if ftLastSeq(t, b, id) != 0 {
					t.Fatal("a failed create was appended")
				}
				if _, err := cl.Get(ctx, "fthookfail", []string{"a"}); !errors.Is(err, actors.ErrNotFound) {
					t.Fatalf("get after a failed create: %v", err)
				}
				return
			}
			h := ftCreate(t, b, "fthookfail", "a")
			seq := ftLastSeq(t, b, h.ID)
			if _, err := h.Action(ctx, "inc", 1); !errors.Is(err, tc.wantErr) {
				t.Fatalf("inc: %v, want %v", err, tc.wantErr)
			}
			if ftLastSeq(t, b, h.ID) != seq {
				t.Fatal("a failed action was appended")
			}
			if got := ftCall[int64](t, h, "get"); got != 0 {
				t.Fatalf("count %d after a failed hook, want 0", got)
			}
		})
	}
}
