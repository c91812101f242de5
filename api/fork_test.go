package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// forkEvents returns the actor's events, oldest first (one page: the tests'
// actors have few).
func forkEvents(t *testing.T, b *bundle, id string) []api.Event {
	t.Helper()
	var page struct {
		Events []api.Event `json:"events"`
	}
	b.call(t, http.MethodGet, "/v1/actors/"+id+"/events?limit=1000", nil, http.StatusOK, &page)
	return page.Events
}

// POST /v1/actors/{id}/fork: 201 with the new actor, whose state is the
// source's as of atSeq; the source is untouched; bad input is 400, 404 or
// 409 with its code and appends nothing.
func TestForkActorRoute(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var src api.ActorResult
	b.call(t, http.MethodPut, "/v1/actors", map[string]any{"type": "tester", "key": []string{"src"}}, http.StatusOK, &src.Body)
	id := src.Body.Actor.ID
	b.call(t, http.MethodPost, "/v1/actors/"+id+"/actions/add", map[string]any{"args": []int{5}}, http.StatusOK, nil)
	evs := forkEvents(t, b, id)
	atSeq := evs[len(evs)-1].Seq
	b.call(t, http.MethodPost, "/v1/actors/"+id+"/actions/add", map[string]any{"args": []int{7}}, http.StatusOK, nil)
	before := forkEvents(t, b, id)

	var fork api.ActorResult
	b.call(t, http.MethodPost, "/v1/actors/"+id+"/fork", map[string]any{"atSeq": atSeq, "key": []string{"copy"}}, http.StatusCreated, &fork.Body)
	a := fork.Body.Actor
	if !fork.Body.Created || a.Type != "tester" || len(a.Key) != 1 || a.Key[0] != "copy" || a.Generation != 1 || a.ID == id {
		t.Fatalf("fork = %+v", fork.Body)
	}
	var got api.Actor
	b.call(t, http.MethodGet, "/v1/actors/"+a.ID, nil, http.StatusOK, &got)
	var out struct {
		Output int `json:"output"`
	}
	b.call(t, http.MethodPost, "/v1/actors/"+a.ID+"/actions/get", map[string]any{"args": []any{}}, http.StatusOK, &out)
	if out.Output != 5 {
		t.Fatalf("fork's n = %d, want 5 (the source's at seq %d)", out.Output, atSeq)
	}
	forkEvs := forkEvents(t, b, a.ID)
	if forkEvs[0].Kind != "create" || forkEvs[0].Action != actors.ForkAction || !strings.Contains(string(forkEvs[0].Args), `"from":"`+id+`"`) {
		t.Fatalf("fork's first event: %+v", forkEvs[0])
	}
	if after := forkEvents(t, b, id); len(after) != len(before) || after[len(after)-1].Seq != before[len(before)-1].Seq {
		t.Fatalf("the source's log changed: %d events, was %d", len(after), len(before))
	}

	missing, _ := actors.ActorID("tester", []string{"never"})
	last := before[len(before)-1].Seq
	for _, tc := range []struct {
		name   string
		id     string
		body   any
		status int
		code   string
		says   string
	}{
		{"seq zero", id, map[string]any{"atSeq": 0, "key": []string{"t"}}, 400, "invalid_args", "is not an event of"},
		{"seq past the last", id, map[string]any{"atSeq": last + 50, "key": []string{"t"}}, 400, "invalid_args", "is not an event of"},
		{"bad ID", "not-an-id", map[string]any{"atSeq": 1, "key": []string{"t"}}, 400, "invalid_actor_id", ""},
		{"no such actor", missing, map[string]any{"atSeq": 1, "key": []string{"t"}}, 404, "actor_not_found", ""},
		{"unknown type", "nosuch.kAA", map[string]any{"atSeq": 1, "key": []string{"t"}}, 404, "actor_type_not_found", ""},
		{"target exists", id, map[string]any{"atSeq": atSeq, "key": []string{"copy"}}, 409, "actor_exists", ""},
		{"bad key", id, map[string]any{"atSeq": atSeq, "key": []string{strings.Repeat("k", eventlog.MaxKeyBytes+1)}}, 400, "invalid_key", ""},
	} {
		resp, data := b.do(t, http.MethodPost, "/v1/actors/"+tc.id+"/fork", tc.body)
		var e api.Error
		_ = json.Unmarshal(data, &e)
		if resp.StatusCode != tc.status || (tc.code != "" && e.Code != tc.code) || !strings.Contains(string(data), tc.says) {
			t.Errorf("%s: %d %s, want %d %s %q", tc.name, resp.StatusCode, data, tc.status, tc.code, tc.says)
		}
	}
	if after := forkEvents(t, b, id); len(after) != len(before) {
		t.Fatalf("a refused fork appended to the source: %d events, was %d", len(after), len(before))
	}
	if evs := forkEvents(t, b, a.ID); len(evs) != len(forkEvs) {
		t.Fatalf("a refused fork appended to the existing target: %d events, was %d", len(evs), len(forkEvs))
	}
	b.call(t, http.MethodGet, "/v1/actors/"+mustID(t, "tester", "t"), nil, http.StatusNotFound, nil)
}

// forkRunCounts counts the executions of each step of the fork workflow.
type forkRunCounts struct{ one, two, three atomic.Int32 }

