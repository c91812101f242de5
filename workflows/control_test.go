package workflows_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// recorder collects what compensations and steps did, in order.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// compensated is a step that records its run and its compensation.
func compensated(w *workflows.W, name string, rec *recorder) error {
	_, err := workflows.Step(w, name, func(ctx context.Context, s *workflows.StepContext) (string, error) {
		rec.add("run " + name)
		return name, nil
	}, workflows.StepOptions{Compensate: func(ctx context.Context, s *workflows.StepContext) error {
		rec.add("undo " + name)
		return nil
	}})
	return err
}

// A cancel of a run parked on a wait runs the compensations of its
// completed steps in reverse order, once each, and ends it cancelled; a
// second cancel is run_finished.
func TestCancelCompensatesInReverse(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	wf := workflows.Define("saga", func(w *workflows.W, in int) (int, error) {
		for _, n := range []string{"a", "b", "c"} {
			if err := compensated(w, n, rec); err != nil {
				return 0, err
			}
		}
		_, _, err := w.WaitSignal("approval", "go", 0)
		return 1, err
	}, workflows.Options{ParkAfter: 50 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "saga", "r1", nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "saga", "r1", workflows.StatusWaiting)
	res, err := e.eng.Cancel(ctx, "saga", "r1", "customer left")
	if err != nil || !res.Changed {
		t.Fatalf("cancel: %+v %v", res, err)
	}
	run := e.wait(t, "saga", "r1")
	if run.Status != workflows.StatusCancelled || run.Error == nil || run.Error.Code != "cancelled" || run.Error.Message != "cancelled: customer left" {
		t.Fatalf("run %+v error %+v, want cancelled with the reason", run, run.Error)
	}
	want := []string{"run a", "run b", "run c", "undo c", "undo b", "undo a"}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, err := e.eng.Cancel(ctx, "saga", "r1", ""); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("second cancel: %v, want ErrRunFinished", err)
	}
	if _, _, err := e.eng.Signal(ctx, "saga", "r1", "go", nil); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("signal after cancel: %v, want ErrRunFinished", err)
	}
	// A restart does not compensate again.
	e.restart(t)
	if got := rec.list(); !slices.Equal(got, want) {
		t.Fatalf("after restart got %v, want %v", got, want)
	}
}

