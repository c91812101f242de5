package eventlogtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// testCloseWhileAppending closes a log while writers append to it, one append
// at a time per actor and in pipelined AppendAsync waves. Every append in
// flight either succeeds or fails; none hangs. Once Close has returned, the log
// refuses appends with ErrClosed. With Features.Reopen, every acknowledged
// append is in the reopened log, and each actor's history is its acknowledged
// events plus at most the one whose outcome its writer did not learn.
func testCloseWhileAppending(t *testing.T, s *suite) {
	l := s.open(t)
	const writers, waveActors, warmAcks = 12, 16, 3

	type outcome struct {
		subj  string
		acked []uint64 // in append order
		err   error    // the error that stopped the writer
	}
	outcomes := make(chan outcome, writers+waveActors)
	warm := make(chan struct{}, writers+1)
	var wg sync.WaitGroup

	// Writers appending one event at a time to their actor, until refused.
	for w := range writers {
		subj := s.subject(t, fmt.Sprint("writer", w))
		wg.Go(func() {
			o := outcome{subj: subj}
			var last uint64
			for i := 0; ; i++ {
				// No deadline: an append that never completes is the bug to catch.
				seq, err := l.Append(context.Background(), subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(i)})
				if err != nil {
					o.err = err
					break
				}
				o.acked = append(o.acked, seq)
				last = seq
				if len(o.acked) == warmAcks {
					warm <- struct{}{}
				}
			}
			if len(o.acked) < warmAcks {
				warm <- struct{}{} // refused before the close: reported below
			}
			outcomes <- o
		})
	}
	// Waves of AppendAsync across actors, each wave creating its actors' next
	// events, until the log refuses one.
	subjects := make([]string, waveActors)
	for a := range subjects {
		subjects[a] = s.subject(t, fmt.Sprint("wave", a))
	}
	wg.Go(func() {
		last := make([]uint64, waveActors)
		acked := make([][]uint64, waveActors)
		var stop error
		for wave := 0; stop == nil; wave++ {
			var pending []*eventlog.PendingAppend
			for a := range waveActors {
				p, err := l.AppendAsync(context.Background(), subjects[a], last[a], &eventlog.Event{Kind: eventlog.KindAction, Seed: uint64(wave)})
				if err != nil {
					stop = err
					break
				}
				pending = append(pending, p)
			}
			for a, p := range pending {
				seq, err := p.Wait(context.Background())
				if err != nil {
					stop = err // this actor's last outcome is unknown
					continue
				}
				acked[a] = append(acked[a], seq)
				last[a] = seq
			}
			if wave == warmAcks-1 || stop != nil && wave < warmAcks-1 {
				warm <- struct{}{} // (early if the log refused an append before the close)
			}
		}
		for a := range waveActors {
			outcomes <- outcome{subj: subjects[a], acked: acked[a], err: stop}
		}
	})

	for range writers + 1 {
		recv(t, warm, "appends before the close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), HangTimeout)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- l.Close(ctx) }()

	allDone := make(chan struct{})
	go func() { wg.Wait(); close(allDone) }()
	recv(t, allDone, "appends in flight when the log closed (a hung append)")
	if err := recv(t, closed, "Close"); err != nil {
		t.Errorf("Close with appends in flight: %v", err)
	}
	close(outcomes)
	var results []outcome
	kinds := map[string]int{}
	for o := range outcomes {
		results = append(results, o)
		switch {
		case errors.Is(o.err, eventlog.ErrClosed):
			kinds["ErrClosed"]++
		case o.err != nil:
			kinds[o.err.Error()]++
		}
	}
	total := 0
	for _, o := range results {
		total += len(o.acked)
	}
	t.Logf("%d appends acknowledged; how the writers stopped: %v", total, kinds)
	if total < (writers+waveActors)*warmAcks {
		t.Errorf("only %d appends acknowledged before the close", total)
	}
	for _, o := range results {
		if errors.Is(o.err, eventlog.ErrConflict) {
			t.Errorf("%s: a writer on its own actor got %v", o.subj, o.err)
		}
	}

	// Closed: appends are refused, Close again is a no-op.
	subj := s.subject(t, "after")
	if _, err := l.Append(context.Background(), subj, 0, &eventlog.Event{}); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Append after Close: %v, want ErrClosed", err)
	}
	if _, err := l.AppendAsync(context.Background(), subj, 0, &eventlog.Event{}); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("AppendAsync after Close: %v, want ErrClosed", err)
	}
	if err := l.Ready(context.Background()); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Ready after Close: %v, want ErrClosed", err)
	}
	closeAgain := make(chan error, 1)
	go func() { closeAgain <- l.Close(context.Background()) }()
	if err := recv(t, closeAgain, "second Close"); err != nil {
		t.Errorf("second Close: %v", err)
	}

	if s.f.Reopen == nil {
		return
	}
	l2 := s.f.Reopen(t, l)
	if l2 == nil {
		t.Fatal("Reopen returned no log")
	}
	for _, o := range results {
		hist := seqs(readAll(t, l2, o.subj))
		n := len(o.acked)
		if len(hist) < n || len(hist) > n+1 || !equalSeqs(hist[:n], o.acked) {
			t.Errorf("%s after reopening: history %v, acknowledged %v (plus at most one unknown outcome)", o.subj, hist, o.acked)
		}
	}
	if _, err := l2.Append(context.Background(), subj, 0, &eventlog.Event{}); err != nil {
		t.Errorf("append to the reopened log: %v", err)
	}
}

