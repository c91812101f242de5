package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
)

// setupQueues starts a node serving /v1/queues over a Manager on its own
// embedded JetStream (closed after the node stops).
func setupQueues(t *testing.T) *bundle {
	t.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: t.TempDir(), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("close queue log: %v", err)
		}
	})
	m, err := queues.New(l.JetStream(), &queues.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop queues: %v", err)
		}
	})
	return setup(t, testOpts{API: api.Options{Queues: m}})
}

type claimed struct {
	Messages []api.QueueMessage `json:"messages"`
}

func (b *bundle) claimQ(t *testing.T, name string, body any) []api.QueueMessage {
	t.Helper()
	var c claimed
	b.call(t, http.MethodPost, "/v1/queues/"+name+"/claim", body, http.StatusOK, &c)
	return c.Messages
}

// claimAll claims until it holds want messages (a message becomes claimable
// a moment after its enqueue), long-polling with body's other fields, and
// fails the test after 10s.
func (b *bundle) claimAll(t *testing.T, name string, want int, body map[string]any) []api.QueueMessage {
	t.Helper()
	var out []api.QueueMessage
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		req := map[string]any{"waitMs": 1000}
		for k, v := range body {
			req[k] = v
		}
		req["max"] = want - len(out)
		out = append(out, b.claimQ(t, name, req)...)
	}
	if len(out) != want {
		t.Fatalf("claimed %d of %d messages: %+v", len(out), want, out)
	}
	return out
}

func (b *bundle) queueStats(t *testing.T, name string) api.QueueStats {
	t.Helper()
	var q api.Queue
	b.call(t, http.MethodGet, "/v1/queues/"+name, nil, http.StatusOK, &q)
	if q.Stats == nil {
		t.Fatalf("GET %s: no stats", name)
	}
	return *q.Stats
}

func TestQueuesCRUD(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	var q api.Queue
	b.call(t, http.MethodPut, "/v1/queues/emails", map[string]any{"maxDeliveries": 3, "ackWaitMs": 1000}, http.StatusCreated, &q)
	if q.Name != "emails" || q.Config.MaxDeliveries != 3 || q.Config.AckWaitMs != 1000 || q.Config.MaxMessages != 100_000 || q.Config.Overflow != "reject" {
		t.Fatalf("put: %+v", q)
	}
	b.call(t, http.MethodPut, "/v1/queues/emails", map[string]any{"maxDeliveries": 3}, http.StatusOK, &q)
	if q.Config.AckWaitMs != 30_000 {
		t.Fatalf("put replaces the whole config: %+v", q.Config)
	}
	b.call(t, http.MethodPatch, "/v1/queues/emails", map[string]any{"maxMessages": 10}, http.StatusOK, &q)
	if q.Config.MaxMessages != 10 || q.Config.MaxDeliveries != 3 {
		t.Fatalf("patch: %+v", q.Config)
	}
	b.call(t, http.MethodPut, "/v1/queues/audit", nil, http.StatusCreated, nil)
	var list struct {
		Queues []api.Queue `json:"queues"`
	}
	b.call(t, http.MethodGet, "/v1/queues", nil, http.StatusOK, &list)
	if len(list.Queues) != 2 || list.Queues[0].Name != "audit" || list.Queues[1].Config.MaxMessages != 10 || list.Queues[1].Stats == nil {
		t.Fatalf("list: %+v", list)
	}
	for _, body := range []any{map[string]any{"maxDeliveries": 0}, map[string]any{"overflow": "drop"}, map[string]any{"concurrency": -1},
		map[string]any{"blockMs": 0}, map[string]any{"ratePerSecond": 2e6}, map[string]any{"deliverTo": map[string]any{"type": "order"}},
		map[string]any{"maxBytes": 10, "maxMessageBytes": 100}} {
		resp, data := b.do(t, http.MethodPatch, "/v1/queues/emails", body)
		wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	}
	resp, data := b.do(t, http.MethodPut, "/v1/queues/1bad", map[string]any{})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")

	b.call(t, http.MethodDelete, "/v1/queues/emails", nil, http.StatusNoContent, nil)
	for _, r := range []struct{ method, path string }{{http.MethodGet, "/v1/queues/emails"}, {http.MethodDelete, "/v1/queues/emails"},
		{http.MethodPatch, "/v1/queues/emails"}, {http.MethodGet, "/v1/queues/emails/dead-letters"}} {
		var body any
		if r.method == http.MethodPatch {
			body = map[string]any{}
		}
		resp, data := b.do(t, r.method, r.path, body)
		wantProblem(t, resp, data, http.StatusNotFound, "queue_not_found")
	}
}

