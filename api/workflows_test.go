package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/workflows"
)

type greetIn struct {
	Name string `json:"name"`
}

type greetOut struct {
	Greeting string `json:"greeting"`
}

// testWorkflows are the workflows of setupWorkflows, new for each node (a
// Definition serves one engine at a time): greet greets in one step,
// approval returns the payload of the signal approve, doomed fails with an
// error of no code of its own (workflow_failed).
func testWorkflows() []workflows.Definition {
	greet := workflows.Define("greet", func(w *workflows.W, in greetIn) (greetOut, error) {
		g, err := workflows.Step(w, "hello", func(context.Context, *workflows.StepContext) (string, error) {
			return "hello " + in.Name, nil
		})
		return greetOut{Greeting: g}, err
	})
	// approval parks waiting at once (ParkAfter 10ms): its status is
	// waiting, as a long wait's would be.
	approval := workflows.Define("approval", func(w *workflows.W, _ struct{}) (json.RawMessage, error) {
		payload, _, err := w.WaitSignal("wait", "approve", 0)
		return payload, err
	}, workflows.Options{ParkAfter: 10 * time.Millisecond})
	doomed := workflows.Define("doomed", func(w *workflows.W, _ struct{}) (struct{}, error) {
		return struct{}{}, errors.New("boom")
	})
	return []workflows.Definition{greet, approval, doomed}
}

// setupWorkflows starts a node serving testWorkflows (and counter).
func setupWorkflows(t *testing.T) *bundle {
	t.Helper()
	reg, err := actors.NewRegistry(builtin.Counter)
	if err != nil {
		t.Fatal(err)
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Registry: reg, Workflows: testWorkflows(), Logger: quietLogger()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	if n.Workflows() == nil {
		t.Fatal("Node.Workflows is nil")
	}
	b := &bundle{n: n, base: "http://" + n.Addr(), header: http.Header{}, release: make(chan struct{})}
	b.http = checkedClient(t, b.n, "")
	t.Cleanup(func() {
		b.http.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	return b
}

// waitRun polls the run until it is finished.
func (b *bundle) waitRun(t *testing.T, name, runID string) (api.WorkflowRun, map[string]json.RawMessage) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var run api.WorkflowRun
		var raw map[string]json.RawMessage
		resp, data := b.do(t, http.MethodGet, "/v1/workflows/"+name+"/runs/"+runID, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("get run: %d %s", resp.StatusCode, data)
		}
		if err := json.Unmarshal(data, &run); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &raw); err != nil {
			t.Fatal(err)
		}
		if workflows.Status(run.Status).Finished() {
			return run, raw
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s not finished: %s", runID, name, data)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type startRunReply struct {
	RunID  string `json:"runId"`
	Status string `json:"status"`
}

func TestWorkflowRunRoutes(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)

	var started startRunReply
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": "r1", "input": map[string]any{"name": "ann"}},
		http.StatusCreated, &started)
	if started.RunID != "r1" || (started.Status != "running" && started.Status != "completed") {
		t.Fatalf("start = %+v", started)
	}
	run, raw := b.waitRun(t, "greet", "r1")
	if run.Status != "completed" || run.Workflow != "greet" || run.RunID != "r1" || run.Steps != 1 || run.Current != "hello" ||
		run.Error != nil || run.EndedAt.IsZero() || run.CreatedAt.IsZero() || run.UpdatedAt.IsZero() || run.ActorID == "" {
		t.Fatalf("run = %+v", run)
	}
	var out greetOut
	if err := json.Unmarshal(run.Result, &out); err != nil || out.Greeting != "hello ann" {
		t.Fatalf("result %s: %+v, %v", run.Result, out, err)
	}
	// The contract's field names.
	for _, k := range []string{"runId", "workflow", "status", "current", "steps", "result", "createdAt", "updatedAt", "endedAt"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("run has no %q: %v", k, raw)
		}
	}
	// The run's events are the actor's.
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+run.ActorID+"/events", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("run actor events: %d %s", resp.StatusCode, data)
	}

	// Idempotent on runId: 200, the run as it is, the new input ignored.
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": "r1", "input": map[string]any{"name": "bob"}},
		http.StatusOK, &started)
	if started.RunID != "r1" || started.Status != "completed" {
		t.Fatalf("second start = %+v", started)
	}
	if again, _ := b.waitRun(t, "greet", "r1"); string(again.Result) != string(run.Result) {
		t.Fatalf("result changed: %s, was %s", again.Result, run.Result)
	}

	// Without a runId the server picks one; without input it is null.
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", nil, http.StatusCreated, &started)
	if started.RunID == "" {
		t.Fatal("no run ID picked")
	}
	if r, _ := b.waitRun(t, "greet", started.RunID); r.Status != "completed" || string(r.Result) != `{"greeting":"hello "}` {
		t.Fatalf("run without input = %+v (result %s)", r, r.Result)
	}

	// A failed run: error with its code, no result.
	b.call(t, http.MethodPost, "/v1/workflows/doomed/runs", map[string]any{"runId": "d1"}, http.StatusCreated, &started)
	failed, raw := b.waitRun(t, "doomed", "d1")
	if failed.Status != "failed" || failed.Error == nil || failed.Error.Code != "workflow_failed" || failed.Error.Message != "boom" {
		t.Fatalf("failed run = %+v (error %+v)", failed, failed.Error)
	}
	if _, ok := raw["result"]; ok {
		t.Fatalf("failed run has a result: %v", raw)
	}
}

