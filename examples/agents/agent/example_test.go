package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// The agent's model layer end to end with the Local model: plan, run the
// tools, summarize. Workflow makes each of these a durable step.
func Example() {
	ctx := context.Background()
	var model agent.Model = agent.Local{}
	task := `What is (12 + 30) * 2, how many words are in "the quick brown fox", and what is 1/0?`

	answer, err := model.Complete(ctx, agent.PlanRequest(task), nil)
	if err != nil {
		panic(err)
	}
	plan, err := agent.ParsePlan(answer.Content)
	if err != nil {
		panic(err)
	}
	var results []agent.ToolResult
	for _, call := range plan.Calls {
		r := agent.ToolResult{Tool: call.Tool, Input: call.Input}
		if out, err := agent.RunTool(ctx, call); err != nil {
			r.Error = err.Error()
		} else {
			r.Output = out
		}
		results = append(results, r)
	}

	words := 0
	summary, err := model.Complete(ctx, agent.SummaryRequest(task, results), func(string) { words++ })
	if err != nil {
		panic(err)
	}
	fmt.Println(summary.Content)
	fmt.Println("streamed in", words, "pieces")
	// Output:
	// Task: What is (12 + 30) * 2, how many words are in "the quick brown fox", and what is 1/0?
	// - calc((12 + 30) * 2) = 84
	// - wordcount(the quick brown fox) = 4
	// - calc(1/0) failed: agent: bad tool input: calc: "1/0": division by zero
	// 3 tool calls, 1 failed.
	// streamed in 53 pieces
}

// The agent as a durable workflow on an embedded node: start a run, approve
// it (a signal sent before the run waits for it is kept), await the result.
func ExampleWorkflow() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "agent-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Workflows: []workflows.Definition{agent.Workflow(agent.Local{})}})
	if err != nil {
		panic(err)
	}
	defer n.Stop(ctx) //nolint:errcheck // the example's end

	eng := n.Workflows()
	if _, _, err := eng.StartRun(ctx, agent.WorkflowName, "r1", json.RawMessage(`{"task":"How far is 6650 / 2 km, and what is the nile?"}`)); err != nil {
		panic(err)
	}
	if _, _, err := eng.Signal(ctx, agent.WorkflowName, "r1", agent.ApprovalSignal, json.RawMessage(`{"approved":true}`)); err != nil {
		panic(err)
	}
	run, err := eng.Await(ctx, agent.WorkflowName, "r1")
	if err != nil {
		panic(err)
	}
	var out agent.Output
	if err := json.Unmarshal(run.Result, &out); err != nil {
		panic(err)
	}
	fmt.Println(run.Status, out.Approved)
	fmt.Println(out.Summary)
	// Output:
	// completed true
	// Task: How far is 6650 / 2 km, and what is the nile?
	// - calc(6650 / 2) = 3325
	// - lookup(nile) = The Nile is about 6,650 km long.
	// 2 tool calls, 0 failed.
}
