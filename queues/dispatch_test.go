package queues_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/queues"
)

// A held-back message is not claimable before it is due, is counted as
// delayed meanwhile, and is claimable after.
func TestDelayedDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	start := time.Now()
	b.enqueue(t, "jobs", `"later"`, queues.EnqueueOptions{Delay: 700 * time.Millisecond})
	at := b.enqueue(t, "jobs", `"at"`, queues.EnqueueOptions{DeliverAt: start.Add(300 * time.Millisecond)}).ID
	now := b.enqueue(t, "jobs", `"now"`).ID
	if m := b.claimOne(t, "jobs"); m.ID != now {
		t.Fatalf("claimed %s first, want the message without delay %s", m.ID, now)
	}
	waitUntil(t, "two delayed", func() bool { return b.stats(t, "jobs").Delayed == 2 })
	m := b.claimOne(t, "jobs")
	if m.ID != at || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("claimed %s after %v, want %s after 300ms", m.ID, time.Since(start), at)
	}
	m = b.claimOne(t, "jobs")
	if string(m.Body) != `"later"` || time.Since(start) < 700*time.Millisecond {
		t.Fatalf("claimed %s after %v, want \"later\" after 700ms", m.Body, time.Since(start))
	}
	if st := b.stats(t, "jobs"); st.Delayed != 0 || st.Depth != 0 || st.InFlight != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// Per-key FIFO under concurrent workers: a key's messages are claimed in
// enqueue order, never two of one key in flight, while other keys go on.
func TestKeyOrderUnderConcurrency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	const keys, perKey = 6, 15
	var items []queues.BatchItem
	for i := range perKey {
		for k := range keys {
			items = append(items, queues.BatchItem{Body: json.RawMessage(fmt.Sprintf(`{"k":%d,"i":%d}`, k, i)),
				Options: queues.EnqueueOptions{Key: fmt.Sprintf("key-%d", k)}})
		}
	}
	items = append(items, queues.BatchItem{Body: json.RawMessage(`{"k":-1}`)}) // one without a key
	res, err := b.m.EnqueueBatch(ctx(t), "jobs", items)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
	}
	var mu sync.Mutex
	inFlight := map[string]bool{}
	next := map[int]int{}
	done := 0
	var wg sync.WaitGroup
	c := ctx(t)
	for range 8 {
		wg.Go(func() {
			for c.Err() == nil {
				msgs, err := b.m.Claim(c, "jobs", queues.ClaimOptions{Max: 3, Wait: 200 * time.Millisecond})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if done == len(items) {
					mu.Unlock()
					return
				}
				for _, m := range msgs {
					var body struct{ K, I int }
					_ = json.Unmarshal(m.Body, &body)
					if m.Key != "" {
						if inFlight[m.Key] {
							t.Errorf("key %s: two messages in flight", m.Key)
						}
						inFlight[m.Key] = true
						if body.I != next[body.K] {
							t.Errorf("key %s: got message %d, want %d", m.Key, body.I, next[body.K])
						}
						next[body.K] = body.I + 1
					}
				}
				mu.Unlock()
				time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond) // work
				for _, m := range msgs {
					mu.Lock()
					delete(inFlight, m.Key)
					done++
					mu.Unlock()
					if _, err := b.m.Ack(c, "jobs", []string{m.Receipt}); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if done != len(items) {
		t.Fatalf("settled %d of %d", done, len(items))
	}
}

// Urgent messages enqueued behind a backlog go first: with a small ready
// window the dispatcher chooses, and priority 1 overtakes priority 5.
func TestPriorityOvertakesBacklog(t *testing.T) {
	t.Parallel()
	b := setupWith(t, queues.Options{ReadyWindow: 2})
	b.put(t, "jobs", queues.Config{})
	for i := range 30 {
		b.enqueue(t, "jobs", fmt.Sprint(i), queues.EnqueueOptions{Priority: queues.LowestPriority})
	}
	waitUntil(t, "the window full", func() bool { return b.stats(t, "jobs").Depth == 30 })
	for i := range 5 {
		b.enqueue(t, "jobs", fmt.Sprintf(`"urgent %d"`, i), queues.EnqueueOptions{Priority: queues.HighestPriority})
	}
	lastUrgent, lows := -1, 0
	for pos := range 35 {
		m := b.claimOne(t, "jobs")
		if m.Priority == queues.HighestPriority {
			lastUrgent = pos
		} else {
			lows++
		}
		if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
			t.Fatal(err)
		}
	}
	// Two low ones were ready before the urgent ones came; the weights let
	// at most one more low one through per 16 urgent turns.
	if lastUrgent > 8 || lows != 30 {
		t.Fatalf("last urgent message at position %d (want <= 8), %d low", lastUrgent, lows)
	}
}

// concurrency bounds the messages ready or in flight; a settle makes room.
func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{Concurrency: 3})
	for i := range 10 {
		b.enqueue(t, "jobs", fmt.Sprint(i))
	}
	got := b.claimN(t, "jobs", 3)
	if more := b.claim(t, "jobs", 10, 300*time.Millisecond); len(more) != 0 {
		t.Fatalf("claimed %d more with 3 in flight and concurrency 3", len(more))
	}
	if _, err := b.m.Ack(ctx(t), "jobs", []string{got[0].Receipt}); err != nil {
		t.Fatal(err)
	}
	if more := b.claimN(t, "jobs", 1); more[0].ID == got[0].ID {
		t.Fatal("the acked message came back")
	}
	// Raised at runtime, the limit takes effect at once.
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{Concurrency: new(0)}); err != nil {
		t.Fatal(err)
	}
	b.claimN(t, "jobs", 6)
}

