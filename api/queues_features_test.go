package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

type batchResults struct {
	Results []api.QueueBatchResult `json:"results"`
}

// A batch stores its good messages and reports each bad one with the code a
// single enqueue would have got; only a problem of the whole call fails it.
func TestQueueBatchEnqueue(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"maxMessages": 4, "maxMessageBytes": 64}, http.StatusCreated, nil)
	var res batchResults
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages/batch", map[string]any{"messages": []map[string]any{
		{"body": map[string]int{"n": 1}, "key": "k1", "priority": 1, "dedupId": "a"},
		{"body": strings.Repeat("x", 100)},           // too large
		{"body": 2, "priority": 9},                   // bad priority
		{"body": 3, "delayMs": -1},                   // bad delay
		{"body": 4, "key": strings.Repeat("k", 300)}, // key too long
		{"body": 5, "dedupId": "a"},                  // duplicate of the first
		{"body": 6},
		{"body": 7},
		{"body": 8},
		{"body": 9}, // the queue holds 4: full
	}}, http.StatusAccepted, &res)
	wantCodes := []string{"", "message_too_large", "invalid_request", "invalid_request", "invalid_request", "", "", "", "", "queue_full"}
	if len(res.Results) != len(wantCodes) {
		t.Fatalf("results %+v", res.Results)
	}
	for i, want := range wantCodes {
		r := res.Results[i]
		switch {
		case want == "" && (r.Error != nil || r.ID == ""):
			t.Errorf("result %d: %+v, want an ID", i, r)
		case want != "" && (r.Error == nil || r.Error.Code != want || r.Error.Message == "" || r.ID != ""):
			t.Errorf("result %d: %+v, want error %s", i, r, want)
		}
	}
	if !res.Results[5].Duplicate || res.Results[5].ID != res.Results[0].ID || res.Results[0].Duplicate {
		t.Errorf("dedup within a batch: %+v, %+v", res.Results[0], res.Results[5])
	}
	msgs := b.claimAll(t, "jobs", 4, map[string]any{})
	if string(msgs[0].Body) != `{"n":1}` || msgs[0].Key != "k1" || msgs[0].Priority != 1 {
		t.Errorf("first claimed: %+v", msgs[0])
	}
	if st := b.queueStats(t, "jobs"); st.Depth != 0 || st.InFlight != 4 {
		t.Errorf("stats %+v", st)
	}

	// Whole-batch problems: unknown queue, none, too many, bad JSON.
	resp, data := b.do(t, http.MethodPost, "/v1/queues/nope/messages/batch", map[string]any{"messages": []map[string]any{{"body": 1}}})
	wantProblem(t, resp, data, http.StatusNotFound, "queue_not_found")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/messages/batch", map[string]any{"messages": []map[string]any{}})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"body": i}
	}
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/messages/batch", map[string]any{"messages": many})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/messages/batch", `{"messages": [{"body": }]}`)
	wantProblem(t, resp, data, http.StatusBadRequest, "malformed_json")
}

// Key and priority go with the message to its claim (priority 3 when
// absent); a key orders its messages and one of a key is in flight at a time.
func TestQueueKeyPriorityRoundTrip(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", nil, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "a1", "key": "acct-1", "priority": 2}, http.StatusAccepted, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "a2", "key": "acct-1"}, http.StatusAccepted, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "none"}, http.StatusAccepted, nil)
	msgs := b.claimAll(t, "jobs", 2, map[string]any{})
	byBody := map[string]api.QueueMessage{}
	for _, m := range msgs {
		byBody[string(m.Body)] = m
	}
	a1, none := byBody[`"a1"`], byBody[`"none"`]
	if a1.Key != "acct-1" || a1.Priority != 2 || none.Key != "" || none.Priority != 3 || len(byBody) != 2 {
		t.Fatalf("claimed %+v", msgs)
	}
	// a2 waits for a1: nothing more to claim until a1 is acked.
	if got := b.claimQ(t, "jobs", map[string]any{"waitMs": 300}); len(got) != 0 {
		t.Fatalf("claimed a second message of key acct-1 while the first is in flight: %+v", got)
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{a1.Receipt}}, http.StatusOK, nil)
	a2 := b.claimAll(t, "jobs", 1, map[string]any{})[0]
	if string(a2.Body) != `"a2"` || a2.Key != "acct-1" || a2.Priority != 3 {
		t.Fatalf("after the ack: %+v", a2)
	}
}

