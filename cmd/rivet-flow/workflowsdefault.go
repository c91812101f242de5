package main

import "github.com/rivet-flow/rivet-flow/workflows"

// serveWorkflows are the workflows rivet-flow serve runs: the example
// agent, plus the crash-test fixtures when RIVETFLOW_TEST_WORKFLOWS=1.
func serveWorkflows() []workflows.Definition {
	return testWorkflows()
}
