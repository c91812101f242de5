package queues_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait: a test that hangs fails instead.
const waitFor = 15 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// bundle is a Manager over a real embedded JetStream in dir.
type bundle struct {
	dir string
	log *eventlog.Log
	m   *queues.Manager
}

// setup opens an embedded log in a fresh directory, closed when the test ends.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir()}
	b.open(t)
	t.Cleanup(func() { b.close(t) })
	return b
}

// open opens the log in b.dir and a Manager on it.
func (b *bundle) open(t *testing.T) {
	t.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: b.dir, Logger: quiet()})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	m, err := queues.New(l.JetStream(), &queues.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	b.log, b.m = l, m
}

// close closes the log, once.
func (b *bundle) close(t *testing.T) {
	t.Helper()
	if b.log == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.log.Close(ctx); err != nil {
		t.Errorf("close log: %v", err)
	}
	b.log = nil
}

// restart closes the log and opens it again on the same directory.
func (b *bundle) restart(t *testing.T) {
	t.Helper()
	b.close(t)
	b.open(t)
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// put creates a queue or fails the test.
func (b *bundle) put(t *testing.T, name string, cfg queues.Config) queues.Config {
	t.Helper()
	got, _, err := b.m.Put(ctx(t), name, cfg)
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	return got
}

// enqueue adds a message or fails the test.
func (b *bundle) enqueue(t *testing.T, name, body string, opts ...queues.EnqueueOptions) queues.Enqueued {
	t.Helper()
	var o queues.EnqueueOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	res, err := b.m.Enqueue(ctx(t), name, []byte(body), o)
	if err != nil {
		t.Fatalf("enqueue %s: %v", body, err)
	}
	return res
}

// claim claims up to max messages, waiting up to wait for the first.
func (b *bundle) claim(t *testing.T, name string, max int, wait time.Duration) []queues.Message {
	t.Helper()
	msgs, err := b.m.Claim(ctx(t), name, queues.ClaimOptions{Max: max, Wait: wait})
	if err != nil {
		t.Fatalf("claim %s: %v", name, err)
	}
	return msgs
}

// claimOne claims exactly one message, waiting for it.
func (b *bundle) claimOne(t *testing.T, name string) queues.Message {
	t.Helper()
	msgs := b.claim(t, name, 1, 10*time.Second)
	if len(msgs) != 1 {
		t.Fatalf("claim %s: %d messages, want 1", name, len(msgs))
	}
	return msgs[0]
}

// stats reads a queue's counts.
func (b *bundle) stats(t *testing.T, name string) queues.Stats {
	t.Helper()
	info, err := b.m.Get(ctx(t), name)
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return info.Stats
}
