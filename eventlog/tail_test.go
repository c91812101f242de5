package eventlog_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// A tail reads ahead at most TailBufferBytes, and events as large as the log
// allows still flow through it (a pull smaller than one event would stall).
func TestTailBoundedBufferPassesLargestEvents(t *testing.T) {
	t.Parallel()
	const maxEvent = 64 << 10
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) {
		c.MaxEventBytes, c.TailBufferBytes = maxEvent, 4*maxEvent
	})
	ctx := context.Background()
	subj := subjectOf(t, "big", "1")
	const n = 40
	var last uint64
	for i := range n {
		ev := &eventlog.Event{Kind: eventlog.KindAction, Args: bytes.Repeat([]byte{'x'}, maxEvent-200)}
		if i == 0 {
			ev.Kind = eventlog.KindCreate
		}
		seq, err := l.Append(ctx, subj, last, ev)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		last = seq
	}
	tailCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	errEnough := errors.New("enough")
	err := l.Tail(tailCtx, nil, 1, func(ev *eventlog.Event) error {
		if len(ev.Args) != maxEvent-200 {
			t.Errorf("event %d has %d bytes of args", ev.Seq, len(ev.Args))
		}
		if seen++; seen == n {
			return errEnough
		}
		return nil
	})
	if !errors.Is(err, errEnough) || seen != n {
		t.Fatalf("tail saw %d of %d events: %v", seen, n, err)
	}
}

func TestTailBufferMustHoldEvents(t *testing.T) {
	t.Parallel()
	_, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: t.TempDir(), Logger: discardLogger(),
		MaxEventBytes: 1 << 20, TailBufferBytes: 3 << 20})
	if err == nil {
		t.Fatal("opened with a tail buffer under 4 x the largest event")
	}
}
