package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// waiter is a workflow that runs step "gate" (waiting on gate when not
// nil), then WaitAny("any", OnSignal("approve"), OnTimer(timeout)) and
// returns "<index>:<value>".
func waiter(name string, timeout time.Duration, opts workflows.Options, gate <-chan struct{}) *workflows.Workflow[struct{}, string] {
	return workflows.Define(name, func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := workflows.Step(w, "gate", func(context.Context, *workflows.StepContext) (bool, error) {
			if gate != nil {
				<-gate
			}
			return true, nil
		}); err != nil {
			return "", err
		}
		i, v, err := w.WaitAny("any", workflows.OnSignal("approve"), workflows.OnTimer(timeout))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d:%s", i, v), nil
	}, opts)
}

// result waits for run runID of name to complete and returns its string
// result.
func (e *env) result(t *testing.T, name, runID string) string {
	t.Helper()
	run := e.wait(t, name, runID)
	var s string
	if run.Status != workflows.StatusCompleted || json.Unmarshal(run.Result, &s) != nil {
		t.Fatalf("run %s of %s: %+v, error %+v", runID, name, run, run.Error)
	}
	return s
}

// waitCurrent polls run runID of name until its current entry starts with
// prefix.
func (e *env) waitCurrent(t *testing.T, name, runID, prefix string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(run.Current, prefix) {
			return
		}
		if time.Now().After(deadline) || run.Status.Finished() {
			t.Fatalf("run %s of %s: current %q, status %s; want an entry under %s", runID, name, run.Current, run.Status, prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WaitAny in memory: a signal sent before the wait is taken at once, one
// sent during it wins, and the timer wins when nothing arrives.
func TestWaitAnyInMemory(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	early := waiter("early", time.Hour, workflows.Options{}, gate)
	during := waiter("during", time.Hour, workflows.Options{}, nil)
	timer := waiter("timer", 200*time.Millisecond, workflows.Options{}, nil)
	e := newEnv(t, early, during, timer)
	ctx := context.Background()
	for _, name := range []string{"early", "during", "timer"} {
		if _, _, err := e.eng.StartRun(ctx, name, "r1", nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.eng.Signal(ctx, "early", "r1", "approve", json.RawMessage(`"before"`)); err != nil {
		t.Fatal(err)
	}
	close(gate)
	e.waitCurrent(t, "during", "r1", "any/")
	if _, _, err := e.eng.Signal(ctx, "during", "r1", "approve", json.RawMessage(`"during"`)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"early": `0:"before"`, "during": `0:"during"`, "timer": "1:null"} {
		if got := e.result(t, name, "r1"); got != want {
			t.Errorf("%s: result %q, want %q", name, got, want)
		}
	}
}

// WaitAny parked: the run parks on both cases (status waiting, the actor
// asleep); a signal wakes it and wins, or the timer's alarm does.
func TestWaitAnyParked(t *testing.T) {
	t.Parallel()
	opts := workflows.Options{ParkAfter: 50 * time.Millisecond}
	sig := waiter("sig", time.Hour, opts, nil)
	timer := waiter("alarm", time.Second, opts, nil)
	e := newScheduledEnv(t, sig, timer)
	ctx := context.Background()
	for _, name := range []string{"sig", "alarm"} {
		if _, _, err := e.eng.StartRun(ctx, name, "r1", nil); err != nil {
			t.Fatal(err)
		}
	}
	run := e.waitStatus(t, "sig", "r1", workflows.StatusWaiting)
	e.waitAsleep(t, run.ActorID)
	if _, status, err := e.eng.Signal(ctx, "sig", "r1", "approve", json.RawMessage(`"late"`)); err != nil || status != workflows.StatusRunning {
		t.Fatalf("signal: status %s, %v", status, err)
	}
	if got := e.result(t, "sig", "r1"); got != `0:"late"` {
		t.Errorf("signal after the park: result %q", got)
	}
	e.waitStatus(t, "alarm", "r1", workflows.StatusWaiting)
	if got := e.result(t, "alarm", "r1"); got != "1:null" {
		t.Errorf("timer after the park: result %q", got)
	}
}

// A Join whose branches all sleep past ParkAfter parks the run once, on
// all their sleeps (with a third branch waiting for a slot); after the
// wake every branch completes and no completed step runs again.
func TestJoinParksOnce(t *testing.T) {
	t.Parallel()
	var execs atomic.Int32
	var pre, post [3]atomic.Int32
	wf := workflows.Define("napjoin", func(w *workflows.W, _ struct{}) (int, error) {
		execs.Add(1)
		until, err := workflows.Step(w, "until", func(context.Context, *workflows.StepContext) (time.Time, error) {
			return time.Now().Add(2 * time.Second), nil
		})
		if err != nil {
			return 0, err
		}
		branches := make([]workflows.Branch[int], 3)
		for i := range branches {
			branches[i] = workflows.Branch[int]{Name: fmt.Sprint("b", i), Run: func(w *workflows.W) (int, error) {
				if _, err := workflows.Step(w, "pre", func(context.Context, *workflows.StepContext) (int, error) {
					return int(pre[i].Add(1)), nil
				}); err != nil {
					return 0, err
				}
				if err := w.SleepUntil("nap", until); err != nil {
					return 0, err
				}
				return workflows.Step(w, "post", func(context.Context, *workflows.StepContext) (int, error) {
					post[i].Add(1)
					return i, nil
				})
			}}
		}
		vs, err := workflows.Join(w, "all", branches, workflows.JoinOptions{Concurrency: 2})
		if err != nil {
			return 0, err
		}
		return vs[0] + vs[1] + vs[2], nil
	}, workflows.Options{ParkAfter: 100 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.waitStatus(t, "napjoin", "r1", workflows.StatusSleeping)
	e.waitAsleep(t, run.ActorID)
	run = e.wait(t, "napjoin", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 3 {
		t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	for i := range pre {
		if pre[i].Load() != 1 || post[i].Load() != 1 {
			t.Errorf("branch %d: pre ran %d, post %d times; want once each", i, pre[i].Load(), post[i].Load())
		}
	}
	if n := execs.Load(); n != 2 {
		t.Errorf("the workflow function ran %d times, want 2 (one park)", n)
	}
}

// A branch blocked on a long sleep waits in memory while its sibling
// runs; when the sibling ends, the run parks on the sleep alone, and the
// alarm completes it.
func TestJoinParksWhenSiblingEnds(t *testing.T) {
	t.Parallel()
	var execs, quick atomic.Int32
	gate := make(chan struct{})
	wf := workflows.Define("napquick", func(w *workflows.W, _ struct{}) (string, error) {
		execs.Add(1)
		vs, err := workflows.Join(w, "all", []workflows.Branch[string]{
			{Name: "long", Run: func(w *workflows.W) (string, error) {
				return "slept", w.Sleep("nap", 1500*time.Millisecond)
			}},
			{Name: "quick", Run: func(w *workflows.W) (string, error) {
				return workflows.Step(w, "work", func(context.Context, *workflows.StepContext) (string, error) {
					<-gate
					quick.Add(1)
					return "worked", nil
				})
			}},
		})
		if err != nil {
			return "", err
		}
		return vs[0] + "+" + vs[1], nil
	}, workflows.Options{ParkAfter: 100 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	e.waitCurrent(t, "napquick", "r1", "all/long/nap")
	if run, err := e.eng.Get(context.Background(), "napquick", "r1"); err != nil || run.Status != workflows.StatusRunning {
		t.Fatalf("with a branch running the run is %s (%v), want running", run.Status, err)
	}
	close(gate)
	e.waitStatus(t, "napquick", "r1", workflows.StatusSleeping)
	if got := e.result(t, "napquick", "r1"); got != "slept+worked" {
		t.Fatalf("result %q", got)
	}
	if execs.Load() != 2 || quick.Load() != 1 {
		t.Fatalf("the function ran %d times (want 2), the quick step %d (want 1)", execs.Load(), quick.Load())
	}
}
