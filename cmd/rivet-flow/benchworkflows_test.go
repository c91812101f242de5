package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A short bench workflows run prints the table: runs completed with the
// sum their steps return, the action baseline, the per-step figures read
// back from the log, and create + 3 steps + finish appended per run.
func TestBenchWorkflowsTable(t *testing.T) {
	var stdout, stderr strings.Builder
	args := []string{"workflows", "--duration", "2s", "--concurrency", "4", "--steps", "3", "--rounds", "2", "--sample", "50"}
	if code := run(append([]string{"bench"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"rivet-flow bench workflows: 3 no-op steps per run, concurrency 4", "action ", "workflow run ",
		"step (commit to commit)", "create to first step", "appends per run: 5.00 (min 5, max 5; expected 5",
		"ratio: step (commit to commit) over action", "runs/s:"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "errors, the first") {
		t.Errorf("errors:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "round 2/2") {
		t.Errorf("stderr has no progress:\n%s", stderr.String())
	}
}

// --json gives the figures to machines; the commit-to-commit samples are
// the sampled runs' steps (3 commits after the first: 2 steps and the
// finish, per run).
func TestBenchWorkflowsJSON(t *testing.T) {
	var stdout, stderr strings.Builder
	args := []string{"workflows", "--json", "--duration", "1s", "--concurrency", "2", "--steps", "3", "--rounds", "1", "--sample", "10"}
	if code := run(append([]string{"bench"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	var res workflowsResult
	if err := json.Unmarshal([]byte(stdout.String()), &res); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, stdout.String())
	}
	switch {
	case res.Runs == nil || res.Actions == nil:
		t.Fatalf("missing sides:\n%s", stdout.String())
	case res.Runs.Requests == 0 || res.Runs.Errors != 0 || res.Actions.Requests == 0 || res.Actions.Errors != 0:
		t.Fatalf("runs %d (errors %d), actions %d (errors %d):\n%s", res.Runs.Requests, res.Runs.Errors,
			res.Actions.Requests, res.Actions.Errors, stdout.String())
	case res.Sampled == 0 || res.StepCommit.Count != int64(3*res.Sampled) || res.StartToFirst.Count != int64(res.Sampled):
		t.Fatalf("sampled %d, commit-to-commit %d, first %d:\n%s", res.Sampled, res.StepCommit.Count, res.StartToFirst.Count, stdout.String())
	case res.StepCommit.P50 <= 0 || res.RatioP50 <= 0 || res.AppendsMean != 5:
		t.Fatalf("figures:\n%s", stdout.String())
	}
}

func TestBenchWorkflowsFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--steps", "0"},
		{"--concurrency", "0"},
		{"--duration", "0s"},
		{"--rounds", "100", "--duration", "1s"},
		{"--sample", "-1"},
		{"extra"},
	} {
		var stdout, stderr strings.Builder
		start := time.Now()
		if code := run(append([]string{"bench"}, append([]string{"workflows"}, args...)...), &stdout, &stderr); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr.String())
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v: took %v", args, time.Since(start))
		}
	}
}
