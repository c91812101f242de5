package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// The property test drives a small actor type through random sequences of
// actions (successful, failing, panicking, too large), KV writes, sleeps
// (forced and requested), process restarts, deleted and corrupt snapshots,
// destroys and re-creates, and checks after every step that what the actor
// reports equals a plain in-memory model. Each check runs over its own real
// JetStream log and Pebble store.
//
//	go test ./actors -run TestPropertyStateMatchesModel -rapid.checks 200 -rapid.steps 50
//	go test ./actors -run TestPropertyStateMatchesModel -rapid.seed 1234 -rapid.v
//
// rapid's defaults (100 checks of ~30 steps; -short: 20 checks of ~15) take
// 15-25s under -race on 2 shared cores: every check starts its own JetStream
// server and most restart it a few times. -rapid.checks / RAPID_CHECKS and
// -rapid.steps / RAPID_STEPS change them.

// propState is the state of the property test's actor type.
type propState struct {
	N     int      `json:"n"`
	Items []string `json:"items"`
}

// propView is what the read action returns: everything the model predicts.
type propView struct {
	N          int               `json:"n"`
	Items      []string          `json:"items"`
	KV         map[string]string `json:"kv"`
	Generation uint64            `json:"generation"`
}

const (
	propType      = "prop"
	propMaxState  = 2048 // state plus KV; pushBig goes over it
	propFailCode  = "nope"
	propNumActors = 3
)

// propDef is the property test's actor type. Every action that fails mutates
// the state and the KV first, so a leak of a failed change shows up.
func propDef(snapshotEvery int) *actors.Type[propState] {
	return actors.NewType(propType, actors.Options[propState]{
		State: propState{Items: []string{}},
		CreateState: func(_ *actors.Context[propState], input json.RawMessage) (propState, error) {
			var n int
			if len(input) > 0 {
				if err := json.Unmarshal(input, &n); err != nil {
					return propState{}, err
				}
			}
			return propState{N: n, Items: []string{}}, nil
		},
		MaxStateBytes: propMaxState,
		SnapshotEvery: snapshotEvery,
	}).
		Action("add", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			return c.State.N, nil
		})).
		Action("push", actors.Act(func(c *actors.Context[propState], s string) (int, error) {
			c.State.Items = append(c.State.Items, s)
			return len(c.State.Items), nil
		})).
		Action("fail", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			c.State.Items = append(c.State.Items, "failed")
			c.KV().Put("failed", []byte("yes"))
			return 0, actors.NewUserError(propFailCode, "refused on purpose", map[string]int{"n": n})
		})).
		Action("boom", actors.Act0(func(c *actors.Context[propState]) (int, error) {
			c.State.N += 1000
			c.KV().Delete("a")
			panic("boom")
		})).
		Action("put", actors.Act2(func(c *actors.Context[propState], k, v string) (bool, error) {
			c.KV().Put(k, []byte(v))
			return true, nil
		})).
		Action("del", actors.Act(func(c *actors.Context[propState], k string) (bool, error) {
			_, had := c.KV().Get(k)
			c.KV().Delete(k)
			return had, nil
		})).
		Action("nap", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			c.Sleep()
			return c.State.N, nil
		})).
		Action("pushBig", actors.Act0(func(c *actors.Context[propState]) (int, error) {
			c.State.Items = append(c.State.Items, strings.Repeat("x", propMaxState))
			return len(c.State.Items), nil
		})).
		Action("selfDestruct", actors.Act0(func(c *actors.Context[propState]) (bool, error) {
			c.Destroy()
			return true, nil
		})).
		Action("read", actors.Act0(func(c *actors.Context[propState]) (propView, error) {
			v := propView{N: c.State.N, Items: c.State.Items, KV: map[string]string{}, Generation: c.Generation()}
			for _, e := range c.KV().List("") {
				v.KV[e.Key] = string(e.Value)
			}
			return v, nil
		}))
}

// propModel is what one actor should be.
type propModel struct {
	exists bool
	gen    uint64
	n      int
	items  []string
	kv     map[string]string
}

func (m *propModel) view() propView {
	return propView{N: m.n, Items: slices.Clone(m.items), KV: maps.Clone(m.kv), Generation: m.gen}
}

// propRun is one rapid check: a bundle, the model and the handles resolved
// since the last restart.
type propRun struct {
	b       *bundle
	models  [propNumActors]propModel
	handles [propNumActors]*actors.Handle
	dirty   map[int]bool       // actors to read back at the next check
	events  [propNumActors]int // events each actor's log should hold
}

