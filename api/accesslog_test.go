package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/api"
)

// logSink collects JSON log lines from a node's goroutines.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logSink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// accessLines returns the access log records written so far.
func (s *logSink) accessLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.text()), "\n") {
		var rec map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "http request" {
			out = append(out, rec)
		}
	}
	return out
}

// startLogged starts a node whose logs go, as JSON, to the returned sink.
func startLogged(t *testing.T, accessLog bool, token string) (*rivetflow.Node, *logSink) {
	t.Helper()
	sink := &logSink{}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		AccessLog: accessLog, Logger: slog.New(slog.NewJSONHandler(sink, nil)), API: api.Options{Token: token}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := n.Stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	return n, sink
}

// sendTo makes one request to n and returns its status.
func sendTo(t *testing.T, n *rivetflow.Node, method, path, body, token string) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://"+n.Addr()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// With Config.AccessLog, each request is one structured line with method,
// route pattern, status, duration and the actor ID, and never the raw path
// or a token.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	const token = "tok-in-path-123"
	n, sink := startLogged(t, true, token)
	var created struct {
		Actor struct {
			ID string `json:"id"`
		} `json:"actor"`
	}
	req, _ := http.NewRequest(http.MethodPut, "http://"+n.Addr()+"/v1/actors", strings.NewReader(`{"type":"counter","key":["log"]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	id := created.Actor.ID

	if got := sendTo(t, n, http.MethodPost, "/v1/actors/"+id+"/actions/increment", `{"args":[2]}`, token); got != http.StatusOK {
		t.Fatalf("increment: %d", got)
	}
	if got := sendTo(t, n, http.MethodPost, "/v1/actors/"+id+"/actions/nope", `{"args":[]}`, token); got != http.StatusNotFound {
		t.Fatalf("unknown action: %d", got)
	}
	if got := sendTo(t, n, http.MethodPost, "/gateway/"+id+"@"+token+"/action/increment", `{"args":[1]}`, ""); got != http.StatusOK {
		t.Fatalf("gateway action with the token in its path: %d", got)
	}
	if got := sendTo(t, n, http.MethodGet, "/v1/nothing-here?rvt-token="+token, "", token); got != http.StatusNotFound {
		t.Fatalf("unknown route: %d", got)
	}

	lines := sink.accessLines(t)
	if strings.Contains(sink.text(), token) {
		t.Fatalf("the log holds the token:\n%s", sink.text())
	}
	want := []struct {
		method, route string
		status        float64
		actor, code   string
	}{
		{"PUT", "/v1/actors", 200, id, ""}, // the actor it created, though not in the path
		{"POST", "/v1/actors/{id}/actions/{action}", 200, id, ""},
		{"POST", "/v1/actors/{id}/actions/{action}", 404, id, "action_not_found"},
		{"POST", "/gateway/{target}/action/{action}", 200, id, ""},
		{"GET", "unmatched", 404, "", "not_found"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d access log lines, want %d:\n%s", len(lines), len(want), sink.text())
	}
	for i, w := range want {
		l := lines[i]
		if l["method"] != w.method || l["route"] != w.route || l["status"] != w.status || l["level"] != "INFO" {
			t.Errorf("line %d = %v, want %s %s %v", i, l, w.method, w.route, w.status)
		}
		if actor, _ := l["actor"].(string); actor != w.actor {
			t.Errorf("line %d actor = %q, want %q", i, actor, w.actor)
		}
		if code, _ := l["code"].(string); code != w.code {
			t.Errorf("line %d code = %q, want %q", i, code, w.code)
		}
		if d, ok := l["duration_ms"].(float64); !ok || d < 0 {
			t.Errorf("line %d has no duration_ms: %v", i, l)
		}
		if l["component"] != "access" {
			t.Errorf("line %d component = %v, want access", i, l["component"])
		}
	}
}

// The access log is off by default: a node logs no line per request.
func TestAccessLogOffByDefault(t *testing.T) {
	t.Parallel()
	n, sink := startLogged(t, false, "")
	if got := sendTo(t, n, http.MethodPut, "/v1/actors", `{"type":"counter","key":["quiet"]}`, ""); got != http.StatusOK {
		t.Fatalf("create: %d", got)
	}
	if got := sendTo(t, n, http.MethodGet, "/v1/nothing-here", "", ""); got != http.StatusNotFound {
		t.Fatalf("unknown route: %d", got)
	}
	if lines := sink.accessLines(t); len(lines) != 0 {
		t.Fatalf("access log lines without Config.AccessLog: %v", lines)
	}
}
