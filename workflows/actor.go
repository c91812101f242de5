package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// Status is a run's status (design §1.6). The engine sets running,
// completed and failed, sleeping (a parked Sleep) and waiting (a parked
// WaitSignal); paused and cancelled arrive with pause and cancellation.
type Status string

// Run statuses.
const (
	StatusRunning   Status = "running"
	StatusSleeping  Status = "sleeping"
	StatusWaiting   Status = "waiting"
	StatusPaused    Status = "paused"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// Finished reports whether s is final (completed, failed or cancelled).
func (s Status) Finished() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// Codes of run failures that are not a step's or the journal's.
const (
	// CodeWorkflowFailed: the workflow function returned an error that
	// carries no code of its own.
	CodeWorkflowFailed errcode.Code = "workflow_failed"
	// CodeInvalidInput: the run's input does not decode into the
	// workflow's input type.
	CodeInvalidInput errcode.Code = "invalid_input"
)

// RunError is why a run failed: a code, a message and, when a journaled
// call failed it, that call's path.
type RunError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Entry   string `json:"entry,omitempty"`
}

// RunState is the state of a run's actor: small (the journal, input and
// result live in its KV), authoritative for the run's status.
type RunState struct {
	Workflow string `json:"workflow"`
	RunID    string `json:"runId"`
	Status   Status `json:"status"`
	// Epoch counts ContinueAsNew.
	Epoch int `json:"epoch"`
	// Seed seeds W.Rand; drawn at the run's create.
	Seed uint64 `json:"seed,omitempty"`
	// Current is the path of the last committed entry.
	Current string `json:"current,omitempty"`
	// Steps counts completed steps, all epochs.
	Steps int `json:"steps"`
	// Waiting is what a parked run (sleeping or waiting) waits for.
	Waiting *Waiting `json:"waiting,omitempty"`
	// Inbox is the signals sent and not yet taken, oldest first; their
	// payloads are in KV (msgKey).
	Inbox     []InboxMsg `json:"inbox,omitempty"`
	NextMsgID uint64     `json:"nextMsgId,omitempty"`
	Error     *RunError  `json:"error,omitempty"`
	// CancelRequested is set by cancel: the runner compensates and ends
	// the run cancelled; CancelReason is the caller's reason.
	CancelRequested bool   `json:"cancelRequested,omitempty"`
	CancelReason    string `json:"cancelReason,omitempty"`
	// PausedFrom is the status a paused run had, and PausedAt when it was
	// paused: resume restores it and shifts its timers by the pause.
	PausedFrom Status    `json:"pausedFrom,omitempty"`
	PausedAt   time.Time `json:"pausedAt,omitzero"`
	// Parent is the run waiting for this one (Child), told at its end.
	Parent    *ParentRef `json:"parent,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	EndedAt   time.Time  `json:"endedAt,omitzero"`
}

// KV keys of a run actor besides the journal (EntryKey).
const (
	outKey = "out"
)

// inKey is the KV key of the input of epoch.
func inKey(epoch int) string { return "in/" + strconv.Itoa(epoch) }

// runVars is a run actor's memory: whether a runner goroutine is active.
// active is read and written only in the mailbox (hooks, actions, Do
// closures), so "start a runner unless one is active" is race-free.
type runVars struct {
	// c is the run's workflow.
	c      *core
	active bool
	// cancel cancels the active runner's execution (cancel action), with
	// cause errCancelRequested; set by the runner in the mailbox.
	cancel context.CancelCauseFunc
	// paused is set by pause and cleared by resume: the runner reads it
	// outside the mailbox before starting new work.
	paused atomic.Bool
	// wake pokes a runner waiting in memory for a signal (buffered, 1).
	wake chan struct{}
}

func vars(c *actors.Context[RunState]) *runVars { return c.Vars.(*runVars) }

// newRunType builds the run actor type of workflow c: named by the
// workflow, keyed [runId], its input in KV in/<epoch> and its result in
// out. The runner starts from OnWake (which runs right after the create
// event too; OnCreate cannot, Vars do not exist yet there).
func newRunType(c *core) *actors.Type[RunState] {
	t := actors.NewType(c.name, actors.Options[RunState]{
		CreateState: func(ac *actors.Context[RunState], _ json.RawMessage) (RunState, error) {
			key := ac.Key()
			now := ac.Now()
			return RunState{Workflow: c.name, RunID: key[0], Status: StatusRunning, Seed: ac.Rand().Uint64(), CreatedAt: now, UpdatedAt: now}, nil
		},
		CreateVars: func(*actors.Context[RunState]) (any, error) { return &runVars{c: c, wake: make(chan struct{}, 1)}, nil },
		OnCreate: func(ac *actors.Context[RunState], input json.RawMessage) error {
			if len(input) == 0 {
				input = json.RawMessage("null")
			}
			ac.KV().Put(inKey(0), input)
			return nil
		},
		OnWake: func(ac *actors.Context[RunState]) error {
			c.startIfIdle(ac)
			return nil
		},
		// A fork (POST /v1/actors/{id}/fork) copies a run at one of its
		// events: it becomes run key[0], with no parent waiting on it; its
		// alarms keep their IDs, so Waiting still matches them, and OnWake
		// starts its runner, which reuses the copied journal.
		OnFork: func(ac *actors.Context[RunState], from string) error {
			key := ac.Key()
			if len(key) != 1 {
				return actors.NewUserError(string(CodeInvalidRunID), fmt.Sprintf("a fork of workflow run %s is keyed [runId], got %d key parts", from, len(key)), nil)
			}
			if err := ValidateRunID(key[0]); err != nil {
				return actors.NewUserError(string(CodeInvalidRunID), err.Error(), nil)
			}
			st, now := ac.State, ac.Now()
			st.RunID, st.Parent = key[0], nil
			st.CreatedAt, st.UpdatedAt = now, now
			return nil
		},
		CodeVersion:   c.opts.CodeVersion,
		MaxStateBytes: c.opts.MaxStateBytes,
	})
	t.Action("status", actors.Act0(func(ac *actors.Context[RunState]) (RunState, error) {
		return *ac.State, nil
	}))
	t.Action(timerAction, actors.Act(c.timer))
	t.Action("signal", actors.Act2(c.signal))
	registerControlActions(t, c)
	registerChildActions(t, c)
	registerQueueActions(t, c)
	for name, fn := range c.opts.Actions {
		if t.HasAction(name) {
			panic(fmt.Sprintf("workflows.Define %s: action %q is the engine's", c.name, name))
		}
		t.Action(name, fn)
	}
	return t
}

// startIfIdle starts a runner for the run in ac when it is running and has
// none. It must run in the mailbox.
func (c *core) startIfIdle(ac *actors.Context[RunState]) {
	v := vars(ac)
	if ac.State.Status != StatusRunning || v.active {
		return
	}
	e := c.eng.Load()
	if e == nil {
		ac.Log().Warn("workflow run not resumed: no engine runs this workflow", "workflow", c.name, "run", ac.State.RunID)
		return
	}
	v.active = true
	runID, epoch := ac.State.RunID, ac.State.Epoch
	// Counted working once the start is committed (a failed call starts
	// no runner; a replay neither), before the caller is answered.
	ac.OnCommit(func() { e.busy.add(1) })
	ac.KeepAwake(func(ctx context.Context) {
		defer e.busy.add(-1)
		e.runRunner(ctx, c, runID, epoch)
	})
}
