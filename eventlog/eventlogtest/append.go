package eventlogtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// testFencedAppend: create-if-absent, appends at the last sequence, and every
// stale expectation refused with a conflict that appends nothing.
func testFencedAppend(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	subj := s.subject(t, "fenced")

	first := mustAppend(t, l, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate, Action: "create"})
	second := mustAppend(t, l, subj, first, &eventlog.Event{Kind: eventlog.KindAction, Action: "second"})
	if last, err := l.LastSubjectSeq(ctx, subj); err != nil || last != second {
		t.Fatalf("LastSubjectSeq = %d, %v; want %d", last, err, second)
	}

	for _, tc := range []struct {
		name     string
		expected uint64
	}{
		{"create again", 0},
		{"stale", first},
		{"one behind", second - 1},
		{"one ahead", second + 1},
		{"far future", second + 1_000_000},
	} {
		_, err := l.Append(ctx, subj, tc.expected, &eventlog.Event{Kind: eventlog.KindAction, Action: tc.name})
		s.checkConflict(t, err, subj, tc.expected, second)
		// The same through AppendAsync: the conflict comes from Wait.
		p, err := l.AppendAsync(ctx, subj, tc.expected, &eventlog.Event{Kind: eventlog.KindAction, Action: tc.name + " async"})
		if err != nil {
			t.Fatalf("%s: AppendAsync: %v", tc.name, err)
		}
		seq, err := p.Wait(ctx)
		if seq != 0 {
			t.Errorf("%s: a refused append returned sequence %d", tc.name, seq)
		}
		s.checkConflict(t, err, subj, tc.expected, second)
	}

	// Nothing the conflicts tried is in the log.
	evs := readAll(t, l, subj)
	if !equalSeqs(seqs(evs), []uint64{first, second}) || evs[0].Action != "create" || evs[1].Action != "second" {
		t.Fatalf("after refused appends the history is %s, want [%d %d]", describe(evs), first, second)
	}
	if last, err := l.LastEvent(ctx, subj); err != nil || last == nil || last.Seq != second {
		t.Fatalf("LastEvent = %v, %v; want sequence %d", last, err, second)
	}

	// The owner carries on at the right sequence.
	third := mustAppend(t, l, subj, second, &eventlog.Event{Kind: eventlog.KindAction, Action: "third"})
	if last, err := l.LastSubjectSeq(ctx, subj); err != nil || last != third {
		t.Fatalf("LastSubjectSeq = %d, %v; want %d", last, err, third)
	}

	// An actor with no events: any expectation but 0 conflicts, actual 0.
	absent := s.subject(t, "absent")
	_, err := l.Append(ctx, absent, first, &eventlog.Event{Kind: eventlog.KindAction})
	s.checkConflict(t, err, absent, first, 0)
	if evs := readAll(t, l, absent); len(evs) != 0 {
		t.Fatalf("a refused append created %s: %s", absent, describe(evs))
	}
	if last, err := l.LastSubjectSeq(ctx, absent); err != nil || last != 0 {
		t.Fatalf("LastSubjectSeq of an absent actor = %d, %v; want 0", last, err)
	}
	if ev, err := l.LastEvent(ctx, absent); err != nil || ev != nil {
		t.Fatalf("LastEvent of an absent actor = %v, %v; want nil, nil", ev, err)
	}

	// A tombstone is an event like any other: recreating after it is fenced too.
	dead := mustAppend(t, l, subj, third, &eventlog.Event{Kind: eventlog.KindDestroy, Generation: 1})
	_, err = l.Append(ctx, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate, Generation: 2})
	s.checkConflict(t, err, subj, 0, dead)
	mustAppend(t, l, subj, dead, &eventlog.Event{Kind: eventlog.KindCreate, Generation: 2})
}

