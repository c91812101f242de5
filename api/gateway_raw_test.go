package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

const rawToken = "raw-secret"

// rawState counts the raw requests and WebSocket messages an actor served.
type rawState struct {
	Requests int `json:"requests"`
	Echoes   int `json:"echoes"`
}

// rawSeen is what OnRequest saw, sent back as the response body.
type rawSeen struct {
	Method, Path, Query, Body, Custom, ContentType string
	Token, Auth                                    string
	Requests                                       int
}

// rawType answers every raw request with what it saw (status 201, header
// X-Actor) and echoes WebSocket messages, counting both in its state.
func rawType() *actors.Type[rawState] {
	return actors.NewType("rawtester", actors.Options[rawState]{
		OnRequest: func(c *actors.Context[rawState], w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			c.State.Requests++
			w.Header().Set("X-Actor", c.ActorID())
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(rawSeen{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: string(body),
				Custom: r.Header.Get("X-Custom"), ContentType: r.Header.Get("Content-Type"),
				Token: r.Header.Get("X-Rivet-Token"), Auth: r.Header.Get("Authorization"), Requests: c.State.Requests})
		},
		OnWebSocket: func(s *actors.Session[rawState], ws actors.WebSocket) {
			for {
				text, data, err := ws.Read(s.Context())
				if err != nil {
					return
				}
				if string(data) == "where" { // the upgrade request as the actor sees it
					if err := ws.Write(s.Context(), true, []byte(s.Request().URL.RequestURI())); err != nil {
						return
					}
					continue
				}
				var n int
				if err := s.Do(func(c *actors.Context[rawState]) error { c.State.Echoes++; n = c.State.Echoes; return nil }); err != nil {
					return
				}
				if err := ws.Write(s.Context(), text, fmt.Appendf(nil, "echo %d: %s", n, data)); err != nil {
					return
				}
			}
		},
	}).Action("requests", actors.Act0(func(c *actors.Context[rawState]) (int, error) { return c.State.Requests, nil }))
}

