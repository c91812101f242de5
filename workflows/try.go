package workflows

import (
	"context"
	"errors"
	"fmt"
)

// TryResult is the outcome of a TryStep or Try: OK with Value, or the
// failure it caught.
type TryResult[T any] struct {
	OK    bool
	Value T
	// Failure is the step failure caught (the first *StepError in Err's
	// chain), nil when what failed was not a step (a Join whose branch
	// returned an error, fn's own error).
	Failure *StepError
	// Err is the error caught. When the run itself ends inside the block
	// (it parked, its runtime stops, its code diverged from the journal)
	// nothing is caught: OK is false, Failure nil, Err that error, and the
	// run's next journaled call returns it too; return it.
	Err error
}

// TryStep runs fn as the journaled step name (RivetKit tryStep): as Step,
// but its final failure (exhausted, non-retryable, timeout) does not fail
// the run: it is returned in the result (journaled, so a replay returns the
// same failure without running the step).
func TryStep[R any](w *W, name string, fn func(ctx context.Context, s *StepContext) (R, error), opts ...StepOptions) TryResult[R] {
	if err := w.failed(); err != nil {
		return TryResult[R]{Err: err}
	}
	sw := w.branch(w.ctx, w.scope) // the same scope, a failure of its own
	r, err := Step(sw, name, fn, opts...)
	w.visited(Entry{At: sw.Now()})
	if f := sw.failed(); f != nil {
		err = f
	}
	return caught(w, r, err)
}

// Try runs fn with a W scoped at name (RivetKit try): a step, Join or Race
// failing inside it, or fn returning an error, ends the block without
// failing the run; the failure is returned in the result. The calls fn
// journals live under name/, and replay the same outcome.
func Try[T any](w *W, name string, fn func(w *W) (T, error)) TryResult[T] {
	if err := w.failed(); err != nil {
		return TryResult[T]{Err: err}
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return TryResult[T]{Err: w.fail(err)}
	}
	tw := w.branch(w.ctx, p)
	r, err := runTry(tw, fn)
	w.visited(Entry{At: tw.Now()})
	if f := tw.failed(); f != nil {
		err = f
	}
	if err == nil {
		err = tw.nondeterminism(w.replay.Complete(p))
	}
	return caught(w, r, err)
}

// runTry calls fn, turning a panic into its error.
func runTry[T any](tw *W, fn func(w *W) (T, error)) (r T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("try %s panicked: %v", tw.scope, p)
		}
	}()
	return fn(tw)
}

// caught builds the result of a block that ended with err, passing to w
// what ends the run rather than the block: unwinding (parked, stopping,
// continued as new) and nondeterminism.
func caught[T any](w *W, r T, err error) TryResult[T] {
	if err == nil {
		return TryResult[T]{OK: true, Value: r}
	}
	if unwinding(err) || errors.Is(err, ErrNondeterminism) ||
		errors.Is(err, ErrCancelled) || w.ctx.Err() != nil {
		return TryResult[T]{Err: w.fail(err)}
	}
	res := TryResult[T]{Err: err}
	errors.As(err, &res.Failure)
	return res
}
