package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"

	"github.com/rivet-flow/rivet-flow/actors"
)

// errStop ends an execution without committing anything: the runtime is
// stopping, or the run moved on under this runner (another writer, a run
// no longer running). The run's status stays as it is and the next trigger
// (a wake, the engine's startup resume) starts a new runner.
var errStop = errors.New("workflows: runner stopped")

// wfEvent is the name of the system events a runner appends with actors.Do.
const wfEvent = "$wf"

// doAttempts bounds the retries of a Do whose outcome is unknown; every
// runner Do is compare-and-set, so a retry never writes twice.
const doAttempts = 3

// do runs fn in the run actor's mailbox as a $wf event with args, retrying
// an unknown outcome.
func do(ctx context.Context, h *actors.Handle, args any, fn func(ac *actors.Context[RunState]) error) error {
	var raw json.RawMessage
	if args != nil {
		var err error
		if raw, err = json.Marshal(args); err != nil {
			return err
		}
	}
	// Do waits for fn even when ctx ends meanwhile (fn may be running in
	// the mailbox, writing the caller's variables); fn refuses to start
	// once ctx has ended, so an ended execution commits nothing new.
	guarded := func(ac *actors.Context[RunState]) error {
		if ctx.Err() != nil {
			return errStop
		}
		if err := fn(ac); err != nil {
			return err
		}
		// args.status is the run's status after the event: known only now
		// (a wait that meant to park may have taken its message instead).
		if a, ok := args.(wfArgs); ok && a.Status != "" && a.Status != ac.State.Status {
			a.Status = ac.State.Status
			if b, err := json.Marshal(a); err == nil {
				ac.SetEventArgs(b)
			}
		}
		return nil
	}
	var err error
	for range doAttempts {
		err = actors.Do(context.WithoutCancel(ctx), h, wfEvent, raw, guarded)
		if !errors.Is(err, actors.ErrUnknownOutcome) {
			return err
		}
	}
	return err
}

// wfArgs are the args of a $wf event: the op, the entry it writes and the
// run's status after it (do sets it from the state once the closure ran).
type wfArgs struct {
	Op     string `json:"op"`
	Entry  string `json:"entry,omitempty"`
	Status Status `json:"status"`
}

// stopping reports whether err means the runner must exit without
// committing: a stopping runtime, a lost fence, a run that moved on.
func stopping(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, errStop) || errors.Is(err, actors.ErrConflict) ||
		errors.Is(err, actors.ErrStopping) || errors.Is(err, actors.ErrNotFound) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// runRunner is a run's runner goroutine (started with KeepAwake): it loads
// the journal, executes the workflow function from the top against it, and
// commits the run's outcome. It runs outside the mailbox; ctx ends when the
// runtime stops. A cancel ends the execution and the runner executes again
// in cancelling mode: only replays (the first call that would do new work
// ends it), which rebuilds the compensation stack; then it compensates and
// ends the run cancelled.
func (e *Engine) runRunner(ctx context.Context, c *core, runID string, epoch int) {
	lg := e.opts.Logger.With("workflow", c.name, "run", runID)
	h, err := e.rt.Client().Get(ctx, c.name, []string{runID})
	if err != nil {
		lg.Error("workflow runner: no handle", "err", err)
		return
	}
	parked := false // a parked run's actor may be asleep: do not wake it
	defer func() {
		if !parked {
			e.release(ctx, h)
		}
	}()
	for {
		again, p := e.runOnce(ctx, lg, c, h, runID, epoch)
		parked = p
		if !again {
			return
		}
	}
}

