package client_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// The methods and fields of the queue features: the new configuration
// fields, batch enqueue, key, priority and delay, leases, history, purge.
func TestQueueFeatures(t *testing.T) {
	t.Parallel()
	c := queueClient(t)
	ctx := ctxT(t)
	q, _, err := c.PutQueue(ctx, "jobs", client.QueueSpec{MaxMessages: 5, MaxMessageBytes: 64, Overflow: client.OverflowBlock, BlockMs: 100,
		Concurrency: 8, RatePerSecond: 1000})
	if err != nil || q.Config.Overflow != "block" || q.Config.BlockMs != 100 || q.Config.Concurrency != 8 || q.Config.RatePerSecond != 1000 {
		t.Fatalf("PutQueue: %+v %v", q, err)
	}
	dt := &client.QueueDeliverTo{Type: "counter", KeyFrom: "/k", Action: "increment"}
	if q, err = c.UpdateQueue(ctx, "jobs", client.QueuePatch{DeliverTo: dt}); err != nil || q.Config.DeliverTo == nil || *q.Config.DeliverTo != *dt {
		t.Fatalf("UpdateQueue deliverTo: %+v %v", q, err)
	}
	reject := client.OverflowReject
	if q, err = c.UpdateQueue(ctx, "jobs", client.QueuePatch{ClearDeliverTo: true, Overflow: &reject}); err != nil || q.Config.DeliverTo != nil || q.Config.Overflow != "reject" {
		t.Fatalf("UpdateQueue clear deliverTo: %+v %v", q, err)
	}
	if _, err := c.UpdateQueue(ctx, "jobs", client.QueuePatch{ClearDeliverTo: true, DeliverTo: dt}); err == nil {
		t.Fatal("UpdateQueue with DeliverTo and ClearDeliverTo sent a request")
	}
	hist, err := c.QueueHistory(ctx, "jobs", 0)
	if err != nil || len(hist) != 3 || hist[0].Kind != "updated" || strings.Join(hist[0].Fields, ",") != "overflow,deliverTo" || hist[2].Kind != "created" {
		t.Fatalf("QueueHistory: %+v %v", hist, err)
	}
	if hist, err = c.QueueHistory(ctx, "jobs", 1); err != nil || len(hist) != 1 {
		t.Fatalf("QueueHistory limit 1: %+v %v", hist, err)
	}

	// A batch: stored, too large, bad priority, and a full queue at the end.
	res, err := c.EnqueueBatch(ctx, "jobs", []client.BatchMessage{
		{Body: map[string]string{"to": "ada"}, Options: client.EnqueueOptions{Key: "acct-1", Priority: 1, DedupID: "b1"}},
		{Body: strings.Repeat("x", 100)},
		{Body: 1, Options: client.EnqueueOptions{Priority: 9}},
		{Body: 2, Options: client.EnqueueOptions{Delay: time.Hour}},
		{Body: 3}, {Body: 4}, {Body: 5},
		{Body: 6},
	})
	if err != nil || len(res) != 8 {
		t.Fatalf("EnqueueBatch: %+v %v", res, err)
	}
	for i, want := range []string{"", client.CodeMessageTooLarge, client.CodeInvalidRequest, "", "", "", "", client.CodeQueueFull} {
		var e *client.Error
		switch {
		case want == "" && (res[i].Err != nil || res[i].ID == ""):
			t.Errorf("result %d: %+v, want an ID", i, res[i])
		case want != "" && (!errors.As(res[i].Err, &e) || e.Code != want || e.Status == 0 || e.Message == ""):
			t.Errorf("result %d: %+v, want %s", i, res[i], want)
		}
	}
	if _, err := c.EnqueueBatch(ctx, "nope", []client.BatchMessage{{Body: 1}}); err == nil {
		t.Fatal("EnqueueBatch into no queue")
	} else {
		wantCode(t, err, http.StatusNotFound, client.CodeQueueNotFound)
	}
	if _, err := c.EnqueueBatch(ctx, "jobs", nil); err == nil {
		t.Fatal("EnqueueBatch of nothing sent a request")
	}
	if _, err := c.EnqueueBatch(ctx, "jobs", make([]client.BatchMessage, client.MaxBatch+1)); err == nil {
		t.Fatal("EnqueueBatch of too many sent a request")
	}
	_, err = c.Enqueue(ctx, "jobs", 1, &client.EnqueueOptions{Priority: 6})
	wantCode(t, err, http.StatusUnprocessableEntity, client.CodeInvalidRequest)

	if q, err = c.Queue(ctx, "jobs"); err != nil || q.Stats.Depth != 5 {
		t.Fatalf("Queue: %+v %v", q, err)
	}
	// Key and priority come back with the claim; the delayed one does not.
	msgs, err := claimN(ctx, c, "jobs", 4, &client.ClaimOptions{Lease: 300 * time.Millisecond})
	if err != nil || len(msgs) != 4 || msgs[0].Key != "acct-1" || msgs[0].Priority != 1 || msgs[1].Priority != 3 || msgs[1].Key != "" {
		t.Fatalf("Claim: %+v %v", msgs, err)
	}
	if q, err = c.Queue(ctx, "jobs"); err != nil || q.Stats.Delayed != 1 {
		t.Errorf("Queue delayed: %+v %v", q.Stats, err)
	}
	// Keep the first for 5s; the 300ms lease of the others ends: redelivered.
	if n, err := c.ExtendLease(ctx, "jobs", 5*time.Second, msgs[0].Receipt); err != nil || n != 1 {
		t.Fatalf("ExtendLease: %d %v", n, err)
	}
	again, err := claimN(ctx, c, "jobs", 3, nil)
	if err != nil || len(again) != 3 {
		t.Fatalf("redelivered: %+v %v", again, err)
	}
	for _, m := range again {
		if m.Attempt != 2 || m.ID == msgs[0].ID {
			t.Errorf("redelivered %+v", m)
		}
	}
	_, err = c.ExtendLease(ctx, "jobs", 13*time.Hour, msgs[0].Receipt)
	wantCode(t, err, http.StatusUnprocessableEntity, client.CodeInvalidRequest)

	n, err := c.PurgeQueue(ctx, "jobs")
	if err != nil || n != 5 {
		t.Fatalf("PurgeQueue: %d %v", n, err)
	}
	if q, err = c.Queue(ctx, "jobs"); err != nil || q.Stats.Depth != 0 || q.Stats.InFlight != 0 {
		t.Fatalf("Queue after purge: %+v %v", q.Stats, err)
	}
	_, err = c.Ack(ctx, "jobs", msgs[0].Receipt)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidReceipt)
	_, err = c.PurgeQueue(ctx, "nope")
	wantCode(t, err, http.StatusNotFound, client.CodeQueueNotFound)

	// QueuePatch encodes only what is set, and null for ClearDeliverTo.
	one := int64(1)
	for _, tc := range []struct {
		p    client.QueuePatch
		want string
	}{{client.QueuePatch{}, `{}`}, {client.QueuePatch{ClearDeliverTo: true}, `{"deliverTo":null}`},
		{client.QueuePatch{ClearDeliverTo: true, MaxMessages: &one}, `{"deliverTo":null,"maxMessages":1}`}} {
		if b, err := json.Marshal(tc.p); err != nil || string(b) != tc.want {
			t.Errorf("marshal %+v: %s %v, want %s", tc.p, b, err, tc.want)
		}
	}
}
