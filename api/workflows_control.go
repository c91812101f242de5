package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// The routes of one run beyond start, get and signal: its events (the run
// actor's log), its live stream (the run actor's broadcasts), and cancel,
// pause and resume.

type runEventsInput struct {
	Name  string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	RunID string `path:"runId" doc:"Run ID: 1 to 128 of A-Z a-z 0-9 . _ -" example:"r1"`
	After uint64 `query:"after" doc:"Return events after this log sequence (0 = from the start)"`
	Limit int    `query:"limit" minimum:"1" maximum:"10000" default:"100" doc:"Page size (at most the server's limit)"`
	State bool   `query:"state" doc:"Add the run actor's whole state after each event, folded from the log (events store patches)"`
}

type cancelRunInput struct {
	Name  string `path:"name" maxLength:"64" doc:"Workflow name" example:"agent"`
	RunID string `path:"runId" doc:"Run ID: 1 to 128 of A-Z a-z 0-9 . _ -" example:"r1"`
	Body  *struct {
		Reason string `json:"reason,omitempty" maxLength:"1024" doc:"Why the run is cancelled (recorded in the run's events)" example:"superseded"`
	}
}

type controlRunOutput struct {
	Body struct {
		Status  string `json:"status" enum:"running,sleeping,waiting,paused,completed,failed,cancelled" doc:"The run's status after the call (cancel answers before the compensations have run: poll the run for cancelled)" example:"paused"`
		Changed bool   `json:"changed" doc:"Whether the call changed the run (false: it was already so, such as pausing a paused run)" example:"true"`
	}
}

func controlOutput(r workflows.ControlResult) *controlRunOutput {
	out := &controlRunOutput{}
	out.Body.Status, out.Body.Changed = string(r.Status), r.Changed
	return out
}

// registerWorkflowRunRoutes serves a run's events, stream and controls.
func (s *Server) registerWorkflowRunRoutes(tags []string) {
	eng := s.opts.Workflows
	huma.Register(s.api, huma.Operation{
		OperationID: "workflowRunEvents", Method: http.MethodGet, Path: "/v1/workflows/{name}/runs/{runId}/events", Tags: tags,
		Summary: "Read a workflow run's events",
		Description: "The run actor's events after sequence `after`, oldest first, straight from the log, paged with `nextAfter` as GET /v1/actors/{id}/events: " +
			"its create, each journaled call (`$wf` system events whose args hold the op, the entry and the run's status), signals, timers and controls. " +
			"An unknown workflow is 404 `workflow_not_found`, an unknown run 404 `run_not_found`.",
	}, func(ctx context.Context, in *runEventsInput) (*historyOutput, error) {
		run, err := eng.Get(ctx, in.Name, in.RunID)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		return s.history(ctx, &historyInput{ID: run.ActorID, After: in.After, Limit: in.Limit, State: in.State})
	})
	s.mux.HandleFunc("GET /v1/workflows/{name}/runs/{runId}/sse", s.runSSE)
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "workflowRunSSE", Method: http.MethodGet, Path: "/v1/workflows/{name}/runs/{runId}/sse", Tags: tags,
		Summary: "Stream a workflow run's progress (Server-Sent Events)",
		Description: "The run actor's broadcasts as GET /v1/actors/{id}/sse streams them: `wf.progress` (`{entry?, status}` at each journaled call and status change) " +
			"and `wf.stream` (`{entry, attempt, seq, chunk}`: a step's partial output, live and not journaled). `?event=name` (repeatable) filters. " +
			"An unknown workflow is 404 `workflow_not_found`, an unknown run 404 `run_not_found`.",
		Parameters: []*huma.Param{
			{Name: "name", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "runId", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: "event", In: "query", Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{"200": {Description: "The event stream"}, "404": {Description: "Unknown workflow or run"}, "429": {Description: "Too many connections"}},
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "cancelWorkflowRun", Method: http.MethodPost, Path: "/v1/workflows/{name}/runs/{runId}/cancel", Tags: tags,
		Summary: "Cancel a workflow run",
		Description: "Cancels the run: the compensations of its completed steps run in reverse order, then it ends `cancelled` (a paused run resumes to compensate). " +
			"Cancelling a run already being cancelled changes nothing (`changed` false). A finished run is 409 `run_finished`; an unknown workflow or run 404.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, func(ctx context.Context, in *cancelRunInput) (*controlRunOutput, error) {
		reason := ""
		if in.Body != nil {
			reason = in.Body.Reason
		}
		res, err := eng.Cancel(ctx, in.Name, in.RunID, reason)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		return controlOutput(res), nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "pauseWorkflowRun", Method: http.MethodPost, Path: "/v1/workflows/{name}/runs/{runId}/pause", Tags: tags,
		Summary: "Pause a workflow run",
		Description: "Pauses the run: its timers stop (the time they had left is kept), its runner stops at its next journaled call, and signals are still buffered. " +
			"Pausing a paused run changes nothing (`changed` false). A finished run is 409 `run_finished`; an unknown workflow or run 404.",
	}, func(ctx context.Context, in *runPath) (*controlRunOutput, error) {
		res, err := eng.Pause(ctx, in.Name, in.RunID)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		return controlOutput(res), nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "resumeWorkflowRun", Method: http.MethodPost, Path: "/v1/workflows/{name}/runs/{runId}/resume", Tags: tags,
		Summary: "Resume a paused workflow run",
		Description: "Resumes a paused run: its timers are re-armed for the time they had left and it runs again. Resuming a run that is not paused changes nothing (`changed` false). " +
			"A finished run is 409 `run_finished`; an unknown workflow or run 404.",
	}, func(ctx context.Context, in *runPath) (*controlRunOutput, error) {
		res, err := eng.Resume(ctx, in.Name, in.RunID)
		if err != nil {
			return nil, s.fromWorkflows(err)
		}
		return controlOutput(res), nil
	})
}

// runSSE streams the run actor's broadcasts: the actor SSE handler on the
// run's actor, once the workflow and the run are known to exist.
func (s *Server) runSSE(w http.ResponseWriter, r *http.Request) {
	run, err := s.opts.Workflows.Get(r.Context(), r.PathValue("name"), r.PathValue("runId"))
	if err != nil {
		writeError(w, s.fromWorkflows(err))
		return
	}
	r.SetPathValue("id", run.ActorID)
	s.sse(w, r)
}
