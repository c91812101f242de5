// Package eventlogtest is a conformance suite for [eventlog.Log]: it checks the
// log's contract against any target (an embedded server, the group-commit path
// of fsync always, an external server, a cluster), in the manner of watermill's
// pubsub/tests.
//
// A target supplies an [Opener] and the [Features] it guarantees, and calls
// [Run] from a test:
//
//	func TestConformance(t *testing.T) {
//		eventlogtest.Run(t, eventlogtest.Features{ConflictReportsActual: true}, func(t *testing.T) *eventlog.Log {
//			return openMyLog(t) // closed by a t.Cleanup
//		})
//	}
//
// Run checks, as parallel subtests that each use actor keys of their own:
//
//   - FencedAppend: create-if-absent at expected 0, appends at the right last
//     sequence, and conflicts (errors.Is ErrConflict, errors.As *ConflictError)
//     for stale, future and repeated-create expectations, which append nothing;
//   - RacingWriters: writers appending to one actor at the same expected
//     sequence, from goroutines or pipelined from one: exactly one wins;
//   - PipelinedAppends: many actors appending at once, from goroutines and in
//     AppendAsync waves, next to a stale writer: every append lands, each actor's
//     events in order, sequences strictly increasing and distinct;
//   - ReadPages: ReadActorPage and ReadActor with limits below, at and above the
//     history and the target's read cap, from the start, the middle and the end,
//     and the more-remain flag of each page (and, with LargeEvents, of pages cut
//     short by the 8 MiB bound of one read);
//   - Scan: a full scan and a scan from the middle see every event in log order,
//     up to the last sequence at the start; an error from fn stops it;
//   - Tail: from a sequence (history, then live events, no gap), with subject,
//     type and no filters, from 0 (only new events), and how it ends;
//   - EnvelopeRoundTrip: every field of the event envelope (it fails when Event
//     gains a field the suite does not set), through every read path
//     (ReadActor, LastEvent, Scan, Tail);
//   - CloseWhileAppending: appends in flight when Close is called succeed (and,
//     with Features.Reopen, are there after reopening) or fail; none hangs, and
//     the log refuses appends once closed;
//   - CloseRacingAppends: AppendAsync calls that start as Close does are refused
//     or end; none is accepted and then left hanging.
//
// The suite leaves goroutine leak checks to the caller: run it in a package
// whose TestMain uses go.uber.org/goleak.
package eventlogtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Opener opens a log of the target under test, ready for appends, and arranges
// (with t.Cleanup) for it to be closed when t ends; the suite may close it first,
// which Close allows. Run calls it once for a log its subtests share, and again
// for each subtest that needs a log of its own (one it closes).
//
// Logs from different calls may share one stream (several clients of one
// server): the suite's actor keys are unique to each Run, and it never assumes
// that the stream is empty or that it is the stream's only writer.
type Opener func(t *testing.T) *eventlog.Log

// Features describes what a target guarantees beyond the contract that every
// target meets. The zero value claims nothing optional.
type Features struct {
	// ConflictReportsActual says that every *ConflictError carries the subject's
	// actual last sequence. True of a single-replica stream; a replicated stream
	// may report 0 when it refuses an append because another fenced append to
	// the subject is in flight.
	ConflictReportsActual bool
	// ContiguousSequences says that the stream's sequences have no gaps: nothing
	// is ever deleted and a refused append takes no sequence, so a scan from 1
	// sees every sequence up to the last, and an unfiltered tail every sequence
	// from where it starts. True of the stream Open creates (it denies deletes
	// and purges).
	ContiguousSequences bool
	// MaxReadBatch is the target's Config.MaxReadBatch, or 0 for the default.
	// The paging tests expect pages capped at it.
	MaxReadBatch int
	// LargeEvents says that the target takes events of nearly 1 MiB (the default
	// Config.MaxEventBytes). The paging tests then also read a history of about
	// 9 MiB, over the 8 MiB bound of one read.
	LargeEvents bool
	// Reopen, when not nil, opens again the storage of a log that the Opener
	// returned, after the suite has closed it (for an external server: another
	// client of the same server). The close test then checks that every append
	// acknowledged before the close is in the log. Like the Opener, it arranges
	// for the new log to be closed when t ends.
	Reopen func(t *testing.T, closed *eventlog.Log) *eventlog.Log
	// Skip maps the names of subtests (as Run names them, such as
	// "CloseRacingAppends") to the reason to skip them on this target: a known
	// bug, which the reason should describe ("BUG: ..."). Run skips them with
	// t.Skip(reason). Remove the entry with the fix.
	Skip map[string]string
}

// HangTimeout bounds every wait of the suite on the log: an append, a close,
// an event expected from a tail. Past it the suite reports the log as hung.
// It is a failure detector only; the suite synchronizes on signals.
const HangTimeout = 30 * time.Second

// actorType is the type of the suite's actors (bar the tail's type filter test).
const actorType = "conformance"

type suite struct {
	f     Features
	open  Opener
	log   *eventlog.Log // shared by the subtests that do not close it
	nonce string        // unique to this Run: keys never collide with another run's
}

