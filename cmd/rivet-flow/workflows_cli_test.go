package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	}, workflows.Options{ParkAfter: 10 * time.Millisecond}) // parks (waiting) at once
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

// waitRunStatus polls a run until its status is want.
func waitRunStatus(t *testing.T, c *client.Client, runID, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := c.Run(context.Background(), "approval", runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is %s, want %s", runID, run.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// events, events --follow, pause, resume and cancel.
func TestCLIWorkflowsRunControl(t *testing.T) {
	t.Parallel()
	addr, c := workflowNode(t)
	cli(t, nil, "workflows", "start", "approval", addr, "--run-id", "r1", "--input", `{"task":"ship"}`).want(t, 0, "started run r1")
	waitRunStatus(t, c, "r1", client.RunWaiting)

	cli(t, nil, "workflows", "events", "approval", "r1", addr).want(t, 0, "SEQ", "EVENT", "create", "$wf")
	r := cli(t, nil, "workflows", "events", "approval", "r1", addr, "--json")
	r.want(t, 0)
	var first client.Event
	if err := json.Unmarshal([]byte(strings.SplitN(r.stdout, "\n", 2)[0]), &first); err != nil || first.Kind != "create" {
		t.Fatalf("events --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "workflows", "events", "approval", "r1", addr, "--limit", "1").want(t, 0, "showing 1 events; see the next ones with --after "+strconv.FormatUint(first.Seq, 10))

	// Follow the run: it prints the events so far, then the new ones, and
	// exits once the run is completed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	follow := exec.CommandContext(ctx, binary, "workflows", "events", "approval", "r1", addr, "--follow")
	out, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	follow.Stderr = &stderr
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var followed []string
	for lines.Scan() { // up to the create: the follow has begun
		followed = append(followed, lines.Text())
		if strings.Contains(lines.Text(), "create") {
			break
		}
	}

	cli(t, nil, "workflows", "pause", "approval", "r1", addr).want(t, 0, "paused run r1 of approval", "rivet-flow workflows resume approval r1")
	cli(t, nil, "workflows", "pause", "approval", "r1", addr).want(t, 0, "run r1 of approval is already paused")
	cli(t, nil, "workflows", "list", "approval", addr, "--status", "paused").want(t, 0, "r1", "paused")
	cli(t, nil, "workflows", "resume", "approval", "r1", addr, "--json").want(t, 0, `"changed":true`)
	cli(t, nil, "workflows", "resume", "approval", "r1", addr).want(t, 0, "is not paused")
	cli(t, nil, "workflows", "signal", "approval", "r1", "approve", addr, "--payload", "true").want(t, 0, "sent signal approve")

	for lines.Scan() {
		followed = append(followed, lines.Text())
	}
	if err := follow.Wait(); err != nil {
		t.Fatalf("events --follow: %v\n%s", err, stderr.String())
	}
	all := strings.Join(followed, "\n")
	for _, want := range []string{"SEQ", "create", "pause", "resume", "signal", "finish -> completed"} {
		if !strings.Contains(all, want) {
			t.Errorf("events --follow lacks %q:\n%s", want, all)
		}
	}
	if !strings.Contains(stderr.String(), "run r1 of approval is completed") {
		t.Errorf("events --follow stderr: %s", stderr.String())
	}

	cli(t, nil, "workflows", "start", "approval", addr, "--run-id", "r2").want(t, 0, "started run r2")
	waitRunStatus(t, c, "r2", client.RunWaiting)
	cli(t, nil, "workflows", "cancel", "approval", "r2", addr, "--reason", "not needed").want(t, 0, "cancelling run r2 of approval")
	waitRunStatus(t, c, "r2", client.RunCancelled)

	cli(t, nil, "workflows", "cancel", "approval", "r1", addr).want(t, 1, "run_finished", "the run is finished")
	cli(t, nil, "workflows", "pause", "approval", "missing", addr).want(t, 1, "run_not_found", "rivet-flow workflows list approval")
	cli(t, nil, "workflows", "events", "nope", "r1", addr).want(t, 1, "workflow_not_found")
	cli(t, nil, "workflows", "events", "approval", addr).want(t, 2, "missing arguments")
	cli(t, nil, "workflows", "events", "approval", "r1", addr, "--limit", "0").want(t, 2, "--limit 0")
}
