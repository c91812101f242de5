package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// workflowNode starts a real node in the test process serving the workflow
// approval (it returns {"task": its input's task, "approval": the payload
// of the signal approve}), and returns its --addr flag and a client.
func workflowNode(t *testing.T) (string, *client.Client) {
	t.Helper()
	type in struct {
		Task string `json:"task"`
	}
	type out struct {
		Task     string          `json:"task"`
		Approval json.RawMessage `json:"approval"`
	}
	approval := workflows.Define("approval", func(w *workflows.W, in in) (out, error) {
		p, _, err := w.WaitSignal("wait", "approve", 0)
		return out{Task: in.Task, Approval: p}, err
	})
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: builtin.Registry(),
		Workflows: []workflows.Definition{approval}})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	addr := "http://" + n.Addr()
	return "--addr=" + addr, newTestClient(t, addr, "")
}

func TestCLIWorkflows(t *testing.T) {
	t.Parallel()
	addr, c := workflowNode(t)
	cli(t, nil, "workflows", "list", "approval", addr).want(t, 0, "no runs")
	cli(t, nil, "workflows", "start", "approval", addr, "--run-id", "r1", "--input", `{"task":"ship"}`).want(t, 0, "started run r1 of approval (")
	cli(t, nil, "workflows", "start", "approval", addr, "--run-id", "r1", "--input", `{"task":"other"}`).want(t, 0, "run r1 of approval exists", "input is kept")
	cli(t, nil, "workflows", "get", "approval", "r1", addr).want(t, 0, "run       r1 of approval", "status    ")

	payload := filepath.Join(t.TempDir(), "payload.json")
	if err := os.WriteFile(payload, []byte(`{"ok":true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "workflows", "signal", "approval", "r1", "approve", addr, "--payload", "@"+payload).want(t, 0, "sent signal approve to run r1 of approval (message #1")
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := c.Run(context.Background(), "approval", "r1")
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == client.RunCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run not completed: %+v", run)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cli(t, nil, "workflows", "get", "approval", "r1", addr).want(t, 0, "status    completed", `result    {"task":"ship","approval":{"ok":true}}`, "ended     ")
	r := cli(t, nil, "workflows", "get", "approval", "r1", addr, "--json")
	r.want(t, 0)
	var run client.WorkflowRun
	if err := json.Unmarshal([]byte(r.stdout), &run); err != nil || run.RunID != "r1" || run.Status != client.RunCompleted {
		t.Fatalf("get --json: %v %q", err, r.stdout)
	}
	r = cli(t, nil, "workflows", "start", "approval", addr, "--json")
	r.want(t, 0)
	var started struct {
		RunID   string `json:"runId"`
		Status  string `json:"status"`
		Created bool   `json:"created"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &started); err != nil || started.RunID == "" || !started.Created {
		t.Fatalf("start --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "workflows", "list", "approval", addr).want(t, 0, "RUN", "STATUS", "r1", "completed", started.RunID)
	cli(t, nil, "workflows", "list", "approval", addr, "--status", "completed", "--json").want(t, 0, `"runId":"r1"`)
	cli(t, nil, "workflows", "list", "approval", addr, "--limit", "1").want(t, 0, "showing the first 1")

	// Errors: what is wrong and what to do.
	cli(t, nil, "workflows", "signal", "approval", "r1", "approve", addr).want(t, 1, "run_finished", "the run is finished")
	cli(t, nil, "workflows", "get", "approval", "missing", addr).want(t, 1, "run_not_found", "rivet-flow workflows list approval")
	cli(t, nil, "workflows", "get", "nope", "r1", addr).want(t, 1, "workflow_not_found", "no workflow named nope")
	cli(t, nil, "workflows", "start", "approval", addr, "--run-id", "bad id").want(t, 1, "invalid_run_id", "--run-id takes")
	cli(t, nil, "workflows", "start", "approval", addr, "--input", "{bad").want(t, 2, "want a JSON value")
	cli(t, nil, "workflows", "start", "approval", addr, "--input", "@/does/not/exist").want(t, 2, "--input")
	cli(t, nil, "workflows", "get", "approval", addr).want(t, 2, "missing arguments")
	cli(t, nil, "workflows", "bogus").want(t, 2, "unknown command")
	cli(t, nil, "workflows").want(t, 2, "Usage: rivet-flow workflows")
	cli(t, nil, "help").want(t, 0, "rivet-flow workflows")
}
