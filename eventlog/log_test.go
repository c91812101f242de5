package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestAppendAndReadActor(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	subj := subjectOf(t, "counter", "a")
	other := subjectOf(t, "counter", "b")

	var last uint64
	for i := range 5 {
		ev := &eventlog.Event{Kind: eventlog.KindAction, Action: "increment", Args: fmt.Appendf(nil, "[%d]", i),
			HasState: true, State: fmt.Appendf(nil, `{"count":%d}`, i), Time: time.Unix(1700000000, int64(i)).UTC(), Seed: uint64(i)}
		seq, err := l.Append(ctx, subj, last, ev)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if seq <= last {
			t.Fatalf("append %d: sequence %d not after %d", i, seq, last)
		}
		last = seq
		// Interleave another actor so the subject's sequences are not contiguous.
		if _, err := l.Append(ctx, other, mustLast(t, l, other), &eventlog.Event{Kind: eventlog.KindAction}); err != nil {
			t.Fatalf("append other: %v", err)
		}
	}

	all, err := l.ReadActor(ctx, subj, 0, 100)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(all) != 5 {
		t.Fatalf("read %d events, want 5", len(all))
	}
	for i, ev := range all {
		if ev.Subject != subj || string(ev.Args) != fmt.Sprintf("[%d]", i) || ev.Seed != uint64(i) || ev.Stored.IsZero() {
			t.Errorf("event %d = %+v", i, ev)
		}
		if i > 0 && ev.Seq <= all[i-1].Seq {
			t.Errorf("event %d out of order", i)
		}
	}
	if all[4].Seq != last {
		t.Errorf("last read seq %d, appended %d", all[4].Seq, last)
	}

	// Paging: after the second event, two at a time.
	page, err := l.ReadActor(ctx, subj, all[1].Seq, 2)
	if err != nil {
		t.Fatalf("read page: %v", err)
	}
	if len(page) != 2 || page[0].Seq != all[2].Seq || page[1].Seq != all[3].Seq {
		t.Fatalf("page = %v", seqs(page))
	}
	// Past the end, and an actor with no events: empty, not an error.
	for _, tc := range []struct {
		subj  string
		after uint64
	}{{subj, last}, {subjectOf(t, "counter", "never"), 0}} {
		evs, err := l.ReadActor(ctx, tc.subj, tc.after, 10)
		if err != nil || len(evs) != 0 {
			t.Errorf("read %s after %d = %v, %v; want nothing", tc.subj, tc.after, seqs(evs), err)
		}
	}
}

func TestAppendFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	subj := subjectOf(t, "doc", "org", "1")

	first, err := l.Append(ctx, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	tests := []struct {
		name     string
		expected uint64
	}{
		{"create again", 0},
		{"stale", first - 1},
		{"future", first + 10},
	}
	for _, tc := range tests {
		_, err := l.Append(ctx, subj, tc.expected, &eventlog.Event{Kind: eventlog.KindAction, Action: tc.name})
		var conflict *eventlog.ConflictError
		if !errors.As(err, &conflict) || !errors.Is(err, eventlog.ErrConflict) {
			t.Fatalf("%s: err = %v, want a conflict", tc.name, err)
		}
		if conflict.Expected != tc.expected || conflict.Actual != first || conflict.Subject != subj {
			t.Errorf("%s: conflict = %+v, want actual %d", tc.name, conflict, first)
		}
	}
	evs, err := l.ReadActor(ctx, subj, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Kind != eventlog.KindCreate {
		t.Fatalf("after rejected appends: %v, %v; want only the create", seqs(evs), err)
	}
}

// Racing writers on one actor: every append that succeeds extends the chain of
// the previous one; none interleaves.
func TestAppendRacingWritersNeverInterleave(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	subj := subjectOf(t, "race", "x")

	const writers, perWriter = 8, 25
	var mu sync.Mutex
	won := map[uint64]uint64{} // seq -> expected it was appended at
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; i < perWriter; {
				expected, err := l.LastSubjectSeq(ctx, subj)
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				seq, err := l.Append(ctx, subj, expected, &eventlog.Event{Kind: eventlog.KindAction, Caller: fmt.Sprint(w)})
				if errors.Is(err, eventlog.ErrConflict) {
					continue // lost the race: reload and try again
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				won[seq] = expected
				mu.Unlock()
				i++
			}
		})
	}
	wg.Wait()

	evs, err := l.ReadActor(ctx, subj, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != writers*perWriter || len(won) != len(evs) {
		t.Fatalf("%d events, %d acknowledged; want %d", len(evs), len(won), writers*perWriter)
	}
	prev := uint64(0)
	for _, ev := range evs {
		if won[ev.Seq] != prev {
			t.Fatalf("event %d was appended expecting %d, but the previous event is %d", ev.Seq, won[ev.Seq], prev)
		}
		prev = ev.Seq
	}
}

