package workflows_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// TestResumeAfterRestart stops the runtime while the third step runs: the
// engine's startup resume re-executes the run from the top, replays the
// two completed steps without running them, and runs the third again (at
// least once).
func TestResumeAfterRestart(t *testing.T) {
	t.Parallel()
	var one, two, three atomic.Int32
	entered := make(chan struct{}, 1)
	nows := make(chan time.Time, 2) // w.Now() after step two, per execution
	wf := workflows.Define("resumable", func(w *workflows.W, in int) (int, error) {
		a, err := workflows.Step(w, "one", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			one.Add(1)
			return in + 1, nil
		})
		if err != nil {
			return 0, err
		}
		b, err := workflows.Step(w, "two", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			two.Add(1)
			return a * 10, nil
		})
		if err != nil {
			return 0, err
		}
		nows <- w.Now()
		return workflows.Step(w, "three", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			if three.Add(1) == 1 {
				entered <- struct{}{}
				<-ctx.Done() // until the runtime stops
				return 0, ctx.Err()
			}
			return b + 5, nil
		})
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", 1); err != nil {
		t.Fatal(err)
	}
	<-entered
	run, err := e.eng.Get(ctx, "resumable", "r1")
	if err != nil || run.Status != workflows.StatusRunning || run.Steps != 2 || run.Current != "two" {
		t.Fatalf("before restart: %+v, %v", run, err)
	}
	e.restart(t)
	run = e.wait(t, "resumable", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != 25 {
		t.Fatalf("result %d, err %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	if a, b, c := one.Load(), two.Load(), three.Load(); a != 1 || b != 1 || c != 2 {
		t.Fatalf("step runs = %d %d %d, want 1 1 2", a, b, c)
	}
	if run.Steps != 3 {
		t.Fatalf("steps = %d", run.Steps)
	}
	first, second := <-nows, <-nows
	if first.IsZero() || !first.Equal(second) || first.Before(run.CreatedAt) {
		t.Fatalf("w.Now() after step two: %v, then on replay %v (created %v)", first, second, run.CreatedAt)
	}
}

// TestNondeterminism resumes a run recorded by one version of the code with
// another that calls a different step first: the run fails with code
// nondeterminism and a message naming both steps.
func TestNondeterminism(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	v1 := workflows.Define("drifting", func(w *workflows.W, _ struct{}) (string, error) {
		if _, err := workflows.Step(w, "fetch", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			return "page", nil
		}); err != nil {
			return "", err
		}
		return workflows.Step(w, "wait", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			entered <- struct{}{}
			<-ctx.Done()
			return "", ctx.Err()
		})
	})
	var ran atomic.Int32
	v2 := workflows.Define("drifting", func(w *workflows.W, _ struct{}) (string, error) {
		return workflows.Step(w, "fetch2", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			ran.Add(1)
			return "other", nil
		})
	})
	e := newEnv(t, v1)
	if _, _, err := workflows.Start(context.Background(), e.eng, v1, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	<-entered
	e.restart(t, v2)
	run := e.wait(t, "drifting", "r1")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "nondeterminism" {
		t.Fatalf("run = %+v, error %+v", run, run.Error)
	}
	msg := run.Error.Message
	for _, want := range []string{`run r1 (drifting)`, `step "fetch2"`, `step "fetch"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not contain %q", msg, want)
		}
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("the diverging step ran %d times", n)
	}
}
