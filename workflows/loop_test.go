package workflows_test

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// loopState is the state of the test loops: the next iteration and the
// sum so far.
type loopState struct {
	I   int `json:"i"`
	Sum int `json:"sum"`
}

// journalKeys returns the KV keys of run runID's journal (all epochs) as
// its actor's log has them.
func (e *env) journalKeys(t *testing.T, name, runID string) []string {
	t.Helper()
	run, err := e.eng.Get(context.Background(), name, runID)
	if err != nil {
		t.Fatal(err)
	}
	im, err := e.rt.ImageAt(context.Background(), run.ActorID, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range im.KV {
		if strings.HasPrefix(k, "j/") {
			keys = append(keys, k)
		}
	}
	return keys
}

// A loop resumes after a restart at the iteration it was in, with its
// recorded state, without running finished iterations again; old
// iterations' journal is pruned as it goes, and all of it at the break.
func TestLoopResumesAndPrunes(t *testing.T) {
	t.Parallel()
	const n, stuck = 50, 25
	var runs [n]atomic.Int32
	entered := make(chan struct{}, 1)
	wf := workflows.Define("looper", func(w *workflows.W, n int) (int, error) {
		return workflows.Loop(w, "main", loopState{}, func(w *workflows.W, s loopState) (workflows.LoopResult[loopState, int], error) {
			if s.I == n {
				return workflows.Break[loopState](s.Sum), nil
			}
			v, err := workflows.Step(w, "add", func(ctx context.Context, _ *workflows.StepContext) (int, error) {
				if runs[s.I].Add(1) == 1 && s.I == stuck {
					entered <- struct{}{}
					<-ctx.Done() // until the restart
					return 0, ctx.Err()
				}
				return s.I, nil
			})
			if err != nil {
				return workflows.LoopResult[loopState, int]{}, err
			}
			return workflows.Continue[loopState, int](loopState{I: s.I + 1, Sum: s.Sum + v}), nil
		}, workflows.LoopOptions{PruneEvery: 10})
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", n); err != nil {
		t.Fatal(err)
	}
	<-entered
	// Pruned at iteration 20 down to the latest 10: the loop entry and the
	// steps of iterations 10 to 24.
	if keys := e.journalKeys(t, "looper", "r1"); len(keys) != 16 {
		t.Fatalf("journal at iteration %d holds %d keys, want 16: %v", stuck, len(keys), keys)
	}
	e.restart(t)
	run := e.wait(t, "looper", "r1")
	got, err := workflows.Result(wf, run)
	if err != nil || got != n*(n-1)/2 {
		t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	for i := range runs {
		want := int32(1)
		if i == stuck {
			want = 2
		}
		if r := runs[i].Load(); r != want {
			t.Errorf("iteration %d's step ran %d times, want %d", i, r, want)
		}
	}
	if run.Steps != n {
		t.Errorf("steps %d, want %d", run.Steps, n)
	}
	if keys := e.journalKeys(t, "looper", "r1"); len(keys) != 1 || keys[0] != "j/0/main" {
		t.Errorf("journal after the break: %v, want only the loop entry", keys)
	}
	// A replay of the finished loop runs no iteration.
	e.restart(t)
	if run := e.wait(t, "looper", "r1"); run.Status != workflows.StatusCompleted {
		t.Fatalf("run %+v", run)
	}
}

// A loop's iteration that diverges from its journal fails the run with
// nondeterminism; an error the iteration returns ends the loop with it.
func TestLoopIterationError(t *testing.T) {
	t.Parallel()
	wf := workflows.Define("loopfail", func(w *workflows.W, _ int) (int, error) {
		return workflows.Loop(w, "main", 0, func(w *workflows.W, s int) (workflows.LoopResult[int, int], error) {
			if s == 3 {
				return workflows.LoopResult[int, int]{}, &workflows.Error{Code: "too_far", Message: "three is too far"}
			}
			return workflows.Continue[int, int](s + 1), nil
		})
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 0); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "loopfail", "r1")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "too_far" {
		t.Fatalf("run %+v, error %+v", run, run.Error)
	}
}