func propKey(i int) []string { return []string{"prop/" + fmt.Sprint(i), "k.*>" + fmt.Sprint(i)} }

var propCtx = context.Background()

// handle returns a handle to actor i, resolving it if needed. For an actor the
// model says does not exist it checks that Get says so and returns nil, unless
// a stale handle from before a destroy is still around (its calls must fail).
func (p *propRun) handle(t *rapid.T, i int) *actors.Handle {
	if h := p.handles[i]; h != nil {
		return h
	}
	h, err := p.b.rt.Client().Get(propCtx, propType, propKey(i))
	if !p.models[i].exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: Get of a missing actor: %v, want actor_not_found", i, err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("actor %d: Get: %v", i, err)
	}
	if h.Generation != p.models[i].gen {
		t.Fatalf("actor %d: handle generation %d, model %d", i, h.Generation, p.models[i].gen)
	}
	p.handles[i] = h
	return h
}

// call runs action on actor i and checks the outcome the model predicts:
// an error matching wantErr (no change), else success and then apply.
// On a missing actor every call must fail with actor_not_found.
func (p *propRun) call(t *rapid.T, i int, action string, args []any, wantErr error, apply func(m *propModel, out json.RawMessage)) {
	p.dirty[i] = true
	h := p.handle(t, i)
	if h == nil {
		return
	}
	out, err := h.Action(propCtx, action, args...)
	m := &p.models[i]
	if !m.exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: %s on a destroyed actor: %v, want actor_not_found", i, action, err)
		}
		return
	}
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("actor %d: %s%v: err %v (output %s), want %v", i, action, args, err, out, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("actor %d: %s%v: %v", i, action, args, err)
	}
	p.events[i]++
	if apply != nil {
		apply(m, out)
	}
}

// read checks actor i against its model.
func (p *propRun) read(t *rapid.T, i int) {
	h := p.handle(t, i)
	if h == nil {
		return
	}
	got, err := actors.Call[propView](propCtx, h, "read")
	m := &p.models[i]
	if !m.exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: read of a destroyed actor: %v, want actor_not_found", i, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("actor %d: read: %v", i, err)
	}
	p.events[i]++
	want := m.view()
	if got.N != want.N || !slices.Equal(got.Items, want.Items) || !maps.Equal(got.KV, want.KV) || got.Generation != want.Generation {
		t.Fatalf("actor %d: state %+v, model %+v", i, got, want)
	}
}

func (p *propRun) checkAll(t *rapid.T) {
	for i := range propNumActors {
		p.read(t, i)
	}
}

func (p *propRun) forget() { p.handles = [propNumActors]*actors.Handle{} }

// sleepAll advances the clock past the idle timeout and sleeps every actor,
// waiting until none is left in memory.
func (p *propRun) sleepAll(t *rapid.T) {
	p.b.clock.Advance(31 * time.Second) // the default IdleTimeout is 30s
	deadline := time.Now().Add(10 * time.Second)
	for {
		// An actor whose mailbox goroutine has not yet noticed its queue is
		// empty is not idle yet: ask again until all are asleep.
		p.b.rt.SleepIdle()
		if p.b.rt.Awake() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d actors still awake 10s after SleepIdle", p.b.rt.Awake())
		}
		time.Sleep(time.Millisecond)
	}
}

// propTB lets the bundle helpers, which take a testing.TB, run inside a rapid
// check: failures, logs, temp dirs and cleanups belong to the check.
type propTB struct {
	testing.TB // the enclosing test, for what a check lacks
	t          *rapid.T
}

func (r propTB) Helper()                           {}
func (r propTB) Name() string                      { return r.t.Name() }
func (r propTB) Log(args ...any)                   { r.t.Log(args...) }
func (r propTB) Logf(format string, args ...any)   { r.t.Logf(format, args...) }
func (r propTB) Error(args ...any)                 { r.t.Error(args...) }
func (r propTB) Errorf(format string, args ...any) { r.t.Errorf(format, args...) }
func (r propTB) Fatal(args ...any)                 { r.t.Fatal(args...) }
func (r propTB) Fatalf(format string, args ...any) { r.t.Fatalf(format, args...) }
func (r propTB) Fail()                             { r.t.Fail() }
func (r propTB) FailNow()                          { r.t.FailNow() }
func (r propTB) Failed() bool                      { return r.t.Failed() }
func (r propTB) Skip(args ...any)                  { r.t.Skip(args...) }
func (r propTB) Skipf(format string, args ...any)  { r.t.Skipf(format, args...) }
func (r propTB) SkipNow()                          { r.t.SkipNow() }
func (r propTB) Cleanup(f func())                  { r.t.Cleanup(f) }
func (r propTB) Context() context.Context          { return r.t.Context() }

