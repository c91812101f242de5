package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// StepOptions configure a step. Fields left zero take their defaults.
type StepOptions struct {
	// MaxRetries is the number of retries after the first attempt.
	// Defaults to 3; -1 means none.
	MaxRetries int
	// BackoffBase is the delay before the first retry; retry k waits
	// min(BackoffBase*2^(k-1), BackoffMax) times a jitter of 0.5 to 1.0.
	// Defaults to 100ms.
	BackoffBase time.Duration
	// BackoffMax caps the delay between attempts. Defaults to 30s.
	BackoffMax time.Duration
	// Timeout bounds each attempt. Defaults to 30s; -1 means none. A timed
	// out attempt fails the step (FailureTimeout) without retries. Go
	// cannot stop the step's goroutine: the runner stops waiting and drops
	// its late result, so step functions must honour ctx.
	Timeout time.Duration
	// NonRetryable reports errors that fail the step at once, besides
	// those wrapped with NonRetryable.
	NonRetryable func(error) bool
	// RetryDelay, when set, chooses the delay before the retry after
	// attempt (1-based) failed with err: ok false keeps the backoff. Use it
	// to honour a server's Retry-After.
	RetryDelay func(err error, attempt int) (d time.Duration, ok bool)
	// RetryOnTimeout retries an attempt that timed out, as any retryable
	// error, instead of failing the step at once.
	RetryOnTimeout bool
	// Compensate undoes the step (RivetKit's rollback): when the run is
	// cancelled, or fails with Options.CompensateOnFailure, the
	// compensations of its completed steps run in reverse order, each
	// journaled so it runs once. ctx ends with the runtime; s.ID is the
	// step's ID.
	Compensate func(ctx context.Context, s *StepContext) error
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
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	return o
}

// backoff is the delay before retry k (1-based).
func (o StepOptions) backoff(k int) time.Duration {
	d := o.BackoffBase
	for i := 1; i < k && d < o.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, o.BackoffMax)
	// Jitter need not be deterministic: the delay is waited in memory, and
	// nothing of it is journaled in this slice.
	return time.Duration(float64(d) * (0.5 + rand.Float64()/2)) //nolint:gosec // jitter
}

// nonRetryable marks an error that fails its step without retries.
type nonRetryable struct{ err error }

func (e *nonRetryable) Error() string { return e.err.Error() }
func (e *nonRetryable) Unwrap() error { return e.err }

// NonRetryable wraps err so that a step returning it fails at once, without
// retries (RivetKit's CriticalError). A nil err stays nil.
func NonRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &nonRetryable{err}
}

// StepContext is what a step function sees of its step.
type StepContext struct {
	id      string
	attempt int
	path    string
	h       *actors.Handle
	seq     atomic.Int64
}

// ID returns the step's ID, "<actorID>/<epoch>/<path>": the same across
// attempts, crashes and replays. Pass it to external systems as an
// idempotency key.
func (s *StepContext) ID() string { return s.id }

// Stream sends chunk (any JSON value: an LLM token, a progress line) live
// to the run's subscribers as the broadcast wf.stream
// [{"entry","attempt","seq","chunk"}], without journaling it: nobody
// listening, or a crash, loses it. The step's result is what is journaled.
// A chunk that does not encode, or is larger than the run type's argument
// limit, is dropped and reported in the error.
func (s *StepContext) Stream(chunk any) error {
	if s.h == nil {
		return nil
	}
	return s.h.Publish("wf.stream", streamChunk{Entry: s.path, Attempt: s.attempt, Seq: s.seq.Add(1), Chunk: chunk})
}

// streamChunk is the argument of a wf.stream broadcast.
type streamChunk struct {
	Entry   string `json:"entry"`
	Attempt int    `json:"attempt"`
	Seq     int64  `json:"seq"`
	Chunk   any    `json:"chunk"`
}

// Attempt returns the attempt number, from 1. Failed attempts are
// journaled, so the count goes on across crashes; an attempt cut by a
// crash is made again with the same number.
func (s *StepContext) Attempt() int { return s.attempt }

