package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// startNode starts a real embedded node (JetStream, Pebble, scheduler,
// loopback HTTP) serving the agent workflow over m, stopped at cleanup.
func startNode(t *testing.T, m agent.Model, opts ...agent.WorkflowOptions) *rivetflow.Node {
	t.Helper()
	n, _ := startNodeIn(t, t.TempDir(), m, opts...)
	return n
}

// startNodeIn is startNode over data dir dir; stop stops the node before
// the cleanup (which then does nothing).
func startNodeIn(t *testing.T, dir string, m agent.Model, opts ...agent.WorkflowOptions) (n *rivetflow.Node, stop func()) {
	t.Helper()
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Workflows: []workflows.Definition{agent.Workflow(m, opts...)}})
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				t.Errorf("stop node: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return n, stop
}

// counted is a Model that counts its calls by kind (plan or summary) and
// holds each plan until release is closed (nil: not at all), so that a
// test can subscribe before the run streams anything. fail, when set, may
// replace the answer of a call.
type counted struct {
	m         agent.Model
	release   chan struct{}
	plans     atomic.Int32
	summaries atomic.Int32
	fail      func(plan bool, n int32) error
}

func (c *counted) Complete(ctx context.Context, req agent.ChatRequest, delta func(string)) (agent.ChatResponse, error) {
	plan := req.Messages[0].Content == agent.PlanPrompt
	var n int32
	if plan {
		n = c.plans.Add(1)
		if c.release != nil {
			select {
			case <-c.release:
			case <-ctx.Done():
				return agent.ChatResponse{}, ctx.Err()
			}
		}
	} else {
		n = c.summaries.Add(1)
	}
	if c.fail != nil {
		if err := c.fail(plan, n); err != nil {
			return agent.ChatResponse{}, err
		}
	}
	return c.m.Complete(ctx, req, delta)
}

func await(t *testing.T, n *rivetflow.Node, runID string) workflows.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := n.Workflows().Await(ctx, agent.WorkflowName, runID)
	if err != nil {
		t.Fatalf("await run %s: %v (run %+v)", runID, err, run)
	}
	return run
}

func output(t *testing.T, run workflows.Run) agent.Output {
	t.Helper()
	if run.Status != workflows.StatusCompleted {
		t.Fatalf("run %s is %s (error %+v), want completed", run.RunID, run.Status, run.Error)
	}
	var out agent.Output
	if err := json.Unmarshal(run.Result, &out); err != nil {
		t.Fatalf("result %s: %v", run.Result, err)
	}
	return out
}

// The whole run over HTTP, as the README shows it: started, it plans
// (streaming the plan's tokens to an SSE subscriber), calls the tools and
// waits for approve (status waiting); the signal completes it with the
// summary the subscriber saw streamed token by token.
func TestWorkflowApprovedOverHTTP(t *testing.T) {
	model := &counted{m: agent.Local{}, release: make(chan struct{})}
	n := startNode(t, model)
	base := "http://" + n.Addr()
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	task := `What is (12 + 30) * 2 and how many words are in "the quick brown fox"?`

	var started struct{ RunID, Status string }
	post(t, client, base+"/v1/workflows/agent/runs", map[string]any{"runId": "r1", "input": agent.Input{Task: task}}, http.StatusCreated, &started)
	if started.RunID != "r1" {
		t.Fatalf("started %+v", started)
	}
	var run struct {
		ActorID string          `json:"actorId"`
		Status  string          `json:"status"`
		Result  json.RawMessage `json:"result"`
	}
	get(t, client, base+"/v1/workflows/agent/runs/r1", &run)

	events := subscribe(t, client, base+"/v1/actors/"+run.ActorID+"/sse")
	close(model.release)
	planTokens := readUntil(t, events, "waiting")
	if got := strings.Join(planTokens["plan"], ""); !strings.Contains(got, `"calls"`) {
		t.Fatalf("streamed plan %q, want the model's JSON plan", got)
	}
	get(t, client, base+"/v1/workflows/agent/runs/r1", &run)
	if run.Status != "waiting" {
		t.Fatalf("status %s, want waiting", run.Status)
	}

	var sig struct{ Status string }
	post(t, client, base+"/v1/workflows/agent/runs/r1/signals/approve", map[string]any{"payload": agent.Approval{Approved: true}}, http.StatusAccepted, &sig)
	summaryTokens := readUntil(t, events, "completed")["summarize"]

	out := output(t, await(t, n, "r1"))
	want := "Task: " + task + "\n- calc((12 + 30) * 2) = 84\n- wordcount(the quick brown fox) = 4\n2 tool calls, 0 failed."
	if !out.Approved || out.Summary != want {
		t.Fatalf("output %+v, want approved with summary %q", out, want)
	}
	if len(summaryTokens) < 10 || strings.Join(summaryTokens, "") != out.Summary {
		t.Fatalf("streamed %d summary tokens %q, want the summary word by word", len(summaryTokens), summaryTokens)
	}
	if len(out.Tools) != 2 || out.Tools[0].Output != "84" || out.Tools[1].Output != "4" {
		t.Fatalf("tools %+v", out.Tools)
	}
	get(t, client, base+"/v1/workflows/agent/runs/r1", &run)
	var res agent.Output
	if err := json.Unmarshal(run.Result, &res); err != nil || run.Status != "completed" || res.Summary != want {
		t.Fatalf("GET run: status %s result %s (%v)", run.Status, run.Result, err)
	}
	if p, s := model.plans.Load(), model.summaries.Load(); p != 1 || s != 1 {
		t.Fatalf("model called for %d plans and %d summaries, want 1 and 1", p, s)
	}
}

