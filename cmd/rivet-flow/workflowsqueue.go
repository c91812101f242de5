package main

import "github.com/rivet-flow/rivet-flow/workflows"

// queueWorkflows are the workflows serve runs to show actor queues.
func queueWorkflows() []workflows.Definition { return nil }
