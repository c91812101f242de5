package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeCancelled is the code of a cancelled run's error: the cancel's
// reason is its message.
const CodeCancelled errcode.Code = "cancelled"

// ErrCancelled matches a cancelled run's error (errors.Is).
var ErrCancelled = &Error{Code: CodeCancelled, Message: "workflow run cancelled"}

// errCancelRequested is the cause with which the cancel action ends an
// active runner's execution.
var errCancelRequested = errors.New("workflows: cancel requested")

// ControlResult is what cancel, pause and resume answer: the run's status
// after the call and whether it changed anything.
type ControlResult struct {
	Status  Status `json:"status"`
	Changed bool   `json:"changed"`
}

// compensation is a completed step's Compensate, with the step it undoes.
type compensation struct {
	path Path
	o    StepOptions
	sc   *StepContext
}

// compensations is a run's compensation stack (design §4.4), rebuilt by
// every execution as it visits completed steps, in visit order.
type compensations struct {
	mu    sync.Mutex
	stack []compensation
	// skipped: the execution took a finished Join or Race from its entry
	// without running its branches, whose steps are not on the stack.
	skipped bool
}

// skip records that branches were not run (replayed from an entry).
func (c *compensations) skip() {
	c.mu.Lock()
	c.skipped = true
	c.mu.Unlock()
}

// partial reports whether the stack may lack branch steps.
func (c *compensations) partial() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.skipped
}

func (c *compensations) push(p Path, o StepOptions, sc *StepContext) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.stack {
		if x.path == p {
			return
		}
	}
	c.stack = append(c.stack, compensation{path: p, o: o, sc: sc})
}

// checkpoint forgets the compensations pushed so far: a rollback stops at
// the latest checkpoint.
func (c *compensations) checkpoint() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stack = nil
}

// reversed returns the stack, last pushed first.
func (c *compensations) reversed() []compensation {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]compensation, len(c.stack))
	for i, x := range c.stack {
		out[len(c.stack)-1-i] = x
	}
	return out
}

// compPrefix is the KV prefix of the compensations done in epoch; kept
// apart from the journal so a replay does not see them.
func compPrefix(epoch int) string { return "comp/" + strconv.Itoa(epoch) + "/" }

// RollbackCheckpoint journals a checkpoint named name: a cancel or a
// failure undoes only the steps completed after the latest checkpoint
// (RivetKit's rollbackCheckpoint).
func (w *W) RollbackCheckpoint(name string) error {
	p, v, err := w.enter(KindRollbackCheckpoint, name)
	if err != nil {
		return err
	}
	e := v.Entry
	if !v.Found {
		if e, err = w.commit(p, Entry{Kind: KindRollbackCheckpoint, Ord: v.Ord, Status: EntryCompleted}); err != nil {
			return w.fail(err)
		}
	}
	w.visited(e)
	w.comp.checkpoint()
	return nil
}

// registerControlActions adds cancel, pause and resume to the run type.
func registerControlActions(t *actors.Type[RunState], c *core) {
	t.Action("cancel", actors.Act(c.cancel))
	t.Action("pause", actors.Act0(c.pause))
	t.Action("resume", actors.Act0(c.resume))
}

// finishedError is the run_finished refusal of a control action.
func finishedError(st *RunState, what string) error {
	return actors.NewUserError(string(CodeRunFinished), fmt.Sprintf("workflow run %s is %s: it cannot be %s", st.RunID, st.Status, what), nil)
}

// cancel is the cancel(reason) action: it records the request and makes
// the run run (a parked or paused run wakes; an active runner's execution
// is cancelled), so that the runner compensates and ends it cancelled.
func (c *core) cancel(ac *actors.Context[RunState], reason string) (ControlResult, error) {
	st := ac.State
	if st.Status.Finished() {
		return ControlResult{}, finishedError(st, "cancelled")
	}
	if st.CancelRequested {
		return ControlResult{Status: st.Status}, nil
	}
	st.CancelRequested, st.CancelReason, st.UpdatedAt = true, TruncateMessage(reason), ac.Now()
	if st.Waiting != nil && st.Waiting.Alarm != "" {
		ac.Schedule().Cancel(st.Waiting.Alarm)
	}
	st.Status, st.Waiting, st.PausedFrom, st.PausedAt = StatusRunning, nil, "", time.Time{}
	v := vars(ac)
	v.paused.Store(false)
	if v.active && v.cancel != nil {
		v.cancel(errCancelRequested)
	}
	cancelChildren(ac, reason)
	c.startIfIdle(ac)
	ac.Broadcast("wf.progress", map[string]any{"status": st.Status, "cancelRequested": true})
	return ControlResult{Status: st.Status, Changed: true}, nil
}

