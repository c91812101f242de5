package watermillq_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

// A service consumes a queue with Watermill's router: a failed delivery is
// nacked and comes back with the next attempt.
func Example() {
	ctx := context.Background()
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))

	// An embedded log; a service would use its node's (eventlog.Log.JetStream).
	dir, err := os.MkdirTemp("", "watermillq-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: lg})
	if err != nil {
		panic(err)
	}
	defer l.Close(ctx)
	m, err := queues.New(l.JetStream(), &queues.Options{Logger: lg})
	if err != nil {
		panic(err)
	}
	// Start makes enqueued messages ready for claims (the queue's dispatcher).
	if err := m.Start(ctx); err != nil {
		panic(err)
	}
	defer m.Stop(ctx)
	if _, _, err := m.Put(ctx, "emails", queues.Config{MaxDeliveries: 3}); err != nil {
		panic(err)
	}

	pub, err := watermillq.NewPublisher(m, watermillq.PublisherConfig{})
	if err != nil {
		panic(err)
	}
	for _, to := range []string{"ada", "bob", "cy"} {
		msg := message.NewMessage(watermill.NewUUID(), fmt.Appendf(nil, `{"to":%q}`, to))
		if err := pub.Publish("emails", msg); err != nil {
			panic(err)
		}
	}

	sub, err := watermillq.NewSubscriber(m, watermillq.SubscriberConfig{MaxInFlight: 16, Logger: lg})
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		panic(err)
	}
	sent := make(chan string, 3)
	router.AddConsumerHandler("send-email", "emails", sub, func(msg *message.Message) error {
		var email struct{ To string }
		if err := json.Unmarshal(msg.Payload, &email); err != nil {
			return watermillq.Permanent(err)
		}
		if email.To == "bob" && watermillq.Attempt(msg) == 1 {
			return errors.New("smtp timeout") // nacked: the queue redelivers it
		}
		sent <- fmt.Sprintf("sent to %s (attempt %d)", email.To, watermillq.Attempt(msg))
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()

	var lines []string
	for range 3 {
		lines = append(lines, <-sent)
	}
	if err := router.Close(); err != nil {
		panic(err)
	}
	if err := <-done; err != nil {
		panic(err)
	}
	slices.Sort(lines) // handlers run concurrently
	for _, line := range lines {
		fmt.Println(line)
	}
	// Output:
	// sent to ada (attempt 1)
	// sent to bob (attempt 2)
	// sent to cy (attempt 1)
}
