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

// workflowClient starts a node serving the workflow approval: it waits
// (parked: status waiting) for the signal approve and returns {"task": its input's task, "approval":
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
	}, workflows.Options{ParkAfter: 10 * time.Millisecond}) // parks (waiting) at once
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

// waitStatus polls a run until its status is want.
func waitStatus(t *testing.T, c *client.Client, workflow, runID, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := c.Run(ctxT(t), workflow, runID)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if run.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s, want %s", runID, workflow, run.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A run's events (read and followed), and cancel, pause and resume.
func TestWorkflowRunEventsAndControl(t *testing.T) {
	t.Parallel()
	c := workflowClient(t)
	ctx := ctxT(t)
	if _, _, err := c.StartRun(ctx, "approval", "r1", map[string]string{"task": "ship"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "approval", "r1", client.RunWaiting)

	// Follow the run from its start while it is paused, resumed and
	// signalled: FollowRun returns once it is completed.
	followed := make(chan client.Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.FollowRun(ctx, "approval", "r1", 0, func(ev client.Event) error {
			followed <- ev
			return nil
		})
	}()
	if ev := <-followed; ev.Kind != "create" {
		t.Fatalf("first event followed = %+v", ev)
	}
	res, err := c.PauseRun(ctx, "approval", "r1")
	if err != nil || res.Status != client.RunPaused || !res.Changed {
		t.Fatalf("PauseRun: %+v, %v", res, err)
	}
	page, err := c.Runs(ctx, "approval", &client.RunListOptions{Status: client.RunPaused})
	if err != nil || len(page.Runs) != 1 || page.Runs[0].RunID != "r1" {
		t.Fatalf("paused runs: %+v, %v", page, err)
	}
	if res, err = c.ResumeRun(ctx, "approval", "r1"); err != nil || res.Status == client.RunPaused || !res.Changed {
		t.Fatalf("ResumeRun: %+v, %v", res, err)
	}
	if _, err := c.Signal(ctx, "approval", "r1", "approve", true); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("FollowRun: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("FollowRun did not return once the run completed")
	}
	close(followed)
	var seqs []uint64
	for ev := range followed {
		seqs = append(seqs, ev.Seq)
	}
	// Every event of the run, once each, in order: the same as a read.
	all, err := c.RunEvents(ctx, "approval", "r1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(seqs)+1 != len(all.Events) {
		t.Fatalf("followed %d events after the first, the run has %d", len(seqs), len(all.Events))
	}
	for i, s := range seqs {
		if all.Events[i+1].Seq != s {
			t.Fatalf("followed %v, the run's events are %+v", seqs, all.Events)
		}
	}
	if run, _ := c.Run(ctx, "approval", "r1"); run.Status != client.RunCompleted {
		t.Fatalf("run = %+v", run)
	}
	// Paged, and followed once finished: returns at once with the rest.
	first, err := c.RunEvents(ctx, "approval", "r1", &client.EventsOptions{Limit: 1})
	if err != nil || len(first.Events) != 1 || first.NextAfter != all.Events[0].Seq {
		t.Fatalf("RunEvents limit 1: %+v, %v", first, err)
	}
	n := 0
	if err := c.FollowRun(ctx, "approval", "r1", first.NextAfter, func(client.Event) error { n++; return nil }); err != nil || n != len(all.Events)-1 {
		t.Fatalf("FollowRun of a finished run: %d events, %v", n, err)
	}

	// Cancel a waiting run.
	if _, _, err := c.StartRun(ctx, "approval", "r2", nil); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, "approval", "r2", client.RunWaiting)
	if res, err = c.CancelRun(ctx, "approval", "r2", "not needed"); err != nil || !res.Changed {
		t.Fatalf("CancelRun: %+v, %v", res, err)
	}
	waitStatus(t, c, "approval", "r2", client.RunCancelled)

	_, err = c.CancelRun(ctx, "approval", "r1", "")
	wantCode(t, err, 409, client.CodeRunFinished)
	_, err = c.PauseRun(ctx, "approval", "r2")
	wantCode(t, err, 409, client.CodeRunFinished)
	_, err = c.ResumeRun(ctx, "approval", "missing")
	wantCode(t, err, 404, client.CodeRunNotFound)
	_, err = c.RunEvents(ctx, "nope", "r1", nil)
	wantCode(t, err, 404, client.CodeWorkflowNotFound)
	err = c.FollowRun(ctx, "approval", "missing", 0, func(client.Event) error { return nil })
	wantCode(t, err, 404, client.CodeRunNotFound)
}
