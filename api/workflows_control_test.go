package api_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// waitStatus polls the run until its status is want.
func (b *bundle) waitStatus(t *testing.T, name, runID, want string) api.WorkflowRun {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for {
		var run api.WorkflowRun
		b.call(t, http.MethodGet, "/v1/workflows/"+name+"/runs/"+runID, nil, http.StatusOK, &run)
		if run.Status == want {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s, want %s", runID, name, run.Status, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type eventsPage struct {
	Events    []api.Event `json:"events"`
	NextAfter uint64      `json:"nextAfter"`
}

func TestWorkflowRunEvents(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	b.call(t, http.MethodPost, "/v1/workflows/greet/runs", map[string]any{"runId": "r1", "input": map[string]any{"name": "ann"}}, http.StatusCreated, nil)
	run, _ := b.waitRun(t, "greet", "r1")

	// The run's events are its actor's: the same page as /v1/actors/{id}/events.
	var page, actorPage eventsPage
	b.call(t, http.MethodGet, "/v1/workflows/greet/runs/r1/events", nil, http.StatusOK, &page)
	b.call(t, http.MethodGet, "/v1/actors/"+run.ActorID+"/events", nil, http.StatusOK, &actorPage)
	if len(page.Events) < 3 || len(page.Events) != len(actorPage.Events) || page.NextAfter != 0 {
		t.Fatalf("run events = %+v, actor events = %+v", page, actorPage)
	}
	if page.Events[0].Kind != "create" {
		t.Fatalf("first event = %+v", page.Events[0])
	}
	wf := 0
	for i, ev := range page.Events {
		if ev.Seq != actorPage.Events[i].Seq {
			t.Fatalf("event %d: seq %d, actor's %d", i, ev.Seq, actorPage.Events[i].Seq)
		}
		if ev.Action == "$wf" {
			wf++
		}
	}
	if wf == 0 {
		t.Fatalf("no journal ($wf) events: %+v", page.Events)
	}
	// Paged with after.
	var seqs []uint64
	after := uint64(0)
	for range len(page.Events) + 1 {
		var p eventsPage
		b.call(t, http.MethodGet, "/v1/workflows/greet/runs/r1/events?limit=1&after="+strconv.FormatUint(after, 10), nil, http.StatusOK, &p)
		for _, ev := range p.Events {
			seqs = append(seqs, ev.Seq)
		}
		if after = p.NextAfter; after == 0 {
			break
		}
	}
	if len(seqs) != len(page.Events) {
		t.Fatalf("paged %v, want %d events", seqs, len(page.Events))
	}
	// With the state after each event.
	b.call(t, http.MethodGet, "/v1/workflows/greet/runs/r1/events?state=true", nil, http.StatusOK, &page)
	if last := page.Events[len(page.Events)-1]; !strings.Contains(string(last.State), `"status":"completed"`) {
		t.Fatalf("last state = %s", last.State)
	}

	for _, tc := range []struct {
		path string
		code string
	}{
		{"/v1/workflows/greet/runs/missing/events", "run_not_found"},
		{"/v1/workflows/nope/runs/r1/events", "workflow_not_found"},
		{"/v1/workflows/greet/runs/missing/sse", "run_not_found"},
		{"/v1/workflows/nope/runs/r1/sse", "workflow_not_found"},
	} {
		resp, data := b.do(t, http.MethodGet, tc.path, nil)
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != http.StatusNotFound || e.Code != tc.code {
			t.Errorf("GET %s: %d %s, want 404 %s", tc.path, resp.StatusCode, data, tc.code)
		}
	}
}

// The run's SSE stream carries its progress: a signal resumes a waiting
// run, and wf.progress events follow it to completed.
func TestWorkflowRunSSE(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "p1"}, http.StatusCreated, nil)
	b.waitStatus(t, "approval", "p1", "waiting")
	resp, events := b.stream(t, "/v1/workflows/approval/runs/p1/sse?event=wf.progress")
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/signals/approve", map[string]any{"payload": true}, http.StatusAccepted, nil)
	for {
		ev := next(t, events)
		if ev.Event != "wf.progress" {
			t.Fatalf("event %+v (filtered to wf.progress)", ev)
		}
		var args []struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal([]byte(ev.Data), &args); err != nil || len(args) != 1 {
			t.Fatalf("wf.progress data %q: %v", ev.Data, err)
		}
		if args[0].Status == "completed" {
			break
		}
	}
}

