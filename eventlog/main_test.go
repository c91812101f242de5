package eventlog_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// openLog opens an embedded log in dir and closes it when the test ends.
func openLog(t testing.TB, dir string, mutate ...func(*eventlog.Config)) *eventlog.Log {
	t.Helper()
	cfg := eventlog.Config{DataDir: dir, Logger: discardLogger()}
	for _, f := range mutate {
		f(&cfg)
	}
	l, err := eventlog.Open(context.Background(), cfg)
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
	return l
}

func subjectOf(t testing.TB, typ string, key ...string) string {
	t.Helper()
	s, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	return s
}
