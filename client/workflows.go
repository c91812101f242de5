package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Error codes of the workflow routes (/v1/workflows).
const (
	// CodeWorkflowNotFound (404): the server runs no workflow of this name.
	CodeWorkflowNotFound = string(errcode.WorkflowNotFound)
	// CodeRunNotFound (404): the workflow has no run of this ID.
	CodeRunNotFound = string(errcode.RunNotFound)
	// CodeRunFinished (409): the run is completed, failed or cancelled.
	CodeRunFinished = string(errcode.RunFinished)
	// CodeInboxFull (429): the run's inbox holds as many signals not yet
	// taken as its workflow allows.
	CodeInboxFull = string(errcode.InboxFull)
	// CodeInvalidRunID (400): a run ID is not 1 to 128 of [A-Za-z0-9._-].
	CodeInvalidRunID = string(errcode.InvalidRunID)
)

// Run statuses (WorkflowRun.Status).
const (
	RunRunning   = "running"
	RunSleeping  = "sleeping"
	RunWaiting   = "waiting"
	RunPaused    = "paused"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// RunFinished reports whether status is final (completed, failed or
// cancelled).
func RunFinished(status string) bool {
	return status == RunCompleted || status == RunFailed || status == RunCancelled
}

// WorkflowRun is a run of a workflow, as the server shows it.
type WorkflowRun struct {
	RunID    string `json:"runId"`
	Workflow string `json:"workflow"`
	// ActorID is the run actor's ID: Events(ActorID) reads the run's events.
	ActorID string `json:"actorId"`
	// Status is one of the Run* statuses.
	Status string `json:"status"`
	// Current is the path of the run's last journaled call.
	Current string `json:"current,omitempty"`
	// Steps counts the completed steps.
	Steps int `json:"steps"`
	// Result is the workflow's output (completed runs only).
	Result json.RawMessage `json:"result,omitempty"`
	// Error is why the run failed (failed runs only).
	Error     *RunError `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// EndedAt is when the run finished; zero while it has not.
	EndedAt time.Time `json:"endedAt,omitzero"`
}

// RunError is why a run failed: a run error code (step_failed,
// nondeterminism, ... or the code of the error the workflow returned), a
// message and the journaled call that failed it, if one did.
type RunError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Entry   string `json:"entry,omitempty"`
}

// StartedRun is the answer to StartRun: the run's ID and its status as of
// the start.
type StartedRun struct {
	RunID  string `json:"runId"`
	Status string `json:"status"`
}

// StartRun starts run runID of workflow with input (encoded as JSON; a
// json.RawMessage is sent as it is; nil is null), or finds it: starting is
// idempotent on runID, and created reports which (an existing run keeps its
// input). An empty runID lets the server pick one. Unknown workflow:
// CodeWorkflowNotFound.
func (c *Client) StartRun(ctx context.Context, workflow, runID string, input any) (run *StartedRun, created bool, err error) {
	if workflow == "" {
		return nil, false, errMissing("workflow name")
	}
	body := struct {
		RunID string          `json:"runId,omitempty"`
		Input json.RawMessage `json:"input,omitempty"`
	}{RunID: runID}
	if input != nil {
		if body.Input, err = json.Marshal(input); err != nil {
			return nil, false, fmt.Errorf("client: encode the run's input: %w", err)
		}
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	path := "/v1/workflows/" + escape(workflow) + "/runs"
	resp, err := c.send(ctx, http.MethodPost, path, nil, body, "application/json")
	if err != nil {
		return nil, false, err
	}
	defer closeBody(resp.Body)
	run = &StartedRun{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(run); err != nil {
		return nil, false, fmt.Errorf("client: POST %s: decode the response: %w", path, err)
	}
	return run, resp.StatusCode == http.StatusCreated, nil
}

// Run returns run runID of workflow. Unknown workflow: CodeWorkflowNotFound;
// unknown run: CodeRunNotFound.
func (c *Client) Run(ctx context.Context, workflow, runID string) (*WorkflowRun, error) {
	if workflow == "" {
		return nil, errMissing("workflow name")
	}
	if runID == "" {
		return nil, errMissing("run ID")
	}
	var run WorkflowRun
	if err := c.do(ctx, http.MethodGet, "/v1/workflows/"+escape(workflow)+"/runs/"+escape(runID), nil, nil, &run); err != nil {
		return nil, err
	}
	return &run, nil
}

// RunListOptions filters and pages Runs.
type RunListOptions struct {
	// Status keeps only the runs with this status (one of the Run*
	// statuses); a page may then hold fewer than Limit runs.
	Status string
	// Limit is the page size; the server caps it (100 by default).
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// RunPage is a page of Runs, in run ID order. Their Result is left out.
type RunPage struct {
	Runs []WorkflowRun `json:"runs"`
	// NextCursor is the Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Runs lists the runs of workflow. opts may be nil. Unknown workflow:
// CodeWorkflowNotFound.
func (c *Client) Runs(ctx context.Context, workflow string, opts *RunListOptions) (*RunPage, error) {
	if workflow == "" {
		return nil, errMissing("workflow name")
	}
	q := url.Values{}
	if opts != nil {
		if opts.Status != "" {
			q.Set("status", opts.Status)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Cursor != "" {
			q.Set("cursor", opts.Cursor)
		}
	}
	var page RunPage
	if err := c.do(ctx, http.MethodGet, "/v1/workflows/"+escape(workflow)+"/runs", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// SignalResult is the answer to Signal: the signal's ID in the run's inbox
// and the run's status after it.
type SignalResult struct {
	MessageID uint64 `json:"messageId"`
	Status    string `json:"status"`
}

// Signal sends signal with payload (encoded as JSON; a json.RawMessage is
// sent as it is; nil is null) to run runID of workflow. The run keeps it in
// its inbox until a wait for that signal takes it. A finished run:
// CodeRunFinished; a full inbox: CodeInboxFull (retried like any 429);
// unknown workflow or run: CodeWorkflowNotFound, CodeRunNotFound.
func (c *Client) Signal(ctx context.Context, workflow, runID, signal string, payload any) (*SignalResult, error) {
	switch {
	case workflow == "":
		return nil, errMissing("workflow name")
	case runID == "":
		return nil, errMissing("run ID")
	case signal == "":
		return nil, errMissing("signal name")
	}
	var body struct {
		Payload json.RawMessage `json:"payload,omitempty"`
	}
	if payload != nil {
		var err error
		if body.Payload, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("client: encode the signal's payload: %w", err)
		}
	}
	var res SignalResult
	path := "/v1/workflows/" + escape(workflow) + "/runs/" + escape(runID) + "/signals/" + escape(signal)
	if err := c.do(ctx, http.MethodPost, path, nil, body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// RunEvents reads one page of run runID's events: its actor's history
// (Events(run.ActorID)), straight from the log: the create, each journaled
// call ($wf system events), signals, timers and controls. opts may be nil.
// Unknown workflow or run: CodeWorkflowNotFound, CodeRunNotFound.
func (c *Client) RunEvents(ctx context.Context, workflow, runID string, opts *EventsOptions) (*EventPage, error) {
	if workflow == "" {
		return nil, errMissing("workflow name")
	}
	if runID == "" {
		return nil, errMissing("run ID")
	}
	var page EventPage
	if err := c.do(ctx, http.MethodGet, runPath(workflow, runID)+"/events", runEventsQuery(opts), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// ControlResult is the answer to CancelRun, PauseRun and ResumeRun: the
// run's status after the call and whether the call changed it.
type ControlResult struct {
	Status  string `json:"status"`
	Changed bool   `json:"changed"`
}

// CancelRun cancels run runID of workflow, with reason (may be empty): the
// compensations of its completed steps run in reverse order, then the run
// ends cancelled (poll Run for it). A finished run: CodeRunFinished.
func (c *Client) CancelRun(ctx context.Context, workflow, runID, reason string) (*ControlResult, error) {
	body := struct {
		Reason string `json:"reason,omitempty"`
	}{reason}
	return c.controlRun(ctx, workflow, runID, "cancel", body)
}

// PauseRun pauses run runID of workflow: its timers stop (keeping the
// time they had left) and it stops at its next journaled call; signals are
// still taken in. A finished run: CodeRunFinished.
func (c *Client) PauseRun(ctx context.Context, workflow, runID string) (*ControlResult, error) {
	return c.controlRun(ctx, workflow, runID, "pause", nil)
}

// ResumeRun resumes a paused run: its timers are re-armed for the time
// they had left and it runs again. A finished run: CodeRunFinished.
func (c *Client) ResumeRun(ctx context.Context, workflow, runID string) (*ControlResult, error) {
	return c.controlRun(ctx, workflow, runID, "resume", nil)
}

func (c *Client) controlRun(ctx context.Context, workflow, runID, op string, body any) (*ControlResult, error) {
	if workflow == "" {
		return nil, errMissing("workflow name")
	}
	if runID == "" {
		return nil, errMissing("run ID")
	}
	var res ControlResult
	if err := c.do(ctx, http.MethodPost, runPath(workflow, runID)+"/"+op, nil, body, &res); err != nil {
		return nil, err
	}
	return &res, nil
}

// FollowRun calls fn with each event of run runID after sequence after,
// oldest first: the events the log holds, then each new one as it is
// appended (the server's log tail of the workflow's type, filtered to the
// run), with no gap between the two. It returns nil once the run is
// finished and fn has seen all its events, fn's error as is, ctx's error
// when ctx ends, or an *Error (CodeRunNotFound, ...). Options.Timeout does
// not apply to the tail.
func (c *Client) FollowRun(ctx context.Context, workflow, runID string, after uint64, fn func(Event) error) error {
	run, err := c.Run(ctx, workflow, runID)
	if err != nil {
		return err
	}
	if after, err = c.runEventsAfter(ctx, workflow, runID, after, fn); err != nil {
		return err
	}
	if RunFinished(run.Status) {
		return nil // finished before the read: the read had every event
	}
	errDone := errors.New("run finished")
	err = c.Tail(ctx, &TailOptions{After: after, Type: workflow}, func(ev LogEvent) error {
		if ev.ActorID != run.ActorID {
			return nil
		}
		if err := fn(ev.Event); err != nil {
			return err
		}
		after = ev.Seq
		if !endsRun(ev.Event) {
			return nil
		}
		// Finished: the events after this one are all in the log now.
		if after, err = c.runEventsAfter(ctx, workflow, runID, after, fn); err != nil {
			return err
		}
		return errDone
	})
	if errors.Is(err, errDone) {
		return nil
	}
	return err
}

// endsRun reports whether ev ends a run: the engine's finish event (its
// $wf args' op), or the run actor's destroy. Read from the event itself,
// so following a run costs no request per event.
func endsRun(ev Event) bool {
	if ev.Kind == "destroy" {
		return true
	}
	if ev.Action != "$wf" {
		return false
	}
	var a struct {
		Op string `json:"op"`
	}
	return json.Unmarshal(ev.Args, &a) == nil && a.Op == "finish"
}

// runEventsAfter calls fn with each event of the run the log holds after
// sequence after, and returns the sequence of the last one.
func (c *Client) runEventsAfter(ctx context.Context, workflow, runID string, after uint64, fn func(Event) error) (uint64, error) {
	for {
		page, err := c.RunEvents(ctx, workflow, runID, &EventsOptions{After: after, Limit: 1000})
		if err != nil {
			return after, err
		}
		for _, ev := range page.Events {
			if err := fn(ev); err != nil {
				return after, err
			}
			after = ev.Seq
		}
		if page.NextAfter == 0 {
			return after, nil
		}
	}
}

// runPath is the path of a run.
func runPath(workflow, runID string) string {
	return "/v1/workflows/" + escape(workflow) + "/runs/" + escape(runID)
}

// runEventsQuery is the query of RunEvents (as Events sends it).
func runEventsQuery(opts *EventsOptions) url.Values {
	q := url.Values{}
	if opts == nil {
		return q
	}
	if opts.After > 0 {
		q.Set("after", strconv.FormatUint(opts.After, 10))
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.State {
		q.Set("state", "true")
	}
	return q
}
