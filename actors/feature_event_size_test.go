package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// ftEventSizeSetup starts a bundle like ftSetup, over a log whose events are
// at most maxEvent bytes. Its restart would reopen the log with the default
// limit: the tests here put actors to sleep instead.
func ftEventSizeSetup(t *testing.T, maxEvent int, mutate func(*actors.RuntimeOptions), defs ...actors.Definition) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir(), reg: ftRegistry(t, defs...), clock: newFakeClock()}
	b.opts = actors.RuntimeOptions{Logger: quietLogger(), Clock: b.clock, SweepInterval: time.Hour}
	if mutate != nil {
		mutate(&b.opts)
	}
	var err error
	if b.log, err = eventlog.Open(context.Background(), eventlog.Config{DataDir: b.dir, Logger: quietLogger(), MaxEventBytes: maxEvent}); err != nil {
		t.Fatal(err)
	}
	if b.snaps, err = snapshot.Open(filepath.Join(b.dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		b.log.Close(context.Background())
		t.Fatal(err)
	}
	b.rt, err = actors.NewRuntime(b.log, b.snaps, b.reg, b.opts)
	if err == nil {
		err = b.rt.Start(context.Background())
	}
	if err != nil {
		b.snaps.Close()
		b.log.Close(context.Background())
		t.Fatal(err)
	}
	t.Cleanup(func() { b.stop(t) })
	return b
}

// ftLastEvent returns the actor's last event, from the log.
func ftLastEvent(t *testing.T, b *bundle, id string) *eventlog.Event {
	t.Helper()
	evs := ftEvents(t, b, id)
	if len(evs) == 0 {
		t.Fatalf("no events of %s", id)
	}
	return evs[len(evs)-1]
}

