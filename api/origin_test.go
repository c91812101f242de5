package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/api"
)

const (
	allowedOrigin = "https://app.example"
	foreignOrigin = "https://evil.example"
)

// lastSeq returns the event log's last sequence.
func (b *bundle) lastSeq(t *testing.T) uint64 {
	t.Helper()
	seq, err := b.n.Events().LastSeq(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// A web page on another origin cannot create actors or run actions with the
// bodies a browser sends without a preflight (a form post, text/plain); the
// same requests from curl (no Origin), from the server's own pages and from an
// origin in --cors-origins work.
func TestOriginRefusesCrossSiteWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{CORSOrigins: []string{allowedOrigin}}})
	a := b.actor(t, "tester", "origin")
	same := b.base // http://127.0.0.1:port, the request's Host
	writes := []struct{ name, method, path, body string }{
		{"create", http.MethodPut, "/v1/actors", `{"type":"tester","key":["fresh"]}`},
		{"action", http.MethodPost, "/v1/actors/" + a.ID + "/actions/add", `{"args":[1]}`},
		{"gateway create", http.MethodPut, "/actors", `{"name":"tester","key":"gwfresh","input":null}`},
		{"gateway action", http.MethodPost, "/gateway/tester/action/add?rvt-method=getOrCreate&rvt-key=origin", `{"args":[1]}`},
		{"raw request", http.MethodPost, "/v1/actors/" + a.ID + "/request/x", `x`},
	}
	types := []string{"text/plain", "application/x-www-form-urlencoded"}
	before, events := b.lastSeq(t), len(b.history(t, a.ID))
	for _, w := range writes {
		for _, ct := range types {
			for _, origin := range []string{foreignOrigin, "null", "http://" + strings.Replace(strings.TrimPrefix(same, "http://"), "127.0.0.1", "localhost", 1)} {
				t.Run(w.name+" "+ct+" "+origin, func(t *testing.T) {
					resp, data := b.do(t, w.method, w.path, w.body, "Content-Type", ct, "Origin", origin)
					p := wantProblem(t, resp, data, http.StatusForbidden, "origin_not_allowed")
					if p.Group != "api" || !strings.Contains(p.Message, "--cors-origins") {
						t.Errorf("problem %+v", p)
					}
					if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
						t.Errorf("Access-Control-Allow-Origin %q on a refusal", got)
					}
				})
			}
		}
	}
	if got := b.lastSeq(t); got != before {
		t.Fatalf("refused requests appended to the log: last sequence %d, want %d", got, before)
	}
	if got := len(b.history(t, a.ID)); got != events {
		t.Fatalf("refused requests changed the actor: %d events, want %d", got, events)
	}
	if resp, data := b.do(t, http.MethodGet, "/v1/actors?type=tester", nil, "Origin", foreignOrigin); resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET from a foreign origin: %d %s, want 403", resp.StatusCode, data)
	}

	// The same writes pass without an Origin (curl -d), from the server's own
	// origin and from an allowed one (text/plain is no JSON: 415 for anyone).
	for _, origin := range []string{"", same, allowedOrigin} {
		for _, ct := range []string{"application/x-www-form-urlencoded", "application/json"} {
			before := b.lastSeq(t)
			resp, data := b.do(t, http.MethodPost, "/v1/actors/"+a.ID+"/actions/add", `{"args":[1]}`, "Content-Type", ct, "Origin", origin)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("action, Origin %q, %s: %d %s, want 200", origin, ct, resp.StatusCode, data)
			}
			if b.lastSeq(t) == before {
				t.Errorf("action, Origin %q, %s: nothing appended", origin, ct)
			}
			resp, data = b.do(t, http.MethodPut, "/v1/actors", `{"type":"tester","key":["ok"]}`, "Content-Type", ct, "Origin", origin)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("create, Origin %q, %s: %d %s, want 200", origin, ct, resp.StatusCode, data)
			}
		}
	}
	resp, _ := b.do(t, http.MethodGet, "/v1/actors/"+a.ID, nil, "Origin", allowedOrigin)
	if got := resp.Header.Get("Access-Control-Allow-Origin"); resp.StatusCode != http.StatusOK || got != allowedOrigin {
		t.Errorf("allowed origin: %d, Access-Control-Allow-Origin %q", resp.StatusCode, got)
	}
}

// A preflight from an allowed origin still gets its CORS answer; one from a
// foreign origin is refused.
func TestOriginPreflight(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Token: token, CORSOrigins: []string{allowedOrigin}}})
	path := "/v1/actors/counter.kAWE/actions/increment"
	resp, data := b.do(t, http.MethodOptions, path, nil, "Origin", allowedOrigin, "Access-Control-Request-Method", "POST")
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != allowedOrigin ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("allowed preflight: %d %v %s", resp.StatusCode, resp.Header, data)
	}
	resp, data = b.do(t, http.MethodOptions, path, nil, "Origin", foreignOrigin, "Access-Control-Request-Method", "POST")
	wantProblem(t, resp, data, http.StatusForbidden, "origin_not_allowed")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
		t.Errorf("CORS headers for a foreign origin: %v", resp.Header)
	}
}

// "*" in --cors-origins allows every origin, as it does for CORS.
func TestOriginWildcard(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{CORSOrigins: []string{"*"}}})
	resp, data := b.do(t, http.MethodPut, "/v1/actors", `{"type":"tester","key":["any"]}`, "Content-Type", "application/x-www-form-urlencoded", "Origin", foreignOrigin)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("create with CORS *: %d %s, want 200", resp.StatusCode, data)
	}
}

// WebSocket upgrades, which browsers make cross-site without asking, are
// refused before the upgrade for a foreign origin and accepted otherwise.
func TestOriginOnWebSocket(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{CORSOrigins: []string{allowedOrigin}}})
	a := b.actor(t, "counter", "ws-origin")
	gw := "/gateway/counter/connect?rvt-method=get&rvt-key=ws-origin"
	native := "/v1/actors/" + a.ID + "/connect"
	gwProtocols := []string{"rivet", "rivet_encoding.json"}
	for _, tc := range []struct {
		name, path string
		protocols  []string
	}{{"gateway", gw, gwProtocols}, {"native", native, nil}} {
		for _, origin := range []string{foreignOrigin, "null"} {
			t.Run(tc.name+" "+origin, func(t *testing.T) {
				_, resp, err := b.dial(t, tc.path, &websocket.DialOptions{Subprotocols: tc.protocols, HTTPHeader: http.Header{"Origin": {origin}}})
				if err == nil || resp == nil {
					t.Fatalf("dial: %v, want 403", err)
				}
				wantProblem(t, resp, readAll(t, resp), http.StatusForbidden, "origin_not_allowed")
			})
		}
		for _, origin := range []string{"", allowedOrigin, b.base} {
			t.Run(tc.name+" ok "+origin, func(t *testing.T) {
				hdr := http.Header{}
				if origin != "" {
					hdr.Set("Origin", origin)
				}
				ws, _, err := b.dial(t, tc.path, &websocket.DialOptions{Subprotocols: tc.protocols, HTTPHeader: hdr})
				if err != nil {
					t.Fatalf("dial with Origin %q: %v", origin, err)
				}
				if tc.name == "gateway" {
					if f := recv[gwFrame](t, ws); f.Body.Tag != "Init" {
						t.Fatalf("first frame %+v", f)
					}
				} else if m := recv[wsMsg](t, ws); m.Type != "init" {
					t.Fatalf("first message %+v", m)
				}
			})
		}
	}
}
