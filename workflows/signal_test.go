package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// approval is a workflow that runs step "gate" (which waits on gate when
// it is not nil), then waits for the signal "approve" as "approval" with
// timeout, and returns the payload, or "timeout".
func approval(name string, timeout time.Duration, opts workflows.Options, gate <-chan struct{}) *workflows.Workflow[struct{}, string] {
	return workflows.Define(name, func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := workflows.Step(w, "gate", func(ctx context.Context, s *workflows.StepContext) (bool, error) {
			if gate != nil {
				<-gate
			}
			return true, nil
		}); err != nil {
			return "", err
		}
		payload, timedOut, err := w.WaitSignal("approval", "approve", timeout)
		if err != nil {
			return "", err
		}
		if timedOut {
			return "timeout", nil
		}
		return string(payload), nil
	}, opts)
}

// A signal sent before the wait begins is buffered and taken at once.
func TestSignalBeforeWait(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	wf := approval("early", 0, workflows.Options{}, gate)
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	id, status, err := e.eng.Signal(ctx, "early", "r1", "approve", json.RawMessage(`{"ok":true}`))
	if err != nil || id != 1 || status != workflows.StatusRunning {
		t.Fatalf("signal: id %d, status %s, err %v", id, status, err)
	}
	close(gate)
	run := e.wait(t, "early", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `{"ok":true}` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
}

// A signal after the wait began wakes the parked run (its actor asleep).
func TestSignalWakesParkedRun(t *testing.T) {
	t.Parallel()
	wf := approval("late", 0, workflows.Options{ParkAfter: 30 * time.Millisecond}, nil)
	e := newEnv(t, wf)
	ctx := context.Background()
	run, _, err := workflows.Start(ctx, e.eng, wf, "r1", struct{}{})
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "late", "r1", workflows.StatusWaiting)
	e.waitAsleep(t, run.ActorID)
	// Another signal is buffered and does not wake the run.
	if _, status, err := e.eng.Signal(ctx, "late", "r1", "other", nil); err != nil || status != workflows.StatusWaiting {
		t.Fatalf("signal other: status %s, err %v", status, err)
	}
	_, status, err := e.eng.Signal(ctx, "late", "r1", "approve", json.RawMessage(`"yes"`))
	if err != nil || status != workflows.StatusRunning {
		t.Fatalf("signal approve: status %s, err %v", status, err)
	}
	run = e.wait(t, "late", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `"yes"` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
}

// A signal arriving while the run waits in memory (before it parks) pokes
// the waiting runner.
func TestSignalPokesMemoryWait(t *testing.T) {
	t.Parallel()
	wf := approval("poked", 0, workflows.Options{ParkAfter: time.Minute}, nil)
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.waitStatus(t, "poked", "r1", workflows.StatusRunning)
	for run.Current != "approval" {
		time.Sleep(5 * time.Millisecond)
		run = e.waitStatus(t, "poked", "r1", workflows.StatusRunning)
	}
	if _, _, err := e.eng.Signal(ctx, "poked", "r1", "approve", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	run = e.wait(t, "poked", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `1` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
}

// A wait whose timeout passes returns timedOut: in memory for a short
// timeout, through the parked run's alarm for a long one.
func TestWaitSignalTimeout(t *testing.T) {
	t.Parallel()
	short := approval("short", 50*time.Millisecond, workflows.Options{}, nil)
	long := approval("long", 500*time.Millisecond, workflows.Options{ParkAfter: 50 * time.Millisecond}, nil)
	e := newScheduledEnv(t, short, long)
	ctx := context.Background()
	for _, wf := range []*workflows.Workflow[struct{}, string]{short, long} {
		if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", struct{}{}); err != nil {
			t.Fatal(err)
		}
	}
	e.waitStatus(t, "long", "r1", workflows.StatusWaiting)
	for _, wf := range []*workflows.Workflow[struct{}, string]{short, long} {
		run := e.wait(t, wf.Name(), "r1")
		if got, err := workflows.Result(wf, run); err != nil || got != "timeout" {
			t.Fatalf("%s: result %q, %v (run %+v, error %+v)", wf.Name(), got, err, run, run.Error)
		}
	}
	// A signal after the timeout stays buffered; the run is finished now,
	// so it is refused.
	if _, _, err := e.eng.Signal(ctx, "long", "r1", "approve", nil); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("signal to a finished run: %v", err)
	}
}

// A finished run refuses signals (run_finished); an unknown run is
// run_not_found; a full inbox refuses more (inbox_full).
func TestSignalRefused(t *testing.T) {
	t.Parallel()
	done := workflows.Define("done", func(w *workflows.W, _ struct{}) (int, error) { return 1, nil })
	full := approval("full", 0, workflows.Options{MaxInbox: 2, ParkAfter: 30 * time.Millisecond}, nil)
	e := newEnv(t, done, full)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, done, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	e.wait(t, "done", "r1")
	_, _, err := e.eng.Signal(ctx, "done", "r1", "approve", nil)
	if !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("signal to a finished run: %v", err)
	}
	if code, _ := workflows.ErrorCode(err); code != "run_finished" {
		t.Fatalf("code %q", code)
	}
	if _, _, err := e.eng.Signal(ctx, "done", "nope", "approve", nil); !errors.Is(err, workflows.ErrRunNotFound) {
		t.Fatalf("signal to an unknown run: %v", err)
	}
	if _, _, err := workflows.Start(ctx, e.eng, full, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "full", "r1", workflows.StatusWaiting)
	for i := range 2 {
		if id, _, err := e.eng.Signal(ctx, "full", "r1", "other", nil); err != nil || id != uint64(i+1) {
			t.Fatalf("signal %d: id %d, err %v", i, id, err)
		}
	}
	_, _, err = e.eng.Signal(ctx, "full", "r1", "approve", nil)
	if !errors.Is(err, workflows.ErrInboxFull) {
		t.Fatalf("signal to a full inbox: %v", err)
	}
	if code, _ := workflows.ErrorCode(err); code != "inbox_full" {
		t.Fatalf("code %q", code)
	}
}

// A restart while the run is parked on a wait: the signal still wakes it,
// and the step before the wait does not run again.
func TestSignalAfterRestart(t *testing.T) {
	t.Parallel()
	var gates atomic.Int32
	wf := workflows.Define("restarted", func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := workflows.Step(w, "gate", func(ctx context.Context, s *workflows.StepContext) (bool, error) {
			gates.Add(1)
			return true, nil
		}); err != nil {
			return "", err
		}
		payload, _, err := w.WaitSignal("approval", "approve", time.Hour)
		return string(payload), err
	}, workflows.Options{ParkAfter: 30 * time.Millisecond})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "restarted", "r1", workflows.StatusWaiting)
	e.restart(t)
	if _, _, err := e.eng.Signal(ctx, "restarted", "r1", "approve", json.RawMessage(`"after"`)); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "restarted", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `"after"` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if n := gates.Load(); n != 1 {
		t.Fatalf("step gate ran %d times", n)
	}
}
