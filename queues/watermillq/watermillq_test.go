package watermillq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

// A router consumes every message exactly once, many at a time.
func TestRouterConsumesEachOnce(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{})
	const n = 200
	for i := range n {
		e.publish(t, "jobs", fmt.Sprintf(`{"n":%d}`, i))
	}
	var (
		mu            sync.Mutex
		seen          = map[int]int{}
		running, peak atomic.Int32
	)
	e.router(t, "jobs", watermillq.SubscriberConfig{MaxInFlight: 32, ClaimBatch: 8}, func(msg *message.Message) error {
		cur := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		var body struct{ N int }
		if err := json.Unmarshal(msg.Payload, &body); err != nil {
			return watermillq.Permanent(err)
		}
		if watermillq.Attempt(msg) != 1 || msg.Metadata.Get(watermillq.MetadataQueue) != "jobs" || msg.UUID != "jobs/"+msg.Metadata.Get(watermillq.MetadataMessageID) {
			t.Errorf("message %d: metadata %v, uuid %s", body.N, msg.Metadata, msg.UUID)
		}
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		seen[body.N]++
		mu.Unlock()
		return nil
	})
	eventually(t, "all messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == n })
	eventually(t, "an empty queue", func() bool { s := e.stats(t, "jobs"); return s.Depth == 0 && s.InFlight == 0 })
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for i := range n {
		if seen[i] != 1 {
			t.Errorf("message %d handled %d times", i, seen[i])
		}
	}
	if p := peak.Load(); p < 2 || p > 32 {
		t.Errorf("peak concurrency %d, want 2 to 32", p)
	}
}

// A handler error nacks: the queue redelivers the message with attempt 2.
func TestHandlerErrorRedelivers(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{})
	e.publish(t, "jobs", `"once"`)
	attempts := make(chan int, 10)
	e.router(t, "jobs", watermillq.SubscriberConfig{}, func(msg *message.Message) error {
		a := watermillq.Attempt(msg)
		attempts <- a
		if a == 1 {
			return errors.New("transient")
		}
		return nil
	})
	for want := 1; want <= 2; want++ {
		select {
		case got := <-attempts:
			if got != want {
				t.Fatalf("attempt %d, want %d", got, want)
			}
		case <-time.After(waitFor):
			t.Fatalf("no attempt %d", want)
		}
	}
	eventually(t, "an empty queue", func() bool { s := e.stats(t, "jobs"); return s.Depth == 0 && s.InFlight == 0 })
	select {
	case a := <-attempts:
		t.Fatalf("unexpected attempt %d", a)
	case <-time.After(300 * time.Millisecond):
	}
}

// A handler slower than ackWait keeps its lease: no redelivery meanwhile.
func TestSlowHandlerHeartbeat(t *testing.T) {
	e := setup(t)
	e.put(t, "slow", queues.Config{AckWaitMs: 1000})
	e.publish(t, "slow", `"slow"`)
	var calls atomic.Int32
	done := make(chan struct{})
	e.router(t, "slow", watermillq.SubscriberConfig{}, func(msg *message.Message) error {
		if calls.Add(1) == 1 {
			time.Sleep(3500 * time.Millisecond)
			close(done)
		}
		return nil
	})
	select {
	case <-done:
	case <-time.After(waitFor):
		t.Fatal("the handler did not finish")
	}
	eventually(t, "an empty queue", func() bool { s := e.stats(t, "slow"); return s.Depth == 0 && s.InFlight == 0 })
	time.Sleep(1500 * time.Millisecond) // past another lease
	if n := calls.Load(); n != 1 {
		t.Fatalf("handled %d times, want 1", n)
	}
}

