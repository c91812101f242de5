package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// Every documented route, sent the mistakes users make (malformed JSON, an
// unknown field, a body that is not JSON, one over the limit, IDs and names
// that do not exist or cannot, bad cursors and limits), answers each with an
// error its document declares (checkedClient fails the test otherwise) and
// never with a server error.
func TestEveryRouteAnswersBadInputAsDocumented(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{MaxBodyBytes: 4 << 10}})
	counter := b.actor(t, "counter", "probe")
	b.call(t, http.MethodPut, "/v1/queues/probe", map[string]any{}, http.StatusCreated, nil)
	doc := loadErrorDoc(t, b.n, "")

	// Path parameters: a real one, one that names nothing, one that cannot name anything.
	values := map[string][]string{
		"{id}":     {counter.ID, "counter.kZm9yZ290dGVu", "nope.kAWE", "zz"},
		"{action}": {"increment", "nope"},
		"{name}":   {"probe", "nope", "BAD%20NAME"},
		"{runId}":  {"r1", "bad%20id"},
		"{signal}": {"go"},
		"{path}":   {"x"},
	}
	bodies := []struct{ contentType, body string }{
		{"", ""},
		{"application/json", "{"},
		{"application/json", `{"unknownField":1}`},
		{"application/json", `[1]`},
		{"text/plain", "hello"},
		{"application/json", `{"args":"` + strings.Repeat("x", 8<<10) + `"}`},
	}
	queries := []string{"", "?after=x&cursor=zzz", "?limit=0", "?limit=100000&type=&status=nope"}
	streams := map[string]bool{"actorSSE": true, "actorConnect": true, "actorRawWebSocket": true, "tailEvents": true, "workflowRunSSE": true}

	client := &http.Client{Transport: checkingTransport{next: &http.Transport{}, doc: doc}}
	defer client.CloseIdleConnections()
	requests := 0
	for _, r := range doc.routes {
		if r.id == "healthz" || r.id == "readyz" || r.id == "metrics" {
			continue
		}
		for _, path := range expand(r.template, values) {
			for _, q := range queries {
				for _, body := range bodies {
					if r.method == http.MethodGet && body.body != "" {
						continue
					}
					status := probe(t, client, r.method, b.base+path+q, body.contentType, body.body, streams[r.id])
					requests++
					if status >= 500 {
						t.Errorf("%s %s%s with %q: %d, a server error for a bad request", r.method, path, q, truncateProbe(body.body), status)
					}
				}
			}
		}
	}
	doc.mu.Lock()
	defer doc.mu.Unlock()
	for _, m := range doc.missed {
		t.Errorf("undocumented error: %s", m)
	}
	t.Logf("%d requests over %d routes", requests, len(doc.routes))
}

// Every route that takes a body refuses one over --max-body-bytes with 413
// body_too_large and the same message, and takes one of exactly the limit.
func TestEveryBodyRouteHonoursMaxBodyBytes(t *testing.T) {
	t.Parallel()
	const limit = 2 << 10
	b := setup(t, testOpts{API: api.Options{MaxBodyBytes: limit}})
	counter := b.actor(t, "counter", "probe")
	b.call(t, http.MethodPut, "/v1/queues/probe", map[string]any{}, http.StatusCreated, nil)
	doc := loadErrorDoc(t, b.n, "")
	values := map[string][]string{"{id}": {counter.ID}, "{action}": {"increment"}, "{name}": {"probe"},
		"{runId}": {"r1"}, "{signal}": {"go"}, "{path}": {"x"}}
	sized := func(n int) string { // a JSON object of exactly n bytes
		return `{"x":"` + strings.Repeat("a", n-len(`{"x":""}`)) + `"}`
	}
	client := &http.Client{Transport: checkingTransport{next: &http.Transport{}, doc: doc}}
	defer client.CloseIdleConnections()
	var messages []string
	routes := 0
	for _, r := range doc.routes {
		if !r.hasBody {
			continue
		}
		routes++
		path := expand(r.template, values)[0]
		resp, data := sendBody(t, client, r.method, b.base+path, sized(limit+1))
		p := wantProblem(t, resp, data, http.StatusRequestEntityTooLarge, "body_too_large")
		if !slices.Contains(messages, p.Message) {
			messages = append(messages, p.Message)
		}
		if resp, _ := sendBody(t, client, r.method, b.base+path, sized(limit)); resp.StatusCode == http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s: a body of exactly the limit, %d bytes, is 413", r.method, path, limit)
		}
	}
	if len(messages) != 1 || !strings.Contains(messages[0], "2048 bytes") {
		t.Errorf("413 messages over %d routes: %q, want one naming the limit", routes, messages)
	}
}

func sendBody(t *testing.T, c *http.Client, method, url, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

// expand fills a route's path template with each combination of the
// parameter values.
func expand(template string, values map[string][]string) []string {
	paths := []string{template}
	for name, vals := range values {
		var next []string
		for _, path := range paths {
			if !strings.Contains(path, name) {
				next = append(next, path)
				continue
			}
			for _, v := range vals {
				next = append(next, strings.Replace(path, name, v, 1))
			}
		}
		paths = next
	}
	return paths
}

// probe sends one request and returns its status (0 for a stream still open
// when the probe stopped waiting: not an error answer).
func probe(t *testing.T, c *http.Client, method, url, contentType, body string, stream bool) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if stream {
		ctx, cancel = context.WithTimeout(ctx, time.Second)
		defer cancel()
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.Do(req)
	if err != nil {
		if stream && errors.Is(err, context.DeadlineExceeded) {
			return 0
		}
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	if stream && resp.StatusCode < 400 {
		return resp.StatusCode // a stream that opened: do not wait for its end
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func truncateProbe(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
