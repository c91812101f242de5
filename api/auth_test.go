package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
)

const token = "s3cret-token"

func TestTokenRequired(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Token: token}})
	b.header.Set("Authorization", "Bearer "+token)
	a := b.actor(t, "tester", "auth")
	before := len(b.history(t, a.ID))
	b.header = http.Header{}
	actions := "/v1/actors/" + a.ID + "/actions/add"
	gw := "/gateway/tester/action/add?rvt-method=getOrCreate&rvt-key=auth"
	routes := []struct {
		method, path, body string
		status             int // with the token
	}{
		{"GET", "/v1/actors?type=tester", "", 200},
		{"PUT", "/v1/actors", `{"type":"tester","key":["auth"]}`, 200},
		{"GET", "/v1/actors/" + a.ID, "", 200},
		{"POST", actions, `{"args":[1]}`, 200},
		{"GET", "/v1/actors/" + a.ID + "/events", "", 200},
		{"GET", "/v1/actors/" + a.ID + "/connect", "", 426}, // not an upgrade, but past auth
		{"POST", "/v1/actors/" + a.ID + "/request/x", "", 202},
		{"GET", "/openapi.json", "", 200},
		{"GET", "/docs", "", 200},
		{"GET", "/metrics", "", 200},
		{"GET", "/metadata", "", 200},
		{"GET", "/actors?name=tester", "", 200},
		{"POST", gw, `{"args":[1]}`, 200},
		{"GET", "/v1/actors/" + a.ID + "/sse", "", 0},
		{"GET", "/v1/events/tail", "", 0},
		{"GET", "/gateway/" + a.ID + "/connect", "", 0},
		// OPTIONS reaches OnRequest like any method; it is no CORS preflight.
		{"OPTIONS", "/v1/actors/" + a.ID + "/request/x", "", 202},
	}
	for _, r := range routes {
		for _, bad := range []string{"", "Bearer wrong", "Basic " + token, token} {
			t.Run(r.method+" "+r.path+" "+bad, func(t *testing.T) {
				var body any
				if r.body != "" {
					body = r.body
				}
				resp, data := b.do(t, r.method, r.path, body, "Authorization", bad)
				p := wantProblem(t, resp, data, http.StatusUnauthorized, "unauthorized")
				if p.Group != "api" || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("401 %+v, WWW-Authenticate %q", p, resp.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}
	// Nothing the refused requests asked for happened.
	b.header.Set("Authorization", "Bearer "+token)
	if got := len(b.history(t, a.ID)); got != before {
		t.Errorf("refused requests changed the actor: %d events, want %d", got, before)
	}
	for _, r := range routes {
		if r.status == 0 {
			continue // streams: covered by their own tests
		}
		var body any
		if r.body != "" {
			body = r.body
		}
		if resp, data := b.do(t, r.method, r.path, body); resp.StatusCode != r.status {
			t.Errorf("%s %s with the token: %d, want %d: %.200s", r.method, r.path, resp.StatusCode, r.status, data)
		}
	}
	b.header = http.Header{}
	for _, path := range []string{"/healthz", "/readyz"} {
		if resp, data := b.do(t, http.MethodGet, path, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("%s without a token: %d %s, want 200", path, resp.StatusCode, data)
		}
	}
	// The gateway also takes the token the ways the RivetKit client sends it.
	for name, req := range map[string]struct{ path, header string }{
		"x-rivet-token":      {gw, "x-rivet-token"},
		"rvt-token":          {gw + "&rvt-token=" + token, ""},
		"actor ID and token": {"/gateway/" + a.ID + "@" + token + "/action/add", ""},
	} {
		hdr := []string{}
		if req.header != "" {
			hdr = []string{req.header, token}
		}
		if resp, data := b.do(t, http.MethodPost, req.path, `{"args":[1]}`, hdr...); resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d %s, want 200", name, resp.StatusCode, data)
		}
	}
}

func TestExposure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		addr     string
		token    string
		insecure bool
		wantErr  string
	}{
		{"all interfaces without a token", "0.0.0.0:0", "", false, "--api-token"},
		{"all interfaces, insecure", "0.0.0.0:0", "", true, ""},
		{"all interfaces with a token", "0.0.0.0:0", token, false, ""},
		{"localhost without a token", "localhost:0", "", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, err := startNode(t, testOpts{HTTPAddr: tc.addr, Insecure: tc.insecure, API: api.Options{Token: tc.token}}, builtin.Registry())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("start: %v, want an error mentioning %s", err, tc.wantErr)
				}
				if n != nil {
					_ = n.Stop(context.Background())
				}
				return
			}
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := n.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Token: token, CORSOrigins: []string{"https://app.example"}}})
	b.header.Set("Authorization", "Bearer "+token)
	a := b.actor(t, "counter", "cors")
	tests := []struct {
		name, method, origin string
		preflight            bool
		wantOrigin           string
		wantStatus           int
	}{
		{"preflight, allowed", "OPTIONS", "https://app.example", true, "https://app.example", http.StatusNoContent},
		{"preflight, other origin", "OPTIONS", "https://evil.example", true, "", 0},
		{"request, allowed", "GET", "https://app.example", false, "https://app.example", http.StatusOK},
		{"request, other origin", "GET", "https://evil.example", false, "", http.StatusForbidden},
		{"request, no origin", "GET", "", false, "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Origin", tc.origin}
			if tc.preflight {
				// A browser's preflight carries no token.
				hdr = append(hdr, "Access-Control-Request-Method", "POST", "Authorization", "")
			}
			resp, data := b.do(t, tc.method, "/v1/actors/"+a.ID+"/actions/increment", nil, hdr...)
			if tc.method == "GET" {
				resp, data = b.do(t, tc.method, "/v1/actors/"+a.ID, nil, hdr...)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.wantOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.wantOrigin)
			}
			if tc.wantStatus != 0 && resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, data)
			}
			if tc.wantStatus == http.StatusNoContent && !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
				t.Errorf("Access-Control-Allow-Methods %q", resp.Header.Get("Access-Control-Allow-Methods"))
			}
			if tc.wantOrigin == "" && resp.Header.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("CORS headers for a foreign origin: %v", resp.Header)
			}
		})
	}
}

// The RivetKit client sends its token on a WebSocket as ?rvt-token= or as a
// rivet_token.<token> subprotocol.
func TestTokenOnWebSocket(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Token: token}})
	b.header.Set("Authorization", "Bearer "+token)
	a := b.actor(t, "counter", "ws")
	b.header = http.Header{}
	gw := "/gateway/counter/connect?rvt-method=get&rvt-key=ws"
	tests := []struct {
		name, path string
		protocols  []string
		ok         bool
	}{
		{"no token", gw, []string{"rivet", "rivet_encoding.json"}, false},
		{"wrong token", gw + "&rvt-token=nope", []string{"rivet"}, false},
		{"rvt-token", gw + "&rvt-token=" + token, []string{"rivet", "rivet_encoding.json"}, true},
		{"subprotocol", gw, []string{"rivet", "rivet_encoding.json", "rivet_token." + token}, true},
		{"native, no token", "/v1/actors/" + a.ID + "/connect", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws, resp, err := b.dial(t, tc.path, &websocket.DialOptions{Subprotocols: tc.protocols})
			if !tc.ok {
				if err == nil || resp == nil {
					t.Fatalf("dial: %v, want 401", err)
				}
				wantProblem(t, resp, readAll(t, resp), http.StatusUnauthorized, "unauthorized")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f := recv[gwFrame](t, ws); f.Body.Tag != "Init" {
				t.Fatalf("first frame %+v", f)
			}
		})
	}
}
