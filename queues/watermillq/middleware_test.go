package watermillq_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

// Retry retries in process; PoisonQueueWithFilter(IsPermanent) poisons only
// permanent errors (the original is acked); other errors are nacked, so the
// queue redelivers up to maxDeliveries and then dead-letters the message.
func TestRetryAndPoisonFilter(t *testing.T) {
	e := setup(t)
	e.put(t, "jobs", queues.Config{MaxDeliveries: 2})
	e.put(t, "poison", queues.Config{})
	e.publish(t, "jobs", `{"kind":"transient"}`, `{"kind":"bad"}`)

	poison, err := middleware.PoisonQueueWithFilter(e.pub, "poison", watermillq.IsPermanent)
	if err != nil {
		t.Fatal(err)
	}
	retry := middleware.Retry{MaxRetries: 2, InitialInterval: time.Millisecond,
		ShouldRetry: func(p middleware.RetryParams) bool { return !watermillq.IsPermanent(p.Err) }}
	var mu sync.Mutex
	calls := map[string][]int{}
	e.router(t, "jobs", watermillq.SubscriberConfig{}, func(msg *message.Message) error {
		var body struct{ Kind string }
		_ = json.Unmarshal(msg.Payload, &body)
		mu.Lock()
		calls[body.Kind] = append(calls[body.Kind], watermillq.Attempt(msg))
		mu.Unlock()
		if body.Kind == "bad" {
			return watermillq.Permanent(errors.New("malformed"))
		}
		return errors.New("downstream unavailable")
	}, poison, retry.Middleware)

	eventually(t, "a dead letter", func() bool {
		page, err := e.m.ListDeadLetters(ctx(t), "jobs", 10, "")
		return err == nil && len(page.Items) == 1
	})
	eventually(t, "a poisoned message", func() bool { return e.stats(t, "poison").Depth == 1 })
	eventually(t, "an empty queue", func() bool { s := e.stats(t, "jobs"); return s.Depth == 0 && s.InFlight == 0 })
	page, err := e.m.ListDeadLetters(ctx(t), "jobs", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := string(page.Items[0].Body); got != `{"kind":"transient"}` {
		t.Errorf("dead letter %s", got)
	}
	msgs, err := e.m.Claim(ctx(t), "poison", queues.ClaimOptions{Max: 10})
	if err != nil || len(msgs) != 1 || string(msgs[0].Body) != `{"kind":"bad"}` {
		t.Fatalf("poison queue: %v %v", msgs, err)
	}
	mu.Lock()
	defer mu.Unlock()
	// 3 runs (1 + 2 retries) per delivery, 2 deliveries.
	if got := fmt.Sprint(calls["transient"]); got != "[1 1 1 2 2 2]" {
		t.Errorf("transient runs by attempt %s", got)
	}
	if got := fmt.Sprint(calls["bad"]); got != "[1]" {
		t.Errorf("bad runs by attempt %s", got)
	}
}
