package actors_test

// Events record changes, not copies (DESIGN.md, invariants 3-4): an action's
// event carries an RFC 6902 patch from the committed state, the whole state
// only on a create or where the patch would be over half of it; waking from a
// snapshot, waking from the log alone and rebuilding the snapshots from the
// log all give the runtime's state byte for byte; and a log written before
// patches (every event a full copy) still folds.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// ptItem is one element of ptState's list.
type ptItem struct {
	ID   int    `json:"id"`
	Text string `json:"text"`
	Done bool   `json:"done"`
}

// ptState is the state of the patch tests' actor type: some bulk so that
// most changes are small next to the whole, a list, a map and a raw JSON field
// (whose type changes) that come and go in the middle of the object, and
// integers beyond 2^53.
//
// A member that appears in the middle of an object cannot be added in place
// (an RFC 6902 add of a new member appends it), so the patch re-adds the
// members after it: Notes, the bulk, comes first to keep those small.
type ptState struct {
	Notes string            `json:"notes"`
	Name  string            `json:"name"`
	Items []ptItem          `json:"items"`
	Tags  map[string]string `json:"tags,omitempty"`
	Any   json.RawMessage   `json:"any,omitempty"`
	Big   int64             `json:"big"`
	UBig  uint64            `json:"ubig"`
}

func ptItems(from, n int, text string) []ptItem {
	out := make([]ptItem, n)
	for i := range out {
		out[i] = ptItem{ID: from + i, Text: fmt.Sprintf("%s %d", text, from+i)}
	}
	return out
}

func ptInitial() ptState {
	return ptState{Name: "list", Items: ptItems(0, 20, "item"), Notes: strings.Repeat("n", 300)}
}

// ptHow says how an event must record a step's state change.
type ptHow int

const (
	ptWantPatch  ptHow = iota // a patch
	ptWantState               // the whole state: a patch would be over half of it
	ptWantNone                // no state change
	ptWantEither              // whichever the size rule gives
)

// ptStep is one change; the actor's "step" action and the test's model both
// run fn.
type ptStep struct {
	name string
	how  ptHow
	fn   func(s *ptState)
}

var ptSteps = []ptStep{
	{"grow", ptWantPatch, func(s *ptState) { s.Items = append(s.Items, ptItems(20, 5, "new")...) }},
	{"shrink", ptWantPatch, func(s *ptState) { s.Items = slices.Delete(s.Items, 2, 10) }},
	{"toggle", ptWantPatch, func(s *ptState) { s.Items[3].Done = true }},
	{"insertMiddle", ptWantPatch, func(s *ptState) { s.Items = slices.Insert(s.Items, 5, ptItems(100, 2, "ins")...) }},
	{"dropOldestAppendNewest", ptWantPatch, func(s *ptState) {
		s.Items = append(slices.Clone(s.Items[1:]), ptItem{ID: 200, Text: "newest"})
	}},
	{"replaceItems", ptWantPatch, func(s *ptState) { s.Items = ptItems(500, 6, "other") }},
	{"emptyItems", ptWantPatch, func(s *ptState) { s.Items = []ptItem{} }},
	{"nullItems", ptWantPatch, func(s *ptState) { s.Items = nil }},
	{"itemsBack", ptWantPatch, func(s *ptState) { s.Items = ptItems(7, 3, "back") }},
	{"anyNumber", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`9007199254740993`) }},
	{"anyString", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`"h\u00e9llo <b>&amp; \u2028"`) }},
	{"anyObject", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`{"a":[1,2,{"b":null}],"c/d":"~","~1":{}}`) }},
	{"anyObjectEdit", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`{"a":[1,2,{"b":false}],"~1":{"x":-1.5e300}}`) }},
	{"anyArray", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`[1,"two",{"three":3},[4]]`) }},
	{"anyArrayEdit", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`[1,"two",{"three":18446744073709551615},[4],5]`) }},
	{"anyNull", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`null`) }},
	{"anyBool", ptWantPatch, func(s *ptState) { s.Any = json.RawMessage(`true`) }},
	{"anyGone", ptWantPatch, func(s *ptState) { s.Any = nil }},
	{"tagsUnicode", ptWantPatch, func(s *ptState) {
		s.Tags = map[string]string{"ünïcødé": "1", "🎉": "party", "日本語": "x", "\u2028": "sep"}
	}},
	{"tagsEscapes", ptWantPatch, func(s *ptState) {
		for _, k := range []string{"a/b", "m~n", "~1", "~0/~1", "/", "~", "", "-", "0", "<&>"} {
			s.Tags[k] = "k:" + k
		}
	}},
	{"tagsEdit", ptWantPatch, func(s *ptState) {
		s.Tags["a/b"] = "changed"
		s.Tags["~0/~1"] = "changed too"
		delete(s.Tags, "m~n")
		delete(s.Tags, "ünïcødé")
	}},
	{"tagsGone", ptWantPatch, func(s *ptState) { s.Tags = nil }},
	{"bigInts", ptWantPatch, func(s *ptState) { s.Big, s.UBig = 9007199254740993, 1<<64-1 }},
	{"bigInts2", ptWantPatch, func(s *ptState) { s.Big, s.UBig = -1<<63, 9007199254740993 }},
	{"bigInts3", ptWantPatch, func(s *ptState) { s.Big = 1<<63 - 1 }},
	{"rename", ptWantPatch, func(s *ptState) { s.Name = "naïve \u2028 <tag> & \"quoted\" \\ \x01" }},
	{"noChange", ptWantNone, func(*ptState) {}},
	{"shrinkNotes", ptWantPatch, func(s *ptState) { s.Notes = "" }},
	{"growNotes", ptWantEither, func(s *ptState) { s.Notes = strings.Repeat("N", 600) }},
	{"rewriteAll", ptWantState, func(s *ptState) {
		*s = ptState{Name: "rewritten", Items: ptItems(1000, 4, "rewritten"), Tags: map[string]string{"z": "z"},
			Any: json.RawMessage(`{"k":"v"}`), Big: 1, UBig: 2, Notes: strings.Repeat("r", 200)}
	}},
}

