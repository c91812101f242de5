package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// Names the agent's workflow is addressed by.
const (
	// WorkflowName is the agent workflow's name (its routes are
	// /v1/workflows/agent/...).
	WorkflowName = "agent"
	// ApprovalSignal is the signal a human sends to approve or reject the
	// run, with an [Approval] payload.
	ApprovalSignal = "approve"
)

// Input is the agent workflow's input.
type Input struct {
	// Task is what the user asks, in plain text. Required.
	Task string `json:"task"`
}

// Output is the agent workflow's result.
type Output struct {
	// Summary is the model's summary of the tool results when approved;
	// otherwise it says why there is none (rejected or timed out).
	Summary string `json:"summary"`
	// Approved reports that the approval signal said approved before the
	// timeout.
	Approved bool `json:"approved"`
	// Note is the reviewer's note, if the approval carried one.
	Note string `json:"note,omitempty"`
	// Tools are the planned tool calls with their results, in plan order.
	Tools []ToolResult `json:"tools"`
}

// Approval is the payload of the [ApprovalSignal] signal.
type Approval struct {
	Approved bool   `json:"approved"`
	Note     string `json:"note,omitempty"`
}

// WorkflowOptions configure [Workflow]. Fields left zero take their defaults.
type WorkflowOptions struct {
	// ApprovalTimeout is how long the run waits for the approval signal
	// before it ends not approved. Defaults to 24h.
	ApprovalTimeout time.Duration
	// ModelTimeout bounds each attempt of a model step (plan, summarize); a
	// timed out attempt is retried. Defaults to 2m.
	ModelTimeout time.Duration
	// MaxRetries is the retries of a model step after its first attempt.
	// Defaults to 3; -1 means none.
	MaxRetries int
	// Workflow configures the run actor type (workflows.Options).
	Workflow workflows.Options
}

func (o WorkflowOptions) withDefaults() WorkflowOptions {
	if o.ApprovalTimeout <= 0 {
		o.ApprovalTimeout = 24 * time.Hour
	}
	if o.ModelTimeout <= 0 {
		o.ModelTimeout = 2 * time.Minute
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 3
	}
	return o
}

// toolConcurrency bounds the tool calls that run at once.
const toolConcurrency = 4

