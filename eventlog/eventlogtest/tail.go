package eventlogtest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// testTail: Tail from a sequence delivers the history from there, then live
// events, with no gap; filters select subjects or types; from 0 it delivers
// only new events; it returns nil when ctx ends and fn's error when fn fails.
func testTail(t *testing.T, s *suite) {
	t.Run("FromSequence", func(t *testing.T) { t.Parallel(); testTailFromSequence(t, s) })
	t.Run("Unfiltered", func(t *testing.T) { t.Parallel(); testTailUnfiltered(t, s) })
	t.Run("TypeFilter", func(t *testing.T) { t.Parallel(); testTailTypeFilter(t, s) })
	t.Run("NewOnly", func(t *testing.T) { t.Parallel(); testTailNewOnly(t, s) })
	t.Run("FnError", func(t *testing.T) { t.Parallel(); testTailFnError(t, s) })
}

// appendHistory appends n events to subj after last, each followed by an event
// of other (when not empty), and returns the subject's sequences.
func appendHistory(t *testing.T, l *eventlog.Log, subj, other string, last *uint64, n int) []uint64 {
	t.Helper()
	var out []uint64
	var otherLast uint64
	if other != "" {
		var err error
		if otherLast, err = l.LastSubjectSeq(t.Context(), other); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		*last = mustAppend(t, l, subj, *last, &eventlog.Event{Kind: eventlog.KindAction, Seed: *last})
		out = append(out, *last)
		if other != "" {
			otherLast = mustAppend(t, l, other, otherLast, &eventlog.Event{Kind: eventlog.KindAction})
		}
	}
	return out
}

