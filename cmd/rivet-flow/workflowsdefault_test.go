package main

import "testing"

// rivet-flow serve runs the example agent as "agent", first, beside the
// queue examples (the README's walkthrough depends on it).
func TestServeWorkflowsIncludesAgent(t *testing.T) {
	t.Parallel()
	defs := serveWorkflows()
	if len(defs) == 0 || defs[0].Name() != "agent" {
		names := make([]string, len(defs))
		for i, d := range defs {
			names[i] = d.Name()
		}
		t.Fatalf("serve's workflows are %q, want agent first", names)
	}
}
