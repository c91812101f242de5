package rivetflow

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// gated runs a step (counted), waits for the signal go, and returns its
// payload. A new Definition per node: one serves one engine at a time.
func gated(steps *atomic.Int32) *workflows.Workflow[struct{}, string] {
	return workflows.Define("gated", func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := workflows.Step(w, "before", func(context.Context, *workflows.StepContext) (int, error) {
			return int(steps.Add(1)), nil
		}); err != nil {
			return "", err
		}
		p, _, err := w.WaitSignal("wait", "go", 0)
		return string(p), err
	})
}

func startWorkflows(t *testing.T, dir string, defs ...workflows.Definition) (*Node, error) {
	t.Helper()
	return Start(context.Background(), Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Workflows: defs})
}

// The node registers Config.Workflows, runs them with its engine
// (Node.Workflows), and resumes a run across a restart: the step done
// before it is not run again.
func TestConfigWorkflows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	var steps atomic.Int32
	n, err := startWorkflows(t, dir, gated(&steps))
	if err != nil {
		t.Fatal(err)
	}
	if _, created, err := n.Workflows().StartRun(ctx, "gated", "r1", nil); err != nil || !created {
		t.Fatalf("StartRun: created %v, %v", created, err)
	}
	waitRun(t, n, "r1", func(r workflows.Run) bool { return r.Steps == 1 })
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	n, err = startWorkflows(t, dir, gated(&steps))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	if _, _, err := n.Workflows().Signal(ctx, "gated", "r1", "go", []byte(`"now"`)); err != nil {
		t.Fatalf("Signal: %v", err)
	}
	run := waitRun(t, n, "r1", func(r workflows.Run) bool { return r.Status.Finished() })
	if run.Status != workflows.StatusCompleted || string(run.Result) != `"\"now\""` {
		t.Fatalf("run = %+v (result %s)", run, run.Result)
	}
	if s := steps.Load(); s != 1 {
		t.Fatalf("step before ran %d times, want 1", s)
	}
}

// A workflow named like another actor type fails the start.
func TestConfigWorkflowsNameClash(t *testing.T) {
	t.Parallel()
	clash := workflows.Define("counter", func(*workflows.W, struct{}) (struct{}, error) { return struct{}{}, nil })
	n, err := startWorkflows(t, t.TempDir(), clash)
	if err == nil {
		_ = n.Stop(context.Background())
		t.Fatal("a workflow named counter started")
	}
	if !strings.Contains(err.Error(), "workflow counter") {
		t.Fatalf("err = %v", err)
	}
}

func waitRun(t *testing.T, n *Node, runID string, done func(workflows.Run) bool) workflows.Run {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := n.Workflows().Get(context.Background(), "gated", runID)
		if err != nil {
			t.Fatal(err)
		}
		if done(run) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: %+v", runID, run)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The node registers the runs projection (workflow_runs) and the engine
// lists from it: a parked run is listed as waiting, across a restart, and
// as completed once a signal ends it.
func TestConfigWorkflowsRunsProjection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	parked := func() workflows.Definition {
		return workflows.Define("parked", func(w *workflows.W, _ struct{}) (string, error) {
			p, _, err := w.WaitSignal("wait", "go", 0)
			return string(p), err
		}, workflows.Options{ParkAfter: time.Millisecond})
	}
	list := func(n *Node, st workflows.Status) []string {
		t.Helper()
		runs, _, err := n.Workflows().List(ctx, "parked", workflows.ListQuery{Status: st})
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, r := range runs {
			ids = append(ids, r.RunID+":"+string(r.Status))
		}
		return ids
	}
	n, err := startWorkflows(t, dir, parked())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Projections().Status(workflows.RunsProjectionName); err != nil {
		t.Fatalf("runs projection: %v", err)
	}
	for _, id := range []string{"r1", "r2"} {
		if _, _, err := n.Workflows().StartRun(ctx, "parked", id, nil); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, n, "parked", id, workflows.StatusWaiting)
	}
	if got := list(n, workflows.StatusWaiting); strings.Join(got, ",") != "r1:waiting,r2:waiting" {
		t.Fatalf("waiting = %v", got)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	if n, err = startWorkflows(t, dir, parked()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(ctx); err != nil {
			t.Error(err)
		}
	}()
	if got := list(n, ""); strings.Join(got, ",") != "r1:waiting,r2:waiting" {
		t.Fatalf("after a restart = %v", got)
	}
	if _, _, err := n.Workflows().Signal(ctx, "parked", "r1", "go", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, n, "parked", "r1", workflows.StatusCompleted)
	if got := list(n, workflows.StatusCompleted); strings.Join(got, ",") != "r1:completed" {
		t.Fatalf("completed = %v", got)
	}
	if got := list(n, workflows.StatusWaiting); strings.Join(got, ",") != "r2:waiting" {
		t.Fatalf("waiting = %v", got)
	}
}

func waitStatus(t *testing.T, n *Node, name, runID string, want workflows.Status) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := n.Workflows().Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s, want %s", runID, name, run.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
