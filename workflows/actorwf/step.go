package actorwf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// StepOptions configure a step's retries. Fields left zero take their
// defaults.
type StepOptions struct {
	// MaxRetries is the number of retries after the first attempt.
	// Defaults to 3; -1 means none.
	MaxRetries int
	// BackoffBase is the delay before the first retry; retry k waits
	// min(BackoffBase*2^(k-1), BackoffMax). Defaults to 100ms.
	BackoffBase time.Duration
	// BackoffMax caps the delay between attempts. Defaults to 30s.
	BackoffMax time.Duration
}

func (o StepOptions) withDefaults() StepOptions {
	switch {
	case o.MaxRetries == 0:
		o.MaxRetries = 3
	case o.MaxRetries < 0:
		o.MaxRetries = 0
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 30 * time.Second
	}
	return o
}

// delay is the wait after failed attempt (1-based).
func (o StepOptions) delay(attempt int) time.Duration {
	d := o.BackoffBase
	for i := 1; i < attempt && d < o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, o.BackoffMax)
}

// StepFailure is a step's final failure, as journaled: Step fails the
// workflow with it, TryStep returns it. A replay returns an equal one.
type StepFailure struct {
	Step string
	// Kind is FailureExhausted (the retries ran out) or FailureCritical
	// (a NonRetryable error, a result that does not encode).
	Kind     workflows.FailureKind
	Message  string
	Attempts int
}

func (f *StepFailure) Error() string {
	return fmt.Sprintf("workflow step %s failed (%s after %d attempts): %s", f.Step, f.Kind, f.Attempts, f.Message)
}

type nonRetryable struct{ err error }

func (e nonRetryable) Error() string { return e.err.Error() }
func (e nonRetryable) Unwrap() error { return e.err }

// NonRetryable wraps err so that a step returning it fails at once.
func NonRetryable(err error) error { return nonRetryable{err} }

// Step runs fn once as the journaled step name, in the actor's mailbox: its
// changes to the actor and its journal entry are one event. A recorded
// step returns its recorded result without running. A failed attempt is
// committed too (its changes included, with OnError's), then retried after
// the backoff; the last failure is the error (a *StepFailure; returned from the
// workflow function, it fails the workflow). The
// result round-trips through JSON.
func Step[S, R any](w *W[S], name string, fn func(c *actors.Context[S]) (R, error), opts ...StepOptions) (R, error) {
	r, f, err := TryStep(w, name, fn, opts...)
	if err == nil && f != nil {
		err = f
	}
	return r, err
}

// TryStep is Step returning the final failure (f) instead of failing the
// workflow with it (RivetKit tryStep). err is set only when the workflow
// cannot go on (return it).
func TryStep[S, R any](w *W[S], name string, fn func(c *actors.Context[S]) (R, error), opts ...StepOptions) (r R, f *StepFailure, err error) {
	return runStep[S, R](w, name, opts, func(attempt int, record func(c *actors.Context[S], res any, ferr error) workflows.Entry) (workflows.Entry, error) {
		var e workflows.Entry
		err := w.x.rc.Submit(func(c *actors.Context[S]) error {
			var res R
			ferr := call(func() (err error) { res, err = fn(c); return err })
			e = record(c, res, ferr)
			return nil
		})()
		if errors.Is(err, actors.ErrActionTimeout) && w.ctx.Err() == nil {
			// The mailbox rolled the attempt back: it is a failed attempt,
			// recorded in a turn of its own and not retried.
			err = w.do(func(c *actors.Context[S]) error {
				var zero R
				e = record(c, zero, stepTimeout{err})
				return nil
			})
			return e, err
		}
		return e, w.x.classify(err)
	})
}

// stepTimeout is a step attempt that ran past the action timeout.
type stepTimeout struct{ err error }

func (e stepTimeout) Error() string {
	return e.err.Error() + " (a step runs in the actor's mailbox, within its action timeout: use Activity for slow work)"
}

func (e stepTimeout) Unwrap() error { return e.err }

// ActivityContext is an Activity's view of its actor.
type ActivityContext[S any] struct {
	w       *W[S]
	attempt int
}

// Attempt is the attempt running, from 1.
func (a *ActivityContext[S]) Attempt() int { return a.attempt }

// Do runs fn in the actor's mailbox now, an event of its own (so an action
// sees its changes at once): an activity attempt that runs again after a
// crash runs it again.
func (a *ActivityContext[S]) Do(fn func(c *actors.Context[S]) error) error {
	return a.w.x.rc.Do(fn)
}