func TestWorkflowRunErrors(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": "r1"}, http.StatusCreated, nil)
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		{http.MethodPost, "/v1/workflows/nope/runs", map[string]any{"runId": "r1"}, 404, "workflow_not_found"},
		{http.MethodPost, "/v1/workflows/counter/runs", map[string]any{"runId": "r1"}, 404, "workflow_not_found"},
		{http.MethodGet, "/v1/workflows/nope/runs/r1", nil, 404, "workflow_not_found"},
		{http.MethodGet, "/v1/workflows/greet/runs/missing", nil, 404, "run_not_found"},
		{http.MethodGet, "/v1/workflows/nope/runs", nil, 404, "workflow_not_found"},
		{http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": "bad id!"}, 400, "invalid_run_id"},
		{http.MethodGet, "/v1/workflows/greet/runs/bad%20id", nil, 400, "invalid_run_id"},
		{http.MethodPost, "/v1/workflows/greet/runs", `{"runId":`, 400, "malformed_json"},
		{http.MethodGet, "/v1/workflows/greet/runs?status=bogus", nil, 422, "invalid_request"},
		{http.MethodGet, "/v1/workflows/greet/runs?cursor=%21%21", nil, 400, "invalid_cursor"},
	} {
		resp, data := b.do(t, tc.method, tc.path, tc.body)
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != tc.status || e.Code != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.path, resp.StatusCode, data, tc.status, tc.code)
		}
	}
}