// runOnce is one execution of a run by its runner. It reports whether the
// runner must execute again (a cancel came during this one) and whether
// the run parked (or continued as new): then the runner must not touch the
// actor again.
func (e *Engine) runOnce(ctx context.Context, lg *slog.Logger, c *core, h *actors.Handle, runID string, epoch int) (again, parked bool) {
	execCtx, cancelExec := context.WithCancelCause(ctx)
	defer cancelExec(nil)
	var st RunState
	var input json.RawMessage
	var records []Record
	var loadErr error
	var paused *atomic.Bool
	err := do(ctx, h, nil, func(ac *actors.Context[RunState]) error {
		st = *ac.State
		if st.Status != StatusRunning || st.Epoch != epoch {
			return errStop
		}
		v := vars(ac)
		v.cancel, paused = cancelExec, &v.paused
		input, records, loadErr = readJournal(ac, epoch)
		return nil
	})
	if err != nil {
		if !stopping(ctx, err) {
			lg.Error("workflow runner: load the journal", "err", err)
		}
		return false, false
	}
	cancelling := st.CancelRequested
	if cancelling {
		cancelExec(errCancelRequested) // replays only: new work ends the execution
	}
	w := &W{ctx: execCtx, c: c, e: e, h: h, runID: runID, actorID: h.ID, epoch: epoch, seed: st.Seed,
		now: st.CreatedAt, comp: &compensations{}, pausedFlag: paused, cancelling: cancelling}
	var out json.RawMessage
	if loadErr == nil {
		w.replay, loadErr = NewReplay(records)
	}
	if loadErr != nil {
		err = fmt.Errorf("workflow %s run %s: damaged journal: %w", c.name, runID, loadErr)
	} else {
		out, err = execute(w, input)
		if f := w.failed(); f != nil {
			err = f
		}
		if err == nil && !cancelling {
			err = w.nondeterminism(w.replay.Complete(Path{}))
		}
	}
	if ctx.Err() != nil {
		return false, false
	}
	if cancelling {
		// The execution replayed up to its frontier (or ended): what it
		// visited is the compensation stack.
		cerr := e.compensate(ctx, w)
		if stopping(ctx, cerr) {
			return false, false
		}
		return false, e.end(ctx, lg, h, epoch, StatusCancelled, nil, cancelError(st.CancelReason, cerr))
	}
	if errors.Is(context.Cause(execCtx), errCancelRequested) {
		return true, false
	}
	if errors.Is(err, errParked) || errors.Is(err, errContinued) {
		return false, true
	}
	if stopping(ctx, err) {
		return false, false
	}
	status := StatusCompleted
	if err != nil {
		status = StatusFailed
		if *c.opts.CompensateOnFailure {
			// This execution took a finished Join from its entry without
			// visiting its steps: replay once more for the whole stack.
			if w.comp.partial() {
				if rw, rerr := e.replayForCompensation(ctx, c, h, runID, epoch, st); rerr == nil {
					w = rw
				} else if stopping(ctx, rerr) {
					return false, false
				}
			}
			if cerr := e.compensate(ctx, w); cerr != nil {
				if stopping(ctx, cerr) {
					return false, false
				}
				err = fmt.Errorf("%w (then %v)", err, cerr)
			}
		}
	}
	return false, e.end(ctx, lg, h, epoch, status, out, err)
}

// readJournal reads, in the mailbox, the input and the journal of epoch.
// A record that does not decode is loadErr (the journal is damaged).
func readJournal(ac *actors.Context[RunState], epoch int) (input json.RawMessage, records []Record, loadErr error) {
	if v, ok := ac.KV().Get(inKey(epoch)); ok {
		input = append(json.RawMessage(nil), v...)
	}
	for _, kv := range ac.KV().List(JournalPrefix(epoch)) {
		rec, err := DecodeRecord(epoch, kv.Key, kv.Value)
		if err != nil {
			return input, nil, err
		}
		records = append(records, rec)
	}
	return input, records, nil
}

// replayForCompensation executes the run function once more over the
// journal as it is now, replays only (its context is ended, so new work
// ends it), and returns the W whose compensation stack that built.
func (e *Engine) replayForCompensation(ctx context.Context, c *core, h *actors.Handle, runID string, epoch int, st RunState) (*W, error) {
	var input json.RawMessage
	var records []Record
	var loadErr error
	if err := do(ctx, h, nil, func(ac *actors.Context[RunState]) error {
		input, records, loadErr = readJournal(ac, epoch)
		return nil
	}); err != nil {
		return nil, err
	}
	if loadErr != nil {
		return nil, loadErr
	}
	rctx, cancel := context.WithCancelCause(ctx)
	cancel(errCancelRequested)
	w := &W{ctx: rctx, c: c, e: e, h: h, runID: runID, actorID: h.ID, epoch: epoch, seed: st.Seed,
		now: st.CreatedAt, comp: &compensations{}, cancelling: true}
	var err error
	if w.replay, err = NewReplay(records); err != nil {
		return nil, err
	}
	_, _ = execute(w, input) // its outcome is the failure already known
	return w, nil
}

