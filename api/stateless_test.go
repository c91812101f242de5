package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every HTTP action call runs the connection hooks with the
// x-rivet-conn-params header: the native route and the gateway alike. A
// refusal answers the hook's error and appends nothing; an accepted call sees
// the connection state CreateConnState built.
func TestHTTPActionsRunConnectionHooks(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "hooks")

	native := "/v1/actors/" + a.ID + "/actions/"
	gateway := "/gateway/tester/action/"
	gwQuery := "?rvt-namespace=default&rvt-method=get&rvt-key=hooks"
	for _, route := range []struct{ name, path, query string }{{"native", native, ""}, {"gateway", gateway, gwQuery}} {
		t.Run(route.name, func(t *testing.T) {
			before := len(b.history(t, a.ID))
			resp, data := b.do(t, http.MethodPost, route.path+"add"+route.query, map[string]any{"args": []int{5}},
				"x-rivet-conn-params", `{"token":"bad"}`)
			var e struct{ Group, Code string }
			if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusBadRequest || e.Code != "forbidden" {
				t.Fatalf("bad token: %d %s, want 400 forbidden from onBeforeConnect", resp.StatusCode, data)
			}
			if got := len(b.history(t, a.ID)); got != before {
				t.Fatalf("a refused call appended %d events", got-before)
			}
			resp, data = b.do(t, http.MethodPost, route.path+"whoami"+route.query, map[string]any{"args": []any{}},
				"x-rivet-conn-params", `{"token":"good"}`)
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), `"user":"user-of-good"`) {
				t.Fatalf("good token: %d %s, want the connection state", resp.StatusCode, data)
			}
			resp, data = b.do(t, http.MethodPost, route.path+"whoami"+route.query, map[string]any{"args": []any{}},
				"x-rivet-conn-params", `{nope`)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "malformed_json") {
				t.Fatalf("params not JSON: %d %s, want 400 malformed_json", resp.StatusCode, data)
			}
		})
	}
}

// SSE streams are connections too: their params reach onBeforeConnect.
func TestSSEConnectionParams(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "sse-params")
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+a.ID+"/sse?params="+url.QueryEscape(`{"token":"bad"}`), nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "forbidden") {
		t.Fatalf("SSE with a refused token: %d %s, want 400 forbidden", resp.StatusCode, data)
	}
	resp, data = b.do(t, http.MethodGet, "/v1/actors/"+a.ID+"/sse", nil, "x-rivet-conn-params", `{"token":"bad"}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(data), "forbidden") {
		t.Fatalf("SSE with a refused token in the header: %d %s, want 400 forbidden", resp.StatusCode, data)
	}
	_, events := b.stream(t, "/v1/actors/"+a.ID+"/sse?params="+url.QueryEscape(`{"token":"good"}`))
	b.action(t, a.ID, "burst", 1)
	if ev := next(t, events); ev.Event != "tick" {
		t.Fatalf("accepted stream got %+v", ev)
	}
}
