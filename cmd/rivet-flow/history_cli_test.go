package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// history export writes a workflow run's (or any actor's) events as JSON
// Lines on stdout, the count on stderr; bad arguments are usage errors.
func TestCLIHistoryExport(t *testing.T) {
	t.Parallel()
	addr, c := workflowNode(t)
	if _, _, err := c.StartRun(context.Background(), "approval", "r1", map[string]string{"task": "ship"}); err != nil {
		t.Fatal(err)
	}
	run, err := c.Run(context.Background(), "approval", "r1")
	if err != nil {
		t.Fatal(err)
	}
	r := cli(t, nil, "history", "export", "approval", "r1", addr)
	r.want(t, 0, "exported ")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var first struct {
		Seq  uint64          `json:"seq"`
		Kind string          `json:"kind"`
		Args json.RawMessage `json:"args"`
		Seed uint64          `json:"seed"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil || first.Kind != "create" || !strings.Contains(string(first.Args), "ship") {
		t.Fatalf("first line %s (%v): want the run's create with its input", lines[0], err)
	}
	for i, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("line %d is not JSON: %s", i+1, l)
		}
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("exported %d events of %s", len(lines), run.ActorID)) {
		t.Fatalf("stderr %q, want the count of %d lines and the actor ID %s", r.stderr, len(lines), run.ActorID)
	}
	// The same by actor ID.
	cli(t, nil, "history", "export", run.ActorID, addr).want(t, 0, `"kind":"create"`)
	cli(t, nil, "history", "export", "approval", "nope", addr).want(t, 1, "actor_not_found")
	cli(t, nil, "history", "export", addr).want(t, 2, "missing arguments")
	cli(t, nil, "history", "bogus").want(t, 2, "unknown command")
}
