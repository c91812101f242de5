// Command queueworker is a Go service consuming a rivet-flow queue with
// Watermill's router through package queues/watermillq. It opens an
// embedded log in a temporary directory, creates a queue (1 s lease, 3
// deliveries), publishes a few jobs and consumes them concurrently:
//
//   - "slow" runs longer than the lease and is not redelivered meanwhile
//     (the subscriber renews its lease);
//
//   - "flaky" fails once: it is nacked and comes back as attempt 2;
//
//   - "broken" always fails: after 3 deliveries the queue moves it to its
//     dead letters.
//
//     go run ./examples/queueworker
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "queueworker:", err)
		os.Exit(1)
	}
}

type job struct {
	Name string `json:"name"`
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lg := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("%5.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	dir, err := os.MkdirTemp("", "queueworker")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: lg})
	if err != nil {
		return err
	}
	defer l.Close(context.Background())
	m, err := queues.New(l.JetStream(), &queues.Options{Logger: lg})
	if err == nil {
		err = m.Start(ctx) // makes enqueued messages ready for claims
		defer m.Stop(context.WithoutCancel(ctx))
	}
	if err != nil {
		return err
	}
	cfg, _, err := m.Put(ctx, "jobs", queues.Config{AckWaitMs: 1000, MaxDeliveries: 3})
	if err != nil {
		return err
	}
	say("queue %q: ackWaitMs %d, maxDeliveries %d (embedded log in %s)", "jobs", cfg.AckWaitMs, cfg.MaxDeliveries, dir)

	pub, err := watermillq.NewPublisher(m, watermillq.PublisherConfig{})
	if err != nil {
		return err
	}
	names := []string{"slow", "flaky", "broken", "quick-1", "quick-2"}
	for _, name := range names {
		body, _ := json.Marshal(job{Name: name})
		if err := pub.Publish("jobs", message.NewMessage(watermill.NewUUID(), body)); err != nil {
			return err
		}
	}
	say("published %d jobs", len(names))

	sub, err := watermillq.NewSubscriber(m, watermillq.SubscriberConfig{MaxInFlight: 8, ClaimWait: time.Second, Logger: lg})
	if err != nil {
		return err
	}
	defer sub.Close()
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		return err
	}
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ran = map[string]int{}
	)
	wg.Add(4) // slow, flaky, quick-1, quick-2 succeed once each
	router.AddConsumerHandler("worker", "jobs", sub, func(msg *message.Message) error {
		var j job
		if err := json.Unmarshal(msg.Payload, &j); err != nil {
			return watermillq.Permanent(err)
		}
		attempt := watermillq.Attempt(msg)
		mu.Lock()
		ran[j.Name]++
		mu.Unlock()
		say("%-8s attempt %d (message %s)", j.Name, attempt, msg.Metadata.Get(watermillq.MetadataMessageID))
		switch {
		case j.Name == "slow":
			time.Sleep(2500 * time.Millisecond) // 2.5 leases
		case j.Name == "flaky" && attempt == 1:
			return errors.New("flaky: try again")
		case j.Name == "broken":
			return errors.New("broken: always fails")
		}
		say("%-8s done", j.Name)
		wg.Done()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	<-router.Running()

	wg.Wait()
	// The broken job's third failure is dead-lettered by the next claim.
	for {
		page, err := m.ListDeadLetters(ctx, "jobs", 10, "")
		if err != nil {
			return err
		}
		if len(page.Items) > 0 {
			for _, d := range page.Items {
				say("dead letter: message %s %s (%s)", d.MessageID, d.Body, d.Reason)
			}
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := router.Close(); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	say("handler runs: slow %d, flaky %d, broken %d, quick-1 %d, quick-2 %d",
		ran["slow"], ran["flaky"], ran["broken"], ran["quick-1"], ran["quick-2"])
	return nil
}
