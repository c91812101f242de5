package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// With --fsync always, concurrent appends go out in atomic batches: every one
// lands at its own sequence, in order per actor, and a stale fence among them
// fails alone.
func TestFsyncAlwaysGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.Fsync = eventlog.FsyncAlways })
	const actors, each = 40, 15
	var wg sync.WaitGroup
	for a := range actors {
		wg.Go(func() {
			subj := subjectOf(t, "gc", fmt.Sprint(a))
			var last uint64
			for i := range each {
				seq, err := l.Append(ctx, subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
				if err != nil {
					t.Errorf("actor %d append %d: %v", a, i, err)
					return
				}
				last = seq
			}
		})
	}
	// A stale writer racing them in the same batches: its appends are refused
	// (each rejected batch is retried one by one), the others all kept.
	stale := subjectOf(t, "gc", "stale")
	if _, err := l.Append(ctx, stale, 0, &eventlog.Event{Kind: eventlog.KindCreate}); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() {
		for range 20 {
			if _, err := l.Append(ctx, stale, 0, &eventlog.Event{Kind: eventlog.KindAction}); !errors.Is(err, eventlog.ErrConflict) {
				t.Errorf("stale append: %v, want a conflict", err)
			}
		}
	})
	wg.Wait()
	for a := range actors {
		evs, err := l.ReadActor(ctx, subjectOf(t, "gc", fmt.Sprint(a)), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != each {
			t.Fatalf("actor %d: %d events, want %d", a, len(evs), each)
		}
		for i, ev := range evs {
			if ev.Seed != uint64(i) {
				t.Fatalf("actor %d: event %d has seed %d", a, i, ev.Seed)
			}
		}
	}
}