func TestQueueEnqueueClaimSettle(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"maxMessages": 3, "maxMessageBytes": 64}, http.StatusCreated, nil)
	var first, dup struct {
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate"`
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": map[string]any{"to": "ada"}, "dedupId": "d1"}, http.StatusAccepted, &first)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 2, "dedupId": "d1"}, http.StatusAccepted, &dup)
	if first.ID == "" || first.Duplicate || dup.ID != first.ID || !dup.Duplicate {
		t.Fatalf("first %+v, duplicate %+v", first, dup)
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "two"}, http.StatusAccepted, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 3}, http.StatusAccepted, nil)

	// Full at exactly maxMessages: 429 with Retry-After, nothing stored.
	resp, data := b.do(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 4})
	wantProblem(t, resp, data, http.StatusTooManyRequests, "queue_full")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("queue_full without Retry-After")
	}
	// Too large, bad JSON, unknown queue: nothing stored.
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": strings.Repeat("x", 100)})
	wantProblem(t, resp, data, http.StatusRequestEntityTooLarge, "message_too_large")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/messages", `{"body": {`)
	wantProblem(t, resp, data, http.StatusBadRequest, "malformed_json")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/nope/messages", map[string]any{"body": 1})
	wantProblem(t, resp, data, http.StatusNotFound, "queue_not_found")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/nope/claim", map[string]any{})
	wantProblem(t, resp, data, http.StatusNotFound, "queue_not_found")
	if st := b.queueStats(t, "jobs"); st.Depth != 3 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}

	msgs := b.claimAll(t, "jobs", 3, map[string]any{"max": 10})
	if len(msgs) != 3 || msgs[0].ID != first.ID || string(msgs[0].Body) != `{"to":"ada"}` || msgs[0].Attempt != 1 || msgs[0].EnqueuedAt.IsZero() {
		t.Fatalf("claimed %+v", msgs)
	}
	// A bad receipt: 400, nothing settled.
	for _, bad := range []string{"nope", "JCRKUy5BQ0suUkZfUV9qb2JzLnJmLXdvcmtlcnMuMS45OTkuMS4xLjA"} {
		resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{msgs[0].Receipt, bad}})
		wantProblem(t, resp, data, http.StatusBadRequest, "invalid_receipt")
	}
	if st := b.queueStats(t, "jobs"); st.InFlight != 3 {
		t.Fatalf("stats after bad acks %+v", st)
	}
	var settled struct {
		Settled int `json:"settled"`
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{msgs[0].Receipt}}, http.StatusOK, &settled)
	b.call(t, http.MethodPost, "/v1/queues/jobs/extend", map[string]any{"receipts": []string{msgs[1].Receipt}}, http.StatusOK, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/nack", map[string]any{"receipts": []string{msgs[2].Receipt}}, http.StatusOK, &settled)
	if settled.Settled != 1 {
		t.Fatalf("settled %d", settled.Settled)
	}
	again := b.claimQ(t, "jobs", map[string]any{"max": 10, "waitMs": 5000})
	if len(again) != 1 || again[0].ID != msgs[2].ID || again[0].Attempt != 2 {
		t.Fatalf("after nack: %+v", again)
	}
	if st := b.queueStats(t, "jobs"); st.Depth != 0 || st.InFlight != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestQueueDeadLettersHTTP(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"maxDeliveries": 1}, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": map[string]int{"v": 1}}, http.StatusAccepted, nil)
	msgs := b.claimQ(t, "jobs", map[string]any{"waitMs": 5000})
	if len(msgs) != 1 {
		t.Fatalf("claimed %+v, want the one message", msgs)
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/nack", map[string]any{"receipts": []string{msgs[0].Receipt}}, http.StatusOK, nil)
	// The nacked message comes back at once, over maxDeliveries: the claim
	// moves it to the dead letters and, waiting for another, returns none.
	if got := b.claimQ(t, "jobs", map[string]any{"waitMs": 1000}); len(got) != 0 {
		t.Fatalf("claimed past maxDeliveries: %+v", got)
	}
	var page struct {
		DeadLetters []api.QueueDeadLetter `json:"deadLetters"`
		NextCursor  string                `json:"nextCursor"`
	}
	b.call(t, http.MethodGet, "/v1/queues/jobs/dead-letters?limit=10", nil, http.StatusOK, &page)
	if len(page.DeadLetters) != 1 || page.DeadLetters[0].Reason != "max_deliveries" || page.DeadLetters[0].Attempts != 1 ||
		page.DeadLetters[0].MessageID != msgs[0].ID || string(page.DeadLetters[0].Body) != `{"v":1}` {
		t.Fatalf("dead letters %+v", page)
	}
	if st := b.queueStats(t, "jobs"); st.DeadLetters != 1 || st.Depth != 0 {
		t.Fatalf("stats %+v", st)
	}
	var res struct {
		Redriven int `json:"redriven"`
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/dead-letters/redrive", map[string]any{"ids": []string{page.DeadLetters[0].ID},
		"body": map[string]int{"v": 2}}, http.StatusOK, &res)
	if res.Redriven != 1 {
		t.Fatalf("redriven %d", res.Redriven)
	}
	got := b.claimQ(t, "jobs", map[string]any{"waitMs": 5000})
	if len(got) != 1 || string(got[0].Body) != `{"v":2}` || got[0].Attempt != 1 {
		t.Fatalf("redriven message %+v", got)
	}
	// Dead again, then purged.
	b.call(t, http.MethodPost, "/v1/queues/jobs/nack", map[string]any{"receipts": []string{got[0].Receipt}}, http.StatusOK, nil)
	b.claimQ(t, "jobs", map[string]any{"waitMs": 1000}) // moves it to the dead letters
	var purged struct {
		Purged int `json:"purged"`
	}
	b.call(t, http.MethodDelete, "/v1/queues/jobs/dead-letters", nil, http.StatusOK, &purged)
	if purged.Purged != 1 {
		t.Fatalf("purged %d", purged.Purged)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/queues/jobs/dead-letters/redrive", map[string]any{})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
}
