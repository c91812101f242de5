package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

type actorResult struct {
	Actor   api.Actor `json:"actor"`
	Created bool      `json:"created"`
}

type actorList struct {
	Actors     []api.Actor `json:"actors"`
	NextCursor string      `json:"nextCursor"`
}

func mustID(t *testing.T, typ string, key ...string) string {
	t.Helper()
	id, err := actors.ActorID(typ, key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestGetOrCreateAndCreate(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	want := api.Actor{ID: mustID(t, "counter", "org", "doc.1"), Type: "counter", Key: []string{"org", "doc.1"}, Generation: 1}
	body := map[string]any{"type": "counter", "key": want.Key}

	for i, created := range []bool{true, false} {
		var res actorResult
		b.call(t, http.MethodPut, "/v1/actors", body, http.StatusOK, &res)
		if res.Created != created || !reflect.DeepEqual(res.Actor, want) {
			t.Fatalf("PUT #%d: got %+v, want created=%v actor %+v", i+1, res, created, want)
		}
	}

	key := map[string]any{"type": "counter", "key": []string{"fresh"}}
	var res actorResult
	b.call(t, http.MethodPost, "/v1/actors", key, http.StatusCreated, &res)
	if !res.Created || res.Actor.ID != mustID(t, "counter", "fresh") || res.Actor.Generation != 1 {
		t.Fatalf("POST: got %+v", res)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/actors", key)
	p := wantProblem(t, resp, data, http.StatusConflict, "actor_exists")
	if p.Group != "actor" {
		t.Errorf("group %q, want actor", p.Group)
	}
	if n := len(b.history(t, res.Actor.ID)); n != 1 {
		t.Errorf("the refused create appended: %d events, want 1", n)
	}
}

func TestLookupByKey(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "org-acme", "doc/456")
	awake := true // a lookup brings the actor it finds into memory
	found := a
	found.Awake = &awake
	tests := []struct {
		name  string
		query string
		want  []api.Actor
	}{
		{"multi-part key", "type=counter&key=org-acme&key=doc%2F456", []api.Actor{found}},
		{"parts in another order", "type=counter&key=doc%2F456&key=org-acme", []api.Actor{}},
		{"a prefix of the key", "type=counter&key=org-acme", []api.Actor{}},
		{"another type", "type=chatRoom&key=org-acme&key=doc%2F456", []api.Actor{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var res actorList
			b.call(t, http.MethodGet, "/v1/actors?"+tc.query, nil, http.StatusOK, &res)
			if !reflect.DeepEqual(res.Actors, tc.want) || res.NextCursor != "" {
				t.Fatalf("got %+v, want %+v", res, tc.want)
			}
		})
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors?type=counter&key="+url.QueryEscape(strings.Repeat("k", eventlog.MaxKeyBytes+1)), nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_key")
}

func TestListPagesLiveActors(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var live []string
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		a := b.actor(t, "tester", k)
		if k == "c" || k == "f" {
			b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
			continue
		}
		live = append(live, a.ID)
	}
	b.actor(t, "counter", "other-type")
	slices.Sort(live)

	var got []string
	cursor, pages := "", 0
	for {
		var res actorList
		b.call(t, http.MethodGet, "/v1/actors?type=tester&limit=2&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &res)
		pages++
		if len(res.Actors) > 2 {
			t.Fatalf("page %d has %d actors, limit 2", pages, len(res.Actors))
		}
		for _, a := range res.Actors {
			if a.Type != "tester" || a.Generation != 1 || len(a.Key) != 1 {
				t.Errorf("page %d: unexpected actor %+v", pages, a)
			}
			got = append(got, a.ID)
		}
		if res.NextCursor == "" {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		cursor = res.NextCursor
	}
	if !slices.Equal(got, live) || pages < 2 {
		t.Fatalf("listed %v in %d pages, want %v (destroyed ones excluded) in at least 2", got, pages, live)
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors?type=nosuch", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_type_not_found")
}

// A page does work bounded by its limit, however many destroyed actors sort
// before the live ones: the actor directory keeps active and destroyed
// actors in separate indexes, so a page of live actors never steps over a
// destroyed one (projections.TestDirectoryPageSteps counts the steps), and
// the destroyed ones page the same way with status=destroyed.
func TestListWorkPerPageIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var gone []string
	for i := range 9 {
		a := b.actor(t, "tester", fmt.Sprintf("gone-%d", i))
		b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
		gone = append(gone, a.ID)
	}
	// Keys sort part by part: every destroyed key sorts before this one.
	survivor := b.actor(t, "tester", "live")
	var first actorList
	b.call(t, http.MethodGet, "/v1/actors?type=tester&limit=1", nil, http.StatusOK, &first)
	if len(first.Actors) != 1 || first.Actors[0].ID != survivor.ID || first.NextCursor != "" {
		t.Fatalf("first page %+v: want only %s at once, and no cursor", first, survivor.ID)
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		var res actorList
		b.call(t, http.MethodGet, "/v1/actors?type=tester&status=destroyed&limit=4&cursor="+url.QueryEscape(cursor), nil, http.StatusOK, &res)
		if len(res.Actors) > 4 || (res.NextCursor != "" && len(res.Actors) != 4) {
			t.Fatalf("page %d: %d actors with cursor %q; want full pages of at most 4", pages, len(res.Actors), res.NextCursor)
		}
		for _, a := range res.Actors {
			if a.Status != "destroyed" {
				t.Errorf("status=destroyed listed %+v", a)
			}
			got = append(got, a.ID)
		}
		if cursor = res.NextCursor; cursor == "" {
			break
		}
	}
	slices.Sort(got)
	slices.Sort(gone)
	if !slices.Equal(got, gone) {
		t.Fatalf("destroyed: listed %v, want %v", got, gone)
	}
}

func TestGetDestroyRecreate(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "g")
	var got api.Actor
	b.call(t, http.MethodGet, "/v1/actors/"+a.ID, nil, http.StatusOK, &got)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("GET: %+v, want %+v", got, a)
	}
	resp, data := b.do(t, http.MethodDelete, "/v1/actors/"+a.ID, nil)
	if resp.StatusCode != http.StatusNoContent || len(data) != 0 {
		t.Fatalf("DELETE: %d %s, want 204 and no body", resp.StatusCode, data)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		resp, data := b.do(t, method, "/v1/actors/"+a.ID, nil)
		wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	}
	resp, data = b.do(t, http.MethodPost, "/v1/actors/"+a.ID+"/actions/increment", `{"args":[1]}`)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")

	var res actorResult
	b.call(t, http.MethodPost, "/v1/actors", map[string]any{"type": "counter", "key": []string{"g"}}, http.StatusCreated, &res)
	if res.Actor.ID != a.ID || res.Actor.Generation != 2 {
		t.Fatalf("create after destroy: %+v, want the same ID at generation 2", res.Actor)
	}
	if out := b.action(t, a.ID, "getCount"); string(out) != "0" {
		t.Errorf("generation 2 starts from the initial state: count %s", out)
	}
	var kinds []string
	for _, ev := range b.history(t, a.ID) {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{"create", "destroy", "create", "action"}; !slices.Equal(kinds, want) {
		t.Errorf("history kinds %v, want %v", kinds, want)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	counter := b.actor(t, "counter", "a")
	room := b.actor(t, "chatRoom", "r")
	tests := []struct {
		id, action string
		args       []any
		want       string
	}{
		{counter.ID, "increment", []any{5}, `5`},
		{counter.ID, "increment", []any{-2}, `3`},
		{counter.ID, "getCount", nil, `3`},
		{room.ID, "sendMessage", []any{"alice", "hi"}, `"sender":"alice","text":"hi"`},
		{room.ID, "sendMessage", []any{"solo"}, `"sender":"anonymous","text":"solo"`},
	}
	for _, tc := range tests {
		if out := b.action(t, tc.id, tc.action, tc.args...); !strings.Contains(string(out), tc.want) {
			t.Errorf("%s(%v): output %s, want %s", tc.action, tc.args, out, tc.want)
		}
	}
	var res struct {
		Output []struct{ Sender, Text string } `json:"output"`
	}
	b.call(t, http.MethodPost, "/v1/actors/"+room.ID+"/actions/getHistory", `{"args":[]}`, http.StatusOK, &res)
	if len(res.Output) != 2 || res.Output[0].Text != "hi" || res.Output[1].Text != "solo" {
		t.Errorf("chat history %+v", res.Output)
	}
}

func TestActionErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	counter := b.actor(t, "counter", "c")
	tester := b.actor(t, "tester", "t")
	room := b.actor(t, "chatRoom", "r")
	b.action(t, counter.ID, "increment", 7)
	longKey := []string{strings.Repeat("k", eventlog.MaxKeyBytes)}
	tests := []struct {
		name         string
		method, path string
		body         any
		status       int
		code, group  string
		check        func(t *testing.T, p problem)
	}{
		{"unknown type", "POST", "/v1/actors/" + mustID(t, "nosuch", "a") + "/actions/x", `{"args":[]}`, 404, "actor_type_not_found", "actor", nil},
		{"unknown type on create", "PUT", "/v1/actors", `{"type":"nosuch","key":["a"]}`, 404, "actor_type_not_found", "actor", nil},
		{"unknown action", "POST", "/v1/actors/" + counter.ID + "/actions/nope", `{"args":[]}`, 404, "action_not_found", "actor", nil},
		{"unknown ID", "POST", "/v1/actors/" + mustID(t, "counter", "never") + "/actions/increment", `{"args":[1]}`, 404, "actor_not_found", "actor", nil},
		{"invalid ID", "POST", "/v1/actors/not-an-id/actions/increment", `{"args":[1]}`, 400, "invalid_actor_id", "actor", nil},
		{"non-canonical ID", "GET", "/v1/actors/counter.k!!", nil, 400, "invalid_actor_id", "actor", nil},
		{"malformed JSON", "POST", "/v1/actors/" + counter.ID + "/actions/increment", `{"args":[1,`, 400, "malformed_json", "api", nil},
		{"malformed JSON on create", "PUT", "/v1/actors", `{"type":`, 400, "malformed_json", "api", nil},
		{"wrong argument type", "POST", "/v1/actors/" + counter.ID + "/actions/increment", `{"args":["five"]}`, 400, "invalid_args", "actor", nil},
		{"too many arguments", "POST", "/v1/actors/" + counter.ID + "/actions/increment", `{"args":[1,2]}`, 400, "invalid_args", "actor", nil},
		{"invalid key", "PUT", "/v1/actors", map[string]any{"type": "counter", "key": longKey}, 400, "invalid_key", "actor", nil},
		{"invalid key on create", "POST", "/v1/actors", map[string]any{"type": "counter", "key": []string{"a", longKey[0]}}, 400, "invalid_key", "actor", nil},
		{"user error", "POST", "/v1/actors/" + tester.ID + "/actions/fail", `{"args":[3]}`, 400, "quota_exceeded", "user", func(t *testing.T, p problem) {
			if p.Message != "over the quota" || !reflect.DeepEqual(p.Metadata, map[string]any{"limit": float64(3)}) {
				t.Errorf("user error %+v, want its message and metadata", p)
			}
		}},
		{"user error without metadata", "POST", "/v1/actors/" + room.ID + "/actions/sendMessage", `{"args":["  "]}`, 400, "empty_message", "user", nil},
	}
	before := map[string]int{}
	for _, a := range []api.Actor{counter, tester, room} {
		before[a.ID] = len(b.history(t, a.ID))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := b.do(t, tc.method, tc.path, tc.body)
			p := wantProblem(t, resp, data, tc.status, tc.code)
			if p.Group != tc.group {
				t.Errorf("group %q, want %q", p.Group, tc.group)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			for id, n := range before {
				if got := len(b.history(t, id)); got != n {
					t.Errorf("the rejected request changed %s: %d events, want %d", id, got, n)
				}
			}
		})
	}
	if out := b.action(t, counter.ID, "getCount"); string(out) != "7" {
		t.Errorf("count %s after rejected calls, want 7", out)
	}
	if out := b.action(t, tester.ID, "get"); string(out) != "0" {
		t.Errorf("tester n %s after a failed call, want 0 (its change discarded)", out)
	}
}