// ptType is the actor type of the patch tests: step(name) runs the named
// ptStep, raw() returns the state as the runtime encodes it.
func ptType(name string) *actors.Type[ptState] {
	steps := map[string]func(*ptState){}
	for _, s := range ptSteps {
		steps[s.name] = s.fn
	}
	return actors.NewType(name, actors.Options[ptState]{
		CreateState: func(*actors.Context[ptState], json.RawMessage) (ptState, error) { return ptInitial(), nil },
	}).
		Action("step", actors.Act(func(c *actors.Context[ptState], step string) (json.RawMessage, error) {
			fn, ok := steps[step]
			if !ok {
				return nil, actors.NewUserError("no_step", step, nil)
			}
			fn(c.State)
			b, err := json.Marshal(c.State)
			return json.RawMessage(b), err
		})).
		Action("raw", actors.Act0(func(c *actors.Context[ptState]) (json.RawMessage, error) {
			b, err := json.Marshal(c.State)
			return json.RawMessage(b), err
		})).
		Action("kvget", actors.Act(func(c *actors.Context[ptState], k string) (string, error) {
			v, _ := c.KV().Get(k)
			return string(v), nil
		}))
}

func ptMarshal(t testing.TB, s ptState) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ptClone(s ptState) ptState {
	s.Items = slices.Clone(s.Items)
	s.Tags = maps.Clone(s.Tags)
	s.Any = bytes.Clone(s.Any)
	return s
}

