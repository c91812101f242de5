package snapshot

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testBundle is what setup hands a test besides the store.
type testBundle struct {
	dir  string
	opts Options // as passed to Open, for reopening
	reg  *prometheus.Registry
	logs *logBuffer
}

// setup opens a store in a fresh temp dir with metrics and captured logs,
// closed at cleanup.
func setup(t testing.TB) (*Store, *testBundle) {
	t.Helper()
	return setupOpts(t, Options{})
}

// setupOpts is setup with options; Logger and Registerer are filled in.
func setupOpts(t testing.TB, opts Options) (*Store, *testBundle) {
	t.Helper()
	b := &testBundle{dir: t.TempDir(), reg: prometheus.NewRegistry(), logs: &logBuffer{}}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Registerer == nil {
		opts.Registerer = b.reg
	}
	b.opts = opts
	return openT(t, b.dir, &b.opts), b
}

// openT opens dir and closes the store at cleanup (Close is idempotent, so
// tests may close it earlier).
func openT(t testing.TB, dir string, opts *Options) *Store {
	t.Helper()
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func snap(actor string, seq uint64, state string) Snapshot {
	return Snapshot{Actor: actor, Seq: seq, CodeVersion: "v1", State: []byte(state)}
}

func mustGet(t *testing.T, s *Store, actor string) (Snapshot, bool) {
	t.Helper()
	got, ok, err := s.Get(actor)
	if err != nil {
		t.Fatalf("Get(%q): %v", actor, err)
	}
	return got, ok
}

func wantSnap(t *testing.T, s *Store, want Snapshot) {
	t.Helper()
	got, ok := mustGet(t, s, want.Actor)
	if !ok {
		t.Fatalf("Get(%q): not found, want seq %d", want.Actor, want.Seq)
	}
	if got.Seq != want.Seq || got.CodeVersion != want.CodeVersion || !bytes.Equal(got.State, want.State) {
		t.Fatalf("Get(%q) = {%d %q %q}, want {%d %q %q}", want.Actor,
			got.Seq, got.CodeVersion, got.State, want.Seq, want.CodeVersion, want.State)
	}
}

func wantMissing(t *testing.T, s *Store, actor string) {
	t.Helper()
	if got, ok := mustGet(t, s, actor); ok {
		t.Fatalf("Get(%q) = seq %d, want not found", actor, got.Seq)
	}
}

func wantCount(t *testing.T, s *Store, want int) {
	t.Helper()
	n, err := s.Count()
	if err != nil {
		t.Fatalf("Count: %v", err)
	}
	if n != want {
		t.Fatalf("Count = %d, want %d", n, want)
	}
}

// recv waits for a test signal; the deadline only turns a hang into a failure.
func recv[T any](t *testing.T, c <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
