package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// A client trickling a raw request's body holds only its own request: the
// body is read before the actor's mailbox, so other calls to the actor go
// on, and the slow request ends with 408 after BodyReadTimeout.
func TestSlowRawBodyDoesNotHoldTheMailbox(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{BodyReadTimeout: 2 * time.Second}})
	tester := b.actor(t, "tester", "slow-body")
	pr, pw := io.Pipe()
	defer pw.Close()
	req := b.request(t, http.MethodPost, "/v1/actors/"+tester.ID+"/request/upload", nil)
	req.Body, req.ContentLength = pr, -1
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := b.http.Do(req)
		if err != nil {
			t.Errorf("slow request: %v", err)
			close(slow)
			return
		}
		slow <- resp
	}()
	if _, err := pw.Write([]byte(`{"part":`)); err != nil { // the handler now waits for the rest
		t.Fatal(err)
	}
	if out := b.action(t, tester.ID, "add", 2); string(out) != "2" {
		t.Fatalf("add while a body trickles: %s", out)
	}
	select {
	case <-slow:
		t.Fatal("the slow request ended before the call it must not hold up")
	default:
	}
	resp, ok := <-slow
	if !ok {
		return
	}
	data := readAll(t, resp)
	var e api.Error
	if resp.StatusCode != http.StatusRequestTimeout || json.Unmarshal(data, &e) != nil || e.Code != "request_timeout" {
		t.Fatalf("slow body: %d %s, want 408 request_timeout", resp.StatusCode, data)
	}
	if out := b.action(t, tester.ID, "get"); string(out) != "2" {
		t.Fatalf("state after the timed-out request: %s, want 2 (it reached no actor)", out)
	}
}