// ptCheckEvent checks how ev records the change from prev: as how says, and
// by the rule (a patch at most half the state after it that folds onto prev
// to exactly after; the whole state only where a patch would be over half).
func ptCheckEvent(t *testing.T, ev *eventlog.Event, prev, after []byte, how ptHow) {
	t.Helper()
	switch {
	case ev.Patch != nil:
		if ev.HasState || ev.State != nil {
			t.Fatalf("event %d has a patch and a state", ev.Seq)
		}
		if len(ev.Patch) > len(after)/2 {
			t.Fatalf("event %d: a patch of %d bytes for a state of %d: %s", ev.Seq, len(ev.Patch), len(after), ev.Patch)
		}
		doc, err := jsonpatch.Parse(prev)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Apply(ev.Patch); err != nil {
			t.Fatalf("event %d: the patch does not apply: %v\n%s", ev.Seq, err, ev.Patch)
		}
		if got := doc.Encode(); !bytes.Equal(got, after) {
			t.Fatalf("event %d: the patch\n%s\nturns the state into\n%s\nnot\n%s", ev.Seq, ev.Patch, got, after)
		}
		if how == ptWantState || how == ptWantNone {
			t.Fatalf("event %d carries a patch (%d bytes, state %d): %s", ev.Seq, len(ev.Patch), len(after), ev.Patch)
		}
	case ev.HasState:
		if !bytes.Equal(ev.State, after) {
			t.Fatalf("event %d: state\n%s\nwant\n%s", ev.Seq, ev.State, after)
		}
		if how == ptWantPatch || how == ptWantNone {
			t.Fatalf("event %d carries the whole state (%d bytes), want a patch", ev.Seq, len(ev.State))
		}
		d, err := jsonpatch.Diff(prev, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) <= len(after)/2 {
			t.Fatalf("event %d carries the whole state (%d bytes) where a patch of %d would do", ev.Seq, len(after), len(d))
		}
	default:
		if how != ptWantNone && how != ptWantEither {
			t.Fatalf("event %d records no state change", ev.Seq)
		}
	}
}

// ptFold folds every event of subject with actorstate.Fold, the way a
// rebuild does.
func ptFold(t testing.TB, evs []*eventlog.Event) actorstate.Snapshot {
	t.Helper()
	var snap actorstate.Snapshot
	for _, ev := range evs {
		var err error
		if snap, err = actorstate.Fold(snap, ev); err != nil {
			t.Fatalf("fold event %d: %v", ev.Seq, err)
		}
	}
	return snap
}

// ptSnapshot returns the actor's snapshot, which must exist.
func ptSnapshot(t testing.TB, b *bundle, subj string) actorstate.Snapshot {
	t.Helper()
	snap, found, err := b.snaps.Get(subj)
	if err != nil || !found {
		t.Fatalf("snapshot of %s: found=%v err=%v", subj, found, err)
	}
	return snap
}

// ptImageState decodes a snapshot's image and returns its state bytes.
func ptImageState(t testing.TB, snap actorstate.Snapshot) []byte {
	t.Helper()
	im, err := actorstate.Decode(snap.State)
	if err != nil {
		t.Fatal(err)
	}
	return im.State
}