// A run waiting for approval survives a restart of its node: the new
// process takes the signal and summarizes, without planning or calling the
// tools again (their results come from the journal).
func TestWorkflowSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	before := &counted{m: agent.Local{}, release: make(chan struct{})}
	n, stop := startNodeIn(t, dir, before)
	client := &http.Client{}
	t.Cleanup(client.CloseIdleConnections)
	ctx := context.Background()
	run, _, err := n.Workflows().StartRun(ctx, agent.WorkflowName, "r7", json.RawMessage(`{"task":"what is 2 * 21 and where is tokyo?"}`))
	if err != nil {
		t.Fatal(err)
	}
	events := subscribe(t, client, "http://"+n.Addr()+"/v1/actors/"+run.ActorID+"/sse")
	close(before.release)
	readUntil(t, events, "waiting")
	stop()

	after := &counted{m: agent.Local{}}
	n, _ = startNodeIn(t, dir, after)
	if _, _, err := n.Workflows().Signal(ctx, agent.WorkflowName, "r7", agent.ApprovalSignal, json.RawMessage(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	out := output(t, await(t, n, "r7"))
	if !out.Approved || !strings.Contains(out.Summary, "calc(2 * 21) = 42") || !strings.Contains(out.Summary, "lookup(tokyo) = Tokyo is the capital of Japan.") {
		t.Fatalf("output %+v", out)
	}
	if p, s := before.plans.Load()+after.plans.Load(), after.summaries.Load(); p != 1 || s != 1 {
		t.Fatalf("planned %d times and summarized %d times across the restart, want 1 and 1", p, s)
	}
}

// A rejection (sent before the wait begins: it is buffered) completes the
// run not approved, without a summary from the model; a tool's bad input
// is a result, not a failure.
func TestWorkflowRejected(t *testing.T) {
	model := &counted{m: agent.Local{}, release: make(chan struct{})}
	n := startNode(t, model)
	ctx := context.Background()
	if _, _, err := n.Workflows().StartRun(ctx, agent.WorkflowName, "r2", json.RawMessage(`{"task":"what is 1/0 and where is paris?"}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := n.Workflows().Signal(ctx, agent.WorkflowName, "r2", agent.ApprovalSignal, json.RawMessage(`{"approved":false,"note":"not today"}`)); err != nil {
		t.Fatal(err)
	}
	close(model.release)
	out := output(t, await(t, n, "r2"))
	if out.Approved || out.Note != "not today" || !strings.HasPrefix(out.Summary, "Not approved by the reviewer") || !strings.Contains(out.Summary, "not today") {
		t.Fatalf("output %+v", out)
	}
	if len(out.Tools) != 2 || !strings.Contains(out.Tools[0].Error, "division by zero") || out.Tools[1].Output != "Paris is the capital of France." {
		t.Fatalf("tools %+v", out.Tools)
	}
	if s := model.summaries.Load(); s != 0 {
		t.Fatalf("the model summarized %d times for a rejected run", s)
	}
	if _, _, err := n.Workflows().Signal(ctx, agent.WorkflowName, "r2", agent.ApprovalSignal, nil); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("signal to the finished run: %v, want ErrRunFinished", err)
	}
}

// No approval within ApprovalTimeout: the run completes not approved and
// says so.
func TestWorkflowApprovalTimeout(t *testing.T) {
	model := &counted{m: agent.Local{}}
	n := startNode(t, model, agent.WorkflowOptions{ApprovalTimeout: 300 * time.Millisecond})
	if _, _, err := n.Workflows().StartRun(context.Background(), agent.WorkflowName, "r3", json.RawMessage(`{"task":"count these words"}`)); err != nil {
		t.Fatal(err)
	}
	run := await(t, n, "r3")
	out := output(t, run)
	if out.Approved || !strings.Contains(out.Summary, `no "approve" signal came within 300ms`) || len(out.Tools) != 1 || out.Tools[0].Output != "3" {
		t.Fatalf("output %+v", out)
	}
	if d := run.EndedAt.Sub(run.CreatedAt); d < 300*time.Millisecond {
		t.Fatalf("the run ended %s after it started, before the approval timeout", d)
	}
	if s := model.summaries.Load(); s != 0 {
		t.Fatalf("the model summarized %d times for a timed out run", s)
	}
}

// An empty task fails the run at once with invalid_input, without asking
// the model.
func TestWorkflowEmptyTask(t *testing.T) {
	model := &counted{m: agent.Local{}}
	n := startNode(t, model)
	if _, _, err := n.Workflows().StartRun(context.Background(), agent.WorkflowName, "r4", json.RawMessage(`{"task":"  "}`)); err != nil {
		t.Fatal(err)
	}
	run := await(t, n, "r4")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Code != "invalid_input" || !strings.Contains(run.Error.Message, `{"task":"..."}`) {
		t.Fatalf("run %+v (error %+v)", run, run.Error)
	}
	if p := model.plans.Load(); p != 0 {
		t.Fatalf("the model planned %d times", p)
	}
}

// The plan step retries a 429 after the server's Retry-After, and fails
// the run at once on a non-retryable 401.
func TestWorkflowModelErrors(t *testing.T) {
	model := &counted{m: agent.Local{}, fail: func(plan bool, n int32) error {
		if plan && n == 1 {
			return &agent.HTTPError{Status: http.StatusTooManyRequests, RetryAfter: 50 * time.Millisecond}
		}
		return nil
	}}
	n := startNode(t, model, agent.WorkflowOptions{ApprovalTimeout: time.Millisecond})
	if _, _, err := n.Workflows().StartRun(context.Background(), agent.WorkflowName, "r5", json.RawMessage(`{"task":"where is tokyo"}`)); err != nil {
		t.Fatal(err)
	}
	if out := output(t, await(t, n, "r5")); len(out.Tools) != 1 || out.Tools[0].Tool != agent.ToolLookup {
		t.Fatalf("output %+v", out)
	}
	if p := model.plans.Load(); p != 2 {
		t.Fatalf("planned %d times, want 2 (a 429, then success)", p)
	}

	denied := &counted{m: agent.Local{}, fail: func(bool, int32) error {
		return &agent.HTTPError{Status: http.StatusUnauthorized, Body: `{"error":{"message":"bad key"}}`}
	}}
	n = startNode(t, denied)
	if _, _, err := n.Workflows().StartRun(context.Background(), agent.WorkflowName, "r6", json.RawMessage(`{"task":"where is tokyo"}`)); err != nil {
		t.Fatal(err)
	}
	run := await(t, n, "r6")
	if run.Status != workflows.StatusFailed || run.Error == nil || run.Error.Entry != "plan" || !strings.Contains(run.Error.Message, "bad key") {
		t.Fatalf("run %+v (error %+v)", run, run.Error)
	}
	if p := denied.plans.Load(); p != 1 {
		t.Fatalf("planned %d times, want 1 (401 is not retried)", p)
	}
}

func post(t *testing.T, c *http.Client, url string, body any, wantStatus int, out any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, wantStatus, out)
}

func get(t *testing.T, c *http.Client, url string, out any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, resp, http.StatusOK, out)
}

func decode(t *testing.T, resp *http.Response, wantStatus int, out any) {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, b, wantStatus)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: %s: %v", resp.Request.Method, resp.Request.URL, b, err)
	}
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	name string
	data json.RawMessage
}

// subscribe opens an SSE stream and returns its events, read on a
// goroutine until the stream ends (at cleanup at the latest).
func subscribe(t *testing.T, c *http.Client, url string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	events := make(chan sseEvent, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(events)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = json.RawMessage(strings.TrimPrefix(line, "data: "))
			case line == "" && ev.name != "":
				select {
				case events <- ev:
				case <-ctx.Done():
					return
				}
				ev = sseEvent{}
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return events
}

// readUntil reads events until a wf.progress broadcast reports the run's
// status, returning the wf.stream chunks seen, by entry, in order.
func readUntil(t *testing.T, events <-chan sseEvent, status string) map[string][]string {
	t.Helper()
	chunks := map[string][]string{}
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatalf("the SSE stream ended before status %s", status)
			}
			switch ev.name {
			case "wf.stream":
				var args []struct {
					Entry string `json:"entry"`
					Seq   int64  `json:"seq"`
					Chunk string `json:"chunk"`
				}
				if err := json.Unmarshal(ev.data, &args); err != nil || len(args) != 1 {
					t.Fatalf("wf.stream %s: %v", ev.data, err)
				}
				if got, want := args[0].Seq, int64(len(chunks[args[0].Entry])+1); got != want {
					t.Fatalf("wf.stream %s: seq %d, want %d (a chunk lost or reordered)", ev.data, got, want)
				}
				chunks[args[0].Entry] = append(chunks[args[0].Entry], args[0].Chunk)
			case "wf.progress":
				var args []struct {
					Entry  string `json:"entry"`
					Status string `json:"status"`
				}
				if err := json.Unmarshal(ev.data, &args); err != nil || len(args) != 1 {
					t.Fatalf("wf.progress %s: %v", ev.data, err)
				}
				// The run's own status has no entry, but for a park, which
				// names the entry it waits on.
				if args[0].Status == status && (args[0].Entry == "" || status == "waiting" && args[0].Entry == "approval") {
					return chunks
				}
			}
		case <-timeout:
			t.Fatalf("no wf.progress with status %s within 30s; chunks so far %q", status, chunks)
		}
	}
}
