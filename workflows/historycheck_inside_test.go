package workflows_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Inside a completed Join, which the runtime takes from its entry, a
// renamed, dropped or added call of a branch still diverges: at the event
// that recorded the branch's entry, or the join's.
func TestHistoryCheckInsideCompletedJoin(t *testing.T) {
	t.Parallel()
	doneEvs, openEvs := shopRuns(t)
	for _, c := range []struct {
		name string
		evs  []*eventlog.Event
	}{{"done", doneEvs}, {"open", openEvs}} {
		a := replayed(t, "shop", c.name, c.evs)
		fold := wroteKey(t, c.evs, workflows.JournalPrefix(0)+"pack/box/fold")
		d := check(t, shopWorkflow(shopVariant{fold: "crease"}), a)
		if d == nil {
			t.Fatalf("%s: a renamed step in a completed Join replays without divergence", c.name)
		}
		t.Log(d.Report())
		if d.Seq != fold || !strings.Contains(d.Message, `"crease"`) || !strings.Contains(d.Expected, "pack/box/fold") {
			t.Errorf("%s: divergence at seq %d, want %d (the event that recorded pack/box/fold):\n%s", c.name, d.Seq, fold, d.Report())
		}
		d = check(t, shopWorkflow(shopVariant{noFold: true}), a)
		if d == nil || d.Seq != fold || !strings.Contains(d.Message, `without calling step "fold"`) {
			t.Errorf("%s: a step dropped from a completed Join's branch: %v, want a divergence at %d", c.name, d, fold)
		}
		pack := wroteKey(t, c.evs, workflows.JournalPrefix(0)+"pack")
		d = check(t, shopWorkflow(shopVariant{refold: true}), a)
		if d == nil || d.Seq != pack || !strings.Contains(d.Message, "goes on past its journal") || !strings.Contains(d.Actual, "pack/box/refold") {
			t.Errorf("%s: a step added to a completed Join's branch: %v, want a divergence at %d", c.name, d, pack)
		}
		d = check(t, shopWorkflow(shopVariant{boxed: "!"}), a)
		if d == nil || d.Seq != pack || !strings.Contains(d.Message, "another result set") || !strings.Contains(d.Actual, `"box!"`) {
			t.Errorf("%s: a branch that returns another result: %v, want a divergence at %d", c.name, d, pack)
		}
	}
}

// Inside a completed Loop, whose iterations' entries the runtime deleted
// when it finished, a renamed call diverges at the event that recorded
// its entry, and an iteration that breaks or goes on otherwise diverges
// at the loop's entry.
func TestHistoryCheckInsideCompletedLoop(t *testing.T) {
	t.Parallel()
	wf := loopyWorkflow("count", "gate")
	e := newEnv(t, wf)
	ctx := context.Background()
	for _, id := range []string{"l1", "l2"} {
		if _, _, err := workflows.Start(ctx, e.eng, wf, id, 0); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, "loopy", id, workflows.StatusWaiting)
	}
	if _, _, err := e.eng.Signal(ctx, "loopy", "l1", "go", json.RawMessage(`"now"`)); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "loopy", "l1"); run.Status != workflows.StatusCompleted {
		t.Fatalf("run l1 %s", run.Status)
	}
	for _, id := range []string{"l1", "l2"} {
		evs := readHistory(t, e.log, "loopy", id)
		a := replayed(t, "loopy", id, evs)
		first := workflows.JournalPrefix(0) + "count#0/add"
		if _, kept := a.Final.KV[first]; kept {
			t.Fatalf("%s: the finished loop kept %s: the test needs it pruned", id, first)
		}
		if d := check(t, wf, a); d != nil {
			t.Fatalf("the recording build diverges on %s:\n%s", id, d.Report())
		}
		d := check(t, loopyStep("count", "gate", "plus", 3), a)
		if d == nil {
			t.Fatalf("%s: a renamed step in a completed Loop replays without divergence", id)
		}
		t.Log(d.Report())
		if want := recordedKey(t, evs, first); d.Seq != want || !strings.Contains(d.Message, `"plus"`) {
			t.Errorf("%s: divergence at seq %d, want %d (the event that recorded %s):\n%s", id, d.Seq, want, first, d.Report())
		}
		loop := wroteKey(t, evs, workflows.JournalPrefix(0)+"count")
		d = check(t, loopyStep("count", "gate", "add", 2), a)
		if d == nil || d.Seq != loop || !strings.Contains(d.Message, "iteration 1 breaks the loop") {
			t.Errorf("%s: a loop that breaks earlier: %v, want a divergence at %d", id, d, loop)
		}
		d = check(t, loopyStep("count", "gate", "add", 4), a)
		if d == nil || d.Seq != loop || !strings.Contains(d.Message, "iteration 2 continues the loop") {
			t.Errorf("%s: a loop that goes on longer: %v, want a divergence at %d", id, d, loop)
		}
	}
}

