package eventlogtest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// testReadPages: ReadActorPage and ReadActor page through a history whose
// sequences are not contiguous, with limits around the history's length and the
// read cap, and say whether more remain.
func testReadPages(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	subj := s.subject(t, "paged")
	other := s.subject(t, "between")
	const history = 12

	var want []uint64
	var last, otherLast uint64
	for i := range history {
		last = mustAppend(t, l, subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
		want = append(want, last)
		// Another actor's event after each: the subject's sequences have gaps.
		otherLast = mustAppend(t, l, other, otherLast, &eventlog.Event{Kind: eventlog.KindAction})
	}

	readCap := s.readCap()
	for _, limit := range []int{1, 5, history - 1, history, history + 1, 1000, readCap - 1, readCap, readCap + 1, 0, -1} {
		eff := limit
		if eff <= 0 || eff > readCap {
			eff = readCap
		}
		// Page through from the start: pages of eff events, more on all but the last.
		var got []uint64
		after := uint64(0)
		for page := 0; ; page++ {
			evs, more, err := l.ReadActorPage(ctx, subj, after, limit)
			if err != nil {
				t.Fatalf("limit %d page %d: %v", limit, page, err)
			}
			wantLen := min(eff, history-len(got))
			wantMore := len(got)+len(evs) < history
			if len(evs) != wantLen || more != wantMore {
				t.Fatalf("limit %d (capped at %d) page %d after %d: %d events, more %v; want %d, more %v",
					limit, readCap, page, after, len(evs), more, wantLen, wantMore)
			}
			for _, ev := range evs {
				if ev.Subject != subj || ev.Stored.IsZero() {
					t.Fatalf("limit %d: event %d has subject %q, stored %v", limit, ev.Seq, ev.Subject, ev.Stored)
				}
			}
			got = append(got, seqs(evs)...)
			if !more {
				break
			}
			after = evs[len(evs)-1].Seq
		}
		if !equalSeqs(got, want) {
			t.Fatalf("limit %d: paged %v, want %v", limit, got, want)
		}
		// ReadActor is the first page.
		evs, err := l.ReadActor(ctx, subj, 0, limit)
		if err != nil || !equalSeqs(seqs(evs), want[:min(eff, history)]) {
			t.Fatalf("ReadActor limit %d = %s, %v; want %v", limit, describe(evs), err, want[:min(eff, history)])
		}
	}

	// From the middle: after one of the subject's events, and after another
	// actor's sequence between two of them.
	for _, after := range []uint64{want[4], want[4] + 1} {
		n := min(3, readCap)
		evs, more, err := l.ReadActorPage(ctx, subj, after, n)
		if err != nil || !equalSeqs(seqs(evs), want[5:5+n]) || !more {
			t.Fatalf("page of %d after %d = %s, more %v, %v; want %v, more", n, after, describe(evs), more, err, want[5:5+n])
		}
	}
	// The tail end exactly: the last events and nothing more.
	if readCap >= 2 {
		evs, more, err := l.ReadActorPage(ctx, subj, want[history-3], 2)
		if err != nil || !equalSeqs(seqs(evs), want[history-2:]) || more {
			t.Fatalf("last page = %s, more %v, %v; want %v, no more", describe(evs), more, err, want[history-2:])
		}
	}
	// Past the end, far past it, and an actor with no events: empty, no more, no error.
	for _, tc := range []struct {
		subj  string
		after uint64
	}{{subj, want[history-1]}, {subj, want[history-1] + 1_000_000}, {s.subject(t, "never"), 0}} {
		evs, more, err := l.ReadActorPage(ctx, tc.subj, tc.after, 10)
		if err != nil || len(evs) != 0 || more {
			t.Fatalf("read %s after %d = %s, more %v, %v; want nothing", tc.subj, tc.after, describe(evs), more, err)
		}
		if evs, err := l.ReadActor(ctx, tc.subj, tc.after, 10); err != nil || len(evs) != 0 {
			t.Fatalf("ReadActor %s after %d = %s, %v; want nothing", tc.subj, tc.after, describe(evs), err)
		}
	}

	if s.f.LargeEvents {
		t.Run("ByteBound", func(t *testing.T) { testReadByteBound(t, s) })
	}
}

// testReadByteBound: a history over the 8 MiB bound of one read comes in
// several pages, each saying whether more remain. (The bound is the server's
// max_bytes, which stops a read after the event that reaches it: a page can hold
// 8 MiB plus one event.)
func testReadByteBound(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	subj := s.subject(t, "large")
	// One read stops after the event that takes it to 8 MiB: 11 events of 820
	// KiB need two.
	const events, size = 11, 820 << 10
	var want []uint64
	var last uint64
	for i := range events {
		state := bytes.Repeat([]byte{byte(i)}, size)
		last = mustAppend(t, l, subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i), HasState: true, State: state})
		want = append(want, last)
	}
	var got []uint64
	var after uint64
	pages := 0
	for {
		evs, more, err := l.ReadActorPage(ctx, subj, after, 0)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		for _, ev := range evs {
			i := len(got)
			if len(ev.State) != size || ev.Seed != uint64(i) || ev.State[0] != byte(i) || ev.State[size-1] != byte(i) {
				t.Fatalf("event %d: seed %d, %d bytes of state", ev.Seq, ev.Seed, len(ev.State))
			}
			got = append(got, ev.Seq)
		}
		if len(got) < events && !more {
			t.Fatalf("page %d: %d of %d events read, but no more remain", pages, len(got), events)
		}
		if !more {
			break
		}
		if len(evs) == 0 {
			t.Fatalf("page %d: empty, but more remain", pages)
		}
		after = evs[len(evs)-1].Seq
	}
	if !equalSeqs(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	if pages < 2 {
		t.Fatalf("%d KiB read in one page, over the 8 MiB bound", events*size>>10)
	}
}

