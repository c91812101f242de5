package workflows_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// waitStatus polls run runID of name until it has status want.
func (e *env) waitStatus(t *testing.T, name, runID string, want workflows.Status) workflows.Run {
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
		if time.Now().After(deadline) || run.Status.Finished() {
			t.Fatalf("run %s of %s is %s (current %q), want %s", runID, name, run.Status, run.Current, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitAsleep puts idle actors to sleep until the actor id has left memory.
func (e *env) waitAsleep(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.rt.IsAwake(id) {
		if time.Now().After(deadline) {
			t.Fatalf("actor %s is still awake", id)
		}
		e.rt.SleepIdle()
		time.Sleep(5 * time.Millisecond)
	}
}

// napper runs step "before", sleeps d as "nap" (reporting how long each
// execution spent in Sleep), then step "after".
func napper(name string, d time.Duration, opts workflows.Options, before, after *atomic.Int32, slept chan<- time.Duration) *workflows.Workflow[int, int] {
	return workflows.Define(name, func(w *workflows.W, in int) (int, error) {
		a, err := workflows.Step(w, "before", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			before.Add(1)
			return in + 1, nil
		})
		if err != nil {
			return 0, err
		}
		start := time.Now()
		if err := w.Sleep("nap", d); err != nil {
			return 0, err
		}
		if slept != nil {
			slept <- time.Since(start)
		}
		return workflows.Step(w, "after", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			if after.Add(1) == 1 && slept != nil {
				<-ctx.Done() // the first execution stops here, until the restart
				return 0, ctx.Err()
			}
			return a * 10, nil
		})
	}, opts)
}

// A sleep shorter than ParkAfter waits in memory; once completed, a replay
// (after a restart) passes it at once.
func TestShortSleepReplays(t *testing.T) {
	t.Parallel()
	var before, after atomic.Int32
	slept := make(chan time.Duration, 2)
	const d = 300 * time.Millisecond
	wf := napper("napper", d, workflows.Options{}, &before, &after, slept)
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 1); err != nil {
		t.Fatal(err)
	}
	if first := <-slept; first < d-10*time.Millisecond {
		t.Fatalf("first execution slept %v, want %v", first, d)
	}
	run := e.waitStatus(t, "napper", "r1", workflows.StatusRunning)
	if run.Current != "nap" {
		t.Fatalf("current %q, want nap", run.Current)
	}
	e.restart(t)
	run = e.wait(t, "napper", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 20 {
		t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if second := <-slept; second >= d/2 {
		t.Fatalf("the replay slept %v again", second)
	}
	if b := before.Load(); b != 1 {
		t.Fatalf("step before ran %d times", b)
	}
}

// A sleep longer than ParkAfter parks the run: status sleeping, the actor
// leaves memory, and the alarm runs it again past the sleep.
func TestLongSleepParks(t *testing.T) {
	t.Parallel()
	var before, after atomic.Int32
	const d = 700 * time.Millisecond
	wf := napper("parker", d, workflows.Options{ParkAfter: 50 * time.Millisecond}, &before, &after, nil)
	e := newScheduledEnv(t, wf)
	started := time.Now()
	run, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 2)
	if err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "parker", "r1", workflows.StatusSleeping)
	e.waitAsleep(t, run.ActorID)
	run = e.wait(t, "parker", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 30 {
		t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if el := time.Since(started); el < d {
		t.Fatalf("completed after %v, before the sleep's %v", el, d)
	}
	if b, a := before.Load(), after.Load(); b != 1 || a != 1 {
		t.Fatalf("steps ran %d and %d times, want 1 and 1", b, a)
	}
}

// A restart during a parked sleep: the alarm, indexed from the log, still
// fires and the run completes; the step before the sleep ran once.
func TestRestartDuringLongSleep(t *testing.T) {
	t.Parallel()
	var before, after atomic.Int32
	wf := napper("restarter", 800*time.Millisecond, workflows.Options{ParkAfter: 50 * time.Millisecond}, &before, &after, nil)
	e := newScheduledEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 3); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "restarter", "r1", workflows.StatusSleeping)
	e.restart(t)
	run := e.wait(t, "restarter", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 40 {
		t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if b, a := before.Load(), after.Load(); b != 1 || a != 1 {
		t.Fatalf("steps ran %d and %d times, want 1 and 1", b, a)
	}
}

// SleepUntil a time already past returns at once.
func TestSleepUntilPast(t *testing.T) {
	t.Parallel()
	wf := workflows.Define("past", func(w *workflows.W, _ struct{}) (string, error) {
		if err := w.SleepUntil("then", time.Now().Add(-time.Hour)); err != nil {
			return "", err
		}
		return "done", nil
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "past", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != "done" || run.Current != "then" {
		t.Fatalf("result %q, %v (run %+v)", got, err, run)
	}
}

// $timer is the scheduler's: any other caller is refused.
func TestTimerRefusesOtherCallers(t *testing.T) {
	t.Parallel()
	var before, after atomic.Int32
	wf := napper("guarded", time.Hour, workflows.Options{ParkAfter: time.Millisecond}, &before, &after, nil)
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", 1); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "guarded", "r1", workflows.StatusSleeping)
	h, err := e.rt.Client().Get(ctx, "guarded", []string{"r1"})
	if err != nil {
		t.Fatal(err)
	}
	var ue *actors.UserError
	if _, err := h.Action(ctx, "$timer", "nap"); !errors.As(err, &ue) || ue.Code != "invalid_request" {
		t.Fatalf("$timer from a client: %v", err)
	}
	e.waitStatus(t, "guarded", "r1", workflows.StatusSleeping)
}