// Step runs fn as the journaled step name and returns its result. A
// completed step never runs again: a replay returns its journaled result
// (decoded from JSON into R, so R must round-trip through JSON). A step
// running when the process died left no entry, so it runs again: at least
// once, with a stable StepContext.ID to pass on as an idempotency key.
//
// A retryable error is retried up to MaxRetries times with backoff. Each
// retry is journaled (a retrying entry with the attempt count, the error
// and the next attempt's time), so attempts and the backoff survive a
// crash; a delay shorter than Options.ParkAfter is waited in memory, a
// longer one parks the run (status sleeping) on an alarm. The final
// failure (exhausted, non-retryable, timeout) is journaled and fails the
// run with a *StepError, returned here too and equal on every replay.
// Calling a step the journal does not expect fails the run with a
// *NondeterminismError naming both.
func Step[R any](w *W, name string, fn func(ctx context.Context, s *StepContext) (R, error), opts ...StepOptions) (R, error) {
	var zero R
	p, v, err := w.enter(KindStep, name)
	if err != nil {
		return zero, err
	}
	var o StepOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	sc := &StepContext{id: fmt.Sprintf("%s/%d/%s", w.actorID, w.epoch, p), path: p.String(), h: w.h}
	if v.Found && (v.Entry.Status == EntryCompleted || v.Entry.Status == EntryFailed) {
		return replayStep[R](w, p, v.Entry, o, sc)
	}
	attempt := 1
	if v.Found && v.Entry.Status == EntryRetrying {
		attempt = v.Entry.Attempts + 1
		if err := w.retryWait(p, v.Ord, v.Entry); err != nil {
			return zero, err
		}
	}
	for ; ; attempt++ {
		if err := w.mayStart(); err != nil {
			return zero, err
		}
		sc.attempt = attempt
		r, err := runAttempt(w, o, sc, fn)
		if w.ctx.Err() != nil {
			return zero, w.fail(errStop)
		}
		if err == nil {
			out, encErr := json.Marshal(r)
			if encErr == nil && len(out) > MaxEntryBytes {
				encErr = &SizeError{Err: ErrEntryTooLarge, Path: p.String(), Size: len(out), Limit: MaxEntryBytes}
			}
			if encErr == nil {
				e, cerr := w.commit(p, Entry{Kind: KindStep, Ord: v.Ord, Status: EntryCompleted, Output: out, Attempts: attempt})
				if cerr != nil {
					return zero, w.fail(cerr)
				}
				return replayStep[R](w, p, e, o, sc)
			}
			err = NonRetryable(encErr)
		}
		kind := FailureExhausted
		var nr *nonRetryable
		switch {
		case errors.Is(err, errAttemptTimeout) && (!o.RetryOnTimeout || attempt > o.MaxRetries):
			kind = FailureTimeout
		case errors.As(err, &nr) || (o.NonRetryable != nil && o.NonRetryable(err)):
			kind = FailureCritical
		case attempt <= o.MaxRetries:
			d := o.backoff(attempt)
			if o.RetryDelay != nil {
				if rd, ok := o.RetryDelay(err, attempt); ok {
					d = max(rd, 0)
				}
			}
			e, err := w.retrying(p, v.Ord, attempt, failureEntry(FailureExhausted, err), d)
			if err != nil {
				return zero, err
			}
			if err := w.retryWait(p, v.Ord, e); err != nil {
				return zero, err
			}
			continue
		}
		fe := failureEntry(kind, err)
		e, cerr := w.commit(p, Entry{Kind: KindStep, Ord: v.Ord, Status: EntryFailed, Error: fe, Attempts: attempt})
		if cerr != nil {
			return zero, w.fail(cerr)
		}
		return replayStep[R](w, p, e, o, sc)
	}
}

// mayStart reports whether new work (a step attempt) may start: not when
// the execution ends (errStop: the runtime stops, or the run is being
// cancelled and only replays) or the run is paused (errStop too: the
// runner exits and resume starts another).
func (w *W) mayStart() error {
	if w.ro != nil {
		return w.frontier(Path{})
	}
	if w.ctx.Err() != nil {
		return w.fail(errStop)
	}
	if w.pausedFlag != nil && w.pausedFlag.Load() {
		return w.fail(errStop)
	}
	return nil
}