func testTailFromSequence(t *testing.T, s *suite) {
	l := s.log
	subj := s.subject(t, "tailed")
	other := s.subject(t, "other")
	var last uint64
	hist := appendHistory(t, l, subj, other, &last, 6)

	events, stop := tail(t, l, []string{subj}, hist[2])
	// One live event racing the tail's start, then the history from hist[2].
	want := append(append([]uint64(nil), hist[2:]...), appendHistory(t, l, subj, other, &last, 1)...)
	for i, seq := range want {
		ev := next(t, events, fmt.Sprintf("tail event %d", i))
		if ev.Seq != seq || ev.Subject != subj {
			t.Fatalf("tail event %d: %d on %s, want %d on %s", i, ev.Seq, ev.Subject, seq, subj)
		}
	}
	// Caught up: live events, each delivered, none skipped, nothing else between.
	for round := range 3 {
		live := appendHistory(t, l, subj, other, &last, 3)
		for i, seq := range live {
			if ev := next(t, events, fmt.Sprintf("live event %d.%d", round, i)); ev.Seq != seq || ev.Subject != subj {
				t.Fatalf("live event %d.%d: %d on %s, want %d", round, i, ev.Seq, ev.Subject, seq)
			}
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("tail returned %v when its ctx ended, want nil", err)
	}
	// The whole history agrees with the tail.
	if evs := readAll(t, l, subj); evs[len(evs)-1].Seq != last {
		t.Fatalf("history ends at %d, last append %d", evs[len(evs)-1].Seq, last)
	}
}

func testTailUnfiltered(t *testing.T, s *suite) {
	l := s.log
	subjects := []string{s.subject(t, "a"), s.subject(t, "b")}
	lasts := make([]uint64, len(subjects))
	var want []uint64
	add := func(n int) {
		for i := range n {
			a := i % len(subjects)
			lasts[a] = mustAppend(t, l, subjects[a], lasts[a], &eventlog.Event{Kind: eventlog.KindAction})
			want = append(want, lasts[a])
		}
	}
	add(6)
	events, stop := tail(t, l, nil, want[0])
	add(6)
	var prev uint64
	for i, seq := range want {
		for {
			ev := recv(t, events, fmt.Sprintf("unfiltered tail event %d", i))
			if prev != 0 && ev.Seq <= prev {
				t.Fatalf("unfiltered tail delivered %d after %d", ev.Seq, prev)
			}
			if s.f.ContiguousSequences && prev != 0 && ev.Seq != prev+1 {
				t.Fatalf("unfiltered tail skipped from %d to %d", prev, ev.Seq)
			}
			if prev == 0 && ev.Seq != want[0] {
				t.Fatalf("unfiltered tail from %d started at %d", want[0], ev.Seq)
			}
			prev = ev.Seq
			if ev.Subject == subjects[0] || ev.Subject == subjects[1] {
				if ev.Seq != seq {
					t.Fatalf("unfiltered tail event %d: %d, want %d", i, ev.Seq, seq)
				}
				break
			}
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("tail returned %v when its ctx ended, want nil", err)
	}
}

func testTailTypeFilter(t *testing.T, s *suite) {
	l := s.log
	typ := "t" + s.nonce // a type of this run's only
	filter, err := eventlog.TypeFilter(typ)
	if err != nil {
		t.Fatal(err)
	}
	typed := []string{s.typedSubject(t, typ, "1"), s.typedSubject(t, typ, "2")}
	untyped := s.subject(t, "untyped")
	lasts := make([]uint64, 2)
	var untypedLast uint64
	var want []uint64
	add := func(n int) {
		for i := range n {
			a := i % 2
			lasts[a] = mustAppend(t, l, typed[a], lasts[a], &eventlog.Event{Kind: eventlog.KindAction})
			want = append(want, lasts[a])
			untypedLast = mustAppend(t, l, untyped, untypedLast, &eventlog.Event{Kind: eventlog.KindAction})
		}
	}
	add(4)
	events, stop := tail(t, l, []string{filter}, want[0])
	add(4)
	for i, seq := range want {
		if ev := next(t, events, fmt.Sprintf("type tail event %d", i)); ev.Seq != seq || (ev.Subject != typed[0] && ev.Subject != typed[1]) {
			t.Fatalf("type tail event %d: %d on %s, want %d of type %s", i, ev.Seq, ev.Subject, seq, typ)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("tail returned %v when its ctx ended, want nil", err)
	}
}

// testTailNewOnly: from 0 a tail delivers only events appended after it
// started. Tail does not say when it has started, so a writer appends until the
// first delivery; what the tail delivered must be a suffix of the history, with
// no gap, and never the event appended before the tail.
func testTailNewOnly(t *testing.T, s *suite) {
	l := s.log
	subj := s.subject(t, "new")
	before := mustAppend(t, l, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate})

	events, stop := tail(t, l, []string{subj}, 0)
	// The writer appends until the tail delivers, one append at a time.
	type probed struct {
		last uint64
		err  error
	}
	done := make(chan probed, 1)
	seen := make(chan struct{})
	go func() {
		last := before
		for i := 0; i < 100_000; i++ {
			select {
			case <-seen:
				done <- probed{last, nil}
				return
			default:
			}
			seq, err := l.Append(t.Context(), subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
			if err != nil {
				done <- probed{last, err}
				return
			}
			last = seq
		}
		done <- probed{last, errors.New("the tail delivered nothing after 100000 appends")}
	}()
	firstEv := recv(t, events, "first event of a tail from 0")
	close(seen)
	p := recv(t, done, "writer stopping")
	if p.err != nil {
		t.Fatal(p.err)
	}
	if firstEv.Seq == before {
		t.Fatalf("a tail from 0 delivered event %d, appended before it started", before)
	}
	last := p.last
	final := appendHistory(t, l, subj, "", &last, 3)

	hist := readAll(t, l, subj)
	k := -1
	for i, ev := range hist {
		if ev.Seq == firstEv.Seq {
			k = i
		}
	}
	if k < 1 {
		t.Fatalf("the tail's first event %d is not in the history after %d", firstEv.Seq, before)
	}
	want := seqs(hist[k:])
	for i, seq := range want[1:] {
		if ev := recv(t, events, fmt.Sprintf("new-only tail event %d", i+1)); ev.Seq != seq {
			t.Fatalf("new-only tail event %d: %d, want %d (history %v)", i+1, ev.Seq, seq, want)
		}
	}
	if want[len(want)-1] != final[len(final)-1] {
		t.Fatalf("history ends at %d, last append %d", want[len(want)-1], final[len(final)-1])
	}
	if err := stop(); err != nil {
		t.Fatalf("tail returned %v when its ctx ended, want nil", err)
	}
}

func testTailFnError(t *testing.T, s *suite) {
	l := s.log
	subj := s.subject(t, "fails")
	var last uint64
	hist := appendHistory(t, l, subj, "", &last, 3)
	boom := errors.New("boom")
	var got []uint64
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(t.Context(), []string{subj}, hist[0], func(ev *eventlog.Event) error {
			got = append(got, ev.Seq)
			if len(got) == 2 {
				return boom
			}
			return nil
		})
	}()
	if err := recv(t, done, "tail returning fn's error"); !errors.Is(err, boom) {
		t.Fatalf("tail whose fn fails returned %v, want boom", err)
	}
	if !equalSeqs(got, hist[:2]) {
		t.Fatalf("tail delivered %v before failing, want %v", got, hist[:2])
	}

	// A ctx already ended: Tail returns nil without delivering.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := l.Tail(ctx, []string{subj}, hist[0], func(*eventlog.Event) error { return nil }); err != nil {
		t.Fatalf("tail with an ended ctx returned %v, want nil", err)
	}
}
