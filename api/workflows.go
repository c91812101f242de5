package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Workflow runs (/v1/workflows): start a run of a workflow the server
// runs (Options.Workflows), read it, list them. A run is an actor of the
// workflow's run actor type keyed by its run ID: its events are at
// /v1/actors/{actorId}/events.

// WorkflowRun is a run as GET /v1/workflows/{name}/runs/{runId} shows it.
type WorkflowRun struct {
	RunID    string `json:"runId" doc:"The run's ID, unique within its workflow" example:"r1"`
	Workflow string `json:"workflow" doc:"The workflow's name" example:"agent"`
	ActorID  string `json:"actorId" doc:"The run actor's ID: its events are at /v1/actors/{actorId}/events" example:"agent.kAnIx"`
	Status   string `json:"status" enum:"running,sleeping,waiting,paused,completed,failed,cancelled" doc:"The run's status" example:"completed"`
	Current  string `json:"current,omitempty" doc:"The path of the run's last journaled call" example:"summarize"`
	Steps    int    `json:"steps" doc:"Completed steps" example:"3"`
	Epoch    int    `json:"epoch,omitempty" doc:"How many times the run continued as new (GET only)" example:"1"`
	// Waiting is what a parked run waits for (GET only).
	Waiting *RunWaiting `json:"waiting,omitempty" doc:"What a sleeping or waiting run waits for (GET only)"`
	Inbox   int         `json:"inbox,omitempty" doc:"Signals and queue messages buffered, not yet taken (GET only)" example:"1"`
	// CancelRequested: a cancel is being carried out.
	CancelRequested bool   `json:"cancelRequested,omitempty" doc:"A cancel is being carried out: compensations run, then the run ends cancelled" example:"true"`
	PausedFrom      string `json:"pausedFrom,omitempty" doc:"The status a paused run resumes to" example:"waiting"`
	// Result is the workflow's output, once completed.
	Result    json.RawMessage `json:"result,omitempty" doc:"The workflow's output (completed runs only)" example:"{\"summary\":\"Task: what is 6 * 7?\\n- calc(6 * 7) = 42\\n1 tool call, 0 failed.\",\"approved\":true,\"tools\":[{\"tool\":\"calc\",\"input\":\"6 * 7\",\"output\":\"42\"}]}"`
	Error     *WorkflowError  `json:"error,omitempty" doc:"Why the run failed (failed runs only)"`
	CreatedAt time.Time       `json:"createdAt" example:"2026-12-03T11:15:33.0104608Z"`
	UpdatedAt time.Time       `json:"updatedAt" example:"2026-12-03T11:15:35.134111478Z"`
	EndedAt   time.Time       `json:"endedAt,omitzero" doc:"When the run finished (absent while it has not)" example:"2026-12-03T11:15:35.134111478Z"`
}

// RunWaiting is what a parked run waits for.
type RunWaiting struct {
	Entry   string    `json:"entry" doc:"The path of the journaled call it waits in" example:"approval"`
	Entries []string  `json:"entries,omitempty" doc:"Every call it waits in, when Join or Race branches wait together" example:"[\"approval\",\"reminder\"]"`
	Names   []string  `json:"names,omitempty" doc:"The signals or queues whose message wakes it" example:"[\"approve\"]"`
	Until   time.Time `json:"until,omitzero" doc:"When its timer fires (absent: no timer)" example:"2026-12-04T11:15:33.014Z"`
}

// WorkflowError is why a run failed.
type WorkflowError struct {
	Code    string `json:"code" doc:"A run error code (docs/errors.md: step_failed, nondeterminism, ...) or the code of the error the workflow returned" example:"step_failed"`
	Message string `json:"message" doc:"Human-readable message" example:"agent: openai: dial tcp: lookup api.openai.com: no such host"`
	Entry   string `json:"entry,omitempty" doc:"The path of the journaled call that failed the run, if one did" example:"plan"`
}

// workflowRunOf is a run as the API shows it.
func workflowRunOf(r workflows.Run) WorkflowRun {
	out := WorkflowRun{RunID: r.RunID, Workflow: r.Workflow, ActorID: r.ActorID, Status: string(r.Status), Current: r.Current,
		Steps: r.Steps, Epoch: r.Epoch, Inbox: r.Inbox, CancelRequested: r.CancelRequested, PausedFrom: string(r.PausedFrom),
		Result: r.Result, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, EndedAt: r.EndedAt}
	if r.Waiting != nil {
		out.Waiting = &RunWaiting{Entry: r.Waiting.Entry, Entries: r.Waiting.Entries, Names: r.Waiting.Names, Until: r.Waiting.Until}
	}
	if r.Error != nil {
		out.Error = &WorkflowError{Code: r.Error.Code, Message: r.Error.Message, Entry: r.Error.Entry}
	}
	return out
}