// retrying journals that the step at p failed attempt with fe and tries
// again after d: a retrying entry whose NextAt is the next attempt's time.
// It returns the entry as committed.
func (w *W) retrying(p Path, ord, attempt int, fe *EntryError, d time.Duration) (Entry, error) {
	if w.ro != nil {
		return Entry{}, w.frontier(p)
	}
	next := alarmTime(w.e.rt.Clock().Now().Add(d))
	e, err := w.commit(p, Entry{Kind: KindStep, Ord: ord, Status: EntryRetrying, Error: fe, Attempts: attempt, NextAt: next})
	if err != nil {
		return e, w.fail(err)
	}
	return e, nil
}

// retryWait waits for the next attempt of the retrying step entry e at p:
// in memory when it is due sooner than Options.ParkAfter, else it arms an
// alarm for it and parks the run (status sleeping) in one Do; the alarm's
// $timer runs the run again.
func (w *W) retryWait(p Path, ord int, e Entry) error {
	if w.ro != nil {
		return w.frontier(p)
	}
	clk := w.e.rt.Clock()
	left := e.NextAt.Sub(clk.Now())
	if left <= 0 {
		return nil
	}
	if left < w.c.opts.ParkAfter {
		if !w.memWait(left, nil) {
			return w.fail(errStop)
		}
		return nil
	}
	key := EntryKey(w.epoch, p)
	parked := false
	err := do(w.ctx, w.h, wfArgs{Op: "retry", Entry: p.String(), Status: StatusSleeping}, func(ac *actors.Context[RunState]) error {
		parked = false
		if ac.State.Status != StatusRunning || ac.State.Epoch != w.epoch {
			return errStop
		}
		raw, ok := ac.KV().Get(key)
		if !ok {
			return errStop
		}
		cur, err := DecodeEntry(raw)
		if err != nil {
			return err
		}
		if cur.Status != EntryRetrying || !ac.Now().Before(cur.NextAt) {
			return nil // due already (or moved on): no park
		}
		if cur.Alarm == "" {
			id, err := ac.Schedule().At(cur.NextAt, timerAction, p.String())
			if err != nil {
				return err
			}
			cur.Alarm = id
			b, err := EncodeEntry(p, cur)
			if err != nil {
				return err
			}
			ac.KV().Put(key, b)
		}
		parked = w.park(ac, StatusSleeping, &Waiting{Entry: p.String(), Until: cur.NextAt, Alarm: cur.Alarm})
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return w.fail(errStop)
		}
		return w.fail(fmt.Errorf("workflow %s run %s: park step %s for its retry: %w", w.c.name, w.runID, p, err))
	}
	if parked {
		return w.fail(errParked)
	}
	if left := e.NextAt.Sub(clk.Now()); left > 0 && !w.memWait(left, nil) {
		return w.fail(errStop)
	}
	return nil
}

// errAttemptTimeout is an attempt that ran past StepOptions.Timeout.
var errAttemptTimeout = errors.New("step attempt timed out")

// runAttempt runs one attempt of fn under the attempt's timeout, turning a
// panic into an error.
func runAttempt[R any](w *W, o StepOptions, sc *StepContext, fn func(ctx context.Context, s *StepContext) (R, error)) (R, error) {
	ctx, cancel := w.ctx, context.CancelFunc(func() {})
	if o.Timeout > 0 {
		ctx, cancel = context.WithTimeoutCause(w.ctx, o.Timeout, errAttemptTimeout)
	}
	defer cancel()
	type result struct {
		r   R
		err error
	}
	done := make(chan result, 1)
	s := &StepContext{id: sc.id, attempt: sc.attempt, path: sc.path, h: sc.h}
	go func() {
		var res result
		defer func() {
			if p := recover(); p != nil {
				res.err = fmt.Errorf("step panicked: %v", p)
			}
			done <- res
		}()
		res.r, res.err = fn(ctx, s)
	}()
	select {
	case res := <-done:
		if res.err != nil && errors.Is(context.Cause(ctx), errAttemptTimeout) {
			res.err = fmt.Errorf("%w after %s: %w", errAttemptTimeout, o.Timeout, res.err)
		}
		return res.r, res.err
	case <-ctx.Done():
		var zero R
		if errors.Is(context.Cause(ctx), errAttemptTimeout) {
			return zero, fmt.Errorf("%w after %s", errAttemptTimeout, o.Timeout)
		}
		return zero, ctx.Err()
	}
}

