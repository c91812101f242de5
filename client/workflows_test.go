package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// workflowClient starts a node serving the workflow approval: it waits for
// the signal approve and returns {"task": its input's task, "approval":
// the signal's payload}.
func workflowClient(t *testing.T) *client.Client {
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
	c, err := client.New("http://"+n.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	return c
}

// The workflow methods against a real node: start (created, then found),
// signal, run until completed, list, and the errors of unknown workflows
// and runs and of a signal to a finished run.
func TestWorkflowRuns(t *testing.T) {
	t.Parallel()
	c := workflowClient(t)
	ctx := ctxT(t)
	started, created, err := c.StartRun(ctx, "approval", "r1", map[string]string{"task": "ship"})
	if err != nil || !created || started.RunID != "r1" || client.RunFinished(started.Status) {
		t.Fatalf("StartRun: %+v created=%v err=%v", started, created, err)
	}
	if started, created, err = c.StartRun(ctx, "approval", "r1", map[string]string{"task": "other"}); err != nil || created || started.RunID != "r1" {
		t.Fatalf("StartRun again: %+v created=%v err=%v", started, created, err)
	}
	sig, err := c.Signal(ctx, "approval", "r1", "approve", json.RawMessage(`{"ok":true}`))
	if err != nil || sig.MessageID != 1 {
		t.Fatalf("Signal: %+v, %v", sig, err)
	}
	run := waitRun(t, c, "approval", "r1")
	if run.Status != client.RunCompleted || run.Workflow != "approval" || run.ActorID == "" || run.EndedAt.IsZero() || run.Error != nil ||
		string(run.Result) != `{"task":"ship","approval":{"ok":true}}` {
		t.Fatalf("Run: %+v (result %s)", run, run.Result)
	}

	// A random run ID, no input.
	if started, created, err = c.StartRun(ctx, "approval", "", nil); err != nil || !created || started.RunID == "" {
		t.Fatalf("StartRun without ID: %+v created=%v err=%v", started, created, err)
	}
	page, err := c.Runs(ctx, "approval", nil)
	if err != nil || len(page.Runs) != 2 || page.NextCursor != "" {
		t.Fatalf("Runs: %+v, %v", page, err)
	}
	if page, err = c.Runs(ctx, "approval", &client.RunListOptions{Status: client.RunCompleted, Limit: 10}); err != nil || len(page.Runs) != 1 || page.Runs[0].RunID != "r1" {
		t.Fatalf("Runs completed: %+v, %v", page, err)
	}

	_, err = c.Signal(ctx, "approval", "r1", "approve", nil)
	wantCode(t, err, 409, client.CodeRunFinished)
	_, err = c.Run(ctx, "approval", "missing")
	wantCode(t, err, 404, client.CodeRunNotFound)
	_, err = c.Run(ctx, "nope", "r1")
	wantCode(t, err, 404, client.CodeWorkflowNotFound)
	_, _, err = c.StartRun(ctx, "nope", "r1", nil)
	wantCode(t, err, 404, client.CodeWorkflowNotFound)
	_, _, err = c.StartRun(ctx, "approval", "bad id", nil)
	wantCode(t, err, 400, client.CodeInvalidRunID)
	_, err = c.Signal(ctx, "approval", "missing", "approve", nil)
	wantCode(t, err, 404, client.CodeRunNotFound)
	_, err = c.Runs(ctx, "nope", nil)
	wantCode(t, err, 404, client.CodeWorkflowNotFound)
}

// waitRun polls a run until it is finished.
func waitRun(t *testing.T, c *client.Client, workflow, runID string) *client.WorkflowRun {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := c.Run(ctxT(t), workflow, runID)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if client.RunFinished(run.Status) {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s not finished: %+v", runID, workflow, run)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