// Run runs the conformance suite against the target that open opens, as
// parallel subtests of t. See the package documentation for what it checks.
func Run(t *testing.T, features Features, open Opener) {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	s := &suite{f: features, open: open, nonce: hex.EncodeToString(b[:])}
	s.log = open(t)
	if s.log == nil {
		t.Fatal("eventlogtest: the opener returned no log")
	}
	tests := []struct {
		name string
		fn   func(*testing.T, *suite)
	}{
		{"FencedAppend", testFencedAppend},
		{"RacingWriters", testRacingWriters},
		{"PipelinedAppends", testPipelinedAppends},
		{"ReadPages", testReadPages},
		{"Scan", testScan},
		{"Tail", testTail},
		{"EnvelopeRoundTrip", testEnvelopeRoundTrip},
		{"CloseWhileAppending", testCloseWhileAppending},
		{"CloseRacingAppends", testCloseRacingAppends},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if reason, ok := features.Skip[tc.name]; ok {
				t.Skip(reason)
			}
			tc.fn(t, s)
		})
	}
}

// subject returns the subject of an actor of this run and test: its key is the
// run's nonce, the test's name and parts.
func (s *suite) subject(t *testing.T, parts ...string) string {
	t.Helper()
	return s.typedSubject(t, actorType, parts...)
}

func (s *suite) typedSubject(t *testing.T, typ string, parts ...string) string {
	t.Helper()
	key := append([]string{s.nonce, t.Name()}, parts...)
	subj, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		t.Fatalf("subject of %s %q: %v", typ, key, err)
	}
	return subj
}

// readCap is the most events one read returns.
func (s *suite) readCap() int {
	if s.f.MaxReadBatch > 0 {
		return s.f.MaxReadBatch
	}
	return 1000
}

// mustAppend appends and fails the test on error.
func mustAppend(t *testing.T, l *eventlog.Log, subj string, expected uint64, ev *eventlog.Event) uint64 {
	t.Helper()
	seq, err := l.Append(t.Context(), subj, expected, ev)
	if err != nil {
		t.Fatalf("append to %s at %d: %v", subj, expected, err)
	}
	if seq == 0 || seq <= expected {
		t.Fatalf("append to %s at %d: acknowledged at sequence %d", subj, expected, seq)
	}
	return seq
}

// readAll reads a subject's whole history, page by page.
func readAll(t *testing.T, l *eventlog.Log, subj string) []*eventlog.Event {
	t.Helper()
	var all []*eventlog.Event
	var after uint64
	for {
		evs, more, err := l.ReadActorPage(t.Context(), subj, after, 0)
		if err != nil {
			t.Fatalf("read %s after %d: %v", subj, after, err)
		}
		all = append(all, evs...)
		if !more {
			return all
		}
		if len(evs) == 0 {
			t.Fatalf("read %s after %d: an empty page says more remain", subj, after)
		}
		after = evs[len(evs)-1].Seq
	}
}

// checkConflict checks that err is the conflict of an append to subj at
// expected, when the subject's last sequence is actual.
func (s *suite) checkConflict(t *testing.T, err error, subj string, expected, actual uint64) {
	t.Helper()
	if !errors.Is(err, eventlog.ErrConflict) {
		t.Errorf("append to %s at %d: err = %v, want a conflict", subj, expected, err)
		return
	}
	var ce *eventlog.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("append to %s at %d: %v matches ErrConflict but is no *ConflictError", subj, expected, err)
		return
	}
	if ce.Subject != subj || ce.Expected != expected {
		t.Errorf("conflict = %+v, want subject %s, expected %d", ce, subj, expected)
	}
	if s.f.ConflictReportsActual && ce.Actual != actual {
		t.Errorf("conflict on %s at %d reports actual %d, want %d", subj, expected, ce.Actual, actual)
	}
	if ce.Error() == "" {
		t.Errorf("conflict on %s has no message", subj)
	}
}

// recv receives from ch, failing the test if nothing comes within HangTimeout.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, ch, HangTimeout, what)
}

// recvWithin receives from ch, failing the test if nothing comes within d.
func recvWithin[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing after %s", what, d)
		panic("unreachable")
	}
}

func seqs(evs []*eventlog.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Seq
	}
	return out
}

func equalSeqs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// checkIncreasing reports sequences that are not strictly increasing.
func checkIncreasing(t *testing.T, what string, s []uint64) {
	t.Helper()
	for i := 1; i < len(s); i++ {
		if s[i] <= s[i-1] {
			t.Errorf("%s: sequence %d at %d follows %d", what, s[i], i, s[i-1])
			return
		}
	}
}

// tail runs l.Tail in a goroutine, sending each event to the returned channel
// (buffered, then blocking the tail). stop cancels it and returns its result.
func tail(t *testing.T, l *eventlog.Log, filters []string, from uint64) (events <-chan *eventlog.Event, stop func() error) {
	t.Helper()
	ch := make(chan *eventlog.Event, 256)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(ctx, filters, from, func(ev *eventlog.Event) error {
			select {
			case ch <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var stopped bool
	var result error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			result = recv(t, done, "tail returning after cancel")
		}
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

// next receives the next event from a tail whose subject is in subjects.
func next(t *testing.T, events <-chan *eventlog.Event, what string, subjects ...string) *eventlog.Event {
	t.Helper()
	for {
		ev := recv(t, events, what)
		if len(subjects) == 0 {
			return ev
		}
		for _, s := range subjects {
			if ev.Subject == s {
				return ev
			}
		}
	}
}

func describe(evs []*eventlog.Event) string {
	return fmt.Sprint(seqs(evs))
}