// Cancel cancels run runID of workflow name with reason: the compensations
// of its completed steps (StepOptions.Compensate) run in reverse order,
// each once, then the run ends cancelled. A finished run is
// ErrRunFinished; cancelling twice changes nothing the second time.
func (e *Engine) Cancel(ctx context.Context, name, runID, reason string) (ControlResult, error) {
	return e.control(ctx, name, runID, "cancel", reason)
}

// Pause pauses run runID of workflow name: its timers stop (resume shifts
// them by the pause) and its runner stops at its next journaled call (a
// step in flight still journals its result). Signals are still buffered.
// A finished run is ErrRunFinished.
func (e *Engine) Pause(ctx context.Context, name, runID string) (ControlResult, error) {
	return e.control(ctx, name, runID, "pause")
}

// Resume resumes a paused run: its timers are re-armed for the time they
// had left and it goes on where it stopped. A run not paused is left as it
// is (Changed false); a finished run is ErrRunFinished.
func (e *Engine) Resume(ctx context.Context, name, runID string) (ControlResult, error) {
	return e.control(ctx, name, runID, "resume")
}

// control calls a control action on a run, mapping its refusals.
func (e *Engine) control(ctx context.Context, name, runID, action string, args ...any) (ControlResult, error) {
	if _, err := e.Get(ctx, name, runID); err != nil {
		return ControlResult{}, err
	}
	h, err := e.rt.Client().Get(ctx, name, []string{runID})
	if err != nil {
		return ControlResult{}, fmt.Errorf("%s run %s of %s: %w", action, runID, name, err)
	}
	res, err := actors.Call[ControlResult](ctx, h, action, args...)
	if err != nil {
		var ue *actors.UserError
		if errors.As(err, &ue) && errcode.Code(ue.Code) == CodeRunFinished {
			return ControlResult{}, fmt.Errorf("%w: %s", ErrRunFinished, ue.Message)
		}
		return ControlResult{}, fmt.Errorf("%s run %s of %s: %w", action, runID, name, err)
	}
	return res, nil
}

// compensate runs the compensations of w's stack, last first, each at
// most once across crashes (a done marker in KV, written by a Do after it
// returns), with its step's retry options; one that still fails is
// reported and the others run anyway. ctx is the runner's (not the
// cancelled execution's).
func (e *Engine) compensate(ctx context.Context, w *W) error {
	list := w.comp.reversed()
	if len(list) == 0 {
		return nil
	}
	prefix := compPrefix(w.epoch)
	done := map[string]bool{}
	if err := do(ctx, w.h, nil, func(ac *actors.Context[RunState]) error {
		for _, kv := range ac.KV().List(prefix) {
			done[strings.TrimPrefix(kv.Key, prefix)] = true
		}
		return nil
	}); err != nil {
		return err
	}
	cw := w.branch(ctx, w.scope) // the runner's ctx, no failure
	var failures []string
	for _, x := range list {
		if done[x.path.String()] {
			continue
		}
		var cerr error
		for attempt := 1; ; attempt++ {
			sc := &StepContext{id: x.sc.id, attempt: attempt, path: x.sc.path, h: x.sc.h}
			_, cerr = runAttempt(cw, x.o, sc, func(ctx context.Context, s *StepContext) (struct{}, error) {
				return struct{}{}, x.o.Compensate(ctx, s)
			})
			if ctx.Err() != nil {
				return errStop
			}
			var nr *nonRetryable
			if cerr == nil || attempt > x.o.MaxRetries || errors.As(cerr, &nr) {
				break
			}
			if !cw.memWait(x.o.backoff(attempt), nil) {
				return errStop
			}
		}
		mark := json.RawMessage(`{"ok":true}`)
		if cerr != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", x.path, cerr))
			mark, _ = json.Marshal(map[string]string{"error": TruncateMessage(cerr.Error())})
		}
		key := prefix + x.path.String()
		if err := do(ctx, w.h, wfArgs{Op: "compensate", Entry: x.path.String(), Status: StatusRunning}, func(ac *actors.Context[RunState]) error {
			if _, ok := ac.KV().Get(key); !ok {
				ac.KV().Put(key, mark)
				ac.Broadcast("wf.progress", progress{Entry: x.path.String(), Status: string("compensated")})
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if len(failures) > 0 {
		return fmt.Errorf("%d compensation(s) failed: %s", len(failures), strings.Join(failures, "; "))
	}
	return nil
}