type controlReply struct {
	Status  string `json:"status"`
	Changed bool   `json:"changed"`
}

// Cancel, pause and resume: a waiting run cancels to cancelled; a paused
// run resumes and completes on its signal; a finished run is 409.
func TestWorkflowRunControl(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	var res controlReply

	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "c1"}, http.StatusCreated, nil)
	b.waitStatus(t, "approval", "c1", "waiting")
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/c1/cancel", map[string]any{"reason": "not needed"}, http.StatusOK, &res)
	if !res.Changed {
		t.Fatalf("cancel = %+v", res)
	}
	b.waitStatus(t, "approval", "c1", "cancelled")

	b.call(t, http.MethodPost, "/v1/workflows/approval/runs", map[string]any{"runId": "p1"}, http.StatusCreated, nil)
	b.waitStatus(t, "approval", "p1", "waiting")
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/pause", nil, http.StatusOK, &res)
	if res.Status != "paused" || !res.Changed {
		t.Fatalf("pause = %+v", res)
	}
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/pause", nil, http.StatusOK, &res)
	if res.Status != "paused" || res.Changed {
		t.Fatalf("second pause = %+v", res)
	}
	// Listed as paused (the runs projection follows the run's state).
	var page struct {
		Runs []api.WorkflowRun `json:"runs"`
	}
	b.call(t, http.MethodGet, "/v1/workflows/approval/runs?status=paused", nil, http.StatusOK, &page)
	if len(page.Runs) != 1 || page.Runs[0].RunID != "p1" {
		t.Fatalf("paused runs = %+v", page.Runs)
	}
	// Signals are buffered while paused; resume lets the run take it.
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/signals/approve", map[string]any{"payload": "yes"}, http.StatusAccepted, nil)
	b.call(t, http.MethodPost, "/v1/workflows/approval/runs/p1/resume", nil, http.StatusOK, &res)
	if res.Status == "paused" || !res.Changed {
		t.Fatalf("resume = %+v", res)
	}
	if run, _ := b.waitRun(t, "approval", "p1"); run.Status != "completed" || string(run.Result) != `"yes"` {
		t.Fatalf("resumed run = %+v (result %s)", run, run.Result)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/v1/workflows/approval/runs/p1/cancel", 409, "run_finished"},
		{"/v1/workflows/approval/runs/p1/pause", 409, "run_finished"},
		{"/v1/workflows/approval/runs/c1/resume", 409, "run_finished"},
		{"/v1/workflows/approval/runs/missing/cancel", 404, "run_not_found"},
		{"/v1/workflows/nope/runs/p1/pause", 404, "workflow_not_found"},
		{"/v1/workflows/approval/runs/bad%20id/resume", 400, "invalid_run_id"},
	} {
		resp, data := b.do(t, http.MethodPost, tc.path, nil)
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != tc.status || e.Code != tc.code {
			t.Errorf("POST %s: %d %s, want %d %s", tc.path, resp.StatusCode, data, tc.status, tc.code)
		}
	}
}

// Every workflow route is in the OpenAPI document, under the workflows tag.
func TestWorkflowRoutesDocumented(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Tags []string `json:"tags"`
		} `json:"paths"`
	}
	b.call(t, http.MethodGet, "/openapi.json", nil, http.StatusOK, &doc)
	for path, methods := range map[string][]string{
		"/v1/workflows/{name}/runs":                          {"get", "post"},
		"/v1/workflows/{name}/runs/{runId}":                  {"get"},
		"/v1/workflows/{name}/runs/{runId}/events":           {"get"},
		"/v1/workflows/{name}/runs/{runId}/sse":              {"get"},
		"/v1/workflows/{name}/runs/{runId}/signals/{signal}": {"post"},
		"/v1/workflows/{name}/runs/{runId}/cancel":           {"post"},
		"/v1/workflows/{name}/runs/{runId}/pause":            {"post"},
		"/v1/workflows/{name}/runs/{runId}/resume":           {"post"},
	} {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok || len(op.Tags) != 1 || op.Tags[0] != "workflows" {
				t.Errorf("OpenAPI %s %s: %+v (found %v)", m, path, op, ok)
			}
		}
	}
}
