package workflows_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// stepNamed is a step returning its name.
func stepNamed(w *workflows.W, name string) (string, error) {
	return workflows.Step(w, name, func(context.Context, *workflows.StepContext) (string, error) { return name, nil })
}

// versioned is a workflow of name that runs step "a", then (when minV >= 0)
// GetVersion("x", minV, 1), waits for the signal "go", then runs step "b1"
// on version 0 or "b2" on version 1, and returns that step's name.
func versioned(name string, minV int) *workflows.Workflow[struct{}, string] {
	return workflows.Define(name, func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := stepNamed(w, "a"); err != nil {
			return "", err
		}
		ver := 0
		if minV >= 0 {
			var err error
			if ver, err = w.GetVersion("x", minV, 1); err != nil {
				return "", err
			}
		}
		if _, _, err := w.WaitSignal("wait", "go", 0); err != nil {
			return "", err
		}
		if ver == 1 {
			return stepNamed(w, "b2")
		}
		return stepNamed(w, "b1")
	}, workflows.Options{ParkAfter: 30 * time.Millisecond})
}

// A run started on old code takes version 0 when the new code reaches the
// change while replaying; a new run takes the latest; raising the minimum
// past a run's version fails it with unsupported_version.
func TestGetVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, versioned("versioned", -1))
	for _, id := range []string{"a", "c"} {
		if _, _, err := e.eng.StartRun(ctx, "versioned", id, nil); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(t, "versioned", id, workflows.StatusWaiting)
	}
	e.restart(t, versioned("versioned", 0))
	signal := func(id string) {
		t.Helper()
		if _, _, err := e.eng.Signal(ctx, "versioned", id, "go", nil); err != nil {
			t.Fatal(err)
		}
	}
	result := func(id string) workflows.Run {
		t.Helper()
		run := e.wait(t, "versioned", id)
		return run
	}
	signal("a")
	if run := result("a"); run.Status != workflows.StatusCompleted || string(run.Result) != `"b1"` {
		t.Fatalf("old run: %+v, error %+v", run, run.Error)
	}
	if _, _, err := e.eng.StartRun(ctx, "versioned", "b", nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "versioned", "b", workflows.StatusWaiting)
	signal("b")
	if run := result("b"); run.Status != workflows.StatusCompleted || string(run.Result) != `"b2"` {
		t.Fatalf("new run: %+v, error %+v", run, run.Error)
	}
	e.restart(t, versioned("versioned", 1))
	signal("c")
	run := result("c")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != string(workflows.CodeUnsupportedVersion) {
		t.Fatalf("old run on min 1: %+v, error %+v", run, run.Error)
	}
}

// removable is a workflow of name that runs step "a", then step "old"
// (old code), or declares it removed (new code with remove), or neither,
// then waits for the signal "go".
func removable(name string, old, remove bool) *workflows.Workflow[struct{}, string] {
	return workflows.Define(name, func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := stepNamed(w, "a"); err != nil {
			return "", err
		}
		switch {
		case old:
			if _, err := stepNamed(w, "old"); err != nil {
				return "", err
			}
		case remove:
			if err := w.Removed("old", workflows.KindStep); err != nil {
				return "", err
			}
		}
		payload, _, err := w.WaitSignal("wait", "go", 0)
		return string(payload), err
	}, workflows.Options{ParkAfter: 30 * time.Millisecond})
}

// Removed lets a run whose journal records a step the code no longer calls
// complete; without it the run fails with missing_call; a new run records
// a removed marker.
func TestRemoved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, removable("removed", true, false), removable("forgot", true, false))
	for _, name := range []string{"removed", "forgot"} {
		if _, _, err := e.eng.StartRun(ctx, name, "r1", nil); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(t, name, "r1", workflows.StatusWaiting)
	}
	e.restart(t, removable("removed", false, true), removable("forgot", false, false))
	for _, name := range []string{"removed", "forgot"} {
		if _, _, err := e.eng.Signal(ctx, name, "r1", "go", json.RawMessage(`1`)); err != nil {
			t.Fatal(err)
		}
	}
	if run := e.wait(t, "removed", "r1"); run.Status != workflows.StatusCompleted {
		t.Fatalf("with Removed: %+v, error %+v", run, run.Error)
	}
	run := e.wait(t, "forgot", "r1")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != string(workflows.CodeNondeterminism) || run.Error.Entry != "old" {
		t.Fatalf("without Removed: %+v, error %+v", run, run.Error)
	}
	// A new run on the new code records the marker.
	if _, _, err := e.eng.StartRun(ctx, "removed", "r2", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.eng.Signal(ctx, "removed", "r2", "go", nil); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "removed", "r2"); run.Status != workflows.StatusCompleted {
		t.Fatalf("new run: %+v, error %+v", run, run.Error)
	}
	if keys := e.journalKeys(t, "removed", "r2"); !slices.Contains(keys, "j/0/old") {
		t.Fatalf("no removed marker: %v", keys)
	}
}