func TestWorkflowRunList(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	for _, id := range []string{"a1", "a2", "a3"} {
		b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": id, "input": map[string]any{"name": id}}, http.StatusCreated, nil)
		b.waitRun(t, "greet", id)
	}
	b.call(t, http.MethodPost, "/v1/workflows/doomed/runs", map[string]any{"runId": "d1"}, http.StatusCreated, nil)
	b.waitRun(t, "doomed", "d1")

	type page struct {
		Runs       []api.WorkflowRun `json:"runs"`
		NextCursor string            `json:"nextCursor"`
	}
	var p page
	b.call(t, http.MethodGet, "/v1/workflows/greet/runs", nil, http.StatusOK, &p)
	if len(p.Runs) != 3 || p.NextCursor != "" {
		t.Fatalf("list = %+v", p)
	}
	for i, id := range []string{"a1", "a2", "a3"} {
		if r := p.Runs[i]; r.RunID != id || r.Workflow != "greet" || r.Status != "completed" || r.Result != nil {
			t.Fatalf("run %d = %+v", i, r)
		}
	}
	// Paged.
	var got []string
	cursor := ""
	for range 4 {
		var pg page
		b.call(t, http.MethodGet, "/v1/workflows/greet/runs?limit=2&cursor="+cursor, nil, http.StatusOK, &pg)
		for _, r := range pg.Runs {
			got = append(got, r.RunID)
		}
		if cursor = pg.NextCursor; cursor == "" {
			break
		}
	}
	if len(got) != 3 || got[0] != "a1" || got[2] != "a3" {
		t.Fatalf("paged = %v", got)
	}
	// By status.
	b.call(t, http.MethodGet, "/v1/workflows/doomed/runs?status=failed", nil, http.StatusOK, &p)
	if len(p.Runs) != 1 || p.Runs[0].RunID != "d1" || p.Runs[0].Error == nil {
		t.Fatalf("failed runs = %+v", p)
	}
	b.call(t, http.MethodGet, "/v1/workflows/doomed/runs?status=completed", nil, http.StatusOK, &p)
	if len(p.Runs) != 0 {
		t.Fatalf("completed doomed runs = %+v", p)
	}
}

func TestWorkflowRunSignal(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "p1"}, http.StatusCreated, nil)
	var sig struct {
		MessageID uint64 `json:"messageId"`
		Status    string `json:"status"`
	}
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/signals/approve", map[string]any{"payload": map[string]any{"approved": true}},
		http.StatusAccepted, &sig)
	if sig.MessageID != 1 || workflows.Status(sig.Status).Finished() {
		t.Fatalf("signal = %+v", sig)
	}
	run, _ := b.waitRun(t, "approval", "p1")
	if run.Status != "completed" || string(run.Result) != `{"approved":true}` {
		t.Fatalf("run = %+v (result %s)", run, run.Result)
	}

	// A signal sent before the wait is kept for it; no body is a null payload.
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "p2"}, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p2/signals/approve", nil, http.StatusAccepted, &sig)
	if run, _ = b.waitRun(t, "approval", "p2"); run.Status != "completed" {
		t.Fatalf("run = %+v", run)
	}

	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "p3"}, http.StatusCreated, nil)
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/workflows/approval/runs/p1/signals/approve", 409, "run_finished"},
		{"/v1/workflows/approval/runs/p3/signals/a%23b", 422, "invalid_request"},
		{"/v1/workflows/approval/runs/missing/signals/approve", 404, "run_not_found"},
		{"/v1/workflows/nope/runs/p1/signals/approve", 404, "workflow_not_found"},
	} {
		resp, data := b.do(t, http.MethodPost, tc.path, map[string]any{"payload": 1})
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != tc.status || e.Code != tc.code {
			t.Errorf("POST %s: %d %s, want %d %s", tc.path, resp.StatusCode, data, tc.status, tc.code)
		}
	}
}

// The engine's codes are the catalogue's: the API answers with them, and a
// run's error carries them.
func TestWorkflowCodesCatalogued(t *testing.T) {
	t.Parallel()
	for got, want := range map[errcode.Code]errcode.Code{
		workflows.CodeWorkflowNotFound: errcode.WorkflowNotFound, workflows.CodeRunNotFound: errcode.RunNotFound,
		workflows.CodeInvalidRunID: errcode.InvalidRunID, workflows.CodeRunFinished: errcode.RunFinished,
		workflows.CodeInboxFull: errcode.InboxFull, workflows.CodeNondeterminism: errcode.Nondeterminism,
		workflows.CodeStepFailed: errcode.StepFailed, workflows.CodeWorkflowFailed: errcode.WorkflowFailed,
		workflows.CodeEntryTooLarge: errcode.EntryTooLarge, workflows.CodeJournalTooLarge: errcode.JournalTooLarge,
		workflows.CodeInvalidInput: errcode.InvalidInput,
	} {
		if got != want {
			t.Errorf("workflows code %q, errcode %q", got, want)
		}
		if _, ok := errcode.Lookup(got); !ok {
			t.Errorf("%s is not catalogued", got)
		}
	}
}