func TestHistoryPages(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "h")
	for _, n := range []int{1, 2, 3} {
		b.action(t, a.ID, "increment", n)
	}
	type page struct {
		Events    []api.Event `json:"events"`
		NextAfter uint64      `json:"nextAfter"`
	}
	var all []api.Event
	after := uint64(0)
	for range 5 {
		var p page
		b.call(t, http.MethodGet, "/v1/actors/"+a.ID+"/events?limit=2&after="+jsonString(after), nil, http.StatusOK, &p)
		all = append(all, p.Events...)
		if p.NextAfter == 0 {
			break
		}
		if len(p.Events) != 2 || p.NextAfter != p.Events[1].Seq {
			t.Fatalf("page after %d: %d events, nextAfter %d", after, len(p.Events), p.NextAfter)
		}
		after = p.NextAfter
	}
	if len(all) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(all), all)
	}
	if all[0].Kind != "create" || all[0].Generation != 1 || !all[0].StateChanged {
		t.Errorf("first event %+v, want the create", all[0])
	}
	for i, ev := range all[1:] {
		n := i + 1
		if ev.Kind != "action" || ev.Action != "increment" || string(ev.Args) != "["+jsonString(n)+"]" ||
			string(ev.Output) != jsonString(n*(n+1)/2) || !strings.HasPrefix(ev.Caller, "http") {
			t.Errorf("event %d: %+v", n, ev)
		}
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Errorf("events out of order: %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+mustID(t, "counter", "none")+"/events", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	resp, data = b.do(t, http.MethodGet, "/v1/actors/bogus/events", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_actor_id")
}

func jsonString(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func TestOpenAPIAndDocs(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	b.call(t, http.MethodGet, "/openapi.json", nil, http.StatusOK, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	contract := map[string][]string{
		"/v1/actors":                       {"put", "post", "get"},
		"/v1/actors/{id}":                  {"get", "delete"},
		"/v1/actors/{id}/actions/{action}": {"post"},
		"/v1/actors/{id}/events":           {"get"},
		"/v1/actors/{id}/sse":              {"get"},
		"/v1/actors/{id}/connect":          {"get"},
		"/v1/events/tail":                  {"get"},
		"/v1/actors/{id}/request/{path}":   {"post"},
		"/v1/actors/{id}/websocket/{path}": {"get"},
	}
	for path, methods := range contract {
		for _, m := range methods {
			if _, ok := doc.Paths[path][m]; !ok {
				t.Errorf("OpenAPI lacks %s %s", strings.ToUpper(m), path)
			}
		}
	}
	resp, data := b.do(t, http.MethodGet, "/docs", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(strings.ToLower(string(data)), "<html") {
		t.Errorf("/docs: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