// An action whose event does not fit the log's MaxEventBytes fails with
// ErrStateTooLarge and changes nothing: no event, the state as before, in
// memory and after a wake; the actor keeps working. An event just under the
// limit is stored.
func TestFeatureEventSizeLimit(t *testing.T) {
	t.Parallel()
	const maxEvent = 4096
	b := ftEventSizeSetup(t, maxEvent, nil, ftType("ftevsize", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftevsize", "a")
	ftCall[int64](t, h, "inc", 7)
	ftCall[string](t, h, "setText", "seed")

	// The size of setText(n bytes)'s event, from the stored event of the
	// call above (same kind, action, caller, time, generation and count;
	// setText's event carries its arguments, output and the whole state)
	// with the seed, the one field whose encoded size varies, at its
	// smallest or largest.
	tmpl := ftLastEvent(t, b, h.ID)
	if tmpl.Action != "setText" || !tmpl.HasState || tmpl.Patch != nil {
		t.Fatalf("unexpected setText event: %+v", tmpl)
	}
	text := func(n int) string { return strings.Repeat("x", n) }
	size := func(n int, seed uint64) int {
		ev := *tmpl
		ev.Args = json.RawMessage(ftJSON(t, []string{text(n)}))
		ev.Output = json.RawMessage(ftJSON(t, text(n)))
		ev.State = json.RawMessage(ftJSON(t, ftState{Count: 7, Text: text(n)}))
		ev.Seed = seed
		return len(eventlog.MarshalEvent(&ev))
	}
	under := 0 // the longest text whose event fits whatever its seed
	for size(under+1, math.MaxUint64) <= maxEvent {
		under++
	}
	over := under + 1 // the shortest text whose event never fits
	for size(over, 0) <= maxEvent {
		over++
	}
	if over-under > 8 {
		t.Fatalf("edge too wide: texts of %d to %d bytes", under, over)
	}

	seq := ftLastSeq(t, b, h.ID)
	for _, n := range []int{over, 2 * maxEvent} {
		_, err := h.Action(ftCtx(t), "setText", text(n))
		if !errors.Is(err, actors.ErrStateTooLarge) {
			t.Fatalf("setText(%d bytes): %v, want ErrStateTooLarge", n, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "event for setText is too large for the log") {
			t.Fatalf("setText(%d bytes): message %q does not say the event is too large for the log", n, msg)
		}
		if !errors.Is(err, eventlog.ErrEventTooLarge) {
			t.Fatalf("setText(%d bytes): %v does not wrap eventlog.ErrEventTooLarge", n, err)
		}
		if got := ftLastSeq(t, b, h.ID); got != seq {
			t.Fatalf("setText(%d bytes) appended: last seq %d, want %d", n, got, seq)
		}
		if st := ftCall[ftState](t, h, "state"); st.Count != 7 || st.Text != "seed" {
			t.Fatalf("state after the refused setText(%d bytes): %+v", n, st)
		}
		seq = ftLastSeq(t, b, h.ID) // the state call's event
	}

	// The actor still works, and an event just under the limit is stored.
	if got := ftCall[int64](t, h, "inc", 1); got != 8 {
		t.Fatalf("inc after the refusals: %d, want 8", got)
	}
	ftCall[string](t, h, "setText", "seed")
	if got := ftCall[string](t, h, "setText", text(under)); got != text(under) {
		t.Fatalf("setText just under the limit returned %d bytes", len(got))
	}
	ev := ftLastEvent(t, b, h.ID)
	if ev.Action != "setText" || !ev.HasState {
		t.Fatalf("last event %+v, want setText's carrying the state", ev)
	}
	n := len(eventlog.MarshalEvent(ev))
	if n > maxEvent || n < maxEvent-24 {
		t.Fatalf("event just under the limit is %d bytes, limit %d", n, maxEvent)
	}
	t.Logf("texts of %d bytes refused, of %d bytes stored (event of %d bytes, limit %d)", over, under, n, maxEvent)

	// Woken from its snapshot and log, the actor has every stored change and
	// none of the refused ones.
	ftAsleep(t, b)
	if st := ftCall[ftState](t, h, "state"); st.Count != 8 || st.Text != text(under) {
		t.Fatalf("state after a wake: count %d, text of %d bytes", st.Count, len(st.Text))
	}
	if got := ftCall[int64](t, h, "inc", 1); got != 9 {
		t.Fatalf("inc after a wake: %d, want 9", got)
	}
}

// ftStateSummary describes a large ftState in few bytes: an action's output
// is recorded in its event, so the whole state cannot be returned once it is
// over the log's MaxEventBytes.
type ftStateSummary struct {
	Bytes   int    // encoded state
	Count   int64  // Count
	Text    string // Text
	Entries int    // len(Log)
	Last    string // the last entry of Log
}

// The state and event limits are separate: a state many times the log's
// MaxEventBytes keeps working as long as each change (a JSON Patch) fits in
// an event; only MaxStateBytes bounds the state, with its own message.
func TestFeatureEventSizeLargeStateSmallPatches(t *testing.T) {
	t.Parallel()
	const maxEvent, maxState, item = 4096, 24 << 10, 500
	typ := ftType("ftevbig", actors.Options[ftState]{MaxStateBytes: maxState}).
		Action("push", actors.Act(func(c *actors.Context[ftState], s string) (int, error) {
			c.State.Log = append(c.State.Log, s)
			return len(c.State.Log), nil
		})).
		Action("summary", actors.Act0(func(c *actors.Context[ftState]) (ftStateSummary, error) {
			enc, err := json.Marshal(c.State)
			sum := ftStateSummary{Bytes: len(enc), Count: c.State.Count, Text: c.State.Text, Entries: len(c.State.Log)}
			if n := len(c.State.Log); n > 0 {
				sum.Last = c.State.Log[n-1]
			}
			return sum, err
		}))
	b := ftEventSizeSetup(t, maxEvent, nil, typ)
	h := ftCreate(t, b, "ftevbig", "a")
	entry := func(i int) string { return strings.Repeat(string(rune('a'+i%26)), item) }

	// Set the text first: a member that appears before a large one moves
	// it in the encoded state (keys keep json.Marshal's order), so its patch
	// would carry the large member too.
	ftCall[string](t, h, "setText", "first")

	// Grow the state to four times the event limit, a small patch at a time.
	summary := func() ftStateSummary { return ftCall[ftStateSummary](t, h, "summary") }
	pushes := 0
	for summary().Bytes <= 4*maxEvent {
		pushes++
		if got := ftCall[int](t, h, "push", entry(pushes)); got != pushes {
			t.Fatalf("push %d returned %d", pushes, got)
		}
	}
	if got := ftCall[int64](t, h, "inc", 5); got != 5 {
		t.Fatalf("inc on a large state: %d, want 5", got)
	}
	if got := ftCall[string](t, h, "setText", "small"); got != "small" {
		t.Fatalf("setText on a large state: %q", got)
	}
	patched, evs := 0, ftEvents(t, b, h.ID)
	for _, ev := range evs {
		if n := len(eventlog.MarshalEvent(ev)); n > maxEvent {
			t.Fatalf("event %d (%s) is %d bytes, over the log's limit", ev.Seq, ev.Action, n)
		}
		if ev.Patch != nil && !ev.HasState {
			patched++
		}
	}
	if patched < pushes/2 {
		t.Fatalf("%d of %d events carry a patch, after %d pushes", patched, len(evs), pushes)
	}

	// Woken from its snapshot and log, the large state is whole.
	ftAsleep(t, b)
	if st := summary(); st.Count != 5 || st.Text != "small" || st.Entries != pushes || st.Last != entry(pushes) || st.Bytes <= 4*maxEvent {
		t.Fatalf("state after a wake: %d bytes, count %d, text %q, %d entries, want %d", st.Bytes, st.Count, st.Text, st.Entries, pushes)
	}

	// MaxStateBytes still applies, with its own error, to events that fit.
	var err error
	for err == nil {
		if pushes*item > 2*maxState {
			t.Fatalf("%d pushes, no ErrStateTooLarge", pushes)
		}
		seq := ftLastSeq(t, b, h.ID)
		_, err = h.Action(ftCtx(t), "push", entry(pushes+1))
		if err == nil {
			pushes++
			continue
		}
		if !errors.Is(err, actors.ErrStateTooLarge) || !strings.Contains(err.Error(), "bytes of state and KV") ||
			errors.Is(err, eventlog.ErrEventTooLarge) {
			t.Fatalf("push over MaxStateBytes: %v, want ErrStateTooLarge about the state", err)
		}
		if got := ftLastSeq(t, b, h.ID); got != seq {
			t.Fatalf("the refused push appended: last seq %d, want %d", got, seq)
		}
	}
	if st := summary(); st.Entries != pushes || st.Last != entry(pushes) {
		t.Fatalf("%d entries after the refused push, want %d", st.Entries, pushes)
	}
	if got := ftCall[int64](t, h, "inc", 1); got != 6 {
		t.Fatalf("inc at the state limit: %d, want 6", got)
	}
}
