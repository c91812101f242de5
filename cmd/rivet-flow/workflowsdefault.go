package main

import "github.com/rivet-flow/rivet-flow/workflows"

// serveWorkflows are the workflows rivet-flow serve runs: the example
// agent, the queue examples, plus the crash-test fixtures when
// RIVETFLOW_TEST_WORKFLOWS=1.
func serveWorkflows() []workflows.Definition {
	defs := queueWorkflows()
	return append(defs, testWorkflows()...)
}