// delayMs and deliverAt hold a message back: a claim before then gets
// nothing, a later one gets it.
func TestQueueDelayedDelivery(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", nil, http.StatusCreated, nil)
	start := time.Now()
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "later", "delayMs": 1500}, http.StatusAccepted, nil)
	at := start.Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages/batch", map[string]any{"messages": []map[string]any{{"body": "at", "deliverAt": at}}},
		http.StatusAccepted, nil)
	if got := b.claimQ(t, "jobs", map[string]any{"max": 10, "waitMs": 500}); len(got) != 0 {
		t.Fatalf("claimed a delayed message early: %+v", got)
	}
	if st := b.queueStats(t, "jobs"); st.Depth != 2 {
		t.Errorf("stats while delayed %+v", st)
	}
	msgs := b.claimAll(t, "jobs", 2, map[string]any{})
	if took := time.Since(start); took < 1400*time.Millisecond {
		t.Fatalf("delayed messages claimed after %s", took)
	}
	if len(msgs) != 2 {
		t.Fatalf("claimed %+v", msgs)
	}
}

// A claim's leaseMs shorter than ackWaitMs redelivers sooner; extend with
// leaseMs keeps a message leased for that long.
func TestQueueLeases(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"ackWaitMs": 30_000}, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 1}, http.StatusAccepted, nil)
	first := b.claimAll(t, "jobs", 1, map[string]any{"leaseMs": 300})[0]
	start := time.Now()
	again := b.claimAll(t, "jobs", 1, map[string]any{"leaseMs": 300})[0]
	if took := time.Since(start); again.ID != first.ID || again.Attempt != 2 || took > 5*time.Second {
		t.Fatalf("redelivered %+v after %s (first %+v)", again, took, first)
	}
	// Extend for 3s: the 300ms lease of the claim no longer applies.
	var settled struct {
		Settled int `json:"settled"`
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/extend", map[string]any{"receipts": []string{again.Receipt}, "leaseMs": 3000}, http.StatusOK, &settled)
	if settled.Settled != 1 {
		t.Fatalf("extended %d", settled.Settled)
	}
	if got := b.claimQ(t, "jobs", map[string]any{"waitMs": 1000}); len(got) != 0 {
		t.Fatalf("redelivered within an extended lease: %+v", got)
	}
	b.call(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{again.Receipt}}, http.StatusOK, nil)

	resp, data := b.do(t, http.MethodPost, "/v1/queues/jobs/claim", map[string]any{"leaseMs": 43_200_001})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	resp, data = b.do(t, http.MethodPost, "/v1/queues/jobs/extend", map[string]any{"receipts": []string{again.Receipt}, "leaseMs": -1})
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
}

// Bad enqueue input is refused with invalid_request and stores nothing.
func TestQueueEnqueueBadInput(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", nil, http.StatusCreated, nil)
	for _, body := range []map[string]any{
		{"body": 1, "priority": 9},
		{"body": 1, "priority": -1},
		{"body": 1, "delayMs": -1},
		{"body": 1, "delayMs": int64(400 * 24 * time.Hour / time.Millisecond)},
		{"body": 1, "key": strings.Repeat("k", 257)},
		{"body": 1, "key": "tab\there"},
		{"body": 1, "dedupId": "has space"},
		{"body": 1, "deliverAt": "tomorrow"},
		{"body": 1, "deliverAt": time.Now().Add(400 * 24 * time.Hour).Format(time.RFC3339)},
	} {
		resp, data := b.do(t, http.MethodPost, "/v1/queues/jobs/messages", body)
		wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	}
	if st := b.queueStats(t, "jobs"); st.Depth != 0 {
		t.Fatalf("bad input stored messages: %+v", st)
	}
	if got := b.claimQ(t, "jobs", map[string]any{"waitMs": 300}); len(got) != 0 {
		t.Fatalf("bad input stored messages: %+v", got)
	}
}

