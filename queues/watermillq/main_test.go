package watermillq_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/queues/watermillq"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait: a test that hangs fails instead.
const waitFor = 20 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a Manager over a real embedded JetStream, closed when the test ends.
type env struct {
	m   *queues.Manager
	pub *watermillq.Publisher
}

func setup(t *testing.T) *env {
	t.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	m, err := queues.New(l.JetStream(), &queues.Options{Logger: quiet()})
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
	pub, err := watermillq.NewPublisher(m, watermillq.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{m: m, pub: pub}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

func (e *env) put(t *testing.T, name string, cfg queues.Config) {
	t.Helper()
	if _, _, err := e.m.Put(ctx(t), name, cfg); err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
}

func (e *env) publish(t *testing.T, topic string, payloads ...string) {
	t.Helper()
	for _, p := range payloads {
		if err := e.pub.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(p))); err != nil {
			t.Fatalf("publish %s: %v", p, err)
		}
	}
}

func (e *env) stats(t *testing.T, name string) queues.Stats {
	t.Helper()
	info, err := e.m.Get(ctx(t), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return info.Stats
}

func (e *env) subscriber(t *testing.T, cfg watermillq.SubscriberConfig) *watermillq.Subscriber {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = 200 * time.Millisecond
	}
	s, err := watermillq.NewSubscriber(e.m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// router runs a router with one handler on topic, stopped (and its
// subscriber closed) when the test ends.
func (e *env) router(t *testing.T, topic string, cfg watermillq.SubscriberConfig, h message.NoPublishHandlerFunc, mw ...message.HandlerMiddleware) {
	t.Helper()
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	r.AddMiddleware(mw...)
	sub := e.subscriber(t, cfg)
	r.AddConsumerHandler("h", topic, sub, h)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	select {
	case <-r.Running():
	case <-time.After(waitFor):
		t.Fatal("router did not start")
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close router: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("router: %v", err)
		}
		if err := sub.Close(); err != nil {
			t.Errorf("close subscriber: %v", err)
		}
	})
}

// eventually polls cond until it holds or the wait ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
