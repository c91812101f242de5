package main

import (
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// serveWorkflows are the workflows rivet-flow serve runs: the example
// agent (as "agent", with the offline Local model), the queue examples,
// plus the crash-test fixtures when RIVETFLOW_TEST_WORKFLOWS=1.
func serveWorkflows() []workflows.Definition {
	defs := []workflows.Definition{agent.Workflow(agent.Local{})}
	defs = append(defs, queueWorkflows()...)
	return append(defs, testWorkflows()...)
}
