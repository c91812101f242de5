package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
)

// setupInspector starts a node with the counter and tester types and the
// given API options, over a real loopback socket.
func setupInspector(t *testing.T, opts testOpts) *bundle {
	t.Helper()
	b := &bundle{entered: make(chan string, 16), release: make(chan struct{}), header: http.Header{}}
	reg, err := actors.NewRegistry(builtin.Counter, testerType())
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(t, opts, reg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b.n, b.base = n, "http://"+n.Addr()
	b.http = checkedClient(t, b.n, opts.API.Token)
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

// gwActorID gets or creates an actor through the gateway and returns its ID.
func (b *bundle) gwActorID(t *testing.T, typ, key string) string {
	t.Helper()
	var res struct {
		Actor struct {
			ID string `json:"actor_id"`
		} `json:"actor"`
	}
	b.call(t, http.MethodPut, "/actors", map[string]any{"name": typ, "key": key}, http.StatusOK, &res)
	return res.Actor.ID
}

// insp calls an inspector route of the actor with the bearer token (none
// when token is empty) and returns the status and body.
func (b *bundle) insp(t *testing.T, method, id, route, token string, body any) (int, []byte) {
	t.Helper()
	var header []string
	if token != "" {
		header = []string{"Authorization", "Bearer " + token}
	}
	resp, data := b.do(t, method, "/gateway/"+url.PathEscape(id)+"/inspector/"+route, body, header...)
	return resp.StatusCode, data
}

// inspOK is insp that wants 200 and decodes the body into out.
func (b *bundle) inspOK(t *testing.T, method, id, route, token string, body, out any) {
	t.Helper()
	status, data := b.insp(t, method, id, route, token, body)
	if status != http.StatusOK {
		t.Fatalf("%s inspector/%s: status %d: %s", method, route, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s inspector/%s: decode %s: %v", method, route, data, err)
		}
	}
}

func wantGwError(t *testing.T, status int, data []byte, wantStatus int, group, code string) {
	t.Helper()
	var e struct{ Group, Code, Message string }
	if err := json.Unmarshal(data, &e); err != nil || status != wantStatus || e.Group != group || e.Code != code || e.Message == "" {
		t.Fatalf("status %d body %s, want %d %s/%s with a message", status, data, wantStatus, group, code)
	}
}

func TestInspectorAuth(t *testing.T) {
	t.Parallel()
	t.Run("inspector token", func(t *testing.T) {
		t.Parallel()
		b := setupInspector(t, testOpts{API: api.Options{InspectorToken: "itok"}})
		id := b.gwActorID(t, "counter", "a")
		for _, tok := range []string{"", "wrong"} {
			status, data := b.insp(t, http.MethodGet, id, "state", tok, nil)
			wantGwError(t, status, data, http.StatusUnauthorized, "api", "unauthorized")
		}
		b.inspOK(t, http.MethodGet, id, "state", "itok", nil, nil)
		// Refused before the target resolves: nothing is created.
		status, _ := b.insp(t, http.MethodGet, "counter", "state?rvt-method=getOrCreate&rvt-key=fresh", "wrong", nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("status %d", status)
		}
		var list struct{ Actors []any }
		b.call(t, http.MethodGet, "/actors?name=counter&key=fresh", nil, http.StatusOK, &list)
		if len(list.Actors) != 0 {
			t.Fatalf("an unauthorized inspector call created the actor: %v", list.Actors)
		}
	})
	t.Run("API token opens it too", func(t *testing.T) {
		t.Parallel()
		b := setupInspector(t, testOpts{API: api.Options{Token: "apitok", InspectorToken: "itok"}})
		b.header.Set("x-rivet-token", "apitok")
		id := b.gwActorID(t, "counter", "a")
		b.inspOK(t, http.MethodGet, id, "rpcs", "apitok", nil, nil)
		// The inspector token alone opens the inspector routes, not the rest.
		b.inspOK(t, http.MethodGet, id, "rpcs", "itok", nil, nil)
		status, data := b.insp(t, http.MethodGet, id, "rpcs", "wrong", nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("wrong token: status %d: %s", status, data)
		}
		b.header.Set("x-rivet-token", "itok")
		status, data = b.gwAction(t, id, "getCount", "", `[]`)
		if status != http.StatusUnauthorized {
			t.Fatalf("the inspector token opened an action call: status %d: %s", status, data)
		}
	})
	t.Run("no token: open on loopback only", func(t *testing.T) {
		t.Parallel()
		open := setupInspector(t, testOpts{API: api.Options{InspectorLoopback: true}})
		open.inspOK(t, http.MethodGet, open.gwActorID(t, "counter", "a"), "state", "", nil, nil)
		closed := setupInspector(t, testOpts{})
		status, data := closed.insp(t, http.MethodGet, closed.gwActorID(t, "counter", "a"), "state", "", nil)
		wantGwError(t, status, data, http.StatusUnauthorized, "api", "unauthorized")
		if !strings.Contains(string(data), "--inspector-token") {
			t.Fatalf("the refusal does not say what to set: %s", data)
		}
	})
}

func TestInspectorStateActionsAndSummary(t *testing.T) {
	t.Parallel()
	b := setupInspector(t, testOpts{API: api.Options{InspectorToken: "itok"}})
	id := b.gwActorID(t, "counter", "s")
	b.action(t, id, "increment", 5)

	var st struct {
		State          json.RawMessage `json:"state"`
		IsStateEnabled bool            `json:"isStateEnabled"`
	}
	b.inspOK(t, http.MethodGet, id, "state", "itok", nil, &st)
	if string(st.State) != `{"count":5}` || !st.IsStateEnabled {
		t.Fatalf("state %s enabled %v", st.State, st.IsStateEnabled)
	}

	// PATCH: in the log before the 200, then seen by the actor's actions.
	var ok struct{ OK bool }
	b.inspOK(t, http.MethodPatch, id, "state", "itok", map[string]any{"state": map[string]any{"count": 42}}, &ok)
	if !ok.OK {
		t.Fatal("PATCH state: ok is not true")
	}
	evs := b.history(t, id)
	if last := evs[len(evs)-1]; last.Action != actors.InspectStateEvent {
		t.Fatalf("last event %q, want %s", last.Action, actors.InspectStateEvent)
	}
	if out := b.action(t, id, "getCount"); string(out) != "42" {
		t.Fatalf("getCount after PATCH: %s", out)
	}
	for _, body := range []any{map[string]any{}, map[string]any{"state": map[string]any{"count": "many"}}, "{not json"} {
		status, data := b.insp(t, http.MethodPatch, id, "state", "itok", body)
		if status != http.StatusBadRequest {
			t.Fatalf("PATCH %v: status %d: %s", body, status, data)
		}
	}

	// Actions run like any call, with plain JSON args and output.
	var out struct{ Output json.RawMessage }
	b.inspOK(t, http.MethodPost, id, "action/increment", "itok", map[string]any{"args": []any{5}}, &out)
	if string(out.Output) != "47" {
		t.Fatalf("inspector increment: %s", out.Output)
	}
	status, data := b.insp(t, http.MethodPost, id, "action/nope", "itok", map[string]any{"args": []any{}})
	wantGwError(t, status, data, http.StatusNotFound, "actor", "action_not_found")

	var rpcs struct{ RPCs []string }
	b.inspOK(t, http.MethodGet, id, "rpcs", "itok", nil, &rpcs)
	if !slices.IsSorted(rpcs.RPCs) || !slices.Contains(rpcs.RPCs, "increment") || !slices.Contains(rpcs.RPCs, "getCount") {
		t.Fatalf("rpcs %v", rpcs.RPCs)
	}

	var sum struct {
		State             json.RawMessage `json:"state"`
		Connections       []any           `json:"connections"`
		RPCs              []string        `json:"rpcs"`
		QueueSize         *int            `json:"queueSize"`
		IsStateEnabled    bool            `json:"isStateEnabled"`
		IsDatabaseEnabled *bool           `json:"isDatabaseEnabled"`
		IsWorkflowEnabled *bool           `json:"isWorkflowEnabled"`
		WorkflowHistory   json.RawMessage `json:"workflowHistory"`
	}
	b.inspOK(t, http.MethodGet, id, "summary", "itok", nil, &sum)
	if string(sum.State) != `{"count":47}` || sum.Connections == nil || !slices.Equal(sum.RPCs, rpcs.RPCs) || sum.QueueSize == nil ||
		!sum.IsStateEnabled || sum.IsDatabaseEnabled == nil || *sum.IsDatabaseEnabled || sum.IsWorkflowEnabled == nil || *sum.IsWorkflowEnabled ||
		string(sum.WorkflowHistory) != "null" {
		t.Fatalf("summary %+v", sum)
	}

	var q struct {
		Size, MaxSize *int
		Truncated     *bool
		Messages      []any
	}
	b.inspOK(t, http.MethodGet, id, "queue?limit=10", "itok", nil, &q)
	if q.Size == nil || q.MaxSize == nil || q.Truncated == nil || q.Messages == nil {
		t.Fatalf("queue %+v", q)
	}

	var wf struct {
		History           json.RawMessage `json:"history"`
		IsWorkflowEnabled *bool           `json:"isWorkflowEnabled"`
	}
	b.inspOK(t, http.MethodGet, id, "workflow-history", "itok", nil, &wf)
	if string(wf.History) != "null" || wf.IsWorkflowEnabled == nil || *wf.IsWorkflowEnabled {
		t.Fatalf("workflow-history %+v", wf)
	}
	status, data = b.insp(t, http.MethodPost, id, "workflow/replay", "itok", map[string]any{})
	wantGwError(t, status, data, http.StatusBadRequest, "actor", "workflow_not_enabled")
	for _, r := range []struct{ method, route string }{{"GET", "database/schema"}, {"GET", "database/rows?table=t"}, {"POST", "database/execute"}} {
		status, data := b.insp(t, r.method, id, r.route, "itok", map[string]any{"sql": "SELECT 1"})
		wantGwError(t, status, data, http.StatusBadRequest, "database", "not_enabled")
	}

	// Under /api/rivet, and addressed by name and key.
	b.inspOK(t, http.MethodGet, "counter", "state?rvt-method=get&rvt-key=s", "itok", nil, &st)
	if string(st.State) != `{"count":47}` {
		t.Fatalf("state by name %s", st.State)
	}
	resp, data := b.do(t, http.MethodGet, "/api/rivet/gateway/"+id+"/inspector/state", nil, "Authorization", "Bearer itok")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"count":47`) {
		t.Fatalf("under /api/rivet: %d %s", resp.StatusCode, data)
	}
	status, data = b.insp(t, http.MethodGet, "counter", "state?rvt-method=get&rvt-key=missing", "itok", nil)
	wantGwError(t, status, data, http.StatusNotFound, "actor", "not_found")
}

func TestInspectorConnections(t *testing.T) {
	t.Parallel()
	b := setupInspector(t, testOpts{API: api.Options{InspectorToken: "itok"}})
	id := b.gwActorID(t, "tester", "c")
	b.stream(t, "/v1/actors/"+id+"/sse?params="+url.QueryEscape(`{"token":"ann"}`)+"&event=tick")
	var res struct {
		Connections []struct {
			Type    string `json:"type"`
			ID      string `json:"id"`
			Details struct {
				Type          string          `json:"type"`
				Params        json.RawMessage `json:"params"`
				StateEnabled  bool            `json:"stateEnabled"`
				State         json.RawMessage `json:"state"`
				Subscriptions int             `json:"subscriptions"`
			} `json:"details"`
		} `json:"connections"`
	}
	b.inspOK(t, http.MethodGet, id, "connections", "itok", nil, &res)
	if len(res.Connections) != 1 {
		t.Fatalf("connections %+v, want the SSE stream", res.Connections)
	}
	c := res.Connections[0]
	if c.ID == "" || c.Type != "sse" || string(c.Details.Params) != `{"token":"ann"}` || !c.Details.StateEnabled ||
		string(c.Details.State) != `{"user":"user-of-ann"}` || c.Details.Subscriptions != 1 {
		t.Fatalf("connection %+v", c)
	}
}

func TestInspectorTraces(t *testing.T) {
	t.Parallel()
	b := setupInspector(t, testOpts{API: api.Options{InspectorToken: "itok"}})
	id := b.gwActorID(t, "counter", "t")
	for range 4 {
		b.action(t, id, "increment", 1)
	}
	evs := b.history(t, id)
	type span struct {
		TraceID, SpanID, Name string
		StartTimeUnixNano     string
		EndTimeUnixNano       string
		Attributes            []struct{ Key string }
	}
	type traces struct {
		OTLP struct {
			ResourceSpans []struct {
				Resource   struct{ Attributes []struct{ Key string } }
				ScopeSpans []struct{ Spans []span }
			}
		}
		Clamped *bool
	}
	read := func(query string) ([]span, bool) {
		t.Helper()
		var tr traces
		b.inspOK(t, http.MethodGet, id, "traces?"+query, "itok", nil, &tr)
		if tr.Clamped == nil || len(tr.OTLP.ResourceSpans) != 1 || len(tr.OTLP.ResourceSpans[0].ScopeSpans) != 1 {
			t.Fatalf("traces?%s: shape %+v", query, tr)
		}
		return tr.OTLP.ResourceSpans[0].ScopeSpans[0].Spans, *tr.Clamped
	}
	end := strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10)
	spans, clamped := read("startMs=0&endMs=" + end + "&limit=100")
	if len(spans) != len(evs) || clamped {
		t.Fatalf("%d spans (clamped %v) for %d events", len(spans), clamped, len(evs))
	}
	for i, s := range spans {
		if s.Name != evs[i].Action || len(s.TraceID) != 32 || len(s.SpanID) != 16 || s.StartTimeUnixNano == "" || s.EndTimeUnixNano < s.StartTimeUnixNano {
			t.Fatalf("span %d %+v for event %q", i, s, evs[i].Action)
		}
	}
	spans, clamped = read("startMs=0&endMs=" + end + "&limit=2")
	if len(spans) != 2 || !clamped || spans[0].Name != evs[0].Action {
		t.Fatalf("limit 2: %d spans, clamped %v", len(spans), clamped)
	}
	// A window from the third event's time on starts there.
	third := strconv.FormatInt(evs[2].Time.UnixMilli(), 10)
	spans, _ = read("startMs=" + third + "&endMs=" + end + "&limit=100")
	if len(spans) == 0 || len(spans) > len(evs)-2+1 { // events in the same millisecond may come in too
		t.Fatalf("from the third event: %d spans of %d events", len(spans), len(evs))
	}
	if spans, clamped = read("startMs=" + end + "&endMs=" + end + "&limit=100"); len(spans) != 0 || clamped {
		t.Fatalf("empty window: %d spans", len(spans))
	}
	if _, clamped = read("startMs=0&endMs=" + end + "&limit=20000"); !clamped {
		t.Fatal("a limit over the maximum is not clamped")
	}
}

func TestInspectorMetrics(t *testing.T) {
	t.Parallel()
	b := setupInspector(t, testOpts{API: api.Options{InspectorToken: "itok"},
		Actors: actors.RuntimeOptions{IdleTimeout: 100 * time.Millisecond, SweepInterval: 20 * time.Millisecond}})
	id := b.gwActorID(t, "counter", "m")
	type metric struct {
		Type   string
		Value  *float64
		Values map[string]struct{ Calls, TotalMs, Keys *float64 }
	}
	get := func() map[string]metric {
		t.Helper()
		var m map[string]metric
		b.inspOK(t, http.MethodGet, id, "metrics", "itok", nil, &m)
		for _, k := range []string{"startup_total_ms", "startup_kv_round_trips", "startup_is_new", "startup_internal_load_state_ms",
			"startup_internal_init_queue_ms", "startup_internal_init_inspector_token_ms", "startup_user_create_vars_ms",
			"startup_user_on_wake_ms", "startup_user_create_state_ms"} {
			if m[k].Type != "gauge" || m[k].Value == nil {
				t.Fatalf("metric %s: %+v", k, m[k])
			}
		}
		if kv := m["kv_operations"]; kv.Type != "labeled_timing" || len(kv.Values) == 0 {
			t.Fatalf("kv_operations %+v", kv)
		}
		return m
	}
	m := get()
	if *m["startup_is_new"].Value != 1 || *m["startup_total_ms"].Value <= 0 || *m["startup_kv_round_trips"].Value < 1 {
		t.Fatalf("new actor: is_new %v total %v reads %v", *m["startup_is_new"].Value, *m["startup_total_ms"].Value, *m["startup_kv_round_trips"].Value)
	}
	b.action(t, id, "increment", 1)
	rt := b.n.Runtime()
	deadline := time.Now().Add(waitFor)
	for rt.Awake() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the actor did not sleep")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m = get() // wakes it
	if *m["startup_is_new"].Value != 0 || *m["startup_total_ms"].Value <= 0 || *m["startup_internal_load_state_ms"].Value <= 0 ||
		*m["startup_kv_round_trips"].Value < 2 || *m["startup_user_create_state_ms"].Value != 0 {
		t.Fatalf("woken actor: %+v", m)
	}
}
