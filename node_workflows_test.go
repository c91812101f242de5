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