// end commits the run's outcome and tells Await; it reports whether the
// runner must leave the actor alone (the outcome was committed: the
// finishing Do released it and let the actor sleep).
func (e *Engine) end(ctx context.Context, lg *slog.Logger, h *actors.Handle, epoch int, status Status, out json.RawMessage, runErr error) bool {
	run, err := e.finish(ctx, h, epoch, status, out, runErr)
	if err != nil {
		if !stopping(ctx, err) {
			lg.Error("workflow runner: record the outcome", "err", err)
		}
		return false
	}
	e.notifyFinished(h.ID, run)
	return true
}

// cancelError is a cancelled run's error: the reason, and the
// compensations that failed.
func cancelError(reason string, compErr error) error {
	msg := "cancelled"
	if reason != "" {
		msg += ": " + reason
	}
	if compErr != nil {
		msg += " (" + compErr.Error() + ")"
	}
	return &Error{Code: CodeCancelled, Message: TruncateMessage(msg)}
}

// execute calls the workflow function, turning a panic into a failure.
func execute(w *W, input json.RawMessage) (out json.RawMessage, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Code: CodeWorkflowFailed, Message: TruncateMessage(fmt.Sprintf("workflow %s panicked: %v\n%s", w.c.name, p, debug.Stack()))}
		}
	}()
	return w.c.fn(w, input)
}

// finish commits the run's outcome (compare-and-set: a run no longer
// running is left as it is): completed with out (KV "out"), or failed or
// cancelled with runErr's RunError. The finished run's actor may sleep.
func (e *Engine) finish(ctx context.Context, h *actors.Handle, epoch int, status Status, out json.RawMessage, runErr error) (Run, error) {
	var run Run
	var notify func()
	err := do(ctx, h, wfArgs{Op: "finish", Status: status}, func(ac *actors.Context[RunState]) error {
		v := vars(ac)
		if ac.State.Status != StatusRunning || ac.State.Epoch != epoch {
			v.active = false
			return nil
		}
		now := ac.Now()
		ac.State.Status, ac.State.UpdatedAt, ac.State.EndedAt = status, now, now
		ac.State.Waiting = nil
		if runErr != nil {
			ac.State.Error = toRunError(runErr)
		} else {
			ac.KV().Put(outKey, out)
		}
		ac.Broadcast("wf.progress", progress{Status: string(status)})
		if err := reportToParent(ac); err != nil {
			return err
		}
		// Messages still owed a reply are answered null, in this event.
		notify = e.completeLeftovers(ac)
		v.active, v.cancel = false, nil
		ac.Sleep() // a finished run has nothing left to do in memory
		run = runOf(h.ID, ac.State, out)
		return nil
	})
	if err == nil && notify != nil {
		notify()
	}
	return run, err
}

// release marks the run's runner gone (appending nothing), so that the next
// trigger starts another. It is best effort: when the runtime stops, the
// actor's vars go with it.
func (e *Engine) release(ctx context.Context, h *actors.Handle) {
	if ctx.Err() != nil {
		return
	}
	_ = actors.Do(ctx, h, wfEvent, nil, func(ac *actors.Context[RunState]) error {
		vars(ac).active = false
		return nil
	})
}

// toRunError is the RunError a run fails with for err.
func toRunError(err error) *RunError {
	re := &RunError{Code: string(CodeWorkflowFailed), Message: TruncateMessage(err.Error())}
	var nd *NondeterminismError
	var se *StepError
	var ue *actors.UserError
	switch {
	case errors.As(err, &nd):
		re.Code, re.Entry = string(CodeNondeterminism), nd.Path
	case errors.As(err, &se):
		re.Code, re.Entry = string(se.ErrorCode()), se.Step
	case errors.As(err, &ue):
		re.Code = ue.Code
	default:
		if code, ok := ErrorCode(err); ok {
			re.Code = string(code)
		}
	}
	return re
}