// ptRebuilt rebuilds store (not the runtime's) from b's log and returns
// subject's snapshot there.
func ptRebuilt(t testing.TB, b *bundle, store *snapshot.Store, subj string) actorstate.Snapshot {
	t.Helper()
	if _, err := snapshot.Rebuild(ftCtx(t), b.log, store, snapshot.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	snap, found, err := store.Get(subj)
	if err != nil || !found {
		t.Fatalf("rebuilt snapshot of %s: found=%v err=%v", subj, found, err)
	}
	return snap
}

// ptDropSnapshot deletes subject's snapshot; the actor must be asleep.
func ptDropSnapshot(t testing.TB, b *bundle, subj string) {
	t.Helper()
	if err := b.snaps.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := b.snaps.Write(nil, []string{subj}); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := b.snaps.Get(subj); found {
		t.Fatal("the snapshot survived its delete")
	}
}

// ptCheckRoundTrips checks, with the actor just changed to want (its state
// bytes) by event seq: the runtime's snapshot after a sleep holds want and
// equals the fold of the log and a rebuild of it; the actor woken from that
// snapshot and woken from the log alone holds want; and the snapshot written
// after the wake from the log holds want too.
func ptCheckRoundTrips(t *testing.T, b *bundle, rebuildStore *snapshot.Store, h *actors.Handle, want []byte, seq uint64) {
	t.Helper()
	subj := ftSubject(h.ID)
	ftAsleep(t, b)
	snap := ptSnapshot(t, b, subj)
	if snap.Seq != seq {
		t.Fatalf("the snapshot after a sleep is at %d, the last event at %d", snap.Seq, seq)
	}
	if got := ptImageState(t, snap); !bytes.Equal(got, want) {
		t.Fatalf("the runtime's snapshot holds\n%s\nwant\n%s", got, want)
	}
	if fold := ptFold(t, ftEvents(t, b, h.ID)); !reflect.DeepEqual(fold, snap) {
		t.Fatalf("the fold of the log\n%+v\nthe runtime's snapshot\n%+v", fold, snap)
	}
	if rebuilt := ptRebuilt(t, b, rebuildStore, subj); !reflect.DeepEqual(rebuilt, snap) {
		t.Fatalf("the rebuilt snapshot\n%+v\nthe runtime's\n%+v", rebuilt, snap)
	}

	// Woken from the snapshot.
	if got := ftCall[json.RawMessage](t, h, "raw"); !bytes.Equal(got, want) {
		t.Fatalf("woken from its snapshot: %s, want %s", got, want)
	}
	// Woken from the log alone: its image, as the next snapshot holds it, is
	// the fold of the patches.
	ftAsleep(t, b)
	ptDropSnapshot(t, b, subj)
	if got := ftCall[json.RawMessage](t, h, "raw"); !bytes.Equal(got, want) {
		t.Fatalf("woken from the log: %s, want %s", got, want)
	}
	ftAsleep(t, b)
	if got := ptImageState(t, ptSnapshot(t, b, subj)); !bytes.Equal(got, want) {
		t.Fatalf("the image woken from the log holds\n%s\nthe runtime's state was\n%s", got, want)
	}
}

func ptRebuildStore(t *testing.T) *snapshot.Store {
	t.Helper()
	store, err := snapshot.Open(t.TempDir(), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// TestFeaturePatchEveryKindOfChange runs changes that shrink, grow, replace
// and empty arrays, change types (number, string, object, array, null, bool,
// gone), add and remove members in the middle of an object, use unicode keys
// and keys with "/" and "~" (RFC 6901 escapes), and integers beyond 2^53. For
// each: the event carries a patch (not the state) where that is at most half
// the state, and the patch folds onto the state before it to the runtime's
// bytes; the snapshot, the fold of the log, a rebuild, a wake from the
// snapshot and a wake from the log alone all agree byte for byte.
func TestFeaturePatchEveryKindOfChange(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ptType("ftpatch"))
	rebuildStore := ptRebuildStore(t)
	h := ftCreate(t, b, "ftpatch", "a")
	subj := ftSubject(h.ID)
	model := ptInitial()
	prev := ptMarshal(t, model)
	evs := ftEvents(t, b, h.ID)
	if len(evs) != 1 || evs[0].Kind != eventlog.KindCreate || !evs[0].HasState || !bytes.Equal(evs[0].State, prev) || evs[0].Patch != nil {
		t.Fatalf("the create event: %+v, want the whole initial state %s", evs[0], prev)
	}
	for _, step := range ptSteps {
		t.Logf("step %s", step.name)
		step.fn(&model)
		want := ptMarshal(t, model)
		if got := ftCall[json.RawMessage](t, h, "step", step.name); !bytes.Equal(got, want) {
			t.Fatalf("%s: the actor's state\n%s\nthe model's\n%s", step.name, got, want)
		}
		ev, err := b.log.LastEvent(ftCtx(t), subj)
		if err != nil || ev == nil || ev.Action != "step" {
			t.Fatalf("%s: last event %+v, %v", step.name, ev, err)
		}
		ptCheckEvent(t, ev, prev, want, step.how)
		ptCheckRoundTrips(t, b, rebuildStore, h, want, ev.Seq)
		prev = want
	}
	// The integers beyond 2^53 went through the log and back exactly.
	raw := ptImageState(t, ptSnapshot(t, b, subj))
	if m := (ptState{}); json.Unmarshal(raw, &m) != nil || m.Big != 1 || m.UBig != 2 {
		t.Fatalf("final state %s", raw)
	}
	var sawBig bool
	var im actorstate.Image
	for _, ev := range ftEvents(t, b, h.ID) {
		if err := im.Apply(ev); err != nil {
			t.Fatal(err)
		}
		im.Settle()
		if bytes.Contains(im.State, []byte(`"big":9007199254740993,"ubig":18446744073709551615`)) {
			sawBig = true
		}
	}
	if !sawBig {
		t.Fatal("no state folded from the log holds big=9007199254740993, ubig=18446744073709551615 exactly")
	}
}

// ptOldEvent is an event as the release before patches wrote it: every
// state change is a copy of the whole state.
func ptOldEvent(kind eventlog.Kind, gen uint64, action string, state []byte, kv ...eventlog.KVWrite) *eventlog.Event {
	ev := &eventlog.Event{Kind: kind, Generation: gen, Action: action, Caller: "http:old", Args: json.RawMessage(`[]`),
		Time: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), Seed: 7, KV: kv}
	if kind == eventlog.KindAction {
		ev.Output = json.RawMessage(`null`)
	}
	if state != nil {
		ev.HasState, ev.State = true, state
	}
	return ev
}

// ptOldLog writes old-shape events to subject, alternately through Append and
// as raw version 1 envelopes published on the log's JetStream connection.
type ptOldLog struct {
	t    *testing.T
	log  *eventlog.Log
	last map[string]uint64
	n    int
}

func (o *ptOldLog) write(subj string, ev *eventlog.Event) {
	o.t.Helper()
	ctx := ftCtx(o.t)
	o.n++
	if o.n%2 == 0 {
		seq, err := o.log.Append(ctx, subj, o.last[subj], ev)
		if err != nil {
			o.t.Fatal(err)
		}
		o.last[subj] = seq
		return
	}
	data := eventlog.MarshalEvent(ev)
	if ev.Patch != nil || data[0] != eventlog.EnvelopeVersion {
		o.t.Fatal("not an old-shape event")
	}
	data[0] = 1 // version 1: no Patch field existed; the rest is unchanged
	var back eventlog.Event
	if err := eventlog.UnmarshalEvent(data, &back); err != nil {
		o.t.Fatalf("a version 1 envelope does not decode: %v", err)
	}
	ack, err := o.log.JetStream().Publish(ctx, subj, data, jetstream.WithExpectLastSequencePerSubject(o.last[subj]))
	if err != nil {
		o.t.Fatal(err)
	}
	o.last[subj] = ack.Sequence
}

// TestFeaturePatchReadsOldFullStateLog: a data dir written by the release
// before patches (every state change a full copy, some events in version 1
// envelopes, the last state in a member order the current code does not
// write) opens under the new code: actors wake from the log with the right
// state, generation and KV; new actions append patches on top of the old
// copies; snapshots, the fold of the log and a rebuild agree byte for byte,
// through sleeps, deleted snapshots and restarts.
func TestFeaturePatchReadsOldFullStateLog(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ptType("ftold"))
	rebuildStore := ptRebuildStore(t)
	b.stop(t)

	// The previous release writes the log.
	lg, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: b.dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	old := &ptOldLog{t: t, log: lg, last: map[string]uint64{}}
	subjA, subjB := propSubject(t, "ftold", []string{"a"}), propSubject(t, "ftold", []string{"b"})

	modelA := ptInitial()
	old.write(subjA, ptOldEvent(eventlog.KindCreate, 1, "$create", ptMarshal(t, modelA)))
	for _, name := range []string{"grow", "toggle", "tagsUnicode", "tagsEscapes", "bigInts", "anyObject"} {
		for _, s := range ptSteps {
			if s.name == name {
				s.fn(&modelA)
			}
		}
		old.write(subjA, ptOldEvent(eventlog.KindAction, 1, "step", ptMarshal(t, modelA)))
	}
	old.write(subjA, ptOldEvent(eventlog.KindAction, 1, "raw", nil, // read-only: no state
		eventlog.KVWrite{Key: []byte("k"), Value: []byte("old kv")}))
	// An older code version wrote its fields in another order (here sorted);
	// the current code re-encodes them in struct order.
	var members map[string]json.RawMessage
	if err := json.Unmarshal(ptMarshal(t, modelA), &members); err != nil {
		t.Fatal(err)
	}
	reordered, err := json.Marshal(members)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(reordered, ptMarshal(t, modelA)) {
		t.Fatal("the reordered state is in struct order")
	}
	old.write(subjA, ptOldEvent(eventlog.KindAction, 1, "reorder", reordered))

	// b: created, destroyed and created again (generation 2).
	modelB := ptInitial()
	old.write(subjB, ptOldEvent(eventlog.KindCreate, 1, "$create", ptMarshal(t, modelB)))
	old.write(subjB, ptOldEvent(eventlog.KindAction, 1, "step", []byte(`{"notes":"","name":"gone soon","items":[],"big":0,"ubig":0}`)))
	old.write(subjB, ptOldEvent(eventlog.KindDestroy, 1, "$destroy", nil))
	modelB.Name = "second generation"
	old.write(subjB, ptOldEvent(eventlog.KindCreate, 2, "$create", ptMarshal(t, modelB)))
	modelB.Items = modelB.Items[:3]
	old.write(subjB, ptOldEvent(eventlog.KindAction, 2, "step", ptMarshal(t, modelB)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := lg.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The new code opens it, with no snapshots.
	b.start(t)
	cl := b.rt.Client()
	ha, err := cl.Get(ftCtx(t), "ftold", []string{"a"})
	if err != nil || ha.Generation != 1 {
		t.Fatalf("a: %v, generation %v", err, ha)
	}
	hb, err := cl.Get(ftCtx(t), "ftold", []string{"b"})
	if err != nil || hb.Generation != 2 {
		t.Fatalf("b: %v, generation %v", err, hb)
	}
	if got := ftCall[json.RawMessage](t, ha, "raw"); !bytes.Equal(got, ptMarshal(t, modelA)) {
		t.Fatalf("a from the old log: %s\nwant %s", got, ptMarshal(t, modelA))
	}
	if got := ftCall[string](t, ha, "kvget", "k"); got != "old kv" {
		t.Fatalf("a's KV from the old log: %q", got)
	}
	if got := ftCall[json.RawMessage](t, hb, "raw"); !bytes.Equal(got, ptMarshal(t, modelB)) {
		t.Fatalf("b from the old log: %s\nwant %s", got, ptMarshal(t, modelB))
	}
	// Waking a re-encoded its state in struct order: a change of member order
	// only, which the first event after the old ones (the wake's, or else the
	// call's) records.
	evs := ftEvents(t, b, ha.ID)
	if len(evs) < 10 {
		t.Fatalf("%d events; want the old 9 then at least one", len(evs))
	}
	ptCheckEvent(t, evs[9], reordered, ptMarshal(t, modelA), ptWantEither)
	if !evs[9].HasState && evs[9].Patch == nil {
		t.Fatalf("re-encoding the old member order logged no change: %+v", evs[9])
	}
	ftAsleep(t, b)
	for _, h := range []*actors.Handle{ha, hb} {
		subj := ftSubject(h.ID)
		snap := ptSnapshot(t, b, subj)
		if fold := ptFold(t, ftEvents(t, b, h.ID)); !reflect.DeepEqual(fold, snap) {
			t.Fatalf("%s: the fold of the old log\n%+v\nthe runtime's snapshot\n%+v", h.ID, fold, snap)
		}
		if rebuilt := ptRebuilt(t, b, rebuildStore, subj); !reflect.DeepEqual(rebuilt, snap) {
			t.Fatalf("%s: rebuilt\n%+v\nthe runtime's snapshot\n%+v", h.ID, rebuilt, snap)
		}
	}

	// New actions append patches on top of the old copies.
	prevA := ptMarshal(t, modelA)
	for _, name := range []string{"insertMiddle", "tagsEdit", "anyArray", "bigInts2", "rename"} {
		for _, s := range ptSteps {
			if s.name != name {
				continue
			}
			s.fn(&modelA)
			want := ptMarshal(t, modelA)
			if got := ftCall[json.RawMessage](t, ha, "step", name); !bytes.Equal(got, want) {
				t.Fatalf("%s: %s\nwant %s", name, got, want)
			}
			ev, err := b.log.LastEvent(ftCtx(t), ftSubject(ha.ID))
			if err != nil {
				t.Fatal(err)
			}
			ptCheckEvent(t, ev, prevA, want, s.how)
			prevA = want
		}
	}
	if got := ftCall[json.RawMessage](t, hb, "step", "grow"); json.Unmarshal(got, new(ptState)) != nil {
		t.Fatalf("b grow: %s", got)
	}
	ptCheckRoundTrips(t, b, rebuildStore, ha, prevA, ftLastSeq(t, b, ha.ID))

	// A restart without snapshots: both wake from the mixed log alone.
	wantB := ftCall[json.RawMessage](t, hb, "raw")
	b.stop(t)
	if err := os.RemoveAll(filepath.Join(b.dir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	for id, want := range map[string][]byte{ha.ID: prevA, hb.ID: wantB} {
		h, err := b.rt.Client().GetByID(ftCtx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		if got := ftCall[json.RawMessage](t, h, "raw"); !bytes.Equal(got, want) {
			t.Fatalf("%s after a restart without snapshots: %s\nwant %s", id, got, want)
		}
	}
	if h, err := b.rt.Client().GetByID(ftCtx(t), ha.ID); err != nil || ftCall[string](t, h, "kvget", "k") != "old kv" {
		t.Fatalf("a's KV after the restart is not the old log's: %v", err)
	}
	ftAsleep(t, b)
	for _, id := range []string{ha.ID, hb.ID} {
		snap := ptSnapshot(t, b, ftSubject(id))
		if fold := ptFold(t, ftEvents(t, b, id)); !reflect.DeepEqual(fold, snap) {
			t.Fatalf("%s: the fold of the log\n%+v\nthe runtime's snapshot\n%+v", id, fold, snap)
		}
		if rebuilt := ptRebuilt(t, b, rebuildStore, ftSubject(id)); !reflect.DeepEqual(rebuilt, snap) {
			t.Fatalf("%s: rebuilt\n%+v\nthe runtime's snapshot\n%+v", id, rebuilt, snap)
		}
	}
}

// TestFeaturePatchChatLogGrowsWithChanges: past builtin.MaxChatHistory
// messages each sendMessage drops the oldest message and appends one; its
// event records that (a small patch), not the ~100 KB room, so the log grows
// with the messages and not with the square of them. With -short the room
// starts from a create event that already holds 990 messages.
func TestFeaturePatchChatLogGrowsWithChanges(t *testing.T) {
	t.Parallel()
	b := setup(t, builtin.Registry())
	const messages = builtin.MaxChatHistory + 50
	text := func(i int) string { return fmt.Sprintf("message %04d: %s", i, strings.Repeat("x", 45)) } // 60 bytes
	first := 0
	if testing.Short() {
		first = builtin.MaxChatHistory - 10
		room := builtin.ChatState{Messages: []builtin.Message{}}
		for i := range first {
			room.Messages = append(room.Messages, builtin.Message{Sender: "alice", Text: text(i)})
		}
		state, err := json.Marshal(room)
		if err != nil {
			t.Fatal(err)
		}
		create := &eventlog.Event{Kind: eventlog.KindCreate, Generation: 1, Action: "$create", HasState: true, State: state, CodeVersion: "1"}
		if _, err := b.log.Append(ftCtx(t), propSubject(t, "chatRoom", []string{"room"}), 0, create); err != nil {
			t.Fatal(err)
		}
	}
	h, _, err := b.rt.Client().GetOrCreate(ftCtx(t), "chatRoom", []string{"room"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := first; i < messages; i++ {
		ftCall[builtin.Message](t, h, "sendMessage", "alice", text(i))
	}
	evs := ftEvents(t, b, h.ID)
	if len(evs) != messages-first+1 {
		t.Fatalf("%d events, want %d", len(evs), messages-first+1)
	}
	var total, largest int
	for j, ev := range evs[1:] {
		i := first + j
		size := len(eventlog.MarshalEvent(ev))
		total += size
		largest = max(largest, size)
		// The first few messages make a state small enough to log whole.
		if ev.Action != "sendMessage" || (i >= 10 && (ev.HasState || ev.Patch == nil)) {
			t.Fatalf("message %d: event %s hasState=%v patch=%q", i, ev.Action, ev.HasState, ev.Patch)
		}
		if size >= 1024 {
			t.Fatalf("message %d: a %d-byte event for a 60-byte message: patch %s", i, size, ev.Patch)
		}
		if i >= builtin.MaxChatHistory {
			if !bytes.Contains(ev.Patch, []byte(`"path":"/messages/0"`)) || !bytes.Contains(ev.Patch, []byte(`"path":"/messages/-"`)) {
				t.Fatalf("message %d: want the oldest dropped and the newest appended, got %s", i, ev.Patch)
			}
		}
	}
	t.Logf("%d sendMessage events: %d bytes in all, largest %d", messages-first, total, largest)

	history := ftCall[[]builtin.Message](t, h, "getHistory")
	if len(history) != builtin.MaxChatHistory || history[0].Text != text(50) || history[len(history)-1].Text != text(messages-1) {
		t.Fatalf("history of %d, first %+v", len(history), history[0])
	}
	ftAsleep(t, b)
	snap := ptSnapshot(t, b, ftSubject(h.ID))
	if fold := ptFold(t, ftEvents(t, b, h.ID)); !reflect.DeepEqual(fold, snap) {
		t.Fatalf("the fold of the chat log differs from the runtime's snapshot (%d vs %d bytes)", len(fold.State), len(snap.State))
	}
}

// ptCheckLog folds evs and checks how each records its state change (the
// rule ptCheckEvent checks); it returns how many events of each kind carry a
// patch.
func ptCheckLog(t *testing.T, evs []*eventlog.Event) map[eventlog.Kind]int {
	t.Helper()
	patches := map[eventlog.Kind]int{}
	var im actorstate.Image
	for _, ev := range evs {
		prev := im.State
		if err := im.Apply(ev); err != nil {
			t.Fatalf("fold event %d (%s %s): %v", ev.Seq, ev.Kind, ev.Action, err)
		}
		im.Settle()
		if ev.Kind == eventlog.KindCreate || ev.Kind == eventlog.KindDestroy {
			continue
		}
		if ev.Patch != nil {
			patches[ev.Kind]++
		}
		if ev.Patch != nil || ev.HasState {
			ptCheckEvent(t, ev, prev, im.State, ptWantEither)
		}
	}
	return patches
}

// TestFeaturePatchHookChanges: state changes made by OnWake and OnSleep (in
// the runtime's own events) and by OnStateChange (in the action's event) are
// patches too, and the snapshots written at sleep, after waking from a
// snapshot or from the log alone, are the fold of the log byte for byte.
func TestFeaturePatchHookChanges(t *testing.T) {
	t.Parallel()
	mark := func(s *ptState, what string) {
		s.Items = append(s.Items, ptItem{ID: len(s.Items), Text: what})
		if len(s.Items) > 30 {
			s.Items = s.Items[len(s.Items)-30:]
		}
	}
	typ := actors.NewType("fthooks", actors.Options[ptState]{
		CreateState: func(*actors.Context[ptState], json.RawMessage) (ptState, error) { return ptInitial(), nil },
		OnWake: func(c *actors.Context[ptState]) error {
			mark(c.State, "wake")
			return nil
		},
		OnSleep: func(c *actors.Context[ptState]) error {
			mark(c.State, "sleep")
			return nil
		},
		OnStateChange: func(c *actors.Context[ptState]) { c.State.UBig++ },
	}).
		Action("rename", actors.Act(func(c *actors.Context[ptState], name string) (string, error) {
			c.State.Name = name
			return name, nil
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "fthooks", "a")
	subj := ftSubject(h.ID)
	for round := range 6 {
		ftCall[string](t, h, "rename", fmt.Sprint("name ", round))
		ftAsleep(t, b)
		snap := ptSnapshot(t, b, subj)
		evs := ftEvents(t, b, h.ID)
		if fold := ptFold(t, evs); !reflect.DeepEqual(fold, snap) {
			t.Fatalf("round %d: the fold of the log\n%+v\nthe runtime's snapshot\n%+v", round, fold, snap)
		}
		if round%2 == 1 && round < 5 {
			ptDropSnapshot(t, b, subj) // the next wake folds the log alone
		}
	}
	patches := ptCheckLog(t, ftEvents(t, b, h.ID))
	if patches[eventlog.KindSystem] < 10 || patches[eventlog.KindAction] < 6 {
		t.Fatalf("events with a patch: %v; want the hooks' and the actions' changes as patches", patches)
	}
	im, err := actorstate.Decode(ptSnapshot(t, b, subj).State)
	if err != nil {
		t.Fatal(err)
	}
	var st ptState
	if err := json.Unmarshal(im.State, &st); err != nil || st.UBig != 6 || st.Name != "name 5" {
		t.Fatalf("final state %s: want 6 changes counted by OnStateChange", im.State)
	}
}