// ratePerSecond bounds how fast messages become ready.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{RatePerSecond: 20})
	items := make([]queues.BatchItem, 30)
	for i := range items {
		items[i].Body = json.RawMessage(fmt.Sprint(i))
	}
	start := time.Now()
	if _, err := b.m.EnqueueBatch(ctx(t), "jobs", items); err != nil {
		t.Fatal(err)
	}
	b.claimN(t, "jobs", 30)
	// 30 at 20/s with a burst of at most 20: at least half a second.
	if took := time.Since(start); took < 500*time.Millisecond {
		t.Fatalf("30 messages ready in %v at 20/s", took)
	}
}

// Overflow "block" makes a producer wait for room up to blockMs.
func TestBlockOverflow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxMessages: 2, Overflow: queues.OverflowBlock, BlockMs: 10_000})
	b.enqueue(t, "jobs", `1`)
	b.enqueue(t, "jobs", `2`)
	type result struct {
		res queues.Enqueued
		err error
	}
	blocked := make(chan result, 1)
	go func() {
		r, err := b.m.Enqueue(ctx(t), "jobs", []byte(`3`), queues.EnqueueOptions{})
		blocked <- result{r, err}
	}()
	select {
	case r := <-blocked:
		t.Fatalf("enqueue into a full queue returned at once: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	m := b.claimOne(t, "jobs")
	if _, err := b.m.Ack(ctx(t), "jobs", []string{m.Receipt}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-blocked:
		if r.err != nil || r.res.ID == "" {
			t.Fatalf("blocked enqueue: %+v", r)
		}
	case <-time.After(waitFor):
		t.Fatal("the blocked enqueue did not go in when room was made")
	}
	// Without room within blockMs: queue_full after waiting.
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{BlockMs: new(int64(200))}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := b.m.Enqueue(ctx(t), "jobs", []byte(`4`), queues.EnqueueOptions{})
	if !errors.Is(err, queues.ErrFull) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("after %v: %v, want ErrFull after blockMs", time.Since(start), err)
	}
}