type startRunInput struct {
	Name string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	Body *struct {
		RunID string          `json:"runId,omitempty" maxLength:"128" doc:"The run's ID: 1 to 128 of A-Z a-z 0-9 . _ -. Starting is idempotent on it: a run that exists is returned as it is (200), its input kept. Absent: the server picks a random one" example:"r1"`
		Input json.RawMessage `json:"input,omitempty" doc:"The workflow's input, any JSON value (absent is null)" example:"{\"task\":\"summarize\"}"`
	}
}

type startRunOutput struct {
	Status int `json:"-"`
	Body   struct {
		RunID  string `json:"runId" example:"r1"`
		Status string `json:"status" enum:"running,sleeping,waiting,paused,completed,failed,cancelled" doc:"The run's status as of the start" example:"running"`
	}
}

type runPath struct {
	Name  string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	RunID string `path:"runId" doc:"Run ID: 1 to 128 of A-Z a-z 0-9 . _ -" example:"r1"`
}

type runOutput struct {
	Body WorkflowRun
}

type listRunsInput struct {
	Name   string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	Status string `query:"status" enum:"running,sleeping,waiting,paused,completed,failed,cancelled" doc:"Only runs with this status; a page may then hold fewer than limit runs (follow nextCursor)"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size (at most the server's limit)"`
	Cursor string `query:"cursor" doc:"Continue from the previous page: pass its nextCursor"`
}

type listRunsOutput struct {
	Body struct {
		Runs       []WorkflowRun `json:"runs"`
		NextCursor string        `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last" example:"d29ya2Zsb3dfcnVucy9yL2FnZW50L3Ix"`
	}
}

type signalRunInput struct {
	Name   string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	RunID  string `path:"runId" doc:"Run ID: 1 to 128 of A-Z a-z 0-9 . _ -" example:"r1"`
	Signal string `path:"signal" maxLength:"128" doc:"Signal name, as the run's WaitSignal names it" example:"approve"`
	Body   *struct {
		Payload json.RawMessage `json:"payload,omitempty" doc:"The signal's payload, any JSON value (absent is null; at most 64 KiB)" example:"{\"approved\":true}"`
	}
}

type signalRunOutput struct {
	Body struct {
		MessageID uint64 `json:"messageId" doc:"The signal's ID in the run's inbox (1, 2, ... per run)" example:"1"`
		Status    string `json:"status" enum:"running,sleeping,waiting,paused,completed,failed,cancelled" doc:"The run's status after the signal (running if it woke the run)" example:"running"`
	}
}

// registerWorkflows serves /v1/workflows over Options.Workflows.
func (s *Server) registerWorkflows() {
	eng := s.opts.Workflows
	tags := []string{"workflows"}
	huma.Register(s.api, huma.Operation{
		OperationID: "startWorkflowRun", Method: http.MethodPost, Path: "/v1/workflows/{name}/runs", Tags: tags,
		DefaultStatus: http.StatusCreated, Summary: "Start a workflow run",
		Description: "Starts run runId of the workflow with input (201), or returns the run with that ID as it is (200: starting is idempotent on runId; the new input is ignored). " +
			"The run goes on in the background: GET the run for its progress. An unknown workflow is 404 `workflow_not_found`; a bad run ID 400 `invalid_run_id`.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *startRunInput) (*startRunOutput, error) {
		var runID string
		var input json.RawMessage
		if in.Body != nil {
			runID, input = in.Body.RunID, in.Body.Input
		}
		if runID == "" {
			runID = newRunID()
		}
		run, created, err := eng.StartRun(ctx, in.Name, runID, input)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		out := &startRunOutput{Status: http.StatusOK}
		if created {
			out.Status = http.StatusCreated
		}
		out.Body.RunID, out.Body.Status = run.RunID, string(run.Status)
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "getWorkflowRun", Method: http.MethodGet, Path: "/v1/workflows/{name}/runs/{runId}", Tags: tags,
		Summary:     "Get a workflow run",
		Description: "The run's status, its last journaled call (current), completed steps, and its result (completed) or error (failed). Reading appends nothing and does not wake the run. An unknown workflow is 404 `workflow_not_found`, an unknown run 404 `run_not_found`.",
	}, func(ctx context.Context, in *runPath) (*runOutput, error) {
		run, err := eng.Get(ctx, in.Name, in.RunID)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		return &runOutput{Body: workflowRunOf(run)}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "signalWorkflowRun", Method: http.MethodPost, Path: "/v1/workflows/{name}/runs/{runId}/signals/{signal}", Tags: tags,
		DefaultStatus: http.StatusAccepted, Summary: "Send a signal to a workflow run",
		Description: "Appends the signal, with payload, to the run's inbox (202), where it waits for the run's WaitSignal of that name: a signal sent before the wait begins is not lost. " +
			"A run parked waiting for it resumes. A finished run is 409 `run_finished`; a full inbox 429 `inbox_full`; a payload over 64 KiB 413 `body_too_large`; " +
			"an unknown workflow 404 `workflow_not_found`, an unknown run 404 `run_not_found`.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *signalRunInput) (*signalRunOutput, error) {
		var payload json.RawMessage
		if in.Body != nil {
			payload = in.Body.Payload
		}
		id, status, err := eng.Signal(ctx, in.Name, in.RunID, in.Signal, payload)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		out := &signalRunOutput{}
		out.Body.MessageID, out.Body.Status = id, string(status)
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "listWorkflowRuns", Method: http.MethodGet, Path: "/v1/workflows/{name}/runs", Tags: tags,
		Summary: "List a workflow's runs",
		Description: "The workflow's runs in run ID order, `limit` at a time, each as GET /v1/workflows/{name}/runs/{runId} shows it (without result). " +
			"They are read from the runs projection (`workflow_runs`), after it reaches the log's head (read-your-writes, at most the server's list wait); " +
			"`status` reads that status's index, so a page holds exactly the runs in that status. Page with `nextCursor` (from a listing with the same `status`).",
	}, s.listRuns)
	s.registerWorkflowRunRoutes(tags)
}

