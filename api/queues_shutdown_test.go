package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A worker's long poll open when the server stops answers 200 with no
// messages, as if its wait had ended, not 499 client_closed: the worker did
// not go away, the server did.
func TestClaimLongPollEndsEmptyAtShutdown(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	b.call(t, http.MethodPut, "/v1/queues/lp", map[string]any{}, http.StatusCreated, nil)

	type answer struct {
		status int
		body   string
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, b.base+"/v1/queues/lp/claim", strings.NewReader(`{"waitMs":30000}`))
		resp, err := b.http.Do(req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		done <- answer{status: resp.StatusCode, body: string(data)}
	}()
	// The poll is in flight once the gauge counts it (/metrics is not counted).
	deadline := time.Now().Add(waitFor)
	for inFlight(t, b) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the claim never reached the server")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := b.stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatalf("claim: %v", a.err)
		}
		var out struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if a.status != http.StatusOK || json.Unmarshal([]byte(a.body), &out) != nil || out.Messages == nil || len(out.Messages) != 0 {
			t.Fatalf("claim at shutdown: %d %s, want 200 {\"messages\":[]}", a.status, a.body)
		}
	case <-time.After(waitFor):
		t.Fatal("the long poll outlived the server's stop")
	}
}

// inFlight is the server's count of HTTP requests in flight.
func inFlight(t *testing.T, b *bundle) float64 {
	t.Helper()
	samples, _ := b.scrape(t)
	for _, s := range samples {
		if s.name == "rivetflow_http_requests_in_flight" {
			return s.value
		}
	}
	t.Fatal("no rivetflow_http_requests_in_flight")
	return 0
}
