package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// waitSteps polls run runID of name until it has journaled n completed
// steps.
func (e *env) waitSteps(t *testing.T, name, runID string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Steps >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s has %d steps, want %d", runID, name, run.Steps, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// holdOnce is a step that, the first time it runs, signals entered and
// blocks until the runtime stops, and then returns v.
func holdOnce(w *workflows.W, n *atomic.Int32, entered chan<- struct{}, v int) (int, error) {
	return workflows.Step(w, "hold", func(ctx context.Context, s *workflows.StepContext) (int, error) {
		if n.Add(1) == 1 {
			entered <- struct{}{}
			<-ctx.Done()
			return 0, ctx.Err()
		}
		return v, nil
	})
}

// TestJoinBounded fans out 100 steps with Concurrency 8: at most 8 step
// functions run at once (and more than one), the results come in branch
// order, each step runs once; after a restart the join is answered from its
// entry without running a branch again.
func TestJoinBounded(t *testing.T) {
	t.Parallel()
	const n = 100
	var running, high, branchRuns, holds atomic.Int32
	var stepRuns [n]atomic.Int32
	entered := make(chan struct{}, 1)
	wf := workflows.Define("fan", func(w *workflows.W, _ struct{}) ([]int, error) {
		branches := make([]workflows.Branch[int], n)
		for i := range branches {
			branches[i] = workflows.Branch[int]{Name: fmt.Sprintf("b%d", i), Run: func(w *workflows.W) (int, error) {
				branchRuns.Add(1)
				return workflows.Step(w, "square", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					cur := running.Add(1)
					defer running.Add(-1)
					for {
						h := high.Load()
						if cur <= h || high.CompareAndSwap(h, cur) {
							break
						}
					}
					stepRuns[i].Add(1)
					time.Sleep(5 * time.Millisecond)
					return i * i, nil
				})
			}}
		}
		rs, err := workflows.Join(w, "fan", branches, workflows.JoinOptions{Concurrency: 8})
		if err != nil {
			return nil, err
		}
		if _, err := holdOnce(w, &holds, entered, 0); err != nil {
			return nil, err
		}
		return rs, nil
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	if h := high.Load(); h > 8 || h < 2 {
		t.Fatalf("high-water mark of running steps = %d, want 2..8", h)
	}
	if got := branchRuns.Load(); got != n {
		t.Fatalf("branches ran %d times, want %d", got, n)
	}
	e.restart(t)
	run := e.wait(t, "fan", "r1")
	rs, err := workflows.Result(wf, run)
	if err != nil || len(rs) != n {
		t.Fatalf("result %v, err %v (run %+v, error %+v)", rs, err, run, run.Error)
	}
	for i, r := range rs {
		if r != i*i {
			t.Fatalf("result[%d] = %d, want %d", i, r, i*i)
		}
		if c := stepRuns[i].Load(); c != 1 {
			t.Fatalf("step of branch %d ran %d times", i, c)
		}
	}
	if got := branchRuns.Load(); got != n {
		t.Fatalf("branches ran %d times after the restart, want %d (the join is journaled)", got, n)
	}
	if run.Steps != n+1 || holds.Load() != 2 {
		t.Fatalf("steps = %d, hold ran %d times", run.Steps, holds.Load())
	}
	t.Logf("high-water mark %d", high.Load())
}

// TestJoinFailureCancels fails one branch with a non-retryable error: the
// other branches' contexts are cancelled and the run fails with the
// JoinError's message, which names the failed branch only.
func TestJoinFailureCancels(t *testing.T) {
	t.Parallel()
	var cancelled atomic.Int32
	started := make(chan struct{}, 2)
	joinErr := make(chan error, 1)
	slow := func(w *workflows.W) (string, error) {
		return workflows.Step(w, "slow", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				cancelled.Add(1)
				return "", ctx.Err()
			case <-time.After(20 * time.Second):
				return "late", nil
			}
		})
	}
	wf := workflows.Define("failing-join", func(w *workflows.W, _ struct{}) ([]string, error) {
		rs, err := workflows.Join(w, "fan", []workflows.Branch[string]{
			{Name: "a", Run: slow},
			{Name: "bad", Run: func(w *workflows.W) (string, error) {
				return workflows.Step(w, "boom", func(ctx context.Context, s *workflows.StepContext) (string, error) {
					<-started
					<-started
					return "", workflows.NonRetryable(errors.New("no such tool"))
				})
			}},
			{Name: "c", Run: slow},
		})
		joinErr <- err
		return rs, err
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "failing-join", "r1")
	err := <-joinErr
	var je *workflows.JoinError
	if !errors.As(err, &je) || je.Kind != workflows.KindJoin || je.Path != "fan" || len(je.Branches) != 1 || je.Branches[0].Branch != "bad" {
		t.Fatalf("Join error = %#v", err)
	}
	var se *workflows.StepError
	if !errors.As(err, &se) || se.Step != "fan/bad/boom" {
		t.Fatalf("Join error %v does not wrap the step's", err)
	}
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Message != err.Error() {
		t.Fatalf("run = %+v, error %+v, want message %q", run, run.Error, err)
	}
	for _, want := range []string{`join "fan"`, `branch "bad"`, "no such tool"} {
		if !strings.Contains(run.Error.Message, want) {
			t.Errorf("message %q does not contain %q", run.Error.Message, want)
		}
	}
	if strings.Contains(run.Error.Message, `branch "a"`) || strings.Contains(run.Error.Message, `branch "c"`) {
		t.Errorf("message %q names a cancelled branch", run.Error.Message)
	}
	if n := cancelled.Load(); n != 2 {
		t.Fatalf("%d slow branches saw their context cancelled, want 2", n)
	}
}

// TestRace lets a fast branch beat a slow one: the slow branch's context is
// cancelled, and after a restart the race returns the same winner without
// running either branch again.
func TestRace(t *testing.T) {
	t.Parallel()
	var fastRuns, slowRuns, holds atomic.Int32
	slowCancelled := make(chan struct{})
	slowStarted := make(chan struct{})
	entered := make(chan struct{}, 1)
	type out struct {
		Winner string `json:"winner"`
		Value  int    `json:"value"`
	}
	wf := workflows.Define("racing", func(w *workflows.W, _ struct{}) (out, error) {
		winner, v, err := workflows.Race(w, "race", []workflows.Branch[int]{
			{Name: "slow", Run: func(w *workflows.W) (int, error) {
				slowRuns.Add(1)
				if _, err := workflows.Step(w, "prep", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					return 1, nil
				}); err != nil {
					return 0, err
				}
				return workflows.Step(w, "think", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					close(slowStarted)
					<-ctx.Done()
					close(slowCancelled)
					return 0, ctx.Err()
				})
			}},
			{Name: "fast", Run: func(w *workflows.W) (int, error) {
				fastRuns.Add(1)
				return workflows.Step(w, "answer", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					<-slowStarted
					return 42, nil
				})
			}},
		})
		if err != nil {
			return out{}, err
		}
		if _, err := holdOnce(w, &holds, entered, 0); err != nil {
			return out{}, err
		}
		return out{winner, v}, nil
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	select {
	case <-slowCancelled:
	default:
		t.Fatal("the race returned before the slow branch's context was cancelled")
	}
	e.restart(t)
	run := e.wait(t, "racing", "r1")
	got, err := workflows.Result(wf, run)
	if err != nil || got != (out{"fast", 42}) {
		t.Fatalf("result %+v, err %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if f, s := fastRuns.Load(), slowRuns.Load(); f != 1 || s != 1 {
		t.Fatalf("branches ran fast %d, slow %d times, want 1 and 1", f, s)
	}
	// prep (the loser's partial entry), answer and hold: prep is skipped on
	// replay, not reported missing.
	if run.Steps != 3 {
		t.Fatalf("steps = %d, want 3", run.Steps)
	}
}

// TestBranchNondeterminism resumes a join with code whose branch calls
// another step than its journal records: the run fails with code
// nondeterminism and a message naming both calls.
func TestBranchNondeterminism(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	wait := func(w *workflows.W) (string, error) {
		return workflows.Step(w, "wait", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return "", ctx.Err()
		})
	}
	step := func(name string) func(w *workflows.W) (string, error) {
		return func(w *workflows.W) (string, error) {
			return workflows.Step(w, name, func(ctx context.Context, s *workflows.StepContext) (string, error) {
				return name, nil
			})
		}
	}
	define := func(first string) *workflows.Workflow[struct{}, []string] {
		return workflows.Define("drifting-join", func(w *workflows.W, _ struct{}) ([]string, error) {
			return workflows.Join(w, "fan", []workflows.Branch[string]{{Name: "a", Run: step(first)}, {Name: "b", Run: wait}})
		})
	}
	v1, v2 := define("fetch"), define("fetch2")
	e := newEnv(t, v1)
	if _, _, err := workflows.Start(context.Background(), e.eng, v1, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	e.waitSteps(t, "drifting-join", "r1", 1)
	e.restart(t, v2)
	run := e.wait(t, "drifting-join", "r1")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "nondeterminism" {
		t.Fatalf("run = %+v, error %+v", run, run.Error)
	}
	for _, want := range []string{`step "fetch2"`, `step "fetch"`, `scope "fan/a"`, `branch "a"`} {
		if !strings.Contains(run.Error.Message, want) {
			t.Errorf("message %q does not contain %q", run.Error.Message, want)
		}
	}
}

// TestJoinLargeResults joins results too large for the join entry: the
// join is journaled without them, and a replay re-runs the branches, whose
// steps return their journaled results without running again.
func TestJoinLargeResults(t *testing.T) {
	t.Parallel()
	var branchRuns, stepRuns, holds atomic.Int32
	entered := make(chan struct{}, 1)
	wf := workflows.Define("big-join", func(w *workflows.W, _ struct{}) (int, error) {
		branches := make([]workflows.Branch[string], 4)
		for i := range branches {
			branches[i] = workflows.Branch[string]{Name: fmt.Sprint("b", i), Run: func(w *workflows.W) (string, error) {
				branchRuns.Add(1)
				return workflows.Step(w, "blob", func(ctx context.Context, s *workflows.StepContext) (string, error) {
					stepRuns.Add(1)
					return strings.Repeat(fmt.Sprint(i), 70<<10), nil
				})
			}}
		}
		rs, err := workflows.Join(w, "fan", branches)
		if err != nil {
			return 0, err
		}
		total := 0
		for i, r := range rs {
			if r[0] != byte('0'+i) {
				return 0, fmt.Errorf("result %d out of order", i)
			}
			total += len(r)
		}
		return holdOnce(w, &holds, entered, total)
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	e.restart(t)
	run := e.wait(t, "big-join", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 4*70<<10 {
		t.Fatalf("result %d, err %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if b, s := branchRuns.Load(), stepRuns.Load(); b != 8 || s != 4 {
		t.Fatalf("branches ran %d times (want 8: once per execution), steps %d (want 4)", b, s)
	}
}

// TestJoinBranchParks sleeps in one branch past ParkAfter: the run parks
// and resumes at the alarm, and the join completes with both results.
func TestJoinBranchParks(t *testing.T) {
	t.Parallel()
	var naps atomic.Int32
	wf := workflows.Define("napping-join", func(w *workflows.W, _ struct{}) ([]int, error) {
		return workflows.Join(w, "fan", []workflows.Branch[int]{
			{Name: "nap", Run: func(w *workflows.W) (int, error) {
				naps.Add(1)
				if err := w.Sleep("nap", 300*time.Millisecond); err != nil {
					return 0, err
				}
				return 1, nil
			}},
			{Name: "work", Run: func(w *workflows.W) (int, error) {
				return workflows.Step(w, "work", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					return 2, nil
				})
			}},
		})
	}, workflows.Options{ParkAfter: 50 * time.Millisecond})
	e := newScheduledEnv(t, wf) // alarms fire (sleep_test.go)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "napping-join", "r1")
	if got, err := workflows.Result(wf, run); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Fatalf("result %v, err %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if n := naps.Load(); n < 2 {
		t.Fatalf("the nap branch ran %d times: the run did not park", n)
	}
}
