package main

import "github.com/rivet-flow/rivet-flow/workflows"

// testWorkflows are the crash tests' fixture workflows, served only when
// RIVETFLOW_TEST_WORKFLOWS=1.
func testWorkflows() []workflows.Definition { return nil }
