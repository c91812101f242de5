package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// childDefs: "double" doubles its input after waiting for the signal "go"
// when its input is negative; "parent" runs it as a child and adds 1.
func childDefs(parkAfter time.Duration) (*workflows.Workflow[int, int], *workflows.Workflow[int, int]) {
	opts := workflows.Options{ParkAfter: parkAfter}
	double := workflows.Define("double", func(w *workflows.W, in int) (int, error) {
		if in < 0 {
			if _, _, err := w.WaitSignal("gate", "go", 0); err != nil {
				return 0, err
			}
			in = -in
		}
		return workflows.Step(w, "mul", func(ctx context.Context, s *workflows.StepContext) (int, error) { return in * 2, nil })
	}, opts)
	parent := workflows.Define("parent", func(w *workflows.W, in int) (int, error) {
		r, err := workflows.Child(w, "kid", double, in)
		if err != nil {
			return 0, err
		}
		return r + 1, nil
	}, opts)
	return double, parent
}

// A child run's result comes back to its parent, in memory and after the
// parent parked; the child is a run of its own (ChildRunID).
func TestChildWorkflow(t *testing.T) {
	t.Parallel()
	double, parent := childDefs(50 * time.Millisecond)
	e := newScheduledEnv(t, double, parent)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "parent", "p1", []byte("20")); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "parent", "p1"); run.Status != workflows.StatusCompleted || string(run.Result) != "41" {
		t.Fatalf("parent %+v, want completed with 41", run)
	}
	// The child waits for a signal: the parent parks, the child's end wakes it.
	if _, _, err := e.eng.StartRun(ctx, "parent", "p2", []byte("-5")); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "parent", "p2", workflows.StatusWaiting)
	e.waitStatus(t, "double", "p2.kid", workflows.StatusWaiting)
	if _, _, err := e.eng.Signal(ctx, "double", "p2.kid", "go", nil); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "parent", "p2"); run.Status != workflows.StatusCompleted || string(run.Result) != "11" {
		t.Fatalf("parent %+v, want completed with 11", run)
	}
	if child := e.wait(t, "double", "p2.kid"); child.Status != workflows.StatusCompleted {
		t.Fatalf("child %+v", child)
	}
}

// Cancelling a parent cancels its open child; a failed child fails the
// parent with child_failed.
func TestChildCancelAndFailure(t *testing.T) {
	t.Parallel()
	double, parent := childDefs(50 * time.Millisecond)
	e := newScheduledEnv(t, double, parent)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "parent", "p1", []byte("-1")); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "parent", "p1", workflows.StatusWaiting) // the child exists
	e.waitStatus(t, "double", "p1.kid", workflows.StatusWaiting)
	if _, err := e.eng.Cancel(ctx, "parent", "p1", "stop"); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "parent", "p1"); run.Status != workflows.StatusCancelled {
		t.Fatalf("parent %+v, want cancelled", run)
	}
	if child := e.wait(t, "double", "p1.kid"); child.Status != workflows.StatusCancelled {
		t.Fatalf("child %+v, want cancelled with its parent", child)
	}

	if _, _, err := e.eng.StartRun(ctx, "parent", "p2", []byte("-1")); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "parent", "p2", workflows.StatusWaiting)
	e.waitStatus(t, "double", "p2.kid", workflows.StatusWaiting)
	if _, err := e.eng.Cancel(ctx, "double", "p2.kid", "child only"); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "parent", "p2")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "child_failed" {
		t.Fatalf("parent %+v (%+v), want failed with child_failed", run, run.Error)
	}
	if _, err := e.eng.Cancel(ctx, "parent", "p2", ""); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("cancel of a failed parent: %v", err)
	}
}
