package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WaitCase is one thing WaitAny waits for: build it with OnSignal, OnTimer
// or OnStep.
type WaitCase struct {
	branch string
	run    func(w *W) (json.RawMessage, error)
}

// OnSignal is a WaitAny case taking the signal named signal; its value is
// the signal's payload. A signal sent before the wait is taken at once.
func OnSignal(signal string) WaitCase {
	return WaitCase{branch: "signal:" + signal, run: func(w *W) (json.RawMessage, error) {
		payload, _, err := w.WaitSignal("wait", signal, 0)
		return payload, err
	}}
}

// OnTimer is a WaitAny case that fires after d (a durable sleep: the
// timeout branch); its value is null.
func OnTimer(d time.Duration) WaitCase {
	return WaitCase{branch: "timer", run: func(w *W) (json.RawMessage, error) {
		if err := w.Sleep("sleep", d); err != nil {
			return nil, err
		}
		return json.RawMessage("null"), nil
	}}
}

// OnStep is a WaitAny case running fn as the journaled step name (for
// instance a poll); its value is fn's result as JSON. A step that fails
// fails the WaitAny if it finishes first.
func OnStep(name string, fn func(ctx context.Context, s *StepContext) (any, error), opts ...StepOptions) WaitCase {
	return WaitCase{branch: "step:" + name, run: func(w *W) (json.RawMessage, error) {
		return Step(w, name, func(ctx context.Context, s *StepContext) (json.RawMessage, error) {
			v, err := fn(ctx, s)
			if err != nil {
				return nil, err
			}
			return json.Marshal(v)
		}, opts...)
	}}
}

// WaitAny waits for the first of cases, as the journaled race name (sugar
// over Race, design §3.3), and returns the index of the case that won and
// its value: a signal's payload, null for a timer, a step's result. The
// others are cancelled. While nothing has happened the run waits in memory
// or, past Options.ParkAfter, parks on all the cases at once: a matching
// signal or the timer's alarm runs it again. A replay returns the recorded
// winner at once. Each case is a branch named by its kind ("timer",
// "signal:<name>", "step:<name>"), so two cases of the same kind and name
// are refused.
func (w *W) WaitAny(name string, cases ...WaitCase) (index int, value json.RawMessage, err error) {
	if err := w.failed(); err != nil {
		return -1, nil, err
	}
	branches := make([]Branch[json.RawMessage], len(cases))
	for i, c := range cases {
		if c.run == nil {
			return -1, nil, w.fail(fmt.Errorf("workflows: WaitAny %s: case %d is empty (use OnSignal, OnTimer or OnStep)", name, i))
		}
		branches[i] = Branch[json.RawMessage]{Name: c.branch, Run: c.run}
	}
	winner, v, err := Race(w, name, branches)
	if err != nil {
		return -1, nil, err
	}
	for i, b := range branches {
		if b.Name == winner {
			return i, v, nil
		}
	}
	return -1, nil, w.fail(fmt.Errorf("%w: WaitAny %s: the journal's winner %q is none of the cases", ErrNondeterminism, name, winner))
}
