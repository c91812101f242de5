package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
)

// queueClient starts a node (it serves /v1/queues) and returns a client.
func queueClient(t *testing.T) *client.Client {
	t.Helper()
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: builtin.Registry()})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	c, err := client.New("http://"+n.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	return c
}

// claimN claims until it holds n messages (a message is claimable a moment
// after its enqueue), long-polling, for at most 10s; opts sets the lease.
func claimN(ctx context.Context, c *client.Client, name string, n int, opts *client.ClaimOptions) ([]client.QueueMessage, error) {
	var out []client.QueueMessage
	for deadline := time.Now().Add(10 * time.Second); len(out) < n && time.Now().Before(deadline); {
		o := client.ClaimOptions{Wait: time.Second}
		if opts != nil {
			o.Lease = opts.Lease
		}
		o.Max = n - len(out)
		got, err := c.Claim(ctx, name, &o)
		if err != nil {
			return out, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// The typed queue methods against a real node: put (created, replaced),
// update, get, list, enqueue with dedup, claim, extend, ack, nack, dead
// letters, redrive, purge, delete, and the errors.
func TestQueues(t *testing.T) {
	t.Parallel()
	c := queueClient(t)
	ctx := ctxT(t)
	q, created, err := c.PutQueue(ctx, "jobs", client.QueueSpec{MaxDeliveries: 1, BackoffMs: []int64{10, 20}})
	if err != nil || !created || q.Name != "jobs" || q.Config.MaxDeliveries != 1 || q.Config.AckWaitMs != 30000 || len(q.Config.BackoffMs) != 2 {
		t.Fatalf("PutQueue: %+v created=%v err=%v", q, created, err)
	}
	if q, created, err = c.PutQueue(ctx, "jobs", client.QueueSpec{MaxDeliveries: 1}); err != nil || created || len(q.Config.BackoffMs) != 0 {
		t.Fatalf("PutQueue again: %+v created=%v err=%v", q, created, err)
	}
	ack := int64(5000)
	if q, err = c.UpdateQueue(ctx, "jobs", client.QueuePatch{AckWaitMs: &ack}); err != nil || q.Config.AckWaitMs != 5000 || q.Config.MaxDeliveries != 1 {
		t.Fatalf("UpdateQueue: %+v %v", q, err)
	}

	r1, err := c.Enqueue(ctx, "jobs", map[string]string{"to": "ada"}, &client.EnqueueOptions{DedupID: "d1"})
	if err != nil || r1.ID == "" || r1.Duplicate {
		t.Fatalf("Enqueue: %+v %v", r1, err)
	}
	if r, err := c.Enqueue(ctx, "jobs", map[string]string{"to": "other"}, &client.EnqueueOptions{DedupID: "d1"}); err != nil || r.ID != r1.ID || !r.Duplicate {
		t.Fatalf("Enqueue duplicate: %+v %v", r, err)
	}
	if _, err := c.Enqueue(ctx, "jobs", json.RawMessage(`{"n":2}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(ctx, "jobs", json.RawMessage(`{bad`), nil); err == nil {
		t.Fatal("Enqueue sent a body that is not JSON")
	}
	if q, err = c.Queue(ctx, "jobs"); err != nil || q.Stats == nil || q.Stats.Depth != 2 {
		t.Fatalf("Queue: %+v %v", q, err)
	}
	if list, err := c.Queues(ctx); err != nil || len(list) != 1 || list[0].Name != "jobs" || list[0].Stats.Depth != 2 {
		t.Fatalf("Queues: %+v %v", list, err)
	}

	msgs, err := claimN(ctx, c, "jobs", 2, nil)
	if err != nil || len(msgs) != 2 || msgs[0].ID != r1.ID || string(msgs[0].Body) != `{"to":"ada"}` || msgs[0].Attempt != 1 || msgs[0].Receipt == "" {
		t.Fatalf("Claim: %+v %v", msgs, err)
	}
	if n, err := c.Extend(ctx, "jobs", msgs[0].Receipt, msgs[1].Receipt); err != nil || n != 2 {
		t.Fatalf("Extend: %d %v", n, err)
	}
	if n, err := c.Ack(ctx, "jobs", msgs[0].Receipt); err != nil || n != 1 {
		t.Fatalf("Ack: %d %v", n, err)
	}
	_, err = c.Ack(ctx, "jobs", msgs[0].Receipt)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidReceipt)
	zero := time.Duration(0)
	if n, err := c.Nack(ctx, "jobs", []string{msgs[1].Receipt}, &client.NackOptions{Delay: &zero}); err != nil || n != 1 {
		t.Fatalf("Nack: %d %v", n, err)
	}
	// Past maxDeliveries (1): the next claim moves it to the dead letters.
	if got, err := c.Claim(ctx, "jobs", &client.ClaimOptions{Max: 1, Wait: 200 * time.Millisecond}); err != nil || len(got) != 0 {
		t.Fatalf("Claim past maxDeliveries: %+v %v", got, err)
	}
	var dead *client.DeadLetterPage
	for range 50 {
		if dead, err = c.DeadLetters(ctx, "jobs", &client.DeadLetterOptions{Limit: 10}); err != nil || len(dead.DeadLetters) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || len(dead.DeadLetters) != 1 || dead.DeadLetters[0].MessageID != msgs[1].ID || dead.DeadLetters[0].Reason != "max_deliveries" || dead.NextCursor != "" {
		t.Fatalf("DeadLetters: %+v %v", dead, err)
	}
	rr, err := c.Redrive(ctx, "jobs", client.RedriveOptions{IDs: []string{dead.DeadLetters[0].ID, "999999"}, Body: json.RawMessage(`{"n":3}`)})
	if err != nil || rr.Redriven != 1 || len(rr.Missing) != 1 || rr.Missing[0] != "999999" {
		t.Fatalf("Redrive: %+v %v", rr, err)
	}
	msgs, err = claimN(ctx, c, "jobs", 1, nil)
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != `{"n":3}` || msgs[0].Attempt != 1 {
		t.Fatalf("Claim the redriven message: %+v %v", msgs, err)
	}
	if rr, err = c.Redrive(ctx, "jobs", client.RedriveOptions{All: true}); err != nil || rr.Redriven != 0 {
		t.Fatalf("Redrive all of none: %+v %v", rr, err)
	}
	if n, err := c.PurgeDeadLetters(ctx, "jobs"); err != nil || n != 0 {
		t.Fatalf("PurgeDeadLetters: %d %v", n, err)
	}
	if err := c.DeleteQueue(ctx, "jobs"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Queue(ctx, "jobs")
	wantCode(t, err, http.StatusNotFound, client.CodeQueueNotFound)
	_, err = c.Enqueue(ctx, "jobs", 1, nil)
	wantCode(t, err, http.StatusNotFound, client.CodeQueueNotFound)
	if list, err := c.Queues(ctx); err != nil || len(list) != 0 {
		t.Fatalf("Queues after delete: %+v %v", list, err)
	}

	// A full queue: 429 queue_full with a Retry-After; too large a body: 413.
	if _, _, err := c.PutQueue(ctx, "tiny", client.QueueSpec{MaxMessages: 1, MaxMessageBytes: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(ctx, "tiny", 1, nil); err != nil {
		t.Fatal(err)
	}
	_, err = c.Enqueue(ctx, "tiny", 2, nil)
	if e := wantCode(t, err, http.StatusTooManyRequests, client.CodeQueueFull); e.RetryAfter <= 0 {
		t.Errorf("queue_full without Retry-After: %+v", e)
	}
	_, err = c.Enqueue(ctx, "tiny", "a body well beyond sixteen bytes", nil)
	wantCode(t, err, http.StatusRequestEntityTooLarge, client.CodeMessageTooLarge)
	if _, err := c.Redrive(ctx, "tiny", client.RedriveOptions{}); err == nil {
		t.Fatal("Redrive with no selection sent a request")
	}
	if _, err := c.Ack(ctx, "tiny"); err == nil {
		t.Fatal("Ack with no receipts sent a request")
	}
}