// setupForkWorkflow starts a node serving "branchy": steps one and two,
// then a wait for the signal "go", then step three with its payload.
func setupForkWorkflow(t *testing.T, n *forkRunCounts) *bundle {
	t.Helper()
	wf := workflows.Define("branchy", func(w *workflows.W, _ struct{}) (string, error) {
		a, err := workflows.Step(w, "one", func(context.Context, *workflows.StepContext) (string, error) { n.one.Add(1); return "a", nil })
		if err != nil {
			return "", err
		}
		bb, err := workflows.Step(w, "two", func(context.Context, *workflows.StepContext) (string, error) { n.two.Add(1); return "b", nil })
		if err != nil {
			return "", err
		}
		payload, _, err := w.WaitSignal("wait", "go", 0)
		if err != nil {
			return "", err
		}
		c, err := workflows.Step(w, "three", func(context.Context, *workflows.StepContext) (string, error) {
			n.three.Add(1)
			var s string
			err := json.Unmarshal(payload, &s)
			return s, err
		})
		return a + bb + c, err
	}, workflows.Options{ParkAfter: 10 * time.Millisecond})
	reg, err := actors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	node, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Registry: reg, Workflows: []workflows.Definition{wf}, Logger: quietLogger()})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b := &bundle{n: node, base: "http://" + node.Addr(), header: http.Header{}, release: make(chan struct{})}
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

// waitRunStatus polls the run until its status is want.
func (b *bundle) waitRunStatus(t *testing.T, name, runID, want string) api.WorkflowRun {
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
		time.Sleep(5 * time.Millisecond)
	}
}

// Forking a workflow run by its actor ID at the event of its second step
// branches it: the fork is a run of its own (its run ID, its result) that
// reuses the two journaled steps without running them again, then waits
// for its own signal; the original is untouched and finishes on its own.
func TestForkWorkflowRun(t *testing.T) {
	t.Parallel()
	var n forkRunCounts
	b := setupForkWorkflow(t, &n)
	b.call(t, http.MethodPost, "/v1/workflows/branchy/runs", map[string]any{"runId": "src"}, http.StatusCreated, nil)
	src := b.waitRunStatus(t, "branchy", "src", "waiting")

	evs := forkEvents(t, b, src.ActorID)
	var atSeq uint64
	steps := 0
	for _, ev := range evs {
		var args struct {
			Op    string `json:"op"`
			Entry string `json:"entry"`
		}
		if ev.Action == "$wf" && json.Unmarshal(ev.Args, &args) == nil && args.Op == "step" {
			if steps++; steps == 2 {
				atSeq = ev.Seq
				if !strings.Contains(args.Entry, "two") {
					t.Fatalf("second step event journals %q, want two", args.Entry)
				}
			}
		}
	}
	if atSeq == 0 {
		t.Fatalf("no second step event in %+v", evs)
	}
	srcLast := evs[len(evs)-1].Seq

	var fork api.ActorResult
	b.call(t, http.MethodPost, "/v1/actors/"+src.ActorID+"/fork", map[string]any{"atSeq": atSeq, "key": []string{"branch"}},
		http.StatusCreated, &fork.Body)
	// The run type's OnFork refuses a key that is not a run ID: nothing appended.
	resp, data := b.do(t, http.MethodPost, "/v1/actors/"+src.ActorID+"/fork", map[string]any{"atSeq": atSeq, "key": []string{"bad id!"}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "invalid_run_id") {
		t.Fatalf("fork to a bad run ID: %d %s", resp.StatusCode, data)
	}
	b.call(t, http.MethodGet, "/v1/actors/"+mustID(t, "branchy", "bad id!"), nil, http.StatusNotFound, nil)
	branch := b.waitRunStatus(t, "branchy", "branch", "waiting")
	if branch.RunID != "branch" || branch.ActorID != fork.Body.Actor.ID || branch.Steps != 2 {
		t.Fatalf("fork run = %+v", branch)
	}
	if n.one.Load() != 1 || n.two.Load() != 1 {
		t.Fatalf("steps ran again in the fork: one %d, two %d times", n.one.Load(), n.two.Load())
	}
	if evs := forkEvents(t, b, src.ActorID); evs[len(evs)-1].Seq != srcLast {
		t.Fatalf("the fork appended to the source: last seq %d, was %d", evs[len(evs)-1].Seq, srcLast)
	}

	b.call(t, http.MethodPost, "/v1/workflows/branchy/runs/branch/signals/go", map[string]any{"payload": "x"}, http.StatusAccepted, nil)
	done, _ := b.waitRun(t, "branchy", "branch")
	if done.Status != "completed" || string(done.Result) != `"abx"` {
		t.Fatalf("fork run ended %s with %s", done.Status, done.Result)
	}
	if src := b.waitRunStatus(t, "branchy", "src", "waiting"); src.Steps != 2 {
		t.Fatalf("the source moved: %+v", src)
	}
	b.call(t, http.MethodPost, "/v1/workflows/branchy/runs/src/signals/go", map[string]any{"payload": "y"}, http.StatusAccepted, nil)
	if done, _ := b.waitRun(t, "branchy", "src"); done.Status != "completed" || string(done.Result) != `"aby"` {
		t.Fatalf("source run ended %s with %s", done.Status, done.Result)
	}
	if n.one.Load() != 1 || n.two.Load() != 1 || n.three.Load() != 2 {
		t.Fatalf("step executions: one %d, two %d, three %d; want 1, 1, 2", n.one.Load(), n.two.Load(), n.three.Load())
	}
}