// A batch: each item succeeds or fails on its own.
func TestEnqueueBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{MaxMessageBytes: 10})
	res, err := b.m.EnqueueBatch(ctx(t), "jobs", []queues.BatchItem{
		{Body: json.RawMessage(`1`)},
		{Body: json.RawMessage(`"far too long for ten bytes"`)},
		{Body: json.RawMessage(`2`), Options: queues.EnqueueOptions{Priority: 9}},
		{Body: json.RawMessage(`3`), Options: queues.EnqueueOptions{DedupID: "d"}},
		{Body: json.RawMessage(`4`), Options: queues.EnqueueOptions{DedupID: "d"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || !errors.Is(res[1].Err, queues.ErrTooLarge) || !errors.Is(res[2].Err, queues.ErrInvalid) ||
		res[3].Err != nil || res[4].Err != nil || !res[4].Duplicate || res[4].ID != res[3].ID {
		t.Fatalf("results %+v", res)
	}
	if _, err := b.m.EnqueueBatch(ctx(t), "jobs", nil); !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("empty batch: %v", err)
	}
	if _, err := b.m.EnqueueBatch(ctx(t), "nope", []queues.BatchItem{{Body: json.RawMessage(`1`)}}); !errors.Is(err, queues.ErrNotFound) {
		t.Fatalf("unknown queue: %v", err)
	}
	b.claimN(t, "jobs", 2)
}

// A claim's own lease: shorter than ackWaitMs releases sooner; longer is
// renewed past ackWaitMs.
func TestClaimLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "short", queues.Config{AckWaitMs: 30_000})
	b.enqueue(t, "short", `1`)
	first, err := b.m.Claim(ctx(t), "short", queues.ClaimOptions{Max: 1, Wait: waitFor, Lease: 200 * time.Millisecond})
	if err != nil || len(first) != 1 {
		t.Fatalf("claim: %v %v", first, err)
	}
	again := b.claimOne(t, "short") // long before ackWaitMs
	if again.ID != first[0].ID || again.Attempt != 2 {
		t.Fatalf("after a 200ms lease: %+v", again)
	}

	b.put(t, "long", queues.Config{AckWaitMs: 300})
	b.enqueue(t, "long", `1`)
	held, err := b.m.Claim(ctx(t), "long", queues.ClaimOptions{Max: 1, Wait: waitFor, Lease: 1500 * time.Millisecond})
	if err != nil || len(held) != 1 {
		t.Fatalf("claim: %v %v", held, err)
	}
	if got := b.claim(t, "long", 1, time.Second); len(got) != 0 {
		t.Fatalf("redelivered within its 1.5s lease (ackWaitMs 300): %+v", got)
	}
	if got := b.claimOne(t, "long"); got.ID != held[0].ID || got.Attempt != 2 {
		t.Fatalf("after the lease: %+v", got)
	}
	if _, err := b.m.Claim(ctx(t), "long", queues.ClaimOptions{Lease: queues.MaxLease + time.Second}); !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("lease over the bound: %v", err)
	}
}

// Configuration changes are recorded, newest first, with the fields.
func TestConfigHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{Concurrency: new(4), AckWaitMs: new(int64(5000))}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{Concurrency: new(4)}); err != nil { // no change: not recorded
		t.Fatal(err)
	}
	if err := b.m.Delete(ctx(t), "jobs"); err != nil {
		t.Fatal(err)
	}
	hist, err := b.m.History(ctx(t), "jobs", 10)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, c := range hist {
		kinds = append(kinds, c.Kind)
	}
	if fmt.Sprint(kinds) != "[deleted updated created]" || fmt.Sprint(hist[1].Fields) != "[ackWaitMs concurrency]" ||
		hist[1].Config.Concurrency != 4 {
		t.Fatalf("history %+v", hist)
	}
	if _, err := b.m.History(ctx(t), "jobs", 0); !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
}

// Purge empties the queue, waiting and in flight; the dispatcher starts
// over and later messages flow.
func TestPurge(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	for i := range 5 {
		b.enqueue(t, "jobs", fmt.Sprint(i), queues.EnqueueOptions{Delay: time.Duration(i) * time.Hour})
	}
	b.claimOne(t, "jobs")
	n, err := b.m.Purge(ctx(t), "jobs")
	if err != nil || n != 5 {
		t.Fatalf("purged %d, %v; want 5", n, err)
	}
	waitUntil(t, "empty", func() bool { st := b.stats(t, "jobs"); return st.Depth == 0 && st.InFlight == 0 && st.Delayed == 0 })
	id := b.enqueue(t, "jobs", `"after"`).ID
	if m := b.claimOne(t, "jobs"); m.ID != id {
		t.Fatalf("claimed %s, want %s", m.ID, id)
	}
}

