package workflows_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// Go runs a branch while the caller goes on; Await returns its result, and
// a replay after a restart returns the recorded ones without running the
// steps again. The caller's park waits for a running future: its step is
// not cut (it runs once).
func TestGoFutures(t *testing.T) {
	t.Parallel()
	var runs [3]atomic.Int32
	release := make(chan struct{})
	wf := workflows.Define("futures", func(w *workflows.W, in int) (int, error) {
		step := func(i int, wait bool) func(w *workflows.W) (int, error) {
			return func(bw *workflows.W) (int, error) {
				return workflows.Step(bw, "s", func(ctx context.Context, s *workflows.StepContext) (int, error) {
					runs[i].Add(1)
					if wait {
						select {
						case <-release:
						case <-ctx.Done():
							return 0, ctx.Err()
						}
					}
					return (i + 1) * 10, nil
				})
			}
		}
		a := workflows.Go(w, "a", step(0, false))
		b := workflows.Go(w, "b", step(1, true))
		mid, err := workflows.Step(w, "mid", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			runs[2].Add(1)
			return 1, nil
		})
		if err != nil {
			return 0, err
		}
		// Parks only once b is done: b's step must not be cut.
		if _, _, err := w.WaitSignal("gate", "go", 0); err != nil {
			return 0, err
		}
		ra, err := a.Await()
		if err != nil {
			return 0, err
		}
		rb, err := b.Await()
		if err != nil {
			return 0, err
		}
		return ra + rb + mid, nil
	}, workflows.Options{ParkAfter: 50 * time.Millisecond})
	e := newScheduledEnv(t, wf)
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "futures", "r1", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // several ParkAfter periods with b running
	if run, _ := e.eng.Get(ctx, "futures", "r1"); run.Status != workflows.StatusRunning {
		t.Fatalf("run %+v parked while a future ran", run)
	}
	close(release)
	e.waitStatus(t, "futures", "r1", workflows.StatusWaiting)
	e.restart(t)
	if _, _, err := e.eng.Signal(ctx, "futures", "r1", "go", nil); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "futures", "r1")
	if run.Status != workflows.StatusCompleted || string(run.Result) != "31" {
		t.Fatalf("run %+v (%+v), want completed with 31", run, run.Error)
	}
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Fatalf("step %d ran %d times, want once", i, n)
		}
	}
}