func (r propTB) TempDir() string {
	dir, err := os.MkdirTemp("", "rivet-flow-prop-")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestPropertyStateMatchesModel: random sequences over a few actors of actions
// (including failing, panicking and too-large ones), KV writes, forced and
// requested sleeps, restarts, deleted and corrupt snapshots, destroys and
// re-creates; after every step each touched actor reads back exactly what the
// model holds, and failed calls change nothing.
func TestPropertyStateMatchesModel(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		every := rapid.IntRange(1, 8).Draw(rt, "snapshotEvery")
		reg, err := actors.NewRegistry(propDef(every))
		if err != nil {
			rt.Fatal(err)
		}
		tb := propTB{TB: t, t: rt}
		p := &propRun{b: setup(tb, reg), dirty: map[int]bool{}}
		actor := rapid.IntRange(0, propNumActors-1)
		small := rapid.IntRange(-5, 5)
		word := rapid.StringMatching(`[a-z]{0,6}`)
		key := rapid.SampledFrom([]string{"a", "b", "c", "d/e.f"})

		for i := range propNumActors {
			n := small.Draw(rt, "n")
			if _, err := p.b.rt.Client().Create(propCtx, propType, propKey(i), n); err != nil {
				rt.Fatalf("create actor %d: %v", i, err)
			}
			p.models[i] = propModel{exists: true, gen: 1, n: n, items: []string{}, kv: map[string]string{}}
			p.events[i]++
		}
		rt.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				orCreate := rapid.Bool().Draw(t, "getOrCreate")
				p.dirty[i] = true
				m := &p.models[i]
				cl := p.b.rt.Client()
				var h *actors.Handle
				var created bool
				var err error
				if orCreate {
					h, created, err = cl.GetOrCreate(propCtx, propType, propKey(i), n)
				} else {
					h, err = cl.Create(propCtx, propType, propKey(i), n)
					created = err == nil
					if m.exists {
						if !errors.Is(err, actors.ErrExists) {
							t.Fatalf("actor %d: Create of an existing actor: %v, want actor_exists", i, err)
						}
						return
					}
				}
				if err != nil {
					t.Fatalf("actor %d: create: %v", i, err)
				}
				if created == m.exists {
					t.Fatalf("actor %d: created=%v but the model says exists=%v", i, created, m.exists)
				}
				if created {
					p.events[i]++
					*m = propModel{exists: true, gen: m.gen + 1, n: n, items: []string{}, kv: map[string]string{}}
				}
				if h.Generation != m.gen {
					t.Fatalf("actor %d: generation %d after create, model %d", i, h.Generation, m.gen)
				}
				p.handles[i] = h
			},
			"add": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.call(t, i, "add", []any{n}, nil, func(m *propModel, out json.RawMessage) {
					m.n += n
					propExpectJSON(t, out, m.n)
				})
			},
			"push": func(t *rapid.T) {
				i, s := actor.Draw(t, "actor"), word.Draw(t, "s")
				p.call(t, i, "push", []any{s}, nil, func(m *propModel, out json.RawMessage) {
					m.items = append(m.items, s)
					propExpectJSON(t, out, len(m.items))
				})
			},
			"fail": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.dirty[i] = true
				h := p.handle(t, i)
				if h == nil {
					return
				}
				_, err := h.Action(propCtx, "fail", n)
				var ue *actors.UserError
				switch {
				case !p.models[i].exists:
					if !errors.Is(err, actors.ErrNotFound) {
						t.Fatalf("actor %d: fail on a destroyed actor: %v", i, err)
					}
				case !errors.As(err, &ue) || ue.Code != propFailCode:
					t.Fatalf("actor %d: fail: %v, want the user error %q as is", i, err, propFailCode)
				}
			},
			"boom": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "boom", nil, actors.ErrInternal, nil)
			},
			"badArgs": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "add", []any{"not a number"}, actors.ErrInvalidArgs, nil)
			},
			"pushBig": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "pushBig", nil, actors.ErrStateTooLarge, nil)
			},
			"put": func(t *rapid.T) {
				i, k, v := actor.Draw(t, "actor"), key.Draw(t, "key"), word.Draw(t, "value")
				p.call(t, i, "put", []any{k, v}, nil, func(m *propModel, _ json.RawMessage) { m.kv[k] = v })
			},
			"del": func(t *rapid.T) {
				i, k := actor.Draw(t, "actor"), key.Draw(t, "key")
				p.call(t, i, "del", []any{k}, nil, func(m *propModel, out json.RawMessage) {
					_, had := m.kv[k]
					propExpectJSON(t, out, had)
					delete(m.kv, k)
				})
			},
			"nap": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.call(t, i, "nap", []any{n}, nil, func(m *propModel, out json.RawMessage) {
					m.n += n
					propExpectJSON(t, out, m.n)
				})
			},
			"destroy": func(t *rapid.T) {
				i := actor.Draw(t, "actor")
				if rapid.Bool().Draw(t, "fromInside") {
					p.call(t, i, "selfDestruct", nil, nil, func(m *propModel, _ json.RawMessage) {
						m.exists = false
						p.events[i]++ // the tombstone after the action's own event
					})
					return
				}
				p.dirty[i] = true
				h := p.handle(t, i)
				if h == nil {
					return
				}
				err := h.Destroy(propCtx)
				if !p.models[i].exists {
					if !errors.Is(err, actors.ErrNotFound) {
						t.Fatalf("actor %d: destroy of a destroyed actor: %v", i, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("actor %d: destroy: %v", i, err)
				}
				p.models[i].exists = false
				p.events[i]++
			},
			"sleepAll": func(t *rapid.T) { p.sleepAll(t) },
			"restart": func(t *rapid.T) {
				p.b.restart(tb)
				p.forget()
			},
			"dropSnapshots": func(t *rapid.T) {
				// The node would rebuild the folder from the log; the runtime
				// alone must cope too: no snapshot means waking from the log.
				p.b.stop(tb)
				if err := os.RemoveAll(filepath.Join(p.b.dir, "snapshots")); err != nil {
					t.Fatal(err)
				}
				p.b.start(tb)
				p.forget()
			},
			"corruptSnapshot": func(t *rapid.T) {
				// A snapshot whose image does not decode is a miss: the actor
				// must wake from the log alone (now or at its next wake).
				i := actor.Draw(t, "actor")
				subj := propSubject(t, propType, propKey(i))
				if err := p.b.snaps.Flush(); err != nil {
					t.Fatal(err)
				}
				bad := snapshot.Snapshot{Actor: subj, Seq: 1, CodeVersion: "1", State: []byte{0xff, 0x01, 0x02}}
				if err := p.b.snaps.Write([]snapshot.Snapshot{bad}, nil); err != nil {
					t.Fatal(err)
				}
			},
			"checkAll": func(t *rapid.T) {
				for i := range propNumActors {
					p.dirty[i] = true
				}
			},
			"": func(t *rapid.T) {
				for i := range propNumActors {
					if p.dirty[i] {
						p.read(t, i)
						delete(p.dirty, i)
					}
				}
			},
		})
		// The last word: every actor, from a fresh process with no snapshots.
		p.checkAll(rt)
		p.b.stop(tb)
		if err := os.RemoveAll(filepath.Join(p.b.dir, "snapshots")); err != nil {
			rt.Fatal(err)
		}
		p.b.start(tb)
		p.forget()
		p.checkAll(rt)
		p.checkLog(rt)
	})
}

// checkLog checks that each actor's log holds one event per successful call,
// create and destroy, and none for the calls that failed.
func (p *propRun) checkLog(t *rapid.T) {
	for i := range propNumActors {
		subj := propSubject(t, propType, propKey(i))
		n := 0
		for after := uint64(0); ; {
			page, err := p.b.log.ReadActor(propCtx, subj, after, 0)
			if err != nil {
				t.Fatal(err)
			}
			n += len(page)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
		if n != p.events[i] {
			t.Fatalf("actor %d: the log holds %d events, want %d (one per successful call, create and destroy)", i, n, p.events[i])
		}
	}
}

func propExpectJSON(t *rapid.T, out json.RawMessage, want any) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(w) {
		t.Fatalf("output %s, model %s", out, w)
	}
}

func propSubject(t interface{ Fatal(...any) }, typ string, key []string) string {
	subj, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	return subj
}
