package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// Replay tests: real histories, recorded by a runtime over the embedded log,
// replayed with the same code (identical) and with changed code (the first
// divergence, with a readable report). Every name starts with rp.

// rpState is the state of the replayed types.
type rpState struct {
	Count int64    `json:"count"`
	Items []string `json:"items,omitempty"`
	Note  string   `json:"note,omitempty"`
}

// rpVariant says how rpCounter differs from the recorded code.
type rpVariant struct {
	version string                                                    // CodeVersion
	migrate func(from string, state json.RawMessage) (rpState, error) // Migrate hook
	incBy   int64                                                     // what inc adds per n (1: the recorded code)
	callTo  string                                                    // the action callOther calls ("inc": the recorded code)
	tickErr bool                                                      // tick fails (the recorded code succeeds)
	boomOK  bool                                                      // boom succeeds (the recorded code fails)
	wakeSet bool                                                      // OnWake changes the state
}

// rpCounter is the replayed type: state changes, broadcasts, KV, alarms, a
// cron, sends, an enqueue, calls to another actor, a failing alarm action.
func rpCounter(v rpVariant) *actors.Type[rpState] {
	if v.incBy == 0 {
		v.incBy = 1
	}
	if v.callTo == "" {
		v.callTo = "inc"
	}
	opts := actors.Options[rpState]{CodeVersion: v.version, Migrate: v.migrate,
		CreateState: func(c *actors.Context[rpState], input json.RawMessage) (rpState, error) {
			return rpState{Note: "created at " + c.Now().Format(time.RFC3339)}, nil
		}}
	if v.wakeSet {
		opts.OnWake = func(c *actors.Context[rpState]) error { c.State.Note = "woken"; return nil }
	}
	return actors.NewType("rpcounter", opts).
		Action("inc", actors.Act(func(c *actors.Context[rpState], n int64) (int64, error) {
			c.State.Count += n * v.incBy
			c.Broadcast("count", c.State.Count)
			c.KV().Put("last", []byte(`{"n":`+itoa(n)+`}`))
			return c.State.Count, nil
		})).
		Action("remember", actors.Act(func(c *actors.Context[rpState], s string) (int, error) {
			c.State.Items = append(c.State.Items, s+"-"+itoa(int64(c.Rand().IntN(1000))))
			c.KV().Put("item:"+s, []byte(`"`+s+`"`))
			return len(c.State.Items), nil
		})).
		Action("schedule", actors.Act(func(c *actors.Context[rpState], action string) (actorstate.Alarm, error) {
			id, err := c.Schedule().After(time.Minute, action, "alarm")
			if err != nil {
				return actorstate.Alarm{}, err
			}
			a, _ := c.Schedule().Get(id)
			return a, nil
		})).
		Action("cron", actors.Act0(func(c *actors.Context[rpState]) (bool, error) {
			return true, c.Cron().Set("every", "@every 10s", "tick", "cron")
		})).
		Action("tick", actors.Act(func(c *actors.Context[rpState], tag string) (int64, error) {
			if v.tickErr {
				return 0, actors.NewUserError("tick_broken", "tick is broken", nil)
			}
			c.State.Count += 100
			c.State.Items = append(c.State.Items, "tick:"+tag)
			return c.State.Count, nil
		})).
		Action("boom", actors.Act(func(c *actors.Context[rpState], tag string) (int64, error) {
			c.State.Count = -1 // discarded: the action fails
			if v.boomOK {
				return c.State.Count, nil
			}
			return 0, actors.NewUserError("boom", "the alarm action failed on purpose", nil)
		})).
		Action("notify", actors.Act(func(c *actors.Context[rpState], other string) (bool, error) {
			if err := c.SendTo("rpother", []string{other}, "inc", 5); err != nil {
				return false, err
			}
			return true, c.Enqueue("jobs", map[string]any{"count": c.State.Count})
		})).
		Action("callOther", actors.Act(func(c *actors.Context[rpState], other string) (int64, error) {
			h, _, err := c.Client().GetOrCreate(c.Context(), "rpother", []string{other}, nil)
			if err != nil {
				return 0, err
			}
			n, err := actors.Call[int64](c.Context(), h, v.callTo, 3)
			if err != nil {
				return 0, err
			}
			c.State.Count += n
			return c.State.Count, nil
		})).
		Action("callFail", actors.Act(func(c *actors.Context[rpState], other string) (string, error) {
			h, err := c.Client().Get(c.Context(), "rpother", []string{other})
			if err != nil {
				return "", err
			}
			_, err = h.Action(c.Context(), "fail")
			var ue *actors.UserError
			if !errors.As(err, &ue) {
				return "", errors.New("want a user error from fail")
			}
			c.State.Note = "callee said " + ue.Code
			return ue.Code, nil
		})).
		Action("bye", actors.Act0(func(c *actors.Context[rpState]) (bool, error) {
			c.Destroy()
			return true, nil
		}))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// rpOther is the actor rpcounter calls and sends to.
func rpOther() *actors.Type[rpState] {
	return actors.NewType("rpother", actors.Options[rpState]{}).
		Action("inc", actors.Act(func(c *actors.Context[rpState], n int64) (int64, error) {
			c.State.Count += n
			return c.State.Count, nil
		})).
		Action("dec", actors.Act(func(c *actors.Context[rpState], n int64) (int64, error) {
			c.State.Count -= n
			return c.State.Count, nil
		})).
		Action("fail", actors.Act0(func(c *actors.Context[rpState]) (int64, error) {
			return 0, actors.NewUserError("quota_exceeded", "you are over quota", nil)
		}))
}

// rpMigrate is the Migrate hook of code version v2.
func rpMigrate(from string, state json.RawMessage) (rpState, error) {
	var s rpState
	if err := json.Unmarshal(state, &s); err != nil {
		return s, err
	}
	s.Note = "migrated from " + from
	return s, nil
}

// rpPending returns the actor's pending alarms, folded from its log.
func rpPending(t *testing.T, b *bundle, id string) map[string]actorstate.Alarm {
	t.Helper()
	var im actorstate.Image
	for _, ev := range ftEvents(t, b, id) {
		if err := im.Apply(ev); err != nil {
			t.Fatal(err)
		}
	}
	return im.Alarms
}

// rpFire fires the pending alarm that runs action, as the scheduler does.
func rpFire(t *testing.T, b *bundle, id, action string) {
	t.Helper()
	for _, a := range rpPending(t, b, id) {
		if a.Action != action {
			continue
		}
		b.clock.Advance(a.At.Sub(b.clock.Now()) + time.Millisecond)
		fired, err := b.rt.FireAlarm(ftCtx(t), id, a.ID, a.At)
		if err != nil || !fired {
			t.Fatalf("fire %s (%s): fired %v, %v", a.ID, action, fired, err)
		}
		return
	}
	t.Fatalf("no pending alarm runs %s", action)
}

// rpRecord runs a history through a runtime: generation 1 under code
// version v1 (every kind of effect, fires, calls, a failing fire), then a
// restart under v2 with a Migrate hook, a destroy and generation 2. It
// returns the bundle (stopped) and the actor's ID.
func rpRecord(t *testing.T) (*bundle, string) {
	t.Helper()
	b := ftSetup(t, nil, rpCounter(rpVariant{version: "v1"}), rpOther())
	h := ftCreate(t, b, "rpcounter", "a")
	ftCall[int64](t, h, "inc", 2)
	ftCall[int](t, h, "remember", "x")
	ftCall[actorstate.Alarm](t, h, "schedule", "tick")
	rpFire(t, b, h.ID, "tick")
	ftCall[bool](t, h, "cron", nil...)
	rpFire(t, b, h.ID, "tick") // the cron's first fire, which re-arms it
	ftCall[actorstate.Alarm](t, h, "schedule", "boom")
	rpFire(t, b, h.ID, "boom") // fails: recorded as a $alarm system event
	ftCall[bool](t, h, "notify", "o")
	ftCall[int64](t, h, "callOther", "o")
	if got := ftCall[string](t, h, "callFail", "o"); got != "quota_exceeded" {
		t.Fatalf("callFail %q", got)
	}
	ftCall[int64](t, h, "inc", 1)
	if err := actors.Do(ftCtx(t), h, "$note", json.RawMessage(`{"by":"test"}`), func(c *actors.Context[rpState]) error {
		c.State.Items = append(c.State.Items, "done in process") // folded by a replay, not re-run
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ftCall[int](t, h, "remember", "after-do") // sees the folded state

	b.stop(t) // the next build: v2, with a Migrate hook
	b.reg = ftRegistry(t, rpCounter(rpVariant{version: "v2", migrate: rpMigrate}), rpOther())
	b.start(t)
	h, err := b.rt.Client().Ref(h.ID)
	if err != nil {
		t.Fatal(err)
	}
	ftCall[int64](t, h, "inc", 4) // wakes, migrates
	ftCall[bool](t, h, "bye", nil...)
	h = ftCreate(t, b, "rpcounter", "a") // generation 2
	ftCall[int64](t, h, "inc", 7)
	return b, h.ID
}

func rpID(t *testing.T, typ string, key ...string) string {
	t.Helper()
	id, err := actors.ActorID(typ, key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rpV2 is the registry of the code that recorded the end of the history.
func rpV2(t *testing.T, v rpVariant) *actors.Registry {
	v.version, v.migrate = "v2", rpMigrate
	return ftRegistry(t, rpCounter(v), rpOther())
}

func TestReplayRecordedHistory(t *testing.T) {
	b, id := rpRecord(t)
	evs := ftEvents(t, b, id)
	kinds := map[string]int{}
	for _, ev := range evs {
		kinds[ev.Action]++
	}
	if kinds["$migrate"] != 1 || kinds[actors.FireAction] != 1 || kinds["$destroy"] != 1 || kinds["$create"] != 2 || kinds["tick"] != 2 || kinds["$note"] != 1 {
		t.Fatalf("the recorded history lacks a part the test needs: %v", kinds)
	}

	res, err := actors.NewReplayer(rpV2(t, rpVariant{})).ReplayHistory(ftCtx(t), id, evs)
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("the recording code diverges from its own history:\n%s", res.Divergence.Report())
	}
	if res.Events != len(evs) || res.Rerun != len(evs)-1 || res.ActorID != id || res.Type != "rpcounter" || strings.Join(res.Key, "/") != "a" {
		t.Fatalf("result %+v, want %d events, all but the Do re-run", res, len(evs))
	}

	// The same history, exported to a file and read back.
	path := filepath.Join(t.TempDir(), "h.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var exp []history.ExportEvent
	for _, ev := range evs {
		exp = append(exp, history.Export(id, ev))
	}
	if err := history.Write(f, exp...); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	res, err = actors.NewReplayer(rpV2(t, rpVariant{})).ReplayHistoryFile(ftCtx(t), path)
	if err != nil || !res.OK() || res.Events != len(evs) {
		t.Fatalf("replay of the export: %+v, %v", res, err)
	}
}

// A changed type diverges at the first event it handles differently, with
// a report that names the sequence, the action and the path.
func TestReplayDivergence(t *testing.T) {
	b, id := rpRecord(t)
	evs := ftEvents(t, b, id)
	first := func(action string) *eventlog.Event {
		for _, ev := range evs {
			if ev.Action == action {
				return ev
			}
		}
		t.Fatalf("no %s in the history", action)
		return nil
	}
	for _, tc := range []struct {
		name       string
		v          rpVariant
		at         *eventlog.Event
		what, diff string
	}{
		{"inc adds 2", rpVariant{incBy: 2}, first("inc"), "state", "/count: 2 -> 4"},
		{"calls another action", rpVariant{callTo: "dec"}, first("callOther"), "calls", "call 2:"},
		{"a fired action fails", rpVariant{tickErr: true}, first("tick"), "error", "tick_broken"},
		{"a failed fire's action succeeds", rpVariant{boomOK: true}, first(actors.FireAction), "error", "boom -> (none)"},
		{"OnWake changes the state", rpVariant{wakeSet: true}, first("$create"), "state", "/note:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := actors.NewReplayer(rpV2(t, tc.v)).ReplayHistory(ftCtx(t), id, evs)
			if err != nil {
				t.Fatal(err)
			}
			d := res.Divergence
			if d == nil {
				t.Fatalf("no divergence; result %+v", res)
			}
			report := d.Report()
			if d.Seq != tc.at.Seq || d.What != tc.what || !strings.Contains(d.Diff, tc.diff) {
				t.Fatalf("diverged at %d (%s) on %s, want %d (%s) on %s with %q in the diff:\n%s", d.Seq, d.Action, d.What, tc.at.Seq, tc.at.Action, tc.what, tc.diff, report)
			}
			if !strings.Contains(report, "seq "+itoa(int64(d.Seq))) || d.Message == "" || d.Error() == "" {
				t.Fatalf("report:\n%s", report)
			}
			if res.Events == 0 || res.Events > len(evs) {
				t.Fatalf("%d events replayed", res.Events)
			}
			t.Logf("report:\n%s", report)
		})
	}
}

// The recorded error of a call is what the code gets again: callFail
// returns the callee's error code, and the replay up to it is identical.
func TestReplayRecordedCallError(t *testing.T) {
	b, id := rpRecord(t)
	var upTo []*eventlog.Event
	for _, ev := range ftEvents(t, b, id) {
		upTo = append(upTo, ev)
		if ev.Action == "callFail" {
			if st := ev.Steps[len(ev.Steps)-1]; !strings.Contains(string(st.Data), `"code":"quota_exceeded"`) {
				t.Fatalf("callFail recorded %s", st.Data)
			}
			break
		}
	}
	res, err := actors.NewReplayer(rpV2(t, rpVariant{})).ReplayHistory(ftCtx(t), id, upTo)
	if err != nil || !res.OK() || res.Events != len(upTo) {
		t.Fatalf("replay up to callFail: %+v, %v", res, err)
	}
}

// Histories the replayer cannot use fail with ErrReplayInput and say why.
func TestReplayInputErrors(t *testing.T) {
	b, id := rpRecord(t)
	evs := ftEvents(t, b, id)
	rp := actors.NewReplayer(rpV2(t, rpVariant{}))
	ctx := ftCtx(t)
	swapped := append([]*eventlog.Event{evs[0], evs[2], evs[1]}, evs[3:]...)
	for _, tc := range []struct {
		name string
		id   string
		evs  []*eventlog.Event
		want string
	}{
		{"empty", id, nil, "no events"},
		{"no create first", id, evs[1:], "not with the actor's create"},
		{"out of order", id, swapped, "out of order"},
		{"unknown type", rpID(t, "nosuch", "k"), evs, "rpcounter, rpother"},
		{"bad id", "", evs, ""},
	} {
		_, err := rp.ReplayHistory(ctx, tc.id, tc.evs)
		if !errors.Is(err, actors.ErrReplayInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want ErrReplayInput saying %q", tc.name, err, tc.want)
		}
	}
	if _, err := rp.ReplayExport(ctx, nil); !errors.Is(err, actors.ErrReplayInput) {
		t.Errorf("empty export: %v", err)
	}
	if _, err := rp.ReplayHistoryFile(ctx, filepath.Join(t.TempDir(), "none.jsonl")); !errors.Is(err, actors.ErrReplayInput) {
		t.Errorf("missing file: %v", err)
	}
}

// A type's HistoryCheck runs after a replay without divergence, sees the
// folded actor, and its divergence is the result's.
func TestReplayHistoryCheck(t *testing.T) {
	b, id := rpRecord(t)
	evs := ftEvents(t, b, id)
	reg := rpV2(t, rpVariant{})
	var seen *actors.ReplayedActor
	if err := reg.SetHistoryCheck("rpcounter", func(_ context.Context, a *actors.ReplayedActor) (*actors.Divergence, error) {
		seen = a
		return &actors.Divergence{Seq: a.KVSeq["last"], Action: "inc", What: "workflow", Message: "checked"}, nil
	}); err != nil {
		t.Fatal(err)
	}
	res, err := actors.NewReplayer(reg).ReplayHistory(ftCtx(t), id, evs)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if seen == nil || len(seen.Events) != len(evs) || !seen.Final.Exists || seen.Final.Generation != 2 || seen.KVSeq["last"] != last.Seq {
		t.Fatalf("the check saw %+v", seen)
	}
	if res.Divergence == nil || res.Divergence.What != "workflow" || res.Divergence.Seq != last.Seq {
		t.Fatalf("result %+v", res)
	}
}

// Events that carry patches (a state over the runtime's small-state size)
// replay, and a change diverges at the right event with the path.
func TestReplayPatches(t *testing.T) {
	b := ftSetup(t, nil, rpBenchType(1))
	h := ftCreate(t, b, "rpbench", "p")
	for range 20 {
		ftCall[int64](t, h, "inc", 1)
	}
	evs := ftEvents(t, b, h.ID)
	if evs[len(evs)-1].Patch == nil {
		t.Fatal("the events carry no patches: grow rpBenchState")
	}
	res, err := actors.NewReplayer(ftRegistry(t, rpBenchType(1))).ReplayHistory(ftCtx(t), h.ID, evs)
	if err != nil || !res.OK() || res.Rerun != len(evs) {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	res, err = actors.NewReplayer(ftRegistry(t, rpBenchType(2))).ReplayHistory(ftCtx(t), h.ID, evs)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Divergence; d == nil || d.Seq != evs[1].Seq || d.What != "state" || !strings.Contains(d.Diff, "/count: 1 -> 2") {
		t.Fatalf("divergence %+v, want at %d on /count", d, evs[1].Seq)
	}

	// A fork's create copies another actor: folded as recorded, then re-run.
	fh, err := b.rt.Fork(ftCtx(t), h.ID, evs[5].Seq, []string{"fork"})
	if err != nil {
		t.Fatal(err)
	}
	ftCall[int64](t, fh, "inc", 1)
	fevs := ftEvents(t, b, fh.ID)
	res, err = actors.NewReplayer(ftRegistry(t, rpBenchType(1))).ReplayHistory(ftCtx(t), fh.ID, fevs)
	if err != nil || !res.OK() || res.Events != len(fevs) || res.Rerun != len(fevs)-1 {
		t.Fatalf("replay of the fork (%d events): %+v, %v", len(fevs), res, err)
	}
}
