package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// runsEnv is an engine with the runs projection over a real embedded log,
// Pebble snapshots and a projection runner.
type runsEnv struct {
	log   *eventlog.Log
	rt    *actors.Runtime
	projs *projections.Runner
	eng   *workflows.Engine
}

func newRunsEnv(t *testing.T, defs ...workflows.Definition) *runsEnv {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	reg, err := actors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := workflows.Register(reg, defs...); err != nil {
		t.Fatal(err)
	}
	e := &runsEnv{}
	if e.log, err = eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if e.rt, err = actors.NewRuntime(e.log, snaps, reg, actors.RuntimeOptions{Logger: quietLogger(), SweepInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if e.projs, err = projections.Open(filepath.Join(dir, "projections"), e.log, &projections.Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if e.eng, err = workflows.NewEngine(e.rt, defs, &workflows.EngineOptions{Logger: quietLogger(), Log: e.log}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.UseRunsProjection(e.projs, e.log); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.UseRunsProjection(e.projs, e.log); err == nil {
		t.Fatal("a second UseRunsProjection was accepted")
	}
	if err := e.rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.projs.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, err := range []error{e.eng.Stop(ctx), e.projs.Stop(ctx), e.rt.Stop(ctx), e.projs.Close(), snaps.Close(), e.log.Close(ctx)} {
			if err != nil {
				t.Error(err)
			}
		}
	})
	return e
}

// runsWorkflows: done completes after a step, broken fails, sleepy sleeps
// an hour (parks sleeping), gate waits for the signal go (parks waiting
// at once: ParkAfter 1ms) and then completes.
func runsWorkflows() []workflows.Definition {
	fast := workflows.Options{ParkAfter: time.Millisecond}
	done := workflows.Define("done", func(w *workflows.W, _ struct{}) (int, error) {
		return workflows.Step(w, "one", func(context.Context, *workflows.StepContext) (int, error) { return 1, nil })
	})
	broken := workflows.Define("broken", func(w *workflows.W, _ struct{}) (int, error) {
		return 0, errors.New("broken on purpose")
	})
	sleepy := workflows.Define("sleepy", func(w *workflows.W, _ struct{}) (int, error) {
		return 0, w.Sleep("nap", time.Hour)
	}, fast)
	gate := workflows.Define("gate", func(w *workflows.W, _ struct{}) (string, error) {
		p, _, err := w.WaitSignal("wait", "go", 0)
		return string(p), err
	}, fast)
	return []workflows.Definition{done, broken, sleepy, gate}
}

// settle polls the run until its status is want (on the run's state).
func (e *runsEnv) settle(t *testing.T, name, runID string, want workflows.Status) workflows.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == want {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s, want %s", runID, name, run.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listed is the listing of name's runs by ID (with status st, "" for all),
// read two at a time (so paging is exercised), after List's
// read-your-writes wait.
func (e *runsEnv) listed(t *testing.T, name string, st workflows.Status) map[string]workflows.RunSummary {
	t.Helper()
	out := map[string]workflows.RunSummary{}
	cursor := ""
	for {
		runs, next, err := e.eng.List(context.Background(), name, workflows.ListQuery{Status: st, Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			out[r.RunID] = r
		}
		if cursor = next; cursor == "" {
			return out
		}
	}
}

// checkSame fails unless the projection's row of the run matches its state.
func (e *runsEnv) checkSame(t *testing.T, run workflows.Run) {
	t.Helper()
	got, ok := e.listed(t, run.Workflow, "")[run.RunID]
	if !ok {
		t.Fatalf("run %s of %s is not listed", run.RunID, run.Workflow)
	}
	if got.Status != run.Status || got.Steps != run.Steps || got.Current != run.Current || got.Workflow != run.Workflow ||
		!got.CreatedAt.Equal(run.CreatedAt) || !got.UpdatedAt.Equal(run.UpdatedAt) || !got.EndedAt.Equal(run.EndedAt) ||
		(got.Error == nil) != (run.Error == nil) || (got.Error != nil && *got.Error != *run.Error) {
		t.Fatalf("projection row %+v, run state %+v", got, run)
	}
	if _, ok := e.listed(t, run.Workflow, run.Status)[run.RunID]; !ok {
		t.Fatalf("run %s of %s is not listed as %s", run.RunID, run.Workflow, run.Status)
	}
	for _, st := range workflows.Statuses {
		if _, ok := e.listed(t, run.Workflow, st)[run.RunID]; ok && st != run.Status {
			t.Fatalf("run %s of %s (%s) is listed as %s too", run.RunID, run.Workflow, run.Status, st)
		}
	}
}

// patches counts the events of a run that carry a state patch.
func (e *runsEnv) patches(t *testing.T, name, runID string) int {
	t.Helper()
	subject, err := eventlog.ActorRef{Type: name, Key: []string{runID}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.log.ReadActorPage(context.Background(), subject, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if !ev.HasState && ev.Patch != nil {
			n++
		}
	}
	return n
}

// The projection's status is the run's (RunState.Status, Engine.Get) in
// every scenario: completed, failed, sleeping, waiting, then resumed by a
// signal and completed; each status lists exactly its runs; a rebuild from
// the log gives the same rows.
func TestWorkflowRunsProjection(t *testing.T) {
	t.Parallel()
	e := newRunsEnv(t, runsWorkflows()...)
	ctx := context.Background()
	for _, s := range []struct {
		name, runID string
		want        workflows.Status
	}{
		{"done", "d1", workflows.StatusCompleted},
		{"done", "d2", workflows.StatusCompleted},
		{"broken", "b1", workflows.StatusFailed},
		{"sleepy", "s1", workflows.StatusSleeping},
		{"gate", "g1", workflows.StatusWaiting},
		{"gate", "g2", workflows.StatusWaiting},
		{"gate", "g3", workflows.StatusWaiting},
	} {
		if _, _, err := e.eng.StartRun(ctx, s.name, s.runID, nil); err != nil {
			t.Fatal(err)
		}
		e.checkSame(t, e.settle(t, s.name, s.runID, s.want))
	}
	if r := e.listed(t, "broken", workflows.StatusFailed)["b1"]; r.ErrorCode() != "workflow_failed" {
		t.Fatalf("failed run's error code %q", r.ErrorCode())
	}
	// A signal resumes g2: it leaves the waiting index for completed.
	if _, _, err := e.eng.Signal(ctx, "gate", "g2", "go", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	e.checkSame(t, e.settle(t, "gate", "g2", workflows.StatusCompleted))
	waiting := e.listed(t, "gate", workflows.StatusWaiting)
	if len(waiting) != 2 || waiting["g1"].RunID != "g1" || waiting["g3"].RunID != "g3" {
		t.Fatalf("waiting gate runs = %v", waiting)
	}
	// Signals g3 does not wait for fill its inbox: its state grows past
	// twice a status change, so the events from here on carry patches.
	for range 20 {
		if _, _, err := e.eng.Signal(ctx, "gate", "g3", "noise", json.RawMessage(`{"pad":"0123456789abcdef"}`)); err != nil {
			t.Fatal(err)
		}
	}
	e.checkSame(t, e.settle(t, "gate", "g3", workflows.StatusWaiting))
	if _, _, err := e.eng.Signal(ctx, "gate", "g3", "go", nil); err != nil {
		t.Fatal(err)
	}
	e.checkSame(t, e.settle(t, "gate", "g3", workflows.StatusCompleted))
	if patches := e.patches(t, "gate", "g3"); patches < 2 {
		t.Fatalf("g3 has %d events with a patch: the patch fold is not exercised", patches)
	}
	if waiting = e.listed(t, "gate", workflows.StatusWaiting); len(waiting) != 1 {
		t.Fatalf("waiting gate runs = %v", waiting)
	}
	if all := e.listed(t, "gate", ""); len(all) != 3 {
		t.Fatalf("gate runs = %v", all)
	}
	if done := e.listed(t, "done", workflows.StatusCompleted); len(done) != 2 {
		t.Fatalf("completed done runs = %v", done)
	}

	// Rebuilt from the log: the same rows.
	before, _, err := e.eng.List(ctx, "gate", workflows.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.projs.Rebuild(ctx, workflows.RunsProjectionName, nil); err != nil {
		t.Fatal(err)
	}
	after, _, err := e.eng.List(ctx, "gate", workflows.ListQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(before, after, func(a, b workflows.RunSummary) bool {
		return a.RunID == b.RunID && a.Status == b.Status && a.UpdatedAt.Equal(b.UpdatedAt)
	}) {
		t.Fatalf("rebuilt %+v, was %+v", after, before)
	}
	e.checkSame(t, e.settle(t, "gate", "g1", workflows.StatusWaiting))
}

func TestWorkflowRunsListErrors(t *testing.T) {
	t.Parallel()
	e := newRunsEnv(t, runsWorkflows()...)
	ctx := context.Background()
	if _, _, err := e.eng.List(ctx, "nope", workflows.ListQuery{}); !errors.Is(err, workflows.ErrWorkflowNotFound) {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, _, err := e.eng.List(ctx, "done", workflows.ListQuery{Status: "bogus"}); !errors.Is(err, workflows.ErrInvalidListQuery) {
		t.Fatalf("bad status: %v", err)
	}
	if _, _, err := e.eng.List(ctx, "done", workflows.ListQuery{Cursor: "!!"}); !errors.Is(err, workflows.ErrInvalidListQuery) {
		t.Fatalf("bad cursor: %v", err)
	}
	runs, next, err := e.eng.List(ctx, "done", workflows.ListQuery{})
	if err != nil || len(runs) != 0 || next != "" {
		t.Fatalf("no runs: %v %q %v", runs, next, err)
	}
	// An engine of no workflows registers nothing.
	bare, err := workflows.NewEngine(e.rt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bare.UseRunsProjection(e.projs, e.log); err != nil {
		t.Fatalf("no workflows: %v", err)
	}
}

// The running runs, as the engine's startup resume reads them from the
// projection: a run held in a step is running; a completed one is not.
func TestWorkflowRunsRunning(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	held := workflows.Define("held", func(w *workflows.W, _ struct{}) (int, error) {
		return workflows.Step(w, "block", func(ctx context.Context, _ *workflows.StepContext) (int, error) {
			select {
			case <-release:
				return 1, nil
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		})
	})
	e := newRunsEnv(t, held)
	t.Cleanup(func() { close(release) })
	ctx := context.Background()
	for _, id := range []string{"h1", "h2"} {
		if _, _, err := e.eng.StartRun(ctx, "held", id, nil); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	ok, err := e.eng.ForEachRunning(ctx, "held", func(id string) error { ids = append(ids, id); return nil })
	if err != nil || !ok || strings.Join(ids, ",") != "h1,h2" {
		t.Fatalf("running = %v (ok %v, %v)", ids, ok, err)
	}
	bare, err := workflows.NewEngine(e.rt, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := bare.ForEachRunning(ctx, "held", func(string) error { return nil }); ok || err != nil {
		t.Fatalf("without the projection: ok %v, %v", ok, err)
	}
}
