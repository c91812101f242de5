package agent_test

import (
	"context"
	"fmt"

	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
)

// The agent's model layer end to end with the Local model: plan, run the
// tools, summarize. The workflow of issue 18 makes each of these a durable
// step.
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