// PUT and PATCH show in the history with the fields they changed, newest
// first; deliverTo is set by PATCH and removed by PATCH with null.
func TestQueuePatchHistory(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	var q api.Queue
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"overflow": "block", "blockMs": 200}, http.StatusCreated, &q)
	if q.Config.Overflow != "block" || q.Config.BlockMs != 200 || q.Config.DeliverTo != nil {
		t.Fatalf("put: %+v", q.Config)
	}
	b.call(t, http.MethodPatch, "/v1/queues/jobs", map[string]any{"maxMessages": 10, "concurrency": 4, "ratePerSecond": 2.5}, http.StatusOK, &q)
	if q.Config.MaxMessages != 10 || q.Config.Concurrency != 4 || q.Config.RatePerSecond != 2.5 || q.Config.Overflow != "block" {
		t.Fatalf("patch: %+v", q.Config)
	}
	dt := map[string]any{"type": "counter", "keyFrom": "/orderId", "action": "increment"}
	b.call(t, http.MethodPatch, "/v1/queues/jobs", map[string]any{"deliverTo": dt}, http.StatusOK, &q)
	if d := q.Config.DeliverTo; d == nil || d.Type != "counter" || d.KeyFrom != "/orderId" || d.Action != "increment" {
		t.Fatalf("patch deliverTo: %+v", q.Config)
	}
	b.call(t, http.MethodPatch, "/v1/queues/jobs", map[string]any{"maxDeliveries": 7}, http.StatusOK, &q)
	if q.Config.DeliverTo == nil || q.Config.MaxDeliveries != 7 {
		t.Fatalf("a patch without deliverTo changed it: %+v", q.Config)
	}
	q = api.Queue{} // the answer omits deliverTo: decode into a zero value
	b.call(t, http.MethodPatch, "/v1/queues/jobs", map[string]any{"deliverTo": nil}, http.StatusOK, &q)
	if q.Config.DeliverTo != nil || q.Config.MaxDeliveries != 7 {
		t.Fatalf("patch deliverTo null: %+v", q.Config)
	}
	var got api.Queue
	b.call(t, http.MethodGet, "/v1/queues/jobs", nil, http.StatusOK, &got)
	if got.Config.DeliverTo != nil || got.Stats == nil {
		t.Fatalf("get after clearing deliverTo: %+v", got)
	}
	// A patch that changes nothing is not recorded.
	b.call(t, http.MethodPatch, "/v1/queues/jobs", map[string]any{"maxDeliveries": 7}, http.StatusOK, nil)

	var h struct {
		Changes []api.QueueChange `json:"changes"`
	}
	b.call(t, http.MethodGet, "/v1/queues/jobs/history", nil, http.StatusOK, &h)
	want := []struct {
		kind   string
		fields string
	}{{"updated", "deliverTo"}, {"updated", "maxDeliveries"}, {"updated", "deliverTo"}, {"updated", "maxMessages,concurrency,ratePerSecond"}, {"created", ""}}
	if len(h.Changes) != len(want) {
		t.Fatalf("history: %+v", h.Changes)
	}
	for i, w := range want {
		c := h.Changes[i]
		if c.Kind != w.kind || strings.Join(c.Fields, ",") != w.fields || c.At.IsZero() || c.Fields == nil {
			t.Errorf("change %d: %+v, want %s of %q", i, c, w.kind, w.fields)
		}
	}
	if h.Changes[2].Config.DeliverTo == nil || h.Changes[0].Config.DeliverTo != nil || h.Changes[3].Config.MaxMessages != 10 || h.Changes[4].Config.MaxMessages != 100_000 {
		t.Errorf("history configs: %+v", h.Changes)
	}
	b.call(t, http.MethodGet, "/v1/queues/jobs/history?limit=2", nil, http.StatusOK, &h)
	if len(h.Changes) != 2 || h.Changes[1].Fields[0] != "maxDeliveries" {
		t.Errorf("history limit 2: %+v", h.Changes)
	}
	b.call(t, http.MethodDelete, "/v1/queues/jobs", nil, http.StatusNoContent, nil)
	b.call(t, http.MethodGet, "/v1/queues/jobs/history?limit=1", nil, http.StatusOK, &h)
	if len(h.Changes) != 1 || h.Changes[0].Kind != "deleted" || h.Changes[0].Config.MaxDeliveries != 7 {
		t.Errorf("history after delete: %+v", h.Changes)
	}
	b.call(t, http.MethodGet, "/v1/queues/never/history", nil, http.StatusOK, &h)
	if len(h.Changes) != 0 {
		t.Errorf("history of a queue never created: %+v", h.Changes)
	}
	resp, data := b.do(t, http.MethodGet, "/v1/queues/jobs/history?limit=101", nil)
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
}

