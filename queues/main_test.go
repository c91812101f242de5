package queues_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/queues"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait: a test that hangs fails instead.
const waitFor = 15 * time.Second

func quiet() *slog.Logger {
	if os.Getenv("QUEUES_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// bundle is a Manager over a real embedded JetStream in dir.
type bundle struct {
	dir  string
	log  *eventlog.Log
	m    *queues.Manager
	opts queues.Options
}

// setup opens an embedded log in a fresh directory, closed when the test ends.
func setup(t *testing.T) *bundle {
	t.Helper()
	return setupWith(t, queues.Options{})
}

// setupWith is setup with Manager options (Logger and NodeID are set).
func setupWith(t *testing.T, opts queues.Options) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir(), opts: opts}
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
	opts := b.opts
	opts.Logger, opts.NodeID = quiet(), "test-node"
	m, err := queues.New(l.JetStream(), &opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
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
	if err := b.m.Stop(ctx); err != nil {
		t.Errorf("stop queues: %v", err)
	}
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

// claimN claims until it holds n messages (a message is claimable once the
// dispatcher made it ready, a moment after its enqueue).
func (b *bundle) claimN(t *testing.T, name string, n int) []queues.Message {
	t.Helper()
	var out []queues.Message
	deadline := time.Now().Add(waitFor)
	for len(out) < n && time.Now().Before(deadline) {
		out = append(out, b.claim(t, name, n-len(out), time.Until(deadline))...)
	}
	if len(out) != n {
		t.Fatalf("claim %s: %d messages, want %d", name, len(out), n)
	}
	return out
}
