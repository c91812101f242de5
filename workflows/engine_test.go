package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

type order struct {
	Item string `json:"item"`
	Qty  int    `json:"qty"`
}

type receipt struct {
	Summary string `json:"summary"`
	Steps   int    `json:"steps"`
}

// counters counts the runs of each step function.
type counters struct{ a, b, c atomic.Int32 }

func threeSteps(name string, n *counters) *workflows.Workflow[order, receipt] {
	return workflows.Define(name, func(w *workflows.W, in order) (receipt, error) {
		price, err := workflows.Step(w, "price", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			n.a.Add(1)
			return 7 * in.Qty, nil
		})
		if err != nil {
			return receipt{}, err
		}
		id, err := workflows.Step(w, "charge", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			n.b.Add(1)
			return s.ID(), nil
		})
		if err != nil {
			return receipt{}, err
		}
		msg, err := workflows.Step(w, "ship", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			n.c.Add(1)
			return fmt.Sprintf("%d x %s for %d (%s)", in.Qty, in.Item, price, id), nil
		})
		return receipt{Summary: msg, Steps: 3}, err
	})
}

func TestThreeStepsComplete(t *testing.T) {
	t.Parallel()
	var n counters
	wf := threeSteps("order", &n)
	e := newEnv(t, wf)
	ctx := context.Background()
	run, created, err := workflows.Start(ctx, e.eng, wf, "r1", order{Item: "tea", Qty: 3})
	if err != nil || !created {
		t.Fatalf("start: created %v, err %v", created, err)
	}
	if run.RunID != "r1" || run.Workflow != "order" {
		t.Fatalf("run = %+v", run)
	}
	run = e.wait(t, "order", "r1")
	if run.Status != workflows.StatusCompleted || run.Error != nil {
		t.Fatalf("run = %+v (error %+v)", run, run.Error)
	}
	got, err := workflows.Result(wf, run)
	if err != nil {
		t.Fatal(err)
	}
	want := "3 x tea for 21 (" + run.ActorID + "/0/charge)"
	if got.Summary != want || got.Steps != 3 {
		t.Fatalf("result = %+v, want summary %q", got, want)
	}
	if run.Steps != 3 || run.Current != "ship" || run.EndedAt.IsZero() {
		t.Fatalf("run = %+v", run)
	}
	if a, b, c := n.a.Load(), n.b.Load(), n.c.Load(); a != 1 || b != 1 || c != 1 {
		t.Fatalf("step runs = %d %d %d, want 1 each", a, b, c)
	}

	// A second start of the same run ID finds the run.
	again, created, err := e.eng.StartRun(ctx, "order", "r1", []byte(`{"item":"other","qty":1}`))
	if err != nil || created {
		t.Fatalf("second start: created %v, err %v", created, err)
	}
	if again.Status != workflows.StatusCompleted || string(again.Result) != string(run.Result) {
		t.Fatalf("second start = %+v", again)
	}
	if a := n.a.Load(); a != 1 {
		t.Fatalf("step price ran %d times", a)
	}
}

func TestStartRunErrors(t *testing.T) {
	t.Parallel()
	var n counters
	e := newEnv(t, threeSteps("order2", &n))
	ctx := context.Background()
	if _, _, err := e.eng.StartRun(ctx, "nope", "r1", nil); !errors.Is(err, workflows.ErrWorkflowNotFound) {
		t.Fatalf("unknown workflow: %v", err)
	}
	if _, _, err := e.eng.StartRun(ctx, "order2", "bad/id", nil); !errors.Is(err, workflows.ErrInvalidRunID) {
		t.Fatalf("bad run ID: %v", err)
	}
	if _, err := e.eng.Get(ctx, "order2", "missing"); !errors.Is(err, workflows.ErrRunNotFound) {
		t.Fatalf("missing run: %v", err)
	}
}