// Purge deletes waiting, delayed and in-flight messages but keeps the dead
// letters; the purged deliveries' receipts stop working.
func TestQueuePurgeMessages(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", map[string]any{"maxDeliveries": 1}, http.StatusCreated, nil)
	// One dead letter first.
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "dead"}, http.StatusAccepted, nil)
	dead := b.claimAll(t, "jobs", 1, map[string]any{})[0]
	b.call(t, http.MethodPost, "/v1/queues/jobs/nack", map[string]any{"receipts": []string{dead.Receipt}}, http.StatusOK, nil)
	for range 50 {
		b.claimQ(t, "jobs", map[string]any{"waitMs": 200})
		if b.queueStats(t, "jobs").DeadLetters == 1 {
			break
		}
	}
	var res batchResults
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages/batch", map[string]any{"messages": []map[string]any{
		{"body": 1}, {"body": 2}, {"body": 3, "delayMs": 60_000}}}, http.StatusAccepted, &res)
	inFlight := b.claimAll(t, "jobs", 1, map[string]any{})[0]
	var purged struct {
		Purged uint64 `json:"purged"`
	}
	b.call(t, http.MethodDelete, "/v1/queues/jobs/messages", nil, http.StatusOK, &purged)
	if purged.Purged != 3 {
		t.Errorf("purged %d, want 3", purged.Purged)
	}
	if st := b.queueStats(t, "jobs"); st.Depth != 0 || st.InFlight != 0 || st.DeadLetters != 1 || st.Delayed != 0 {
		t.Errorf("stats after purge %+v", st)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{inFlight.Receipt}})
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_receipt")
	if got := b.claimQ(t, "jobs", map[string]any{"max": 10, "waitMs": 300}); len(got) != 0 {
		t.Errorf("claimed after purge: %+v", got)
	}
	// The queue still works.
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": "after"}, http.StatusAccepted, nil)
	if got := b.claimAll(t, "jobs", 1, map[string]any{}); string(got[0].Body) != `"after"` {
		t.Errorf("after purge: %+v", got)
	}
	resp, data = b.do(t, http.MethodDelete, "/v1/queues/nope/messages", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "queue_not_found")
}

