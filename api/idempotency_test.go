package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
)

// POST .../actions/{action} with an Idempotency-Key: a repeat gets the first
// answer and appends nothing; the key with other arguments is 422.
func TestIdempotencyKeyOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "idem")
	post := func(args string, key string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, b.base+"/v1/actors/"+a.ID+"/actions/increment", bytes.NewReader([]byte(`{"args":`+args+`}`)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		resp, err := b.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readAll(t, resp)
	}
	for range 3 {
		if status, body := post(`[5]`, "charge-42"); status != http.StatusOK || string(bytes.TrimSpace(body)) != `{"output":5}` {
			t.Fatalf("keyed increment: %d %s, want 200 with the first output", status, body)
		}
	}
	if evs := b.history(t, a.ID); len(evs) != 2 {
		t.Fatalf("%d events after three keyed calls, want create + one increment", len(evs))
	}
	status, body := post(`[6]`, "charge-42")
	var e api.Error
	if status != http.StatusUnprocessableEntity || json.Unmarshal(body, &e) != nil || e.Code != "idempotency_key_reused" {
		t.Fatalf("same key, other args: %d %s, want 422 idempotency_key_reused", status, body)
	}
	if status, body := post(`[1]`, "charge-43"); status != http.StatusOK || !bytes.Contains(body, []byte(`6`)) {
		t.Fatalf("a new key: %d %s, want 6", status, body)
	}
}