// Workflow is the agent as a durable workflow named [WorkflowName] over m:
//
//   - plan: a step asking m for the tool calls ([PlanRequest], [ParsePlan]),
//     streaming the model's tokens to the run's subscribers (wf.stream);
//   - tools: a Join, at most 4 at a time, of one branch per call, each a step
//     "call" running [RunTool]; a tool's bad input is recorded in its
//     [ToolResult] rather than failing the run;
//   - approval: waits for the signal [ApprovalSignal] with an [Approval]
//     payload, up to ApprovalTimeout (the run parks meanwhile: status
//     waiting);
//   - summarize: when approved, a step asking m for the summary
//     ([SummaryRequest]), streaming its tokens.
//
// Not approved or timed out, the run completes with Approved false and a
// Summary saying so, without asking the model. Model errors are retried
// when [Retryable] says so, after the server's Retry-After when it gave one
// ([RetryDelay]); an empty task fails the run at once (invalid_input).
//
// Each call builds a new Definition; one serves one engine at a time.
func Workflow(m Model, opts ...WorkflowOptions) *workflows.Workflow[Input, Output] {
	var o WorkflowOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	modelStep := workflows.StepOptions{
		MaxRetries:     o.MaxRetries,
		Timeout:        o.ModelTimeout,
		RetryOnTimeout: true,
		// A hosted model may answer a bad plan well on another attempt;
		// Local never gives one.
		NonRetryable: func(err error) bool { return !Retryable(err) && !errors.Is(err, ErrBadPlan) },
		RetryDelay:   func(err error, _ int) (time.Duration, bool) { return RetryDelay(err) },
	}
	return workflows.Define(WorkflowName, func(w *workflows.W, in Input) (Output, error) {
		task := strings.TrimSpace(in.Task)
		if task == "" {
			return Output{}, &workflows.Error{Code: workflows.CodeInvalidInput,
				Message: `agent: the task is empty: start the run with input {"task":"..."}`}
		}
		plan, err := workflows.Step(w, "plan", func(ctx context.Context, s *workflows.StepContext) (Plan, error) {
			resp, err := m.Complete(ctx, PlanRequest(task), streamTo(s))
			if err != nil {
				return Plan{}, err
			}
			return ParsePlan(resp.Content)
		}, modelStep)
		if err != nil {
			return Output{}, err
		}
		results, err := callTools(w, plan.Calls)
		if err != nil {
			return Output{}, err
		}
		out := Output{Tools: results}
		payload, timedOut, err := w.WaitSignal("approval", ApprovalSignal, o.ApprovalTimeout)
		if err != nil {
			return Output{}, err
		}
		if timedOut {
			out.Summary = fmt.Sprintf("Not approved: no %q signal came within %s, so the %s not summarized.",
				ApprovalSignal, o.ApprovalTimeout, resultsNoun(len(results)))
			return out, nil
		}
		var a Approval
		if err := json.Unmarshal(payload, &a); err != nil {
			out.Summary = fmt.Sprintf(`Not approved: the %q payload %s is not {"approved":true|false,"note":"..."}, so the %s not summarized.`,
				ApprovalSignal, payload, resultsNoun(len(results)))
			return out, nil
		}
		out.Approved, out.Note = a.Approved, a.Note
		if !a.Approved {
			out.Summary = fmt.Sprintf("Not approved by the reviewer%s, so the %s not summarized.", noteSuffix(a.Note), resultsNoun(len(results)))
			return out, nil
		}
		out.Summary, err = workflows.Step(w, "summarize", func(ctx context.Context, s *workflows.StepContext) (string, error) {
			resp, err := m.Complete(ctx, SummaryRequest(task, results), streamTo(s))
			return resp.Content, err
		}, modelStep)
		return out, err
	}, o.Workflow)
}

// callTools runs calls as the Join "tools", one branch per call, each the
// step "call".
func callTools(w *workflows.W, calls []ToolCall) ([]ToolResult, error) {
	branches := make([]workflows.Branch[ToolResult], len(calls))
	for i, c := range calls {
		branches[i] = workflows.Branch[ToolResult]{
			Name: fmt.Sprintf("%d-%s", i, c.Tool),
			Run: func(bw *workflows.W) (ToolResult, error) {
				return workflows.Step(bw, "call", func(ctx context.Context, _ *workflows.StepContext) (ToolResult, error) {
					r := ToolResult{Tool: c.Tool, Input: c.Input}
					out, err := RunTool(ctx, c)
					switch {
					case errors.Is(err, ErrToolInput):
						// The same input fails again: a result, not a retry.
						r.Error = err.Error()
					case err != nil:
						return r, err
					default:
						r.Output = out
					}
					return r, nil
				})
			},
		}
	}
	results, err := workflows.Join(w, "tools", branches, workflows.JoinOptions{Concurrency: toolConcurrency})
	if results == nil && err == nil {
		results = []ToolResult{}
	}
	return results, err
}

// streamTo sends each piece of a model's answer live to the run's
// subscribers as a wf.stream chunk.
func streamTo(s *workflows.StepContext) func(string) {
	return func(tok string) {
		// Live output is best effort (it is not journaled); the only error
		// is a chunk too large to send, and a token never is.
		_ = s.Stream(tok)
	}
}

func resultsNoun(n int) string {
	if n == 1 {
		return "1 tool result was"
	}
	return fmt.Sprintf("%d tool results were", n)
}

func noteSuffix(note string) string {
	if note == "" {
		return ""
	}
	return fmt.Sprintf(" (note: %q)", note)
}
