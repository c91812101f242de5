package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// Log tails are bounded in number: one past MaxTails gets 429 too_many_tails
// with Retry-After, and a slot frees when a tail's client goes away.
func TestTailClientsAreBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{MaxTails: 2}})
	ctx, cancel := context.WithCancel(context.Background())
	first, err := b.http.Do(b.request(t, http.MethodGet, "/v1/events/tail", nil).WithContext(ctx))
	if err != nil || first.StatusCode != http.StatusOK {
		t.Fatalf("first tail: %v, %v", first, err)
	}
	b.stream(t, "/v1/events/tail")

	resp, data := b.do(t, http.MethodGet, "/v1/events/tail", nil)
	var e api.Error
	if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusTooManyRequests ||
		e.Code != "too_many_tails" || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("third tail: %d %s (Retry-After %q), want 429 too_many_tails", resp.StatusCode, data, resp.Header.Get("Retry-After"))
	}

	cancel()
	first.Body.Close()
	deadline := time.Now().Add(waitFor)
	for {
		rctx, rcancel := context.WithCancel(context.Background())
		r, err := b.http.Do(b.request(t, http.MethodGet, "/v1/events/tail", nil).WithContext(rctx))
		if err != nil {
			rcancel()
			t.Fatal(err)
		}
		status := r.StatusCode
		rcancel()
		r.Body.Close()
		if status == http.StatusOK {
			return
		}
		if status != http.StatusTooManyRequests || time.Now().After(deadline) {
			t.Fatalf("tail after one closed: status %d", status)
		}
		time.Sleep(10 * time.Millisecond) // the server frees the slot once it sees the disconnect
	}
}