// failureEntry is the journal's form of a step's final error: an
// actors.UserError keeps its code, a coded error of this package its code,
// anything else is step_failed.
func failureEntry(kind FailureKind, err error) *EntryError {
	fe := &EntryError{Kind: kind, Code: string(CodeStepFailed), Message: TruncateMessage(err.Error())}
	var ue *actors.UserError
	if errors.As(err, &ue) {
		fe.Code, fe.Message = ue.Code, TruncateMessage(ue.Message)
	} else if code, ok := ErrorCode(err); ok {
		fe.Code = string(code)
	}
	return fe
}

// replayStep returns the outcome a step entry records: its result, or the
// *StepError it failed with (which also fails the run). A completed step
// with a compensation pushes it on the run's stack.
func replayStep[R any](w *W, p Path, e Entry, o StepOptions, sc *StepContext) (R, error) {
	var r R
	w.visited(e)
	if e.Status == EntryCompleted && o.Compensate != nil {
		w.comp.push(p, o, sc)
	}
	if e.Status == EntryFailed {
		fe := e.Error
		if fe == nil {
			fe = &EntryError{Kind: FailureCritical, Code: string(CodeStepFailed)}
		}
		return r, w.fail(fe.StepError(p.String(), e.Attempts))
	}
	if err := json.Unmarshal(e.Output, &r); err != nil {
		return r, w.fail(fmt.Errorf("%w: step %s: result does not decode: %w", ErrInvalidPath, p, err))
	}
	return r, nil
}

// commit writes entry e at p with one $wf event, compare-and-set: an entry
// already at p with e's status is kept (a retry after an unknown outcome),
// a run no longer running (or of another epoch) is errStop. It returns the
// entry as committed, At being the event's time.
func (w *W) commit(p Path, e Entry) (Entry, error) {
	if w.ro != nil {
		return e, w.frontier(p)
	}
	key := EntryKey(w.epoch, p)
	status := StatusRunning
	paused := false
	err := do(w.ctx, w.h, wfArgs{Op: "step", Entry: p.String(), Status: status}, func(ac *actors.Context[RunState]) error {
		// A paused run still journals the step that was in flight (its
		// work is done); the runner stops at its next call.
		st := ac.State.Status
		if (st != StatusRunning && st != StatusPaused) || ac.State.Epoch != w.epoch {
			return errStop
		}
		paused = st == StatusPaused
		if old, ok := ac.KV().Get(key); ok {
			if prev, err := DecodeEntry(old); err == nil {
				if prev.Status == e.Status && prev.Attempts >= e.Attempts {
					e = prev
					return nil
				}
				if prev.Alarm != "" {
					ac.Schedule().Cancel(prev.Alarm)
				}
			}
		}
		e.At = ac.Now()
		b, err := EncodeEntry(p, e)
		if err != nil {
			return err
		}
		ac.KV().Put(key, b)
		ac.State.Current, ac.State.UpdatedAt = p.String(), e.At
		if e.Kind == KindStep && e.Status == EntryCompleted {
			ac.State.Steps++
		}
		ac.Broadcast("wf.progress", progress{Entry: p.String(), Status: string(e.Status)})
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return e, errStop
		}
		return e, fmt.Errorf("workflow %s run %s: commit %s: %w", w.c.name, w.runID, p, err)
	}
	if err := w.replay.Commit(p, e); err != nil {
		return e, err
	}
	if paused && e.Status == EntryRetrying {
		return e, errStop
	}
	return e, nil
}
