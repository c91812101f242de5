package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// An actor-bound queue reads its messages' actor keys as text: bodies whose
// key is not text (an unpaired surrogate escape, which encoding/json turns
// into U+FFFD, so that "\udc80x" and "\udc81x" would name one actor) are
// dead letters at once (no_actor_key) and reach no actor; a text key is
// delivered.
func TestStrictQueueDeliverKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	b.call(t, http.MethodPut, "/v1/queues/bound", map[string]any{
		"deliverTo": map[string]any{"type": "tester", "keyFrom": "/k", "action": "echo"}}, http.StatusCreated, nil)
	bad := map[string]bool{}
	for _, body := range []string{`{"k":"\udc80x"}`, `{"k":"\udc81x"}`, `{"k":["x\ud800"]}`} {
		var res struct {
			ID string `json:"id"`
		}
		b.call(t, http.MethodPost, "/v1/queues/bound/messages", `{"body":`+body+`}`, http.StatusAccepted, &res)
		bad[res.ID] = true
	}
	b.call(t, http.MethodPost, "/v1/queues/bound/messages", `{"body":{"k":"ok"}}`, http.StatusAccepted, nil)

	type actorList struct {
		Actors []api.Actor `json:"actors"`
	}
	var dead struct {
		DeadLetters []api.QueueDeadLetter `json:"deadLetters"`
	}
	deadline := time.Now().Add(waitFor)
	for {
		var replaced, ok actorList
		b.call(t, http.MethodGet, "/v1/actors?type=tester&key=%EF%BF%BDx", nil, http.StatusOK, &replaced)
		if len(replaced.Actors) != 0 {
			t.Fatalf("a key that is not text reached actor %+v", replaced.Actors[0])
		}
		b.call(t, http.MethodGet, "/v1/actors?type=tester&key=ok", nil, http.StatusOK, &ok)
		b.call(t, http.MethodGet, "/v1/queues/bound/dead-letters?limit=10", nil, http.StatusOK, &dead)
		if len(dead.DeadLetters) >= len(bad) && len(ok.Actors) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: dead letters %+v, actor ok %+v; want %d dead letters and the text key delivered", waitFor, dead.DeadLetters, ok.Actors, len(bad))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, dl := range dead.DeadLetters {
		if !bad[dl.MessageID] || dl.Reason != "no_actor_key" || dl.Attempts != 1 || !strings.Contains(dl.Error, "not text") {
			t.Errorf("dead letter %+v: want one of the bad-key messages, reason no_actor_key after 1 attempt, with its error", dl)
		}
	}
}

// A message the bound action refuses as its arguments (invalid_args) is a
// dead letter at once, reason rejected, with the error: no retry could
// deliver it, so it does not wait out maxDeliveries.
func TestQueueDeliverRejectedBodyIsDeadAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	b.call(t, http.MethodPut, "/v1/queues/counts", map[string]any{"maxDeliveries": 5, "backoffMs": []int{60000},
		"deliverTo": map[string]any{"type": "counter", "keyFrom": "/k", "action": "increment"}}, http.StatusCreated, nil)
	var res struct {
		ID string `json:"id"`
	}
	b.call(t, http.MethodPost, "/v1/queues/counts/messages", `{"body":{"k":"a"}}`, http.StatusAccepted, &res)
	var dead struct {
		DeadLetters []api.QueueDeadLetter `json:"deadLetters"`
	}
	deadline := time.Now().Add(waitFor)
	for len(dead.DeadLetters) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after %v no dead letter: the refused message waits for a retry (backoff 60s)", waitFor)
		}
		time.Sleep(50 * time.Millisecond)
		b.call(t, http.MethodGet, "/v1/queues/counts/dead-letters", nil, http.StatusOK, &dead)
	}
	dl := dead.DeadLetters[0]
	if dl.MessageID != res.ID || dl.Reason != "rejected" || dl.Attempts != 1 || !strings.Contains(dl.Error, "expected an integer") {
		t.Errorf("dead letter %+v: want message %s, reason rejected after 1 attempt, with the invalid_args error", dl, res.ID)
	}
}
