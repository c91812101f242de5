package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The agent sends a model two kinds of request, each built by a function
// below and marked by its system prompt (the first message):
//
//	plan:      PlanRequest(task)
//	           system PlanPrompt; user task. JSON mode.
//	           Answer: {"calls":[{"tool":"calc","input":"2+2"}, ...]}, read with ParsePlan.
//	summarize: SummaryRequest(task, results)
//	           system SummaryPrompt; user TaskPrefix+task; user ResultsPrefix+{"results":[...]}.
//	           Answer: prose.
//
// [Local] recognises a request by its system prompt, which must equal
// PlanPrompt or SummaryPrompt exactly; a hosted model reads the same text as
// its instructions.
const (
	// PlanPrompt is the system prompt of a planning request.
	PlanPrompt = `You plan the tool calls of an agent. Tools:
- calc: evaluates an arithmetic expression of decimal numbers with + - * / and parentheses, e.g. "(12 + 30) * 2".
- wordcount: counts the words of a text.
- lookup: returns a fact from a small table by a one-word key, e.g. "paris", "everest", "pi".
Read the user's task and answer with one JSON object, nothing else:
{"calls":[{"tool":"<tool>","input":"<input>"}]}
Use at most 16 calls, only the tools above, in the order the task mentions them.`

	// SummaryPrompt is the system prompt of a summary request.
	SummaryPrompt = `You summarize for the user what an agent's tools found for their task.
Use only the tool results given; mention every result and every failure. Be brief.`

	// TaskPrefix starts the user message holding the task in a summary request.
	TaskPrefix = "Task: "
	// ResultsPrefix starts the user message holding the tool results, as a
	// JSON object {"results":[ToolResult...]}, in a summary request.
	ResultsPrefix = "Tool results (JSON): "

	// MaxPlanCalls is the most calls [ParsePlan] accepts in a plan.
	MaxPlanCalls = 16
)

// Plan is the answer to a planning request.
type Plan struct {
	Calls []ToolCall `json:"calls"`
}

// ToolResult is the outcome of one [ToolCall]: its Output, or the Error text
// when it failed.
type ToolResult struct {
	Tool   string `json:"tool"`
	Input  string `json:"input"`
	Output string `json:"output,omitempty"`
	Error  string `json:"error,omitempty"`
}

// ErrBadPlan is matched by [ParsePlan]'s errors: the model's plan is not
// usable. Not retryable for [Local]; a hosted model may do better on another
// attempt, which is the caller's choice.
var ErrBadPlan = errors.New("agent: bad plan")

// PlanRequest builds the planning request for task.
func PlanRequest(task string) ChatRequest {
	return ChatRequest{
		Messages: []Message{
			{Role: "system", Content: PlanPrompt},
			{Role: "user", Content: task},
		},
		MaxTokens: 1024,
		JSON:      true,
	}
}

// SummaryRequest builds the summary request for task and the results of its
// tool calls.
func SummaryRequest(task string, results []ToolResult) ChatRequest {
	if results == nil {
		results = []ToolResult{}
	}
	b, err := json.Marshal(struct {
		Results []ToolResult `json:"results"`
	}{results})
	if err != nil { // strings only: cannot fail
		panic(err)
	}
	return ChatRequest{
		Messages: []Message{
			{Role: "system", Content: SummaryPrompt},
			{Role: "user", Content: TaskPrefix + task},
			{Role: "user", Content: ResultsPrefix + string(b)},
		},
		MaxTokens: 1024,
	}
}

// ParsePlan reads a model's answer to a planning request: one JSON object
// {"calls":[...]} (a ```json fence around it is tolerated), each call naming
// a known tool with a non-empty input, at most [MaxPlanCalls] calls. Errors
// wrap [ErrBadPlan].
func ParsePlan(content string) (Plan, error) {
	s := strings.TrimSpace(content)
	if rest, ok := strings.CutPrefix(s, "```"); ok {
		rest = strings.TrimPrefix(rest, "json")
		s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "```"))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return Plan{}, fmt.Errorf("%w: not a JSON object {\"calls\":[...]}: %v", ErrBadPlan, err)
	}
	if dec.More() {
		return Plan{}, fmt.Errorf("%w: text after the JSON object", ErrBadPlan)
	}
	if len(p.Calls) > MaxPlanCalls {
		return Plan{}, fmt.Errorf("%w: %d calls, at most %d allowed", ErrBadPlan, len(p.Calls), MaxPlanCalls)
	}
	for i, c := range p.Calls {
		if _, ok := tools[c.Tool]; !ok {
			return Plan{}, fmt.Errorf("%w: call %d: unknown tool %q (known: %s)", ErrBadPlan, i, c.Tool, strings.Join(ToolNames(), ", "))
		}
		if strings.TrimSpace(c.Input) == "" {
			return Plan{}, fmt.Errorf("%w: call %d (%s): empty input", ErrBadPlan, i, c.Tool)
		}
	}
	if p.Calls == nil {
		p.Calls = []ToolCall{}
	}
	return p, nil
}