// rawServer is a runtime behind the API on a loopback socket, with a token.
type rawServer struct {
	base string
	rt   *actors.Runtime
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func setupRaw(t *testing.T) *rawServer {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := actors.NewRegistry(builtin.Counter, rawType())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := actors.NewRuntime(l, snaps, reg, actors.RuntimeOptions{Logger: quietLog()})
	if err == nil {
		err = rt.Start(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	s := New(rt, l, Options{Token: rawToken, Logger: quietLog()})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		s.CloseStreams()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rt.Stop(ctx); err != nil {
			t.Errorf("stop runtime: %v", err)
		}
		if err := snaps.Close(); err != nil {
			t.Errorf("close snapshots: %v", err)
		}
		if err := l.Close(ctx); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	return &rawServer{base: srv.URL, rt: rt}
}

// do sends a request the way the RivetKit client's fetch does: a chunked
// body, the token in x-rivet-token.
func (rs *rawServer) do(t *testing.T, method, path, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = io.MultiReader(strings.NewReader(body)) // no length: sent chunked
	}
	req, err := http.NewRequest(method, rs.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Rivet-Token", rawToken)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func wantGatewayError(t *testing.T, resp *http.Response, data []byte, status int, group, code string) {
	t.Helper()
	var e gwError
	if resp.StatusCode != status || json.Unmarshal(data, &e) != nil || e.Group != group || e.Code != code || e.Message == "" {
		t.Fatalf("got %d %s, want %d %s.%s", resp.StatusCode, data, status, group, code)
	}
}

func TestGatewayRawRequest(t *testing.T) {
	t.Parallel()
	rs := setupRaw(t)
	const q = "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=a,b&rvt-crash-policy=sleep"
	h, err := rs.rt.Client().Get(context.Background(), "rawtester", []string{"a", "b"})
	if err == nil {
		t.Fatalf("actor exists before the first request: %s", h.ID)
	}
	id, err := actors.ActorID("rawtester", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, body, contentType string
		want                                  rawSeen
	}{
		{"get by name", "GET", "/gateway/rawtester/request/count?" + q, "", "",
			rawSeen{Method: "GET", Path: "/count", Custom: "c1", Requests: 1}},
		{"post with a user query before the rvt-* ones", "POST", "/gateway/rawtester/request/items/7?x=1&y=%2F&" + q, "hello body", "text/plain",
			rawSeen{Method: "POST", Path: "/items/7", Query: "x=1&y=%2F", Body: "hello body", ContentType: "text/plain", Custom: "c1", Requests: 2}},
		{"by actor id", "PUT", "/gateway/" + id + "/request/by-id?z=2", `{"k":1}`, "application/json",
			rawSeen{Method: "PUT", Path: "/by-id", Query: "z=2", Body: `{"k":1}`, ContentType: "application/json", Custom: "c1", Requests: 3}},
		{"by actor id with the token in the path", "DELETE", "/gateway/" + id + "@" + rawToken + "/request", "", "",
			rawSeen{Method: "DELETE", Path: "/", Custom: "c1", Requests: 4}},
		{"under the gateway prefix", "PATCH", GatewayPrefix + "/gateway/" + id + "/request/p/", "", "",
			rawSeen{Method: "PATCH", Path: "/p/", Custom: "c1", Requests: 5}},
	}
	for _, tc := range tests {
		hdr := []string{"X-Custom", "c1", "Authorization", "Bearer " + rawToken}
		if tc.contentType != "" {
			hdr = append(hdr, "Content-Type", tc.contentType)
		}
		resp, data := rs.do(t, tc.method, tc.path, tc.body, hdr...)
		var got rawSeen
		if resp.StatusCode != http.StatusCreated || json.Unmarshal(data, &got) != nil {
			t.Fatalf("%s: %d %s", tc.name, resp.StatusCode, data)
		}
		if resp.Header.Get("X-Actor") != id || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: response headers %v", tc.name, resp.Header)
		}
		if tc.want.ContentType == "" {
			got.ContentType = "" // the API reads a body without a type as JSON
		}
		if got != tc.want {
			t.Errorf("%s: OnRequest saw %+v, want %+v (the server's token must not reach it)", tc.name, got, tc.want)
		}
	}
	// The requests' state changes were appended: a later action sees them.
	out, err := actors.Call[int](context.Background(), mustHandle(t, rs, id), "requests")
	if err != nil || out != len(tests) {
		t.Errorf("requests = %d, %v; want %d", out, err, len(tests))
	}
}

func mustHandle(t *testing.T, rs *rawServer, id string) *actors.Handle {
	t.Helper()
	h, err := rs.rt.Client().GetByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestGatewayRawErrors(t *testing.T) {
	t.Parallel()
	rs := setupRaw(t)
	missing, err := actors.ActorID("rawtester", []string{"none"})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/gateway/rawtester/request/x?rvt-method=get&rvt-key=none",
		"/gateway/" + missing + "/request/x",
		"/gateway/rawtester/websocket/?rvt-method=get&rvt-key=none",
		"/gateway/" + missing + "/websocket/",
	} {
		resp, data := rs.do(t, http.MethodGet, path, "")
		wantGatewayError(t, resp, data, http.StatusNotFound, "actor", "not_found")
	}
	if _, err := rs.rt.Client().Get(context.Background(), "rawtester", []string{"none"}); err == nil {
		t.Error("a get through the raw routes created the actor")
	}
	// A type without the handlers.
	for _, path := range []string{"/gateway/counter/request/x?rvt-method=getOrCreate", "/gateway/counter/websocket/?rvt-method=getOrCreate"} {
		resp, data := rs.do(t, http.MethodGet, path, "")
		wantGatewayError(t, resp, data, http.StatusNotFound, "actor", "no_request_handler")
	}
	resp, data := rs.do(t, http.MethodGet, "/gateway/rawtester/request/x?rvt-method=bogus", "")
	wantGatewayError(t, resp, data, http.StatusBadRequest, "api", "invalid_method")
	// Without the token nothing reaches an actor.
	req, _ := http.NewRequest(http.MethodGet, rs.base+"/gateway/rawtester/request/x?rvt-method=getOrCreate", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

func TestGatewayRawWebSocket(t *testing.T) {
	t.Parallel()
	rs := setupRaw(t)
	id, err := actors.ActorID("rawtester", []string{"ws"})
	if err != nil {
		t.Fatal(err)
	}
	ws := "ws" + strings.TrimPrefix(rs.base, "http")
	for i, tc := range []struct{ name, url, where string }{
		// What handle.webSocket("/") sends: the token as rvt-token, the
		// subprotocols rivet and rivet_encoding.bare.
		{"by name", ws + "/gateway/rawtester/websocket/?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=ws&rvt-crash-policy=sleep&rvt-token=" + rawToken, "/"},
		{"by id", ws + "/gateway/" + id + "@" + rawToken + "/websocket/chat?room=1", "/chat?room=1"},
		{"without a trailing slash", ws + "/gateway/" + id + "/websocket?rvt-token=" + rawToken, "/"},
		{"under the gateway prefix", ws + GatewayPrefix + "/gateway/" + id + "/websocket/?rvt-token=" + rawToken, "/"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, resp, err := websocket.Dial(ctx, tc.url, &websocket.DialOptions{Subprotocols: []string{"rivet", "rivet_encoding.bare"}})
		if err != nil {
			cancel()
			t.Fatalf("%s: dial: %v %v", tc.name, resp, err)
		}
		if c.Subprotocol() != "rivet" {
			t.Errorf("%s: subprotocol %q, want rivet", tc.name, c.Subprotocol())
		}
		if err := c.Write(ctx, websocket.MessageText, []byte("where")); err != nil {
			t.Fatalf("%s: write: %v", tc.name, err)
		}
		if _, data, err := c.Read(ctx); err != nil || string(data) != tc.where {
			t.Fatalf("%s: the session's request is %q %v, want %q (path after /websocket, no rvt-* or token)", tc.name, data, err, tc.where)
		}
		for j, m := range []struct {
			typ  websocket.MessageType
			data string
		}{{websocket.MessageText, "hi"}, {websocket.MessageBinary, "\x00\x01"}} {
			if err := c.Write(ctx, m.typ, []byte(m.data)); err != nil {
				t.Fatalf("%s: write: %v", tc.name, err)
			}
			typ, data, err := c.Read(ctx)
			want := fmt.Sprintf("echo %d: %s", 2*i+j+1, m.data)
			if err != nil || typ != m.typ || string(data) != want {
				t.Fatalf("%s: read %v %q %v, want %v %q", tc.name, typ, data, err, m.typ, want)
			}
		}
		if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Errorf("%s: close: %v", tc.name, err)
		}
		cancel()
	}
}

func TestWithoutRivetParams(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                  "",
		"rvt-method=get":                    "",
		"x=1&rvt-key=a,b&y=%2F&rvt-token=t": "x=1&y=%2F",
		"a&&b=":                             "a&b=",
		"rvtx=1&rvt-=2":                     "rvtx=1",
	} {
		if got := withoutRivetParams(in); got != want {
			t.Errorf("withoutRivetParams(%q) = %q, want %q", in, got, want)
		}
	}
}