// racerVariant names the calls of racerWorkflow a build changes.
type racerVariant struct {
	inside, quick, prep, add string
	late                     bool // a third branch, new in this build
}

// racerWorkflow runs a step in a Go, then a Race whose branch "slow" runs
// a step and waits for the signal hold, and whose branch "fast" waits for
// the signal go and wins with a step; then a Loop whose second iteration
// waits for the signal more.
func racerWorkflow(v racerVariant) *workflows.Workflow[int, string] {
	step := func(w *workflows.W, name string, r string) (string, error) {
		return workflows.Step(w, name, func(ctx context.Context, _ *workflows.StepContext) (string, error) { return r, nil })
	}
	return workflows.Define("racer", func(w *workflows.W, n int) (string, error) {
		side, err := workflows.Go(w, "side", func(gw *workflows.W) (string, error) { return step(gw, cmp.Or(v.inside, "inside"), "side") }).Await()
		if err != nil {
			return "", err
		}
		branches := []workflows.Branch[string]{
			{Name: "slow", Run: func(bw *workflows.W) (string, error) {
				if _, err := step(bw, cmp.Or(v.prep, "prep"), "prepped"); err != nil {
					return "", err
				}
				_, _, err := bw.WaitSignal("hold", "hold", 0)
				return "slow", err
			}},
			{Name: "fast", Run: func(bw *workflows.W) (string, error) {
				if _, _, err := bw.WaitSignal("go", "go", 0); err != nil {
					return "", err
				}
				return step(bw, cmp.Or(v.quick, "quick"), "fast")
			}},
		}
		if v.late {
			branches = append(branches, workflows.Branch[string]{Name: "late", Run: func(bw *workflows.W) (string, error) { return step(bw, "late", "late") }})
		}
		winner, val, err := workflows.Race(w, "pick", branches)
		if err != nil {
			return "", err
		}
		total, err := workflows.Loop(w, "tick", 0, func(iw *workflows.W, s int) (workflows.LoopResult[int, int], error) {
			if _, err := step(iw, cmp.Or(v.add, "add"), "x"); err != nil {
				return workflows.Break[int](0), err
			}
			if s == 1 {
				if _, _, err := iw.WaitSignal("more", "more", 0); err != nil {
					return workflows.Break[int](0), err
				}
				return workflows.Break[int](s), nil
			}
			return workflows.Continue[int, int](s + 1), nil
		})
		return fmt.Sprintf("%s %s %s %d", side, winner, val, total), err
	}, workflows.Options{ParkAfter: 50 * time.Millisecond})
}

// Inside a completed Race the winner and the branches that recorded
// entries are checked (a branch the runtime cancelled before it recorded
// anything is not); so are a completed Go and the finished iterations of
// a Loop still running.
func TestHistoryCheckInsideRaceGoAndOpenLoop(t *testing.T) {
	t.Parallel()
	wf := racerWorkflow(racerVariant{})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", 0); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, "racer", "r1", workflows.StatusWaiting)
	if _, _, err := e.eng.Signal(ctx, "racer", "r1", "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	// The run goes on to the loop's second iteration, which waits.
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(ctx, "racer", "r1")
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == workflows.StatusWaiting && run.Waiting != nil && strings.Contains(run.Waiting.Entry, "tick#1") {
			break
		}
		if run.Status.Finished() || time.Now().After(deadline) {
			t.Fatalf("run r1 %s waiting on %+v", run.Status, run.Waiting)
		}
		time.Sleep(5 * time.Millisecond)
	}
	evs := readHistory(t, e.log, "racer", "r1")
	a := replayed(t, "racer", "r1", evs)
	if d := check(t, wf, a); d != nil {
		t.Fatalf("the recording build diverges:\n%s", d.Report())
	}
	if d := check(t, racerWorkflow(racerVariant{late: true}), a); d != nil {
		t.Errorf("a branch that recorded nothing is flagged:\n%s", d.Report())
	}
	for _, c := range []struct {
		v     racerVariant
		entry string
		got   string
	}{
		{racerVariant{quick: "rapid"}, "pick/fast/quick", `"rapid"`},
		{racerVariant{prep: "ready"}, "pick/slow/prep", `"ready"`},
		{racerVariant{inside: "within"}, "side/go/inside", `"within"`},
		// Iteration 0 is done: the runtime resumes at iteration 1.
		{racerVariant{add: "plus"}, "tick#0/add", `"plus"`},
	} {
		d := check(t, racerWorkflow(c.v), a)
		if d == nil {
			t.Errorf("%+v replays without divergence", c.v)
			continue
		}
		t.Log(d.Report())
		if want := wroteKey(t, evs, workflows.JournalPrefix(0)+c.entry); d.Seq != want || !strings.Contains(d.Message, c.got) {
			t.Errorf("%+v: divergence at seq %d, want %d (the event that recorded %s):\n%s", c.v, d.Seq, want, c.entry, d.Report())
		}
	}
}