// Activity runs fn as the journaled step name outside the actor's mailbox,
// so the actor's actions and connections go on meanwhile: the place for
// slow work and calls to the world. Its result is journaled in a turn of
// its own once fn returns: a crash before that runs fn again (at least
// once). Retries and failures are Step's.
func Activity[S, R any](w *W[S], name string, fn func(ctx context.Context, a *ActivityContext[S]) (R, error), opts ...StepOptions) (R, error) {
	r, f, err := runStep[S, R](w, name, opts, func(attempt int, record func(c *actors.Context[S], res any, ferr error) workflows.Entry) (workflows.Entry, error) {
		var res R
		w.block() // fn runs outside the mailbox: the next branch may start
		ferr := call(func() (err error) { res, err = fn(w.ctx, &ActivityContext[S]{w: w, attempt: attempt}); return err })
		if w.ctx.Err() != nil {
			return workflows.Entry{}, errStop
		}
		var e workflows.Entry
		err := w.do(func(c *actors.Context[S]) error {
			e = record(c, res, ferr)
			return nil
		})
		return e, err
	})
	if err == nil && f != nil {
		err = f
	}
	return r, err
}

// runStep is a step's journal and retries around attempt, which runs one
// attempt and commits its entry (made by record).
func runStep[S, R any](w *W[S], name string, opts []StepOptions, attempt func(n int, record func(c *actors.Context[S], res any, ferr error) workflows.Entry) (workflows.Entry, error)) (r R, f *StepFailure, err error) {
	var o StepOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	p, v, err := w.enter(workflows.KindStep, name)
	if err != nil {
		return r, nil, err
	}
	e := v.Entry
	attempts := 0
	if v.Found {
		attempts = e.Attempts
	}
	for {
		if v.Found || attempts > 0 {
			switch e.Status {
			case workflows.EntryCompleted:
				if err := json.Unmarshal(e.Output, &r); err != nil && len(e.Output) > 0 {
					return r, nil, w.x.fail(fmt.Errorf("workflow step %s: the recorded result does not decode: %w", p, err))
				}
				return r, nil, nil
			case workflows.EntryFailed:
				return r, failureOf(p, e), nil
			case workflows.EntryRetrying:
				if err := w.idleUntil(e.NextAt); err != nil {
					return r, nil, err
				}
			}
		}
		n := attempts + 1
		record := func(c *actors.Context[S], res any, ferr error) workflows.Entry {
			now := c.Now()
			ne := workflows.Entry{Kind: workflows.KindStep, Ord: v.Ord, At: now, Attempts: n}
			critical := false
			if ferr == nil {
				raw, merr := json.Marshal(res)
				if merr == nil {
					ne.Status, ne.Output = workflows.EntryCompleted, raw
					if _, serr := workflows.EncodeEntry(p, ne); serr == nil {
						_ = w.x.put(c, p, ne)
						return ne
					} else {
						merr = serr
					}
				}
				ferr, critical = merr, true
			}
			var nr nonRetryable
			var to stepTimeout
			critical = critical || errors.As(ferr, &nr)
			timedOut := errors.As(ferr, &to)
			retry := !critical && !timedOut && n <= o.MaxRetries
			kind := workflows.FailureExhausted
			switch {
			case critical:
				kind = workflows.FailureCritical
			case timedOut:
				kind = workflows.FailureTimeout
			}
			msg := workflows.TruncateMessage(ferr.Error())
			ne.Output = nil
			ne.Error = &workflows.EntryError{Kind: kind, Code: errorCode(ferr), Message: msg}
			ev := &StepErrorEvent{StepName: name, Attempt: n, WillRetry: retry, Error: ErrorInfo{Name: errorName(ferr), Message: msg}}
			if retry {
				d := o.delay(n)
				ne.Status, ne.NextAt = workflows.EntryRetrying, now.Add(d)
				ev.RetryDelay = d.Milliseconds()
				if d >= LongSleep { // the actor may sleep until the next attempt
					if id, err := c.Schedule().At(ne.NextAt, actors.WakeAction); err == nil {
						ne.Alarm = id
					}
				}
			} else {
				ne.Status = workflows.EntryFailed
			}
			if h := w.x.d.opts.OnError; h != nil {
				h(c, ErrorEvent{Step: ev})
			}
			_ = w.x.put(c, p, ne)
			return ne
		}
		ne, err := attempt(n, record)
		if err != nil {
			return r, nil, err
		}
		_ = w.x.replay.Commit(p, ne)
		e, attempts = ne, n
	}
}

// failureOf is the *StepFailure a failed step entry replays as.
func failureOf(p workflows.Path, e workflows.Entry) *StepFailure {
	f := &StepFailure{Step: p.String(), Kind: workflows.FailureExhausted, Attempts: e.Attempts}
	if e.Error != nil {
		f.Kind, f.Message = e.Error.Kind, e.Error.Message
	}
	return f
}

// errorCode is an error's code: a user error's own, else step_failed.
func errorCode(err error) string {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return ue.Code
	}
	return "step_failed"
}

// errorName names an error as RivetKit's event does: "Error", or a user
// error's code.
func errorName(err error) string {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return "UserError"
	}
	return "Error"
}