func TestConcurrentAppendsAcrossActors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.MaxInflight = 64 })
	const actors, each = 300, 10
	var wg sync.WaitGroup
	for a := range actors {
		wg.Go(func() {
			subj := subjectOf(t, "many", fmt.Sprint(a))
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
	wg.Wait()
	for a := range actors {
		evs, err := l.ReadActor(ctx, subjectOf(t, "many", fmt.Sprint(a)), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != each {
			t.Fatalf("actor %d has %d events, want %d", a, len(evs), each)
		}
		for i, ev := range evs {
			if ev.Seed != uint64(i) {
				t.Fatalf("actor %d event %d has seed %d", a, i, ev.Seed)
			}
		}
	}
	last, err := l.LastSeq(ctx)
	if err != nil || last != actors*each {
		t.Fatalf("stream last seq = %d, %v; want %d", last, err, actors*each)
	}
}

func TestAppendAsyncPipelines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	var pending []*eventlog.PendingAppend
	for a := range 50 {
		p, err := l.AppendAsync(ctx, subjectOf(t, "pipe", fmt.Sprint(a)), 0, &eventlog.Event{Kind: eventlog.KindCreate})
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	got := map[uint64]bool{}
	for _, p := range pending {
		seq, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got[seq] = true
	}
	if len(got) != 50 {
		t.Fatalf("%d distinct sequences, want 50", len(got))
	}
}

func TestEventTooLarge(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.MaxEventBytes = 1000 })
	subj := subjectOf(t, "big", "1")
	// The envelope adds a few bytes to the state: find the edge exactly.
	fits := &eventlog.Event{Kind: eventlog.KindAction, HasState: true}
	for len(eventlog.MarshalEvent(fits)) < 1000 {
		fits.State = append(fits.State, 'x')
	}
	if n := len(eventlog.MarshalEvent(fits)); n != 1000 {
		t.Fatalf("could not build a 1000-byte event (got %d)", n)
	}
	seq, err := l.Append(ctx, subj, 0, fits)
	if err != nil {
		t.Fatalf("event at the limit: %v", err)
	}
	over := *fits
	over.State = append(append([]byte(nil), fits.State...), 'x')
	if _, err := l.Append(ctx, subj, seq, &over); !errors.Is(err, eventlog.ErrEventTooLarge) {
		t.Fatalf("event over the limit: err = %v, want ErrEventTooLarge", err)
	}
	if last, _ := l.LastSubjectSeq(ctx, subj); last != seq {
		t.Fatalf("a rejected event changed the log: last %d, want %d", last, seq)
	}
}

func TestReopenKeepsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	subj := subjectOf(t, "keep", "me")
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	seq, err := l.Append(ctx, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate, Caller: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, subj, seq, &eventlog.Event{}); !errors.Is(err, eventlog.ErrClosed) {
		t.Fatalf("append after close: %v, want ErrClosed", err)
	}
	l2 := openLog(t, dir)
	last, err := l2.LastSubjectSeq(ctx, subj)
	if err != nil || last != seq {
		t.Fatalf("after reopen: last %d, %v; want %d", last, err, seq)
	}
}

func TestDataDirLockedInProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openLog(t, dir)
	_, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: dir, Logger: discardLogger()})
	if !errors.Is(err, eventlog.ErrDataDirLocked) {
		t.Fatalf("second open: %v, want ErrDataDirLocked", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  eventlog.Config
	}{
		{"no data dir", eventlog.Config{}},
		{"bad fsync", eventlog.Config{DataDir: t.TempDir(), Fsync: "sometimes"}},
		{"fsync always with url", eventlog.Config{URL: "nats://127.0.0.1:1", Fsync: eventlog.FsyncAlways}},
		{"bad listen", eventlog.Config{DataDir: t.TempDir(), Listen: "nope"}},
		{"negative inflight", eventlog.Config{DataDir: t.TempDir(), MaxInflight: -1}},
	}
	for _, tc := range tests {
		tc.cfg.Logger = discardLogger()
		if _, err := eventlog.Open(context.Background(), tc.cfg); err == nil {
			t.Errorf("%s: Open succeeded", tc.name)
		}
	}
}

func TestMetricsCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.Registerer = reg })
	subj := subjectOf(t, "m", "1")
	if _, err := l.Append(ctx, subj, 0, &eventlog.Event{}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, subj, 0, &eventlog.Event{}); !errors.Is(err, eventlog.ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := l.ReadActor(ctx, subj, 0, 10); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP rivetflow_eventlog_appends_total Appends to the event log by result (ok, conflict, error).
# TYPE rivetflow_eventlog_appends_total counter
rivetflow_eventlog_appends_total{result="conflict"} 1
rivetflow_eventlog_appends_total{result="error"} 0
rivetflow_eventlog_appends_total{result="ok"} 1
# HELP rivetflow_eventlog_read_events_total Events read by actor reads (wake, history).
# TYPE rivetflow_eventlog_read_events_total counter
rivetflow_eventlog_read_events_total 1
`
	if err := testutil.GatherAndCompare(reg, stringsReader(want), "rivetflow_eventlog_appends_total", "rivetflow_eventlog_read_events_total"); err != nil {
		t.Fatal(err)
	}
}

func TestScanAndTail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir())
	var appended []uint64
	for i := range 30 {
		subj := subjectOf(t, "scan", fmt.Sprint(i%7))
		seq, err := l.Append(ctx, subj, mustLast(t, l, subj), &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
		if err != nil {
			t.Fatal(err)
		}
		appended = append(appended, seq)
	}
	var scanned []uint64
	last, err := l.Scan(ctx, 0, func(ev *eventlog.Event) error {
		scanned = append(scanned, ev.Seq)
		return nil
	})
	if err != nil || last != appended[len(appended)-1] || !reflect.DeepEqual(scanned, appended) {
		t.Fatalf("scan = %v (last %d, %v), want %v", scanned, last, err, appended)
	}
	// From the middle.
	scanned = nil
	if _, err := l.Scan(ctx, appended[10], func(ev *eventlog.Event) error { scanned = append(scanned, ev.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(scanned, appended[10:]) {
		t.Fatalf("scan from %d = %v", appended[10], scanned)
	}
	// An error from fn stops the scan.
	boom := errors.New("boom")
	if _, err := l.Scan(ctx, 0, func(*eventlog.Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("scan error = %v", err)
	}

	// Tail one type from now on: sees new events of that type only.
	filter, _ := eventlog.TypeFilter("tailed")
	got := make(chan *eventlog.Event, 10)
	tailCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(tailCtx, []string{filter}, last+1, func(ev *eventlog.Event) error { got <- ev; return nil })
	}()
	if _, err := l.Append(ctx, subjectOf(t, "other", "1"), 0, &eventlog.Event{}); err != nil {
		t.Fatal(err)
	}
	want, err := l.Append(ctx, subjectOf(t, "tailed", "1"), 0, &eventlog.Event{Action: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Seq != want || ev.Action != "hi" {
			t.Fatalf("tail got %d %q, want %d", ev.Seq, ev.Action, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("tail delivered nothing")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("tail returned %v after cancel", err)
	}
}

func mustLast(t testing.TB, l *eventlog.Log, subj string) uint64 {
	t.Helper()
	seq, err := l.LastSubjectSeq(context.Background(), subj)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func seqs(evs []*eventlog.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func TestReadActorPageSaysWhetherMoreRemain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.MaxReadBatch = 10 })
	subj := subjectOf(t, "paged", "x")
	var last uint64
	for range 25 {
		seq, err := l.Append(ctx, subj, last, &eventlog.Event{Kind: eventlog.KindAction})
		if err != nil {
			t.Fatal(err)
		}
		last = seq
		// Another actor's events in between must not count.
		if _, err := l.Append(ctx, subjectOf(t, "paged", fmt.Sprint(seq)), 0, &eventlog.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	var sizes []int
	var mores []bool
	for after, more := uint64(0), true; more; {
		evs, m, err := l.ReadActorPage(ctx, subj, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		sizes, mores = append(sizes, len(evs)), append(mores, m)
		more = m
		if len(evs) > 0 {
			after = evs[len(evs)-1].Seq
		}
	}
	if !reflect.DeepEqual(sizes, []int{10, 10, 5}) || !reflect.DeepEqual(mores, []bool{true, true, false}) {
		t.Fatalf("pages %v, more %v; want [10 10 5], [true true false]", sizes, mores)
	}
}