// Two Managers on one JetStream: one dispatches; when it stops, the other
// takes over at once (the lease is handed back) and nothing is lost.
func TestDispatcherTakeover(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{})
	other, err := queues.New(b.log.JetStream(), &queues.Options{Logger: quiet(), NodeID: "other-node"})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = other.Stop(context.Background()) }()
	b.enqueue(t, "jobs", `1`, queues.EnqueueOptions{Delay: 500 * time.Millisecond})
	b.enqueue(t, "jobs", `2`)
	b.claimN(t, "jobs", 1)
	if err := b.m.Stop(ctx(t)); err != nil { // the first one dispatched (it started first)
		t.Fatal(err)
	}
	b.enqueue(t, "jobs", `3`)
	start := time.Now()
	msgs, err := other.Claim(ctx(t), "jobs", queues.ClaimOptions{Max: 2, Wait: waitFor})
	for err == nil && len(msgs) < 2 {
		var more []queues.Message
		more, err = other.Claim(ctx(t), "jobs", queues.ClaimOptions{Max: 2 - len(msgs), Wait: waitFor})
		msgs = append(msgs, more...)
	}
	if err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("after the takeover: %d messages in %v, %v", len(msgs), time.Since(start), err)
	}
	if err := b.m.Start(context.Background()); err != nil { // for the cleanup's Stop
		t.Fatal(err)
	}
}

// waitUntil polls cond (a state with no event to wait on) until it holds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// backoffJitter spreads nack delays around the backoff step; out of
// bounds it is refused.
func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.put(t, "jobs", queues.Config{BackoffMs: []int64{400}, BackoffJitter: 0.5})
	for _, bad := range []float64{-0.1, 1.1} {
		if _, err := b.m.Update(ctx(t), "jobs", queues.Patch{BackoffJitter: &bad}); !errors.Is(err, queues.ErrInvalid) {
			t.Fatalf("jitter %v: %v, want ErrInvalid", bad, err)
		}
	}
	b.enqueue(t, "jobs", `1`)
	m := b.claimOne(t, "jobs")
	start := time.Now()
	if _, err := b.m.Nack(ctx(t), "jobs", []string{m.Receipt}, nil); err != nil {
		t.Fatal(err)
	}
	again := b.claimOne(t, "jobs")
	// 400 ms ± 50%: between 200 and 600 ms (and some slack for a loaded machine).
	if took := time.Since(start); again.Attempt != 2 || took < 190*time.Millisecond || took > 5*time.Second {
		t.Fatalf("redelivered after %v (attempt %d), want 200-600ms", took, again.Attempt)
	}
}

// A node with another ready window resizes the queue's ready stream when
// it takes the queue.
func TestReadyWindowFollowsTheNode(t *testing.T) {
	t.Parallel()
	b := setupWith(t, queues.Options{ReadyWindow: 10})
	b.put(t, "jobs", queues.Config{})
	maxMsgs := func() int64 {
		s, err := b.log.JetStream().Stream(ctx(t), "RF_QR_jobs")
		if err != nil {
			t.Fatal(err)
		}
		return s.CachedInfo().Config.MaxMsgs
	}
	if got := maxMsgs(); got != 2*(10+10_000) {
		t.Fatalf("ready stream bound %d with window 10", got)
	}
	b.opts.ReadyWindow = 5000
	b.restart(t)
	b.enqueue(t, "jobs", `1`)
	b.claimOne(t, "jobs") // the dispatcher has taken the queue
	if got := maxMsgs(); got != 2*(5000+10_000) {
		t.Fatalf("ready stream bound %d after a restart with window 5000", got)
	}
}