// testRacingWriters: writers appending to one actor at the same expected
// sequence, round after round; exactly one wins each round, and the others
// conflict with the winner's sequence as the actual one.
func testRacingWriters(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	subj := s.subject(t, "raced")
	const writers, rounds = 8, 8

	type result struct {
		writer int
		seq    uint64
		err    error
	}
	var expected uint64
	var winners []uint64
	for r := range rounds {
		results := make([]result, writers)
		if r%2 == 0 {
			// Goroutines released together.
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					<-start
					seq, err := l.Append(ctx, subj, expected, &eventlog.Event{Kind: eventlog.KindAction, Caller: fmt.Sprint(w), Seed: uint64(r)})
					results[w] = result{w, seq, err}
				})
			}
			close(start)
			wg.Wait()
		} else {
			// Pipelined from one goroutine: the appends may share a batch.
			pending := make([]*eventlog.PendingAppend, writers)
			for w := range writers {
				p, err := l.AppendAsync(ctx, subj, expected, &eventlog.Event{Kind: eventlog.KindAction, Caller: fmt.Sprint(w), Seed: uint64(r)})
				if err != nil {
					t.Fatalf("round %d: AppendAsync: %v", r, err)
				}
				pending[w] = p
			}
			for w, p := range pending {
				seq, err := p.Wait(ctx)
				results[w] = result{w, seq, err}
			}
		}
		var won []result
		for _, res := range results {
			if res.err == nil {
				won = append(won, res)
			} else if !errors.Is(res.err, eventlog.ErrConflict) {
				t.Fatalf("round %d writer %d: %v, want success or a conflict", r, res.writer, res.err)
			}
		}
		if len(won) != 1 {
			t.Fatalf("round %d: %d writers won at expected %d (%+v), want exactly 1", r, len(won), expected, won)
		}
		if won[0].seq <= expected {
			t.Fatalf("round %d: won at sequence %d, not after %d", r, won[0].seq, expected)
		}
		for _, res := range results {
			if res.err != nil {
				s.checkConflict(t, res.err, subj, expected, won[0].seq)
			}
		}
		expected = won[0].seq
		winners = append(winners, expected)
	}

	evs := readAll(t, l, subj)
	if !equalSeqs(seqs(evs), winners) {
		t.Fatalf("history %s, want the winners %v", describe(evs), winners)
	}
	for i, ev := range evs {
		if ev.Seed != uint64(i) {
			t.Errorf("event %d is from round %d", i, ev.Seed)
		}
	}
}

// testPipelinedAppends: many actors append at once, each waiting for its own
// acknowledgements only; a stale writer is refused among them.
func testPipelinedAppends(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	const goroutineActors, waveActors, each = 24, 24, 8

	subjects := make([]string, goroutineActors+waveActors)
	for a := range subjects {
		subjects[a] = s.subject(t, fmt.Sprint(a))
	}
	acked := make([][]uint64, len(subjects))
	var wg sync.WaitGroup
	// One goroutine per actor.
	for a := range goroutineActors {
		wg.Go(func() {
			var last uint64
			for i := range each {
				seq, err := l.Append(ctx, subjects[a], last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
				if err != nil {
					t.Errorf("actor %d append %d: %v", a, i, err)
					return
				}
				acked[a] = append(acked[a], seq)
				last = seq
			}
		})
	}
	// Waves of AppendAsync from one goroutine: one append per actor in flight.
	wg.Go(func() {
		last := make([]uint64, waveActors)
		for i := range each {
			pending := make([]*eventlog.PendingAppend, waveActors)
			for w := range waveActors {
				p, err := l.AppendAsync(ctx, subjects[goroutineActors+w], last[w], &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
				if err != nil {
					t.Errorf("wave %d actor %d: AppendAsync: %v", i, w, err)
					return
				}
				pending[w] = p
			}
			for w, p := range pending {
				seq, err := p.Wait(ctx)
				if err != nil {
					t.Errorf("wave %d actor %d: %v", i, w, err)
					return
				}
				acked[goroutineActors+w] = append(acked[goroutineActors+w], seq)
				last[w] = seq
			}
		}
	})
	// A stale writer among them: refused every time, alone.
	stale := s.subject(t, "stale")
	created := mustAppend(t, l, stale, 0, &eventlog.Event{Kind: eventlog.KindCreate})
	wg.Go(func() {
		for range each * 2 {
			_, err := l.Append(ctx, stale, 0, &eventlog.Event{Kind: eventlog.KindAction})
			if !errors.Is(err, eventlog.ErrConflict) {
				t.Errorf("stale append: %v, want a conflict", err)
				return
			}
		}
	})
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	distinct := map[uint64]int{}
	for a, subj := range subjects {
		if len(acked[a]) != each {
			t.Fatalf("actor %d: %d appends acknowledged, want %d", a, len(acked[a]), each)
		}
		checkIncreasing(t, fmt.Sprintf("actor %d acknowledgements", a), acked[a])
		evs := readAll(t, l, subj)
		if !equalSeqs(seqs(evs), acked[a]) {
			t.Fatalf("actor %d: history %s, acknowledged %v", a, describe(evs), acked[a])
		}
		for i, ev := range evs {
			if ev.Seed != uint64(i) || ev.Subject != subj {
				t.Fatalf("actor %d: event %d is %d on %s", a, i, ev.Seed, ev.Subject)
			}
			if other, dup := distinct[ev.Seq]; dup {
				t.Fatalf("sequence %d acknowledged to actors %d and %d", ev.Seq, other, a)
			}
			distinct[ev.Seq] = a
		}
	}
	if evs := readAll(t, l, stale); !equalSeqs(seqs(evs), []uint64{created}) {
		t.Fatalf("stale actor's history %s, want only its create %d", describe(evs), created)
	}
}
