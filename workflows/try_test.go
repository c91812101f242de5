package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// tryOutcome is what the try workflow reports of its blocks.
type tryOutcome struct {
	StepOK    bool   `json:"stepOk"`
	StepCode  string `json:"stepCode"`
	StepKind  string `json:"stepKind"`
	JoinOK    bool   `json:"joinOk"`
	JoinStep  string `json:"joinStep"`
	JoinValue int    `json:"joinValue"`
	Good      int    `json:"good"`
	After     string `json:"after"`
}

// TryStep and Try catch failing steps (and a failing Join) without failing
// the run, which goes on; each failed step ran once.
func TestTry(t *testing.T) {
	t.Parallel()
	var bad, joined, good atomic.Int32
	wf := workflows.Define("trier", func(w *workflows.W, _ int) (tryOutcome, error) {
		var out tryOutcome
		r := workflows.TryStep(w, "bad", func(context.Context, *workflows.StepContext) (int, error) {
			bad.Add(1)
			return 0, workflows.NonRetryable(errors.New("no such thing"))
		})
		if !r.OK && r.Failure == nil {
			return out, r.Err
		}
		out.StepOK = r.OK
		if r.Failure != nil {
			out.StepCode, out.StepKind = r.Failure.Code, string(r.Failure.Kind)
		}
		jr := workflows.Try(w, "fanout", func(w *workflows.W) (int, error) {
			vs, err := workflows.Join(w, "both", []workflows.Branch[int]{
				{Name: "ok", Run: func(w *workflows.W) (int, error) {
					return workflows.Step(w, "one", func(context.Context, *workflows.StepContext) (int, error) { return 1, nil })
				}},
				{Name: "fails", Run: func(w *workflows.W) (int, error) {
					return workflows.Step(w, "two", func(context.Context, *workflows.StepContext) (int, error) {
						joined.Add(1)
						return 0, workflows.NonRetryable(fmt.Errorf("two broke"))
					})
				}},
			})
			if err != nil {
				return 0, err
			}
			return vs[0] + vs[1], nil
		})
		if !jr.OK && jr.Failure == nil {
			return out, jr.Err
		}
		out.JoinOK, out.JoinValue = jr.OK, jr.Value
		if jr.Failure != nil {
			out.JoinStep = jr.Failure.Step
		}
		g := workflows.TryStep(w, "good", func(context.Context, *workflows.StepContext) (int, error) {
			good.Add(1)
			return 7, nil
		})
		if !g.OK {
			return out, g.Err
		}
		out.Good = g.Value
		var err error
		out.After, err = stepNamed(w, "after")
		return out, err
	})
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 0); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "trier", "r1")
	got, err := workflows.Result(wf, run)
	want := tryOutcome{StepCode: "step_failed", StepKind: "critical", JoinStep: "fanout/both/fails/two", Good: 7, After: "after"}
	if err != nil || got != want {
		t.Fatalf("result %+v, %v, want %+v (run %+v, error %+v)", got, err, want, run, run.Error)
	}
	if bad.Load() != 1 || joined.Load() != 1 || good.Load() != 1 {
		t.Fatalf("steps ran bad %d, joined %d, good %d times; want once each", bad.Load(), joined.Load(), good.Load())
	}
}
