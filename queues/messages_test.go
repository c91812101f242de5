package queues_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/queues"
)

func TestEnqueueClaimAck(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	before := time.Now().Add(-time.Second)
	ids := []string{b.enqueue(t, "jobs", `{"n":1}`).ID, b.enqueue(t, "jobs", `{"n":2}`).ID, b.enqueue(t, "jobs", `"three"`).ID}
	if st := b.stats(t, "jobs"); st.Depth != 3 || st.InFlight != 0 {
		t.Fatalf("stats %+v", st)
	}
	msgs := b.claimN(t, "jobs", 3)
	if len(msgs) != 3 {
		t.Fatalf("claimed %d, want 3", len(msgs))
	}
	var receipts []string
	for i, m := range msgs {
		if m.ID != ids[i] || m.Attempt != 1 || m.Receipt == "" || m.EnqueuedAt.Before(before) {
			t.Errorf("message %d: %+v", i, m)
		}
		receipts = append(receipts, m.Receipt)
	}
	if string(msgs[0].Body) != `{"n":1}` || string(msgs[2].Body) != `"three"` {
		t.Errorf("bodies %s, %s", msgs[0].Body, msgs[2].Body)
	}
	if st := b.stats(t, "jobs"); st.Depth != 0 || st.InFlight != 3 || st.OldestAgeMs < 0 {
		t.Fatalf("stats %+v", st)
	}
	if n, err := b.m.Ack(ctx(t), "jobs", receipts); err != nil || n != 3 {
		t.Fatalf("ack: %d, %v", n, err)
	}
	if st := b.stats(t, "jobs"); st != (queues.Stats{}) {
		t.Fatalf("stats after ack %+v", st)
	}
	// A settled receipt is unknown now.
	if _, err := b.m.Ack(ctx(t), "jobs", receipts[:1]); !errors.Is(err, queues.ErrInvalidReceipt) {
		t.Fatalf("second ack: %v, want ErrInvalidReceipt", err)
	}
	if got := b.claim(t, "jobs", 10, 0); len(got) != 0 {
		t.Fatalf("claimed %d after ack", len(got))
	}
}

// A long poll returns as soon as a message comes.
func TestClaimWaits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	done := make(chan []queues.Message, 1)
	go func() {
		msgs, _ := b.m.Claim(ctx(t), "jobs", queues.ClaimOptions{Max: 5, Wait: 10 * time.Second})
		done <- msgs
	}()
	start := time.Now()
	b.enqueue(t, "jobs", `1`)
	select {
	case msgs := <-done:
		if len(msgs) != 1 || time.Since(start) > 5*time.Second {
			t.Fatalf("claimed %d after %v", len(msgs), time.Since(start))
		}
	case <-time.After(waitFor):
		t.Fatal("the claim did not return")
	}
}

func TestNackRedelivers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	id := b.enqueue(t, "jobs", `1`).ID
	m := b.claimOne(t, "jobs")
	if n, err := b.m.Nack(ctx(t), "jobs", []string{m.Receipt}, nil); err != nil || n != 1 {
		t.Fatalf("nack: %d, %v", n, err)
	}
	m = b.claimOne(t, "jobs")
	if m.ID != id || m.Attempt != 2 {
		t.Fatalf("after nack: %+v, want %s attempt 2", m, id)
	}
	// With a delay, it is not ready at once, then it is.
	delay := time.Second
	if _, err := b.m.Nack(ctx(t), "jobs", []string{m.Receipt}, &delay); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
		t.Fatalf("claimed %d during the delay", len(got))
	}
	m = b.claimOne(t, "jobs")
	if m.Attempt != 3 || time.Since(start) < delay/2 {
		t.Fatalf("after delayed nack: %+v after %v", m, time.Since(start))
	}
}

// The queue's backoff delays a nack that names no delay.
func TestNackBackoff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{BackoffMs: []int64{1000}})
	b.enqueue(t, "jobs", `1`)
	m := b.claimOne(t, "jobs")
	if _, err := b.m.Nack(ctx(t), "jobs", []string{m.Receipt}, nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
		t.Fatalf("claimed %d during the backoff", len(got))
	}
	if m = b.claimOne(t, "jobs"); m.Attempt != 2 || time.Since(start) < 500*time.Millisecond {
		t.Fatalf("after backoff: %+v after %v", m, time.Since(start))
	}
}

// An unacknowledged lease expires and the message comes again, its attempt
// count kept across a restart of the log.
func TestLeaseExpiryAcrossRestart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{AckWaitMs: 1000})
	id := b.enqueue(t, "jobs", `{"x":1}`).ID
	if m := b.claimOne(t, "jobs"); m.Attempt != 1 {
		t.Fatalf("first claim: %+v", m)
	}
	// Not ready during the lease.
	if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
		t.Fatalf("claimed %d during the lease", len(got))
	}
	if m := b.claimOne(t, "jobs"); m.ID != id || m.Attempt != 2 {
		t.Fatalf("after the lease: %+v", m)
	}
	b.restart(t)
	m := b.claimOne(t, "jobs")
	if m.ID != id || m.Attempt != 3 || string(m.Body) != `{"x":1}` {
		t.Fatalf("after restart: %+v", m)
	}
	// Its receipt still works.
	if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
		t.Fatal(err)
	}
}