func TestStepRetriesThenSucceeds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	wf := workflows.Define("flaky", func(w *workflows.W, _ struct{}) (int, error) {
		return workflows.Step(w, "call", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			calls.Add(1)
			if s.Attempt() < 3 {
				return 0, errors.New("503 from upstream")
			}
			return s.Attempt(), nil
		}, workflows.StepOptions{BackoffBase: time.Millisecond})
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "flaky", "r1")
	attempt, err := workflows.Result(wf, run)
	if err != nil || attempt != 3 {
		t.Fatalf("result %d, err %v (run %+v)", attempt, err, run)
	}
	if c := calls.Load(); c != 3 {
		t.Fatalf("step ran %d times, want 3", c)
	}
}

func TestStepFailures(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var exhausted atomic.Int32
	wf := workflows.Define("fragile", func(w *workflows.W, in string) (string, error) {
		if in == "exhaust" {
			return workflows.Step(w, "always", func(ctx context.Context, s *workflows.StepContext) (string, error) {
				exhausted.Add(1)
				return "", errors.New("still down")
			}, workflows.StepOptions{MaxRetries: 2, BackoffBase: time.Millisecond})
		}
		_, err := workflows.Step(w, "validate", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			calls.Add(1)
			return "", workflows.NonRetryable(errors.New("card declined"))
		})
		var se *workflows.StepError
		if !errors.As(err, &se) {
			return "", fmt.Errorf("step returned %v, want a *StepError", err)
		}
		// Swallowing the error does not save the run: the step failed it.
		return "ignored", nil
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "critical", "critical"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := workflows.Start(ctx, e.eng, wf, "exhaust", "exhaust"); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "fragile", "critical")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "step_failed" ||
		run.Error.Entry != "validate" || !strings.Contains(run.Error.Message, "non-retryable") ||
		!strings.Contains(run.Error.Message, "card declined") {
		t.Fatalf("run = %+v, error %+v", run, run.Error)
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("a non-retryable step ran %d times", c)
	}
	run = e.wait(t, "fragile", "exhaust")
	if run.Status != workflows.StatusFailed || run.Error == nil || !strings.Contains(run.Error.Message, "retries exhausted") ||
		!strings.Contains(run.Error.Message, "3 attempts") {
		t.Fatalf("run = %+v, error %+v", run, run.Error)
	}
	if c := exhausted.Load(); c != 3 {
		t.Fatalf("exhausted step ran %d times, want 3", c)
	}
}

func TestStepTimeoutIsNotRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	wf := workflows.Define("slow", func(w *workflows.W, _ struct{}) (string, error) {
		return workflows.Step(w, "hang", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			calls.Add(1)
			<-ctx.Done()
			return "", ctx.Err()
		}, workflows.StepOptions{Timeout: 20 * time.Millisecond})
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", struct{}{}); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "slow", "r1")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Entry != "hang" ||
		!strings.Contains(run.Error.Message, "timed out after 1 attempt") {
		t.Fatalf("run = %+v, error %+v", run, run.Error)
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("timed-out step ran %d times", c)
	}
}

func TestStatusAction(t *testing.T) {
	t.Parallel()
	var n counters
	wf := threeSteps("statusq", &n)
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", order{Item: "pen", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	e.wait(t, "statusq", "r1")
	h, err := e.rt.Client().Get(ctx, "statusq", []string{"r1"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := actors.Call[workflows.RunState](ctx, h, "status")
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.StatusCompleted || st.RunID != "r1" || st.Workflow != "statusq" || st.Steps != 3 {
		t.Fatalf("status() = %+v", st)
	}
	if a := n.a.Load(); a != 1 {
		t.Fatalf("waking a finished run ran step price again (%d runs)", a)
	}
}

func TestNonRetryableNil(t *testing.T) {
	if workflows.NonRetryable(nil) != nil {
		t.Fatal("NonRetryable(nil) is not nil")
	}
	err := workflows.NonRetryable(errors.New("boom"))
	if err.Error() != "boom" || errors.Unwrap(err).Error() != "boom" {
		t.Fatalf("NonRetryable(boom) = %v", err)
	}
}