// testCloseRacingAppends calls Close just as an AppendAsync call starts on an
// idle log, attempt after attempt: the call either is refused or returns a
// PendingAppend whose Wait ends (success or error). The event is large so that
// encoding it keeps AppendAsync busy while Close runs. An append accepted and
// then never completed is a hang (reported after HangTimeout).
func testCloseRacingAppends(t *testing.T, s *suite) {
	const attempts = 12
	size := 64 << 10
	if s.f.LargeEvents {
		size = 1000 << 10
	}
	ev := &eventlog.Event{Kind: eventlog.KindCreate, HasState: true, State: bytes.Repeat([]byte{'x'}, size)}
	outcomes := map[string]int{}
	for attempt := range attempts {
		l := s.open(t)
		subj := s.subject(t, fmt.Sprint(attempt))
		starting := make(chan struct{})
		result := make(chan string, 1)
		go func() {
			close(starting)
			p, err := l.AppendAsync(context.Background(), subj, 0, ev)
			if err != nil {
				if errors.Is(err, eventlog.ErrClosed) {
					result <- "refused: ErrClosed"
				} else {
					result <- "refused: other error"
					t.Logf("refused with %v", err)
				}
				return
			}
			// Bounded, so that a hung append is reported rather than leaked.
			ctx, cancel := context.WithTimeout(context.Background(), HangTimeout)
			defer cancel()
			switch _, err := p.Wait(ctx); {
			case ctx.Err() != nil:
				result <- "HUNG"
			case errors.Is(err, eventlog.ErrClosed):
				result <- "failed: ErrClosed"
			case err != nil:
				result <- "failed: other error"
				t.Logf("failed with %v", err)
			default:
				result <- "appended"
			}
		}()
		<-starting
		ctx, cancel := context.WithTimeout(context.Background(), HangTimeout)
		if err := l.Close(ctx); err != nil {
			t.Errorf("attempt %d: Close: %v", attempt, err)
		}
		cancel()
		// The racer's own Wait gives up after HangTimeout: give it time to say so.
		outcome := recvWithin(t, result, 2*HangTimeout, "append racing Close")
		outcomes[outcome]++
		if outcome == "HUNG" {
			t.Fatalf("attempt %d: an append racing Close was accepted by AppendAsync and never completed (Wait gave up after %s); outcomes so far %v",
				attempt, HangTimeout, outcomes)
		}
	}
	t.Logf("appends racing Close: %v", outcomes)
}