// GET shows the new counts: delayed and the rates.
func TestQueueStatsFields(t *testing.T) {
	t.Parallel()
	b := setupQueues(t)
	b.call(t, http.MethodPut, "/v1/queues/jobs", nil, http.StatusCreated, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 1, "delayMs": 60_000}, http.StatusAccepted, nil)
	b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 2}, http.StatusAccepted, nil)
	m := b.claimAll(t, "jobs", 1, map[string]any{})[0]
	b.call(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{m.Receipt}}, http.StatusOK, nil)
	// The rates are sampled while the queue is busy: keep it busy.
	var st api.QueueStats
	for range 30 {
		b.call(t, http.MethodPost, "/v1/queues/jobs/messages", map[string]any{"body": 3}, http.StatusAccepted, nil)
		m := b.claimAll(t, "jobs", 1, map[string]any{})[0]
		b.call(t, http.MethodPost, "/v1/queues/jobs/ack", map[string]any{"receipts": []string{m.Receipt}}, http.StatusOK, nil)
		if st = b.queueStats(t, "jobs"); st.Delayed == 1 && st.EnqueuedPerSec > 0 && st.AckedPerSec > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st.Delayed != 1 || st.Depth != 1 || st.EnqueuedPerSec <= 0 || st.AckedPerSec <= 0 {
		t.Errorf("stats %+v", st)
	}
	_, data := b.do(t, http.MethodGet, "/v1/queues/jobs", nil)
	var raw struct {
		Stats map[string]json.RawMessage `json:"stats"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"depth", "inFlight", "deadLetters", "oldestAgeMs", "delayed", "enqueuedPerSec", "ackedPerSec"} {
		if _, ok := raw.Stats[k]; !ok {
			t.Errorf("stats without %s: %s", k, data)
		}
	}
}

// A queue bound to an actor type or action the server does not run is
// refused (400, as a schedule's target is), and nothing is created or
// changed: its messages would wait for a delivery that can never succeed.
func TestQueueDeliverToMustNameAnAction(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	for _, c := range []struct {
		deliverTo map[string]any
		code      string
	}{
		{map[string]any{"type": "nope", "keyFrom": "/k", "action": "increment"}, "actor_type_not_found"},
		{map[string]any{"type": "counter", "keyFrom": "/k", "action": "nope"}, "action_not_found"},
	} {
		resp, data := b.do(t, http.MethodPut, "/v1/queues/bound", map[string]any{"deliverTo": c.deliverTo})
		if p := wantProblem(t, resp, data, http.StatusBadRequest, c.code); !strings.Contains(p.Message, "deliverTo.") {
			t.Errorf("PUT with deliverTo %v: message %q does not name the field", c.deliverTo, p.Message)
		}
	}
	if resp, _ := b.do(t, http.MethodGet, "/v1/queues/bound", nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a refused PUT created the queue: GET %d", resp.StatusCode)
	}
	b.call(t, http.MethodPut, "/v1/queues/bound", map[string]any{}, http.StatusCreated, nil)
	resp, data := b.do(t, http.MethodPatch, "/v1/queues/bound", map[string]any{"deliverTo": map[string]any{"type": "counter", "keyFrom": "/k", "action": "nope"}})
	wantProblem(t, resp, data, http.StatusBadRequest, "action_not_found")
	var q api.Queue
	b.call(t, http.MethodGet, "/v1/queues/bound", nil, http.StatusOK, &q)
	if q.Config.DeliverTo != nil {
		t.Errorf("a refused PATCH bound the queue: %+v", q.Config.DeliverTo)
	}
	b.call(t, http.MethodPatch, "/v1/queues/bound", map[string]any{"deliverTo": map[string]any{"type": "counter", "keyFrom": "/k", "action": "increment"}}, http.StatusOK, nil)
}

// The actions the server calls itself ($timer: a workflow's) cannot be a
// queue's or a schedule's target, and are not offered in the message.
func TestTargetsRefuseInternalActions(t *testing.T) {
	t.Parallel()
	b := setupWorkflows(t)
	resp, data := b.do(t, http.MethodPut, "/v1/queues/timers", map[string]any{"deliverTo": map[string]any{"type": "greet", "keyFrom": "/k", "action": "$timer"}})
	if p := wantProblem(t, resp, data, http.StatusBadRequest, "action_not_found"); !strings.Contains(p.Message, "it has: cancel") || strings.Contains(p.Message, "$child") {
		t.Errorf("deliverTo $timer: message %q, want the callable actions only", p.Message)
	}
	resp, data = b.do(t, http.MethodPut, "/v1/schedules/timers", map[string]any{"cron": "@every 1h",
		"target": map[string]any{"actor": map[string]any{"type": "greet", "key": []string{"g"}}, "action": "$timer"}})
	if p := wantProblem(t, resp, data, http.StatusBadRequest, "action_not_found"); !strings.Contains(p.Message, "it has: cancel") || strings.Contains(p.Message, "$child") {
		t.Errorf("schedule target $timer: message %q, want the callable actions only", p.Message)
	}
}