// testScan: Scan delivers every event in log order up to the last sequence
// when it began, from the start or from the middle, and stops on fn's error.
func testScan(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	const actors, each = 3, 5
	subjects := make([]string, actors)
	for a := range subjects {
		subjects[a] = s.subject(t, fmt.Sprint(a))
	}
	type mine struct {
		subj string
		seed uint64
	}
	appended := map[uint64]mine{}
	var order []uint64
	last := make([]uint64, actors)
	for i := range actors * each {
		a := i % actors
		last[a] = mustAppend(t, l, subjects[a], last[a], &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
		appended[last[a]] = mine{subjects[a], uint64(i)}
		order = append(order, last[a])
	}

	// scan runs Scan from from and checks what it delivered against the
	// events this test appended from index first of order on.
	scan := func(from uint64, first int) {
		t.Helper()
		var got []*eventlog.Event
		end, err := l.Scan(ctx, from, func(ev *eventlog.Event) error {
			got = append(got, ev)
			return nil
		})
		if err != nil {
			t.Fatalf("scan from %d: %v", from, err)
		}
		if end < order[len(order)-1] {
			t.Fatalf("scan from %d ended at %d, before this test's last event %d", from, end, order[len(order)-1])
		}
		all := seqs(got)
		checkIncreasing(t, fmt.Sprintf("scan from %d", from), all)
		if len(got) == 0 || got[len(got)-1].Seq > end {
			t.Fatalf("scan from %d returned %d but delivered %d events up to %v", from, end, len(got), all[max(0, len(all)-1):])
		}
		start := max(from, 1)
		if all[0] < start {
			t.Fatalf("scan from %d delivered %d", from, all[0])
		}
		if s.f.ContiguousSequences {
			// Every sequence from start to end, once.
			if all[0] != start || all[len(all)-1] != end || uint64(len(all)) != end-start+1 {
				t.Fatalf("scan from %d to %d delivered %d events from %d to %d: a gap", start, end, len(all), all[0], all[len(all)-1])
			}
		}
		var ours []uint64
		for _, ev := range got {
			if m, ok := appended[ev.Seq]; ok {
				if ev.Subject != m.subj || ev.Seed != m.seed || ev.Stored.IsZero() {
					t.Fatalf("scan: event %d is %q seed %d, appended %q seed %d", ev.Seq, ev.Subject, ev.Seed, m.subj, m.seed)
				}
				ours = append(ours, ev.Seq)
			}
		}
		if !equalSeqs(ours, order[first:]) {
			t.Fatalf("scan from %d saw this test's events %v, want %v", from, ours, order[first:])
		}
	}
	scan(0, 0)
	scan(1, 0)
	scan(order[7], 7)

	// An error from fn stops the scan at once.
	boom := errors.New("boom")
	calls := 0
	_, err := l.Scan(ctx, order[0], func(*eventlog.Event) error {
		calls++
		if calls == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 3 {
		t.Fatalf("scan whose fn fails on the 3rd event: %v after %d calls; want boom after 3", err, calls)
	}

	// From past the end: nothing, and the last sequence.
	end, err := l.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls = 0
	got, err := l.Scan(ctx, end+1_000_000, func(*eventlog.Event) error { calls++; return nil })
	if err != nil || calls != 0 || got < end {
		t.Fatalf("scan past the end: %d calls, returned %d, %v; want none, at least %d", calls, got, err, end)
	}
}