// listRuns lists a workflow's runs from the runs projection.
func (s *Server) listRuns(ctx context.Context, in *listRunsInput) (*listRunsOutput, error) {
	runs, next, err := s.opts.Workflows.List(ctx, in.Name, workflows.ListQuery{Status: workflows.Status(in.Status),
		Limit: min(max(in.Limit, 1), projections.MaxPageLimit), Cursor: in.Cursor, MaxWait: s.opts.ListWait})
	if err != nil {
		return nil, s.fromWorkflows(err)
	}
	out := &listRunsOutput{}
	out.Body.Runs = make([]WorkflowRun, len(runs))
	for i, r := range runs {
		out.Body.Runs[i] = workflowRunOfSummary(r)
	}
	out.Body.NextCursor = next
	return out, nil
}

// workflowRunOfSummary is a listed run as the API shows it.
func workflowRunOfSummary(r workflows.RunSummary) WorkflowRun {
	out := WorkflowRun{RunID: r.RunID, Workflow: r.Workflow, Status: string(r.Status), Current: r.Current, Steps: r.Steps,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, EndedAt: r.EndedAt}
	if id, err := actors.ActorID(r.Workflow, []string{r.RunID}); err == nil {
		out.ActorID = id
	}
	if r.Error != nil {
		out.Error = &WorkflowError{Code: r.Error.Code, Message: r.Error.Message, Entry: r.Error.Entry}
	}
	return out
}

// newRunID is a random run ID, for a start without one.
func newRunID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// fromWorkflows turns an engine error into an API error.
func (s *Server) fromWorkflows(err error) *Error {
	switch {
	case errors.Is(err, workflows.ErrWorkflowNotFound):
		return errorOf(errcode.WorkflowNotFound, err.Error(), nil)
	case errors.Is(err, workflows.ErrRunNotFound):
		return errorOf(errcode.RunNotFound, err.Error(), nil)
	case errors.Is(err, workflows.ErrInvalidRunID):
		return errorOf(errcode.InvalidRunID, err.Error(), nil)
	case errors.Is(err, workflows.ErrRunFinished):
		return errorOf(errcode.RunFinished, err.Error(), nil)
	case errors.Is(err, workflows.ErrInvalidListCursor):
		return invalidCursor("cursor", err.Error())
	case errors.Is(err, workflows.ErrInvalidInput):
		return errorOf(errcode.InvalidInput, err.Error(), nil)
	case errors.Is(err, workflows.ErrInvalidListQuery):
		return errorOf(errcode.InvalidRequest, err.Error(), nil)
	case errors.Is(err, workflows.ErrInboxFull):
		e := errorOf(errcode.InboxFull, err.Error(), nil)
		e.retryAfter = 1
		return e
	}
	// The signal action refuses a bad name or a large payload with user
	// errors of these codes; they are the request's faults.
	var ue *actors.UserError
	if errors.As(err, &ue) {
		switch errcode.Code(ue.Code) {
		case errcode.InvalidRequest:
			return errorOf(errcode.InvalidRequest, ue.Message, nil)
		case errcode.EntryTooLarge:
			return errorOf(errcode.BodyTooLarge, ue.Message, nil)
		}
	}
	e := fromActors(err)
	if e.Code == string(errcode.InternalError) {
		s.lg.Error("workflows", "err", err)
	}
	return e
}
