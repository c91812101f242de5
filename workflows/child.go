package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeChildFailed is the code a parent run fails with when a child run it
// waits for failed or was cancelled.
const CodeChildFailed errcode.Code = "child_failed"

// childAction is the internal action a finished child run sends its
// parent: (path, outcome).
const childAction = "$child"

// parentAction is the internal action a parent calls on its child run to
// name itself: (parent actor ID, path).
const parentAction = "$parent"

// ParentRef names the run, and its entry, that waits for a child run.
type ParentRef struct {
	ActorID string `json:"actorId"`
	Entry   string `json:"entry"`
}

// childOutcome is what a finished child run reports to its parent.
type childOutcome struct {
	Status Status          `json:"status"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *RunError       `json:"error,omitempty"`
}

// childExtra is a child entry's Extra.
type childExtra struct {
	Workflow string `json:"workflow"`
	RunID    string `json:"runId"`
}

// ChildRunID is the run ID of the child run a parent starts at path p:
// the parent's run ID, then p with '/' and '#' turned into '.'.
func ChildRunID(parentRunID string, p Path) string {
	return parentRunID + "." + strings.NewReplacer("/", ".", "#", ".").Replace(p.String())
}

// Child runs workflow wf as a child run named name and returns its
// result. The child is a run of its own (run ID ChildRunID, listed and
// signalled like any run); the parent journals it, so a replay starts it
// at most once and returns its recorded result. The parent waits in
// memory, then parks (status waiting) past Options.ParkAfter: the child's
// end wakes it. A child that fails or is cancelled fails the parent with
// child_failed; cancelling the parent cancels its open children.
func Child[In, Out any](w *W, name string, wf *Workflow[In, Out], input In) (Out, error) {
	var zero Out
	p, v, err := w.enter(KindChild, name)
	if err != nil {
		return zero, err
	}
	runID := ChildRunID(w.runID, p)
	if err := ValidateRunID(runID); err != nil {
		return zero, w.fail(fmt.Errorf("child %s: %w", p, err))
	}
	e := v.Entry
	if !v.Found {
		if err := w.mayStart(); err != nil {
			return zero, err
		}
		x, _ := json.Marshal(childExtra{Workflow: wf.Name(), RunID: runID})
		if e, err = w.commit(p, Entry{Kind: KindChild, Ord: v.Ord, Status: EntryWaiting, Extra: x}); err != nil {
			return zero, w.fail(err)
		}
	}
	if e.Status == EntryWaiting {
		// Start the child (idempotent) and name the parent to it: both are
		// repeated by a replay that finds the entry still waiting.
		if w.ro != nil {
			return zero, w.frontier(p)
		}
		if w.ctx.Err() != nil {
			return zero, w.fail(errStop)
		}
		raw, err := json.Marshal(input)
		if err != nil {
			return zero, w.fail(fmt.Errorf("child %s: input does not encode as JSON: %w", p, err))
		}
		if _, _, err := w.e.StartRun(w.ctx, wf.Name(), runID, raw); err != nil {
			if stopping(w.ctx, err) {
				return zero, w.fail(errStop)
			}
			return zero, w.fail(fmt.Errorf("child %s: start run %s of %s: %w", p, runID, wf.Name(), err))
		}
		ch, err := w.e.rt.Client().WithCaller(parentCaller(w.actorID)).Get(w.ctx, wf.Name(), []string{runID})
		if err != nil {
			return zero, w.fail(errStop)
		}
		if _, err := actors.Call[struct{}](w.ctx, ch, parentAction, w.actorID, p.String()); err != nil {
			if stopping(w.ctx, err) {
				return zero, w.fail(errStop)
			}
			return zero, w.fail(fmt.Errorf("child %s: %w", p, err))
		}
		if e, err = w.waitEntry(p, "child"); err != nil {
			return zero, err
		}
	}
	w.visited(e)
	var out childOutcome
	if err := json.Unmarshal(e.Output, &out); err != nil {
		return zero, w.fail(fmt.Errorf("%w: child %s: %w", ErrInvalidPath, p, err))
	}
	if out.Status != StatusCompleted {
		msg := fmt.Sprintf("child run %s of %s %s", runID, wf.Name(), out.Status)
		if out.Error != nil {
			msg += ": " + out.Error.Code + ": " + out.Error.Message
		}
		return zero, w.fail(&Error{Code: CodeChildFailed, Message: TruncateMessage(msg)})
	}
	var r Out
	if err := json.Unmarshal(out.Result, &r); err != nil {
		return zero, w.fail(fmt.Errorf("child %s: result does not decode: %w", p, err))
	}
	return r, nil
}

// waitEntry waits until the entry at p is done (completed by an action:
// $child), in memory up to Options.ParkAfter, then parked (status
// waiting) until the action wakes the run. It returns the done entry.
func (w *W) waitEntry(p Path, what string) (Entry, error) {
	if w.ro != nil {
		return Entry{}, w.frontier(p)
	}
	key := EntryKey(w.epoch, p)
	clk := w.e.rt.Clock()
	start := clk.Now()
	for {
		parkIt := clk.Now().Sub(start) >= w.c.opts.ParkAfter
		var e Entry
		var wake <-chan struct{}
		parked := false
		args := wfArgs{Op: what, Entry: p.String(), Status: StatusRunning}
		if parkIt {
			args.Status = StatusWaiting
		}
		err := do(w.ctx, w.h, args, func(ac *actors.Context[RunState]) error {
			parked = false
			if ac.State.Status != StatusRunning || ac.State.Epoch != w.epoch {
				return errStop
			}
			raw, ok := ac.KV().Get(key)
			if !ok {
				return errStop
			}
			var err error
			if e, err = DecodeEntry(raw); err != nil {
				return err
			}
			wake = vars(ac).wake
			if e.Status == EntryWaiting && parkIt {
				parked = w.park(ac, StatusWaiting, &Waiting{Entry: p.String()})
			}
			return nil
		})
		if err != nil {
			if stopping(w.ctx, err) {
				return e, w.fail(errStop)
			}
			return e, w.fail(fmt.Errorf("workflow %s run %s: wait for %s %s: %w", w.c.name, w.runID, what, p, err))
		}
		if parked {
			return e, w.fail(errParked)
		}
		if e.Status != EntryWaiting {
			if err := w.replay.Commit(p, e); err != nil {
				return e, w.fail(err)
			}
			return e, nil
		}
		left := w.c.opts.ParkAfter - clk.Now().Sub(start)
		if left <= 0 {
			left = w.c.opts.ParkAfter // parkIt on the next turn; W.park may decline
		}
		if !w.memWait(left, wake) {
			return e, w.fail(errStop)
		}
	}
}

// parentCaller is the caller a parent run's runner calls $parent as.
func parentCaller(parentID string) string { return "workflow:" + parentID }

// registerChildActions adds $parent and $child to the run type.
func registerChildActions(t *actors.Type[RunState], c *core) {
	t.Action(parentAction, actors.Act2(c.setParent))
	t.Action(childAction, actors.Act2(c.childDone))
}

// setParent is the $parent(actorID, entry) action a parent's runner calls
// on its child: the child reports its end there. A child already finished
// reports at once.
func (c *core) setParent(ac *actors.Context[RunState], parentID, entry string) (struct{}, error) {
	if parentID == "" || ac.Caller() != parentCaller(parentID) {
		return struct{}{}, actors.NewUserError("invalid_request", "$parent is called by the parent run's engine only", nil)
	}
	st := ac.State
	ref := &ParentRef{ActorID: parentID, Entry: entry}
	if st.Parent != nil && *st.Parent == *ref {
		if !st.Status.Finished() {
			return struct{}{}, nil
		}
	}
	st.Parent = ref
	if st.Status.Finished() {
		return struct{}{}, reportToParent(ac)
	}
	return struct{}{}, nil
}

// reportToParent sends the run's outcome to its parent (an effect of the
// current event, at least once; $child is compare-and-set).
func reportToParent(ac *actors.Context[RunState]) error {
	st := ac.State
	if st.Parent == nil {
		return nil
	}
	out := childOutcome{Status: st.Status, Error: st.Error}
	if st.Status == StatusCompleted {
		if r, ok := ac.KV().Get(outKey); ok {
			out.Result = append(json.RawMessage(nil), r...)
		}
	}
	return ac.Send(st.Parent.ActorID, childAction, st.Parent.Entry, out)
}

// childDone is the $child(entry, outcome) action a finished child sends:
// the child entry at entry is done, and a parent parked on it runs again.
// Only the child the entry names may send it; a repeat changes nothing.
func (c *core) childDone(ac *actors.Context[RunState], entry string, out childOutcome) (TimerResult, error) {
	st := ac.State
	p, err := ParsePath(entry)
	if err != nil {
		return TimerResult{}, actors.NewUserError("invalid_request", "$child: "+err.Error(), nil)
	}
	key := EntryKey(st.Epoch, p)
	raw, ok := ac.KV().Get(key)
	if !ok || st.Status.Finished() {
		return TimerResult{Status: st.Status}, nil
	}
	e, err := DecodeEntry(raw)
	if err != nil || e.Kind != KindChild || e.Status != EntryWaiting {
		return TimerResult{Status: st.Status}, nil
	}
	var x childExtra
	_ = json.Unmarshal(e.Extra, &x)
	want, err := actors.ActorID(x.Workflow, []string{x.RunID})
	if err != nil || ac.Caller() != "actor:"+want {
		return TimerResult{}, actors.NewUserError("invalid_request", "$child is sent by the entry's child run only", nil)
	}
	now := ac.Now()
	b, err := json.Marshal(out)
	if err != nil {
		return TimerResult{}, err
	}
	e.Status, e.At, e.Output = EntryCompleted, now, b
	if out.Status != StatusCompleted {
		e.Status = EntryFailed
	}
	enc, err := EncodeEntry(p, e)
	if err != nil {
		return TimerResult{}, err
	}
	ac.KV().Put(key, enc)
	st.UpdatedAt = now
	ac.Broadcast("wf.progress", progress{Entry: entry, Status: string(e.Status)})
	if st.Status == StatusWaiting && st.Waiting.waitsOn(entry) {
		st.Status, st.Waiting = StatusRunning, nil
	}
	c.startIfIdle(ac)
	if v := vars(ac); v.active {
		poke(v)
	}
	return TimerResult{Status: st.Status}, nil
}

// cancelChildren sends cancel to the open children of the run in ac (an
// effect of the cancel's event; a child already finished refuses it).
func cancelChildren(ac *actors.Context[RunState], reason string) {
	for _, kv := range ac.KV().List(JournalPrefix(ac.State.Epoch)) {
		e, err := DecodeEntry(kv.Value)
		if err != nil || e.Kind != KindChild || e.Status != EntryWaiting {
			continue
		}
		var x childExtra
		if json.Unmarshal(e.Extra, &x) != nil {
			continue
		}
		if id, err := actors.ActorID(x.Workflow, []string{x.RunID}); err == nil {
			if err := ac.Send(id, "cancel", "parent cancelled: "+reason); err != nil && !errors.Is(err, actors.ErrNotFound) {
				ac.Log().Warn("workflow: cancel a child run", "child", id, "err", err)
			}
		}
	}
}