// Extend renews a lease: the message does not come back while extended.
func TestExtend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{AckWaitMs: 1000})
	b.enqueue(t, "jobs", `1`)
	m := b.claimOne(t, "jobs")
	for range 3 {
		time.Sleep(400 * time.Millisecond) // under half a lease
		if _, err := b.m.Extend(ctx(t), "jobs", []string{m.Receipt}, 0); err != nil {
			t.Fatal(err)
		}
		if got := b.claim(t, "jobs", 1, 0); len(got) != 0 {
			t.Fatalf("redelivered while extended: %+v", got)
		}
	}
	if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
		t.Fatal(err)
	}
}

func TestDedupReturnsFirstID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	first := b.enqueue(t, "jobs", `1`, queues.EnqueueOptions{DedupID: "order-42"})
	b.enqueue(t, "jobs", `2`)
	second := b.enqueue(t, "jobs", `3`, queues.EnqueueOptions{DedupID: "order-42"})
	if first.Duplicate || !second.Duplicate || second.ID != first.ID {
		t.Fatalf("first %+v, second %+v", first, second)
	}
	// Still a duplicate after the first was acknowledged (the window does not
	// depend on retention).
	m := b.claimOne(t, "jobs")
	if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
		t.Fatal(err)
	}
	if third := b.enqueue(t, "jobs", `4`, queues.EnqueueOptions{DedupID: "order-42"}); !third.Duplicate || third.ID != first.ID {
		t.Fatalf("third %+v", third)
	}
	if st := b.stats(t, "jobs"); st.Depth != 1 {
		t.Fatalf("stats %+v, want depth 1", st)
	}
}

func TestRejectOverflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxMessages: 3})
	for range 3 {
		b.enqueue(t, "jobs", `1`)
	}
	if _, err := b.m.Enqueue(ctx(t), "jobs", []byte(`1`), queues.EnqueueOptions{}); !errors.Is(err, queues.ErrFull) {
		t.Fatalf("4th enqueue: %v, want ErrFull", err)
	}
	if st := b.stats(t, "jobs"); st.Depth != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Raising the limit takes effect at once.
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{MaxMessages: new(int64(4))}); err != nil {
		t.Fatal(err)
	}
	b.enqueue(t, "jobs", `1`)
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxMessageBytes: 100})
	b.put(t, "other", queues.Config{})
	c := ctx(t)
	for _, tc := range []struct {
		body string
		opts queues.EnqueueOptions
		want error
	}{
		{`{"a":`, queues.EnqueueOptions{}, queues.ErrInvalid},
		{``, queues.EnqueueOptions{}, queues.ErrInvalid},
		{`"` + strings.Repeat("x", 100) + `"`, queues.EnqueueOptions{}, queues.ErrTooLarge},
		{`1`, queues.EnqueueOptions{DedupID: "has space"}, queues.ErrInvalid},
		{`1`, queues.EnqueueOptions{DedupID: strings.Repeat("x", 300)}, queues.ErrInvalid},
	} {
		if _, err := b.m.Enqueue(c, "jobs", []byte(tc.body), tc.opts); !errors.Is(err, tc.want) {
			t.Errorf("enqueue %q %+v: %v, want %v", tc.body, tc.opts, err, tc.want)
		}
	}
	for _, o := range []queues.ClaimOptions{{Max: -1}, {Max: 1001}, {Wait: time.Hour}} {
		if _, err := b.m.Claim(c, "jobs", o); !errors.Is(err, queues.ErrInvalid) {
			t.Errorf("claim %+v: %v, want ErrInvalid", o, err)
		}
	}

	b.enqueue(t, "jobs", `1`)
	b.enqueue(t, "other", `1`)
	good := b.claimOne(t, "jobs").Receipt
	foreign := b.claimOne(t, "other").Receipt
	for _, bad := range []string{"", "!!", base64.RawURLEncoding.EncodeToString([]byte("$JS.ACK.x")), foreign,
		base64.RawURLEncoding.EncodeToString([]byte("$JS.ACK.RF_Q_jobs.rf-workers.1.999.1.1.0"))} {
		// A batch with one bad receipt settles none.
		if _, err := b.m.Ack(c, "jobs", []string{good, bad}); !errors.Is(err, queues.ErrInvalidReceipt) {
			t.Errorf("ack %q: %v, want ErrInvalidReceipt", bad, err)
		}
	}
	if st := b.stats(t, "jobs"); st.InFlight != 1 {
		t.Fatalf("stats %+v: a bad batch settled something", st)
	}
	if _, err := b.m.Ack(c, "jobs", []string{good}); err != nil {
		t.Fatal(err)
	}
}