// Close nacks the messages in flight (they come back at once, attempt 2),
// closes the channel and leaks nothing (TestMain's goleak).
func TestCloseNacksInFlight(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{AckWaitMs: 60_000})
	const n = 5
	for i := range n {
		e.publish(t, "jobs", fmt.Sprint(i))
	}
	sub := e.subscriber(t, watermillq.SubscriberConfig{})
	ch, err := sub.Subscribe(ctx(t), "jobs")
	if err != nil {
		t.Fatal(err)
	}
	var held []*message.Message
	for range n {
		select {
		case msg := <-ch:
			held = append(held, msg)
		case <-time.After(waitFor):
			t.Fatal("no message")
		}
	}
	if s := e.stats(t, "jobs"); s.InFlight != n {
		t.Fatalf("in flight %d, want %d", s.InFlight, n)
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-ch; ok {
		t.Fatal("channel open after Close")
	}
	for _, msg := range held {
		if msg.Context().Err() == nil {
			t.Error("message context not cancelled after Close")
		}
	}
	// (Stats.InFlight still counts a nacked message until its redelivery:
	// JetStream keeps it ack-pending; claiming shows it is back.)
	if _, err := sub.Subscribe(ctx(t), "jobs"); !errors.Is(err, watermillq.ErrClosed) {
		t.Fatalf("subscribe after Close: %v", err)
	}
	// Each nack reaches JetStream on its own: claim until all n are back
	// (each claim long-polls for the next).
	var msgs []queues.Message
	deadline := time.Now().Add(waitFor)
	for len(msgs) < n && time.Now().Before(deadline) {
		got, err := e.m.Claim(ctx(t), "jobs", queues.ClaimOptions{Max: n - len(msgs), Wait: time.Second})
		if err != nil {
			t.Fatalf("claim after Close: %v", err)
		}
		msgs = append(msgs, got...)
	}
	if len(msgs) != n {
		t.Fatalf("claim after Close: %d messages back, want %d", len(msgs), n)
	}
	for _, m := range msgs {
		if m.Attempt != 2 {
			t.Errorf("message %s attempt %d, want 2", m.ID, m.Attempt)
		}
	}
}

// Cancelling Subscribe's context ends that subscription alone.
func TestSubscribeContextCancel(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{})
	sub := e.subscriber(t, watermillq.SubscriberConfig{})
	defer sub.Close()
	c, cancel := context.WithCancel(ctx(t))
	ch, err := sub.Subscribe(c, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a message on an empty queue")
		}
	case <-time.After(waitFor):
		t.Fatal("channel not closed after cancel")
	}
	if _, err := sub.Subscribe(ctx(t), "missing"); !errors.Is(err, queues.ErrNotFound) {
		t.Fatalf("subscribe to a missing queue: %v", err)
	}
}

// With Envelope on both sides UUID and metadata (a correlation ID) cross
// the queue; the UUID is the dedup ID, so a second publish adds nothing.
func TestEnvelopeAndDedup(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{})
	pub, err := watermillq.NewPublisher(e.m, watermillq.PublisherConfig{Envelope: true})
	if err != nil {
		t.Fatal(err)
	}
	msg := message.NewMessage(watermill.NewUUID(), []byte("not json"))
	msg.Metadata.Set("correlation_id", "corr-1") // middleware.CorrelationIDMetadataKey
	for range 2 {
		if err := pub.Publish("jobs", msg); err != nil {
			t.Fatal(err)
		}
	}
	if d := e.stats(t, "jobs").Depth; d != 1 {
		t.Fatalf("depth %d after a duplicate publish, want 1", d)
	}
	if err := e.pub.Publish("jobs", message.NewMessage(watermill.NewUUID(), []byte("not json"))); !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("plain publish of a non-JSON payload: %v", err)
	}
	sub := e.subscriber(t, watermillq.SubscriberConfig{Envelope: true})
	defer sub.Close()
	ch, err := sub.Subscribe(ctx(t), "jobs")
	if err != nil {
		t.Fatal(err)
	}
	got := <-ch
	if got.UUID != msg.UUID || string(got.Payload) != "not json" || got.Metadata.Get("correlation_id") != "corr-1" || watermillq.Attempt(got) != 1 {
		t.Fatalf("got %s %q %v", got.UUID, got.Payload, got.Metadata)
	}
	got.Ack()
	eventually(t, "an empty queue", func() bool { s := e.stats(t, "jobs"); return s.Depth == 0 && s.InFlight == 0 })
}