// A cancel during a step cancels the step's context; only the steps
// completed before it are compensated. A checkpoint limits the rollback.
func TestCancelDuringStepAndCheckpoint(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	started := make(chan struct{})
	wf := workflows.Define("long", func(w *workflows.W, in int) (int, error) {
		if err := compensated(w, "a", rec); err != nil {
			return 0, err
		}
		if err := w.RollbackCheckpoint("cp"); err != nil {
			return 0, err
		}
		if err := compensated(w, "b", rec); err != nil {
			return 0, err
		}
		return workflows.Step(w, "long", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			close(started)
			<-ctx.Done()
			rec.add("long saw " + context.Cause(ctx).Error())
			return 0, ctx.Err()
		}, workflows.StepOptions{Compensate: func(context.Context, *workflows.StepContext) error {
			rec.add("undo long")
			return nil
		}})
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "long", "r1", nil); err != nil {
		t.Fatal(err)
	}
	<-started
	if _, err := e.eng.Cancel(ctx, "long", "r1", ""); err != nil {
		t.Fatal(err)
	}
	run, err := e.eng.Await(ctx, "long", "r1")
	if err != nil || run.Status != workflows.StatusCancelled {
		t.Fatalf("run %+v %v, want cancelled", run, err)
	}
	got := rec.list()
	want := []string{"run a", "run b", "long saw workflows: cancel requested", "undo b"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// A failed run compensates its completed steps unless told not to.
func TestFailureCompensates(t *testing.T) {
	t.Parallel()
	for _, compensate := range []bool{true, false} {
		rec := &recorder{}
		name := "fails"
		if !compensate {
			name = "failsbare"
		}
		wf := workflows.Define(name, func(w *workflows.W, in int) (int, error) {
			if err := compensated(w, "a", rec); err != nil {
				return 0, err
			}
			return workflows.Step(w, "b", func(ctx context.Context, s *workflows.StepContext) (int, error) {
				return 0, workflows.NonRetryable(errors.New("card declined"))
			})
		}, workflows.Options{CompensateOnFailure: &compensate})
		e := newEnv(t, wf)
		ctx := context.Background()
		if _, _, err := e.eng.StartRun(ctx, name, "r1", nil); err != nil {
			t.Fatal(err)
		}
		run, err := e.eng.Await(ctx, name, "r1")
		if err != nil || run.Status != workflows.StatusFailed {
			t.Fatalf("run %+v %v, want failed", run, err)
		}
		want := []string{"run a"}
		if compensate {
			want = append(want, "undo a")
		}
		if got := rec.list(); !slices.Equal(got, want) {
			t.Fatalf("compensate=%v: got %v, want %v", compensate, got, want)
		}
	}
}

// Retries are journaled: a retry delay past ParkAfter parks the run on an
// alarm (status sleeping) and the next attempt comes with the alarm;
// attempt numbers go on from the journal.
func TestRetryParksOnAlarm(t *testing.T) {
	t.Parallel()
	var attempts []int
	var mu sync.Mutex
	wf := workflows.Define("flaky", func(w *workflows.W, in int) (int, error) {
		return workflows.Step(w, "call", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			mu.Lock()
			attempts = append(attempts, s.Attempt())
			mu.Unlock()
			if s.Attempt() < 3 {
				return 0, errors.New("503")
			}
			return s.Attempt(), nil
		}, workflows.StepOptions{RetryDelay: func(error, int) (time.Duration, bool) { return 600 * time.Millisecond, true }})
	}, workflows.Options{ParkAfter: 100 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "flaky", "r1", nil); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "flaky", "r1")
	// The retries parked the run: $wf retry events with status sleeping
	// (one, on a machine so loaded that the second was due before its
	// park).
	subject, err := eventlog.ActorRef{Type: "flaky", Key: []string{"r1"}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := e.log.ReadActorPage(ctx, subject, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	parks := 0
	for _, ev := range evs {
		if ev.Action == "$wf" && strings.Contains(string(ev.Args), `"op":"retry"`) && strings.Contains(string(ev.Args), `"status":"sleeping"`) {
			parks++
		}
	}
	if parks < 1 {
		t.Fatalf("%d retry parks in the run's events, want 1 or 2", parks)
	}
	if run.Status != workflows.StatusCompleted || string(run.Result) != "3" {
		t.Fatalf("run %+v, want completed with 3", run)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(attempts, []int{1, 2, 3}) {
		t.Fatalf("attempts %v, want [1 2 3]", attempts)
	}
}

// The retry count survives a restart: attempt 1 failed (journaled) and
// attempt 2 was cut by the restart, so the restarted run makes attempt 2
// again, not attempt 1.
func TestRetryCountSurvivesRestart(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var attempts []int
	inSecond := make(chan struct{})
	wf := workflows.Define("retry", func(w *workflows.W, in int) (int, error) {
		return workflows.Step(w, "call", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			mu.Lock()
			attempts = append(attempts, s.Attempt())
			n := len(attempts)
			mu.Unlock()
			switch n {
			case 1:
				return 0, errors.New("try again")
			case 2:
				close(inSecond)
				<-ctx.Done() // until the restart
				return 0, ctx.Err()
			}
			return s.Attempt(), nil
		}, workflows.StepOptions{RetryDelay: func(error, int) (time.Duration, bool) { return 0, true }})
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "retry", "r1", nil); err != nil {
		t.Fatal(err)
	}
	<-inSecond
	e.restart(t)
	run := e.wait(t, "retry", "r1")
	mu.Lock()
	defer mu.Unlock()
	if run.Status != workflows.StatusCompleted || string(run.Result) != "2" || !slices.Equal(attempts, []int{1, 2, 2}) {
		t.Fatalf("run %+v, attempts %v: want completed at attempt 2, attempts [1 2 2]", run, attempts)
	}
}

// Pause stops a run at its next journaled call (the step in flight still
// journals its result); resume goes on from there, no step twice.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	var a, b atomic.Int32
	release := make(chan struct{})
	inA := make(chan struct{})
	wf := workflows.Define("pausable", func(w *workflows.W, in int) (int, error) {
		x, err := workflows.Step(w, "a", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			if a.Add(1) == 1 {
				close(inA)
				<-release
			}
			return 1, nil
		})
		if err != nil {
			return 0, err
		}
		return workflows.Step(w, "b", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			b.Add(1)
			return x + 1, nil
		})
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "pausable", "r1", nil); err != nil {
		t.Fatal(err)
	}
	<-inA
	res, err := e.eng.Pause(ctx, "pausable", "r1")
	if err != nil || res.Status != workflows.StatusPaused || !res.Changed {
		t.Fatalf("pause: %+v %v", res, err)
	}
	if res, _ := e.eng.Pause(ctx, "pausable", "r1"); res.Changed {
		t.Fatal("a second pause changed something")
	}
	close(release)
	deadline := time.Now().Add(20 * time.Second)
	for run, _ := e.eng.Get(ctx, "pausable", "r1"); run.Steps != 1; run, _ = e.eng.Get(ctx, "pausable", "r1") {
		if time.Now().After(deadline) {
			t.Fatalf("step a's result was not journaled while paused: %+v", run)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if run, _ := e.eng.Get(ctx, "pausable", "r1"); run.Status != workflows.StatusPaused || b.Load() != 0 {
		t.Fatalf("paused run %+v ran b %d times", run, b.Load())
	}
	res, err = e.eng.Resume(ctx, "pausable", "r1")
	if err != nil || res.Status != workflows.StatusRunning {
		t.Fatalf("resume: %+v %v", res, err)
	}
	run, err := e.eng.Await(ctx, "pausable", "r1")
	if err != nil || run.Status != workflows.StatusCompleted || string(run.Result) != "2" || a.Load() != 1 || b.Load() != 1 {
		t.Fatalf("run %+v %v; a ran %d, b %d times", run, err, a.Load(), b.Load())
	}
	if _, err := e.eng.Resume(ctx, "pausable", "r1"); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("resume of a finished run: %v", err)
	}
}

// A paused sleep does not fire; resume moves its deadline by the pause.
func TestPauseSuspendsSleep(t *testing.T) {
	t.Parallel()
	const nap = 400 * time.Millisecond
	wf := workflows.Define("napping", func(w *workflows.W, in int) (int, error) {
		return 1, w.Sleep("nap", nap)
	}, workflows.Options{ParkAfter: 50 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	ctx := context.Background()
	start := time.Now()
	if _, _, err := e.eng.StartRun(ctx, "napping", "r1", nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "napping", "r1", workflows.StatusSleeping)
	if _, err := e.eng.Pause(ctx, "napping", "r1"); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	time.Sleep(2 * nap) // past the sleep's deadline: a live alarm would fire here
	if run, _ := e.eng.Get(ctx, "napping", "r1"); run.Status != workflows.StatusPaused {
		t.Fatalf("run %+v, want still paused", run)
	}
	res, err := e.eng.Resume(ctx, "napping", "r1")
	if err != nil || res.Status != workflows.StatusSleeping {
		t.Fatalf("resume: %+v %v, want sleeping", res, err)
	}
	pausedFor := time.Since(paused)
	run := e.wait(t, "napping", "r1")
	if run.Status != workflows.StatusCompleted || time.Since(start) < nap+pausedFor {
		t.Fatalf("run %+v after %s (paused %s), want completed after the nap plus the pause", run, time.Since(start), pausedFor)
	}
}

// W.Rand draws the same numbers on every execution of the same run.
func TestRandReplays(t *testing.T) {
	t.Parallel()
	draws := make(chan [2]int64, 2)
	var n atomic.Int32
	wf := workflows.Define("dice", func(w *workflows.W, in int) (int64, error) {
		first := w.Rand().Int64()
		if _, err := workflows.Step(w, "s", func(ctx context.Context, s *workflows.StepContext) (int, error) { return 1, nil }); err != nil {
			return 0, err
		}
		second := w.Rand().Int64()
		draws <- [2]int64{first, second}
		if n.Add(1) == 1 {
			<-w.Context().Done() // the first execution stops here, until the restart
			return 0, w.Context().Err()
		}
		return first ^ second, nil
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "dice", "r1", nil); err != nil {
		t.Fatal(err)
	}
	d1 := <-draws
	e.restart(t)
	d2 := <-draws
	if d1 != d2 || d1[0] == d1[1] {
		t.Fatalf("draws %v then %v: want equal, and two different numbers", d1, d2)
	}
	if run := e.wait(t, "dice", "r1"); run.Status != workflows.StatusCompleted {
		t.Fatalf("run %+v", run)
	}
}

// Steps in Join branches are compensated too, also after a restart (when
// the finished Join replays from its entry without running its branches),
// on cancel and on failure.
func TestJoinBranchesCompensate(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		rec := &recorder{}
		name := "joincancel"
		if fail {
			name = "joinfail"
		}
		wf := workflows.Define(name, func(w *workflows.W, in int) (int, error) {
			var branches []workflows.Branch[int]
			for _, b := range []string{"x", "y", "z"} {
				branches = append(branches, workflows.Branch[int]{Name: b, Run: func(bw *workflows.W) (int, error) {
					return 1, compensated(bw, b, rec)
				}})
			}
			if _, err := workflows.Join(w, "all", branches); err != nil {
				return 0, err
			}
			if _, _, err := w.WaitSignal("approval", "go", 0); err != nil {
				return 0, err
			}
			return workflows.Step(w, "last", func(ctx context.Context, s *workflows.StepContext) (int, error) {
				return 0, workflows.NonRetryable(errors.New("refused"))
			})
		}, workflows.Options{ParkAfter: 50 * time.Millisecond})
		e := newScheduledEnv(t, wf)
		ctx := context.Background()
		if _, _, err := e.eng.StartRun(ctx, name, "r1", nil); err != nil {
			t.Fatal(err)
		}
		e.waitStatus(t, name, "r1", workflows.StatusWaiting)
		e.restart(t)
		want := workflows.StatusCancelled
		if fail {
			want = workflows.StatusFailed
			if _, _, err := e.eng.Signal(ctx, name, "r1", "go", nil); err != nil {
				t.Fatal(err)
			}
		} else if _, err := e.eng.Cancel(ctx, name, "r1", ""); err != nil {
			t.Fatal(err)
		}
		if run := e.wait(t, name, "r1"); run.Status != want {
			t.Fatalf("%s: run %+v, want %s", name, run, want)
		}
		got := rec.list()
		slices.Sort(got)
		if want := []string{"run x", "run y", "run z", "undo x", "undo y", "undo z"}; !slices.Equal(got, want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
	}
}
