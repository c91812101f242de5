package actors_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// The property test drives a small actor type through random sequences of
// actions (successful, failing, panicking, too large), KV writes, sleeps
// (forced and requested), process restarts, deleted and corrupt snapshots,
// destroys and re-creates, and checks after every step that what the actor
// reports equals a plain in-memory model. Each check runs over its own real
// JetStream log and Pebble store.
//
// Events record changes, not copies: the actor's state has arrays that grow,
// shrink and are replaced, a map whose keys need RFC 6901 escaping ("a/b",
// "m~n", "~1") or are unicode, integers beyond 2^53, members that come and go
// in the middle of the object, and a raw JSON field that changes type
// (number, string, object, array, null). The check also folds the log with
// actorstate (the fold wake and rebuild use) and requires the result to equal,
// byte for byte, the state the runtime holds, every snapshot it wrote, and a
// snapshot.Rebuild of the log; and that each event carries a patch unless a
// patch would be over half the state.
//
//	go test ./actors -run TestPropertyStateMatchesModel -rapid.checks 200 -rapid.steps 50
//	go test ./actors -run TestPropertyStateMatchesModel -rapid.seed 1234 -rapid.v
//
// rapid's defaults (100 checks of ~30 steps; -short: 20 checks of ~15) take
// 15-25s under -race on 2 shared cores: every check starts its own JetStream
// server and most restart it a few times. -rapid.checks / RAPID_CHECKS and
// -rapid.steps / RAPID_STEPS change them.

// propState is the state of the property test's actor type. Tags and Big
// come and go in the middle of the object (omitempty), so the member order
// changes too.
type propState struct {
	N     int              `json:"n"`
	Pad   string           `json:"pad"` // makes most states big enough to patch
	Items []string         `json:"items"`
	Tags  map[string]int64 `json:"tags,omitempty"`
	Big   int64            `json:"big,omitempty"`
	UBig  uint64           `json:"ubig"`
	Any   json.RawMessage  `json:"any,omitempty"`
}

func (s propState) clone() propState {
	s.Items = slices.Clone(s.Items)
	s.Tags = maps.Clone(s.Tags)
	s.Any = bytes.Clone(s.Any)
	return s
}

// propSplice replaces Del items from At with Ins (both clamped).
type propSplice struct {
	At  int      `json:"at"`
	Del int      `json:"del"`
	Ins []string `json:"ins"`
}

func (sp propSplice) apply(items []string) []string {
	at := min(max(sp.At, 0), len(items))
	del := min(max(sp.Del, 0), len(items)-at)
	return slices.Concat(items[:at], sp.Ins, items[at+del:])
}

// propView is what the read action returns: everything the model predicts.
type propView struct {
	N          int               `json:"n"`
	Items      []string          `json:"items"`
	Tags       map[string]int64  `json:"tags"`
	Big        int64             `json:"big"`
	UBig       uint64            `json:"ubig"`
	Any        json.RawMessage   `json:"any,omitempty"`
	KV         map[string]string `json:"kv"`
	Generation uint64            `json:"generation"`
}

// propPad is a new actor's Pad.
var propPad = strings.Repeat("p", 100)

// propSmallState is the size under which the runtime may log a whole state
// rather than diff it: a patch must be at most half the state and the
// smallest is 29 bytes, so for a few fields a diff would rarely pay.
const propSmallState = 128

const (
	propType      = "prop"
	propMaxState  = 2048 // state plus KV; pushBig goes over it
	propFailCode  = "nope"
	propNumActors = 3
)

// propKeys are the map keys the state uses: unicode, RFC 6901 escapes,
// names that look like array indexes, HTML-escaped characters.
var propKeys = []string{"a", "b", "ünï", "🎉", "a/b", "m~n", "~1", "~0/", "", "-", "0", "<&>", "\u2028"}

// propBigInts are integers a float64 cannot hold exactly.
var propBigInts = []int64{9007199254740993, -9007199254740993, 1<<62 + 1, -1 << 63, 1<<63 - 1}

// propDef is the property test's actor type. Every action that fails mutates
// the state and the KV first, so a leak of a failed change shows up.
func propDef(snapshotEvery int) *actors.Type[propState] {
	return actors.NewType(propType, actors.Options[propState]{
		State: propState{Items: []string{}},
		CreateState: func(_ *actors.Context[propState], input json.RawMessage) (propState, error) {
			var n int
			if len(input) > 0 {
				if err := json.Unmarshal(input, &n); err != nil {
					return propState{}, err
				}
			}
			return propState{N: n, Pad: propPad, Items: []string{}}, nil
		},
		MaxStateBytes: propMaxState,
		SnapshotEvery: snapshotEvery,
	}).
		Action("add", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			return c.State.N, nil
		})).
		Action("pad", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.Pad = strings.Repeat("p", n)
			return n, nil
		})).
		Action("push", actors.Act(func(c *actors.Context[propState], s string) (int, error) {
			c.State.Items = append(c.State.Items, s)
			return len(c.State.Items), nil
		})).
		Action("splice", actors.Act(func(c *actors.Context[propState], sp propSplice) (int, error) {
			c.State.Items = sp.apply(c.State.Items)
			return len(c.State.Items), nil
		})).
		Action("setItems", actors.Act(func(c *actors.Context[propState], items []string) (int, error) {
			c.State.Items = items
			return len(items), nil
		})).
		Action("tag", actors.Act2(func(c *actors.Context[propState], k string, v int64) (int, error) {
			if c.State.Tags == nil {
				c.State.Tags = map[string]int64{}
			}
			c.State.Tags[k] = v
			return len(c.State.Tags), nil
		})).
		Action("untag", actors.Act(func(c *actors.Context[propState], k string) (int, error) {
			delete(c.State.Tags, k)
			return len(c.State.Tags), nil
		})).
		Action("setBig", actors.Act2(func(c *actors.Context[propState], i int64, u uint64) (uint64, error) {
			c.State.Big, c.State.UBig = i, u
			return u, nil
		})).
		Action("setAny", actors.Act(func(c *actors.Context[propState], raw string) (bool, error) {
			c.State.Any = nil
			if raw != "" {
				c.State.Any = json.RawMessage(raw)
			}
			return true, nil
		})).
		Action("fail", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			c.State.Items = append(c.State.Items, "failed")
			c.KV().Put("failed", []byte("yes"))
			return 0, actors.NewUserError(propFailCode, "refused on purpose", map[string]int{"n": n})
		})).
		Action("boom", actors.Act0(func(c *actors.Context[propState]) (int, error) {
			c.State.N += 1000
			c.KV().Delete("a")
			panic("boom")
		})).
		Action("put", actors.Act2(func(c *actors.Context[propState], k, v string) (bool, error) {
			c.KV().Put(k, []byte(v))
			return true, nil
		})).
		Action("del", actors.Act(func(c *actors.Context[propState], k string) (bool, error) {
			_, had := c.KV().Get(k)
			c.KV().Delete(k)
			return had, nil
		})).
		Action("nap", actors.Act(func(c *actors.Context[propState], n int) (int, error) {
			c.State.N += n
			c.Sleep()
			return c.State.N, nil
		})).
		Action("pushBig", actors.Act0(func(c *actors.Context[propState]) (int, error) {
			c.State.Items = append(c.State.Items, strings.Repeat("x", propMaxState))
			return len(c.State.Items), nil
		})).
		Action("selfDestruct", actors.Act0(func(c *actors.Context[propState]) (bool, error) {
			c.Destroy()
			return true, nil
		})).
		Action("raw", actors.Act0(func(c *actors.Context[propState]) (json.RawMessage, error) {
			b, err := json.Marshal(c.State)
			return json.RawMessage(b), err
		})).
		Action("read", actors.Act0(func(c *actors.Context[propState]) (propView, error) {
			v := propView{N: c.State.N, Items: c.State.Items, Tags: c.State.Tags, Big: c.State.Big, UBig: c.State.UBig,
				Any: c.State.Any, KV: map[string]string{}, Generation: c.Generation()}
			for _, e := range c.KV().List("") {
				v.KV[e.Key] = string(e.Value)
			}
			return v, nil
		}))
}

// propModel is what one actor should be.
type propModel struct {
	exists bool
	gen    uint64
	st     propState
	kv     map[string]string
}

func (m *propModel) view() propView {
	s := m.st.clone()
	return propView{N: s.N, Items: s.Items, Tags: s.Tags, Big: s.Big, UBig: s.UBig, Any: s.Any, KV: maps.Clone(m.kv), Generation: m.gen}
}

// propStats counts, over every check of a run, how the state changes of
// events after a create were logged.
type propStats struct {
	patches, fullStates int
}

// propRun is one rapid check: a bundle, the model and the handles resolved
// since the last restart.
type propRun struct {
	b       *bundle
	models  [propNumActors]propModel
	handles [propNumActors]*actors.Handle
	dirty   map[int]bool        // actors to read back at the next check
	events  [propNumActors]int  // events each actor's log should hold
	corrupt [propNumActors]bool // a corrupt snapshot was written and may not be replaced yet
	stats   *propStats
}

func propKey(i int) []string { return []string{"prop/" + fmt.Sprint(i), "k.*>" + fmt.Sprint(i)} }

var propCtx = context.Background()

// handle returns a handle to actor i, resolving it if needed. For an actor the
// model says does not exist it checks that Get says so and returns nil, unless
// a stale handle from before a destroy is still around (its calls must fail).
func (p *propRun) handle(t *rapid.T, i int) *actors.Handle {
	if h := p.handles[i]; h != nil {
		return h
	}
	h, err := p.b.rt.Client().Get(propCtx, propType, propKey(i))
	if !p.models[i].exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: Get of a missing actor: %v, want actor_not_found", i, err)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("actor %d: Get: %v", i, err)
	}
	if h.Generation != p.models[i].gen {
		t.Fatalf("actor %d: handle generation %d, model %d", i, h.Generation, p.models[i].gen)
	}
	p.handles[i] = h
	return h
}

// call runs action on actor i and checks the outcome the model predicts:
// an error matching wantErr (no change), else success and then apply.
// On a missing actor every call must fail with actor_not_found.
func (p *propRun) call(t *rapid.T, i int, action string, args []any, wantErr error, apply func(m *propModel, out json.RawMessage)) {
	p.dirty[i] = true
	h := p.handle(t, i)
	if h == nil {
		return
	}
	out, err := h.Action(propCtx, action, args...)
	m := &p.models[i]
	if !m.exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: %s on a destroyed actor: %v, want actor_not_found", i, action, err)
		}
		return
	}
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("actor %d: %s%v: err %v (output %s), want %v", i, action, args, err, out, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("actor %d: %s%v: %v", i, action, args, err)
	}
	p.events[i]++
	if apply != nil {
		apply(m, out)
	}
}

// change runs a call that changes actor i's state or KV as mutate changes a
// copy of the model (returning the call's output): if the state plus KV would
// then be over the limit the call must fail with state_too_large and change
// nothing, else succeed with that output.
func (p *propRun) change(t *rapid.T, i int, action string, args []any, mutate func(s *propState, kv map[string]string) any) {
	var wantErr error
	var next propState
	var nextKV map[string]string
	var want any
	if m := &p.models[i]; m.exists {
		next, nextKV = m.st.clone(), maps.Clone(m.kv)
		want = mutate(&next, nextKV)
		if propSize(t, next, nextKV) > propMaxState {
			wantErr = actors.ErrStateTooLarge
		}
	}
	p.call(t, i, action, args, wantErr, func(m *propModel, out json.RawMessage) {
		m.st, m.kv = next, nextKV
		propExpectJSON(t, out, want)
	})
}

// propSize is what the runtime counts against MaxStateBytes.
func propSize(t *rapid.T, s propState, kv map[string]string) int {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	for k, v := range kv {
		n += len(k) + len(v)
	}
	return n
}

// read checks actor i against its model.
func (p *propRun) read(t *rapid.T, i int) {
	h := p.handle(t, i)
	if h == nil {
		return
	}
	got, err := actors.Call[propView](propCtx, h, "read")
	m := &p.models[i]
	if !m.exists {
		if !errors.Is(err, actors.ErrNotFound) {
			t.Fatalf("actor %d: read of a destroyed actor: %v, want actor_not_found", i, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("actor %d: read: %v", i, err)
	}
	p.events[i]++
	want := m.view()
	if got.N != want.N || !slices.Equal(got.Items, want.Items) || !maps.Equal(got.Tags, want.Tags) || got.Big != want.Big ||
		got.UBig != want.UBig || !bytes.Equal(got.Any, want.Any) || !maps.Equal(got.KV, want.KV) || got.Generation != want.Generation {
		t.Fatalf("actor %d: state %+v (any %s), model %+v (any %s)", i, got, got.Any, want, want.Any)
	}
}

// checkRaw checks that actor i's state as the runtime encodes it is the
// model's state encoded, and that folding the actor's log gives those bytes.
func (p *propRun) checkRaw(t *rapid.T, i int) {
	p.call(t, i, "raw", nil, nil, func(m *propModel, out json.RawMessage) {
		want, err := json.Marshal(m.st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, want) {
			t.Fatalf("actor %d: the runtime's state\n%s\nthe model's\n%s", i, out, want)
		}
		if im := p.foldLog(t, i); !im.Exists || !bytes.Equal(im.State, out) {
			t.Fatalf("actor %d: the fold of the log (exists=%v)\n%s\nthe runtime's state\n%s", i, im.Exists, im.State, out)
		}
	})
}

func (p *propRun) checkAll(t *rapid.T) {
	for i := range propNumActors {
		p.read(t, i)
	}
}

// readLog returns every event of actor i.
func (p *propRun) readLog(t *rapid.T, i int) []*eventlog.Event {
	subj := propSubject(t, propType, propKey(i))
	var out []*eventlog.Event
	for after := uint64(0); ; {
		page, err := p.b.log.ReadActor(propCtx, subj, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// foldLog folds actor i's whole log with actorstate and returns the image.
// On the way it checks how each event records its state change: a patch of
// at most half the state after it, or the whole state only on a create or
// where a patch would be over half of it; and that folding every patch in
// memory and encoding once gives the bytes that encoding after each event
// gives.
func (p *propRun) foldLog(t *rapid.T, i int) actorstate.Image {
	var im, lazy actorstate.Image
	for _, ev := range p.readLog(t, i) {
		prev, existed := im.State, im.Exists
		if err := im.Apply(ev); err != nil {
			t.Fatalf("actor %d: fold event %d (%s %s): %v", i, ev.Seq, ev.Kind, ev.Action, err)
		}
		im.Settle()
		if err := lazy.Apply(ev); err != nil {
			t.Fatalf("actor %d: fold event %d without settling: %v", i, ev.Seq, err)
		}
		switch {
		case ev.Patch != nil:
			if ev.HasState || ev.Kind == eventlog.KindCreate || ev.Kind == eventlog.KindDestroy || !existed {
				t.Fatalf("actor %d: event %d (%s %s) has a patch, hasState=%v, existed=%v", i, ev.Seq, ev.Kind, ev.Action, ev.HasState, existed)
			}
			if len(ev.Patch) > len(im.State)/2 {
				t.Fatalf("actor %d: event %d: a patch of %d bytes for a state of %d: %s", i, ev.Seq, len(ev.Patch), len(im.State), ev.Patch)
			}
			p.stats.patches++
		case ev.HasState && ev.Kind != eventlog.KindCreate:
			if !existed {
				t.Fatalf("actor %d: event %d (%s %s) sets the state of an actor that does not exist", i, ev.Seq, ev.Kind, ev.Action)
			}
			d, err := jsonpatch.Diff(prev, ev.State)
			if err != nil {
				t.Fatal(err)
			}
			if len(d) <= len(ev.State)/2 && len(ev.State) >= propSmallState {
				t.Fatalf("actor %d: event %d (%s) holds the whole state (%d bytes) where a patch of %d would do", i, ev.Seq, ev.Action, len(ev.State), len(d))
			}
			p.stats.fullStates++
		}
	}
	lazy.Settle()
	if !bytes.Equal(lazy.State, im.State) {
		t.Fatalf("actor %d: folding in memory gives\n%s\nsettling after each event gives\n%s", i, lazy.State, im.State)
	}
	return im
}

// propFoldTo folds the events up to seq with actorstate.Fold.
func propFoldTo(t *rapid.T, evs []*eventlog.Event, seq uint64) actorstate.Snapshot {
	var snap actorstate.Snapshot
	for _, ev := range evs {
		if ev.Seq > seq {
			break
		}
		var err error
		if snap, err = actorstate.Fold(snap, ev); err != nil {
			t.Fatalf("fold event %d of %s: %v", ev.Seq, ev.Subject, err)
		}
	}
	return snap
}

// checkSnapshots checks, with every actor asleep, that each snapshot in
// Pebble is byte for byte the fold of the log up to its sequence.
func (p *propRun) checkSnapshots(t *rapid.T) {
	for i := range propNumActors {
		snap, found, err := p.b.snaps.Get(propSubject(t, propType, propKey(i)))
		if err != nil {
			t.Fatalf("actor %d: snapshot: %v", i, err)
		}
		if !found {
			continue
		}
		if _, err := actorstate.Decode(snap.State); err != nil {
			if !p.corrupt[i] {
				t.Fatalf("actor %d: the runtime wrote a snapshot that does not decode: %v", i, err)
			}
			continue
		}
		p.corrupt[i] = false
		if fold := propFoldTo(t, p.readLog(t, i), snap.Seq); !reflect.DeepEqual(fold, snap) {
			t.Fatalf("actor %d: the snapshot at %d\n%+v\nthe fold of the log\n%+v", i, snap.Seq, snap, fold)
		}
	}
}

// checkRebuild sleeps every actor, rebuilds the snapshot store from the log
// and checks that each rebuilt snapshot is the fold of the actor's log and,
// where the runtime wrote one at the same sequence, that snapshot.
func (p *propRun) checkRebuild(t *rapid.T) {
	p.sleepAll(t)
	if err := p.b.snaps.Flush(); err != nil {
		t.Fatal(err)
	}
	var written [propNumActors]actorstate.Snapshot
	for i := range propNumActors {
		snap, found, err := p.b.snaps.Get(propSubject(t, propType, propKey(i)))
		if err != nil {
			t.Fatal(err)
		}
		if p.models[i].exists && !found {
			t.Fatalf("actor %d was awake but left no snapshot", i)
		}
		written[i] = snap
	}
	if _, err := snapshot.Rebuild(propCtx, p.b.log, p.b.snaps, snapshot.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range propNumActors {
		rebuilt, found, err := p.b.snaps.Get(propSubject(t, propType, propKey(i)))
		if err != nil || !found {
			t.Fatalf("actor %d: no rebuilt snapshot: %v", i, err)
		}
		if fold := propFoldTo(t, p.readLog(t, i), rebuilt.Seq); !reflect.DeepEqual(fold, rebuilt) || rebuilt.Seq != propLastSeq(t, p.b, propSubject(t, propType, propKey(i))) {
			t.Fatalf("actor %d: rebuilt\n%+v\nthe fold of the log\n%+v", i, rebuilt, fold)
		}
		w := written[i]
		if p.models[i].exists && w.Seq != rebuilt.Seq {
			t.Fatalf("actor %d: the runtime's snapshot after a sleep is at %d, its last event at %d", i, w.Seq, rebuilt.Seq)
		}
		if w.Seq == rebuilt.Seq && !reflect.DeepEqual(w, rebuilt) {
			t.Fatalf("actor %d: rebuilt\n%+v\nthe runtime wrote\n%+v", i, rebuilt, w)
		}
	}
}

func propLastSeq(t *rapid.T, b *bundle, subj string) uint64 {
	seq, err := b.log.LastSubjectSeq(propCtx, subj)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (p *propRun) forget() { p.handles = [propNumActors]*actors.Handle{} }

// sleepAll advances the clock past the idle timeout and sleeps every actor,
// waiting until none is left in memory.
func (p *propRun) sleepAll(t *rapid.T) {
	p.b.clock.Advance(31 * time.Second) // the default IdleTimeout is 30s
	deadline := time.Now().Add(10 * time.Second)
	for {
		// An actor whose mailbox goroutine has not yet noticed its queue is
		// empty is not idle yet: ask again until all are asleep.
		p.b.rt.SleepIdle()
		if p.b.rt.Awake() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d actors still awake 10s after SleepIdle", p.b.rt.Awake())
		}
		time.Sleep(time.Millisecond)
	}
}

// propJSON draws a JSON text: numbers (beyond 2^53, with exponents),
// strings (unicode, escaped, HTML), literals, and while depth allows arrays
// and objects, sometimes with insignificant whitespace.
func propJSON(t *rapid.T, depth int) string {
	kinds := []string{"int", "big", "number", "string", "literal"}
	if depth > 0 {
		kinds = append(kinds, "array", "object", "array", "object")
	}
	switch rapid.SampledFrom(kinds).Draw(t, "kind") {
	case "int":
		return strconv.FormatInt(rapid.Int64Range(-1000, 1000).Draw(t, "int"), 10)
	case "big":
		return rapid.SampledFrom([]string{"9007199254740993", "-9007199254740993", "18446744073709551615",
			"9223372036854775807", "-9223372036854775808", "123456789012345678901234567890"}).Draw(t, "big")
	case "number":
		return rapid.SampledFrom([]string{"1.5", "-0", "1.0", "1E+2", "2.5e-3", "0"}).Draw(t, "number")
	case "string":
		if rapid.Bool().Draw(t, "escaped") {
			return rapid.SampledFrom([]string{`"\u00e9"`, `"<&>"`, `"a\/b"`, `"\ud83c\udf89"`, `""`, `"\n\t"`}).Draw(t, "str")
		}
		b, _ := json.Marshal(rapid.StringN(0, 5, -1).Draw(t, "str"))
		return string(b)
	case "literal":
		return rapid.SampledFrom([]string{"null", "true", "false"}).Draw(t, "literal")
	case "array":
		elems := make([]string, rapid.IntRange(0, 3).Draw(t, "len"))
		for j := range elems {
			elems[j] = propJSON(t, depth-1)
		}
		if rapid.Bool().Draw(t, "spaced") {
			return "[ " + strings.Join(elems, " , ") + " ]"
		}
		return "[" + strings.Join(elems, ",") + "]"
	default:
		n := rapid.IntRange(0, 3).Draw(t, "len")
		keys := rapid.SliceOfNDistinct(rapid.SampledFrom(propKeys), n, n, rapid.ID[string]).Draw(t, "keys")
		members := make([]string, len(keys))
		for j, k := range keys {
			kb, _ := json.Marshal(k)
			members[j] = string(kb) + ":" + propJSON(t, depth-1)
		}
		return "{" + strings.Join(members, ",") + "}"
	}
}

// propTB lets the bundle helpers, which take a testing.TB, run inside a rapid
// check: failures, logs, temp dirs and cleanups belong to the check.
type propTB struct {
	testing.TB // the enclosing test, for what a check lacks
	t          *rapid.T
}

func (r propTB) Helper()                           {}
func (r propTB) Name() string                      { return r.t.Name() }
func (r propTB) Log(args ...any)                   { r.t.Log(args...) }
func (r propTB) Logf(format string, args ...any)   { r.t.Logf(format, args...) }
func (r propTB) Error(args ...any)                 { r.t.Error(args...) }
func (r propTB) Errorf(format string, args ...any) { r.t.Errorf(format, args...) }
func (r propTB) Fatal(args ...any)                 { r.t.Fatal(args...) }
func (r propTB) Fatalf(format string, args ...any) { r.t.Fatalf(format, args...) }
func (r propTB) Fail()                             { r.t.Fail() }
func (r propTB) FailNow()                          { r.t.FailNow() }
func (r propTB) Failed() bool                      { return r.t.Failed() }
func (r propTB) Skip(args ...any)                  { r.t.Skip(args...) }
func (r propTB) Skipf(format string, args ...any)  { r.t.Skipf(format, args...) }
func (r propTB) SkipNow()                          { r.t.SkipNow() }
func (r propTB) Cleanup(f func())                  { r.t.Cleanup(f) }
func (r propTB) Context() context.Context          { return r.t.Context() }

func (r propTB) TempDir() string {
	dir, err := os.MkdirTemp("", "rivet-flow-prop-")
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestPropertyStateMatchesModel: random sequences over a few actors of actions
// (including failing, panicking and too-large ones), KV writes, forced and
// requested sleeps, restarts, deleted and corrupt snapshots, destroys and
// re-creates; after every step each touched actor reads back exactly what the
// model holds, and failed calls change nothing. The fold of the log equals,
// byte for byte, the runtime's state, its snapshots and a rebuild.
func TestPropertyStateMatchesModel(t *testing.T) {
	t.Parallel()
	stats := &propStats{}
	t.Cleanup(func() {
		t.Logf("state changes after a create: %d events with a patch, %d with the whole state", stats.patches, stats.fullStates)
		if !t.Failed() && stats.patches == 0 {
			t.Error("no event carried a patch: every state change was logged as a copy of the state")
		}
	})
	rapid.Check(t, func(rt *rapid.T) {
		every := rapid.IntRange(1, 8).Draw(rt, "snapshotEvery")
		reg, err := actors.NewRegistry(propDef(every))
		if err != nil {
			rt.Fatal(err)
		}
		tb := propTB{TB: t, t: rt}
		p := &propRun{b: setup(tb, reg), dirty: map[int]bool{}, stats: stats}
		actor := rapid.IntRange(0, propNumActors-1)
		small := rapid.IntRange(-5, 5)
		word := rapid.StringMatching(`[a-z]{0,6}`)
		key := rapid.SampledFrom([]string{"a", "b", "c", "d/e.f"})

		rebuild := rapid.IntRange(0, 3).Draw(rt, "rebuild") == 0
		for i := range propNumActors {
			n := small.Draw(rt, "n")
			if _, err := p.b.rt.Client().Create(propCtx, propType, propKey(i), n); err != nil {
				rt.Fatalf("create actor %d: %v", i, err)
			}
			p.models[i] = propModel{exists: true, gen: 1, st: propState{N: n, Pad: propPad, Items: []string{}}, kv: map[string]string{}}
			p.events[i]++
		}
		rt.Repeat(map[string]func(*rapid.T){
			"create": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				orCreate := rapid.Bool().Draw(t, "getOrCreate")
				p.dirty[i] = true
				m := &p.models[i]
				cl := p.b.rt.Client()
				var h *actors.Handle
				var created bool
				var err error
				if orCreate {
					h, created, err = cl.GetOrCreate(propCtx, propType, propKey(i), n)
				} else {
					h, err = cl.Create(propCtx, propType, propKey(i), n)
					created = err == nil
					if m.exists {
						if !errors.Is(err, actors.ErrExists) {
							t.Fatalf("actor %d: Create of an existing actor: %v, want actor_exists", i, err)
						}
						return
					}
				}
				if err != nil {
					t.Fatalf("actor %d: create: %v", i, err)
				}
				if created == m.exists {
					t.Fatalf("actor %d: created=%v but the model says exists=%v", i, created, m.exists)
				}
				if created {
					p.events[i]++
					*m = propModel{exists: true, gen: m.gen + 1, st: propState{N: n, Pad: propPad, Items: []string{}}, kv: map[string]string{}}
				}
				if h.Generation != m.gen {
					t.Fatalf("actor %d: generation %d after create, model %d", i, h.Generation, m.gen)
				}
				p.handles[i] = h
			},
			"add": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.change(t, i, "add", []any{n}, func(s *propState, _ map[string]string) any {
					s.N += n
					return s.N
				})
			},
			"push": func(t *rapid.T) {
				i, w := actor.Draw(t, "actor"), word.Draw(t, "s")
				p.change(t, i, "push", []any{w}, func(s *propState, _ map[string]string) any {
					s.Items = append(s.Items, w)
					return len(s.Items)
				})
			},
			"splice": func(t *rapid.T) {
				i := actor.Draw(t, "actor")
				sp := propSplice{At: rapid.IntRange(-1, 8).Draw(t, "at"), Del: rapid.IntRange(0, 4).Draw(t, "del"),
					Ins: rapid.SliceOfN(word, 0, 3).Draw(t, "ins")}
				p.change(t, i, "splice", []any{sp}, func(s *propState, _ map[string]string) any {
					s.Items = sp.apply(s.Items)
					return len(s.Items)
				})
			},
			"setItems": func(t *rapid.T) {
				i, items := actor.Draw(t, "actor"), rapid.SliceOfN(word, 0, 6).Draw(t, "items")
				p.change(t, i, "setItems", []any{items}, func(s *propState, _ map[string]string) any {
					s.Items = slices.Clone(items)
					if items != nil && s.Items == nil {
						s.Items = []string{}
					}
					return len(items)
				})
			},
			"tag": func(t *rapid.T) {
				i, k := actor.Draw(t, "actor"), rapid.SampledFrom(propKeys).Draw(t, "key")
				v := rapid.OneOf(rapid.Int64Range(-3, 3), rapid.SampledFrom(propBigInts)).Draw(t, "v")
				p.change(t, i, "tag", []any{k, v}, func(s *propState, _ map[string]string) any {
					if s.Tags == nil {
						s.Tags = map[string]int64{}
					}
					s.Tags[k] = v
					return len(s.Tags)
				})
			},
			"untag": func(t *rapid.T) {
				i, k := actor.Draw(t, "actor"), rapid.SampledFrom(propKeys).Draw(t, "key")
				p.change(t, i, "untag", []any{k}, func(s *propState, _ map[string]string) any {
					delete(s.Tags, k)
					return len(s.Tags)
				})
			},
			"setBig": func(t *rapid.T) {
				i := actor.Draw(t, "actor")
				v := rapid.OneOf(rapid.Just[int64](0), rapid.Int64(), rapid.SampledFrom(propBigInts)).Draw(t, "i")
				u := rapid.OneOf(rapid.Just[uint64](0), rapid.Uint64(), rapid.SampledFrom([]uint64{9007199254740993, 1<<64 - 1})).Draw(t, "u")
				p.change(t, i, "setBig", []any{v, u}, func(s *propState, _ map[string]string) any {
					s.Big, s.UBig = v, u
					return u
				})
			},
			"setAny": func(t *rapid.T) {
				i := actor.Draw(t, "actor")
				raw := ""
				if rapid.IntRange(0, 5).Draw(t, "clear") > 0 {
					raw = propJSON(t, 2)
				}
				p.change(t, i, "setAny", []any{raw}, func(s *propState, _ map[string]string) any {
					s.Any = nil
					if raw != "" {
						// The state holds it as json.Marshal writes it: compact, HTML-escaped.
						b, err := json.Marshal(json.RawMessage(raw))
						if err != nil {
							t.Fatalf("%q: %v", raw, err)
						}
						s.Any = b
					}
					return true
				})
			},
			"pad": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), rapid.IntRange(0, 300).Draw(t, "n")
				p.change(t, i, "pad", []any{n}, func(s *propState, _ map[string]string) any {
					s.Pad = strings.Repeat("p", n)
					return n
				})
			},
			"verifyFold": func(t *rapid.T) { p.checkRaw(t, actor.Draw(t, "actor")) },
			"fail": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.dirty[i] = true
				h := p.handle(t, i)
				if h == nil {
					return
				}
				_, err := h.Action(propCtx, "fail", n)
				var ue *actors.UserError
				switch {
				case !p.models[i].exists:
					if !errors.Is(err, actors.ErrNotFound) {
						t.Fatalf("actor %d: fail on a destroyed actor: %v", i, err)
					}
				case !errors.As(err, &ue) || ue.Code != propFailCode:
					t.Fatalf("actor %d: fail: %v, want the user error %q as is", i, err, propFailCode)
				}
			},
			"boom": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "boom", nil, actors.ErrInternal, nil)
			},
			"badArgs": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "add", []any{"not a number"}, actors.ErrInvalidArgs, nil)
			},
			"pushBig": func(t *rapid.T) {
				p.call(t, actor.Draw(t, "actor"), "pushBig", nil, actors.ErrStateTooLarge, nil)
			},
			"put": func(t *rapid.T) {
				i, k, v := actor.Draw(t, "actor"), key.Draw(t, "key"), word.Draw(t, "value")
				p.change(t, i, "put", []any{k, v}, func(_ *propState, kv map[string]string) any {
					kv[k] = v
					return true
				})
			},
			"del": func(t *rapid.T) {
				i, k := actor.Draw(t, "actor"), key.Draw(t, "key")
				p.change(t, i, "del", []any{k}, func(_ *propState, kv map[string]string) any {
					_, had := kv[k]
					delete(kv, k)
					return had
				})
			},
			"nap": func(t *rapid.T) {
				i, n := actor.Draw(t, "actor"), small.Draw(t, "n")
				p.change(t, i, "nap", []any{n}, func(s *propState, _ map[string]string) any {
					s.N += n
					return s.N
				})
			},
			"destroy": func(t *rapid.T) {
				i := actor.Draw(t, "actor")
				if rapid.Bool().Draw(t, "fromInside") {
					p.call(t, i, "selfDestruct", nil, nil, func(m *propModel, _ json.RawMessage) {
						m.exists = false
						p.events[i]++ // the tombstone after the action's own event
					})
					return
				}
				p.dirty[i] = true
				h := p.handle(t, i)
				if h == nil {
					return
				}
				err := h.Destroy(propCtx)
				if !p.models[i].exists {
					if !errors.Is(err, actors.ErrNotFound) {
						t.Fatalf("actor %d: destroy of a destroyed actor: %v", i, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("actor %d: destroy: %v", i, err)
				}
				p.models[i].exists = false
				p.events[i]++
			},
			"sleepAll": func(t *rapid.T) {
				p.sleepAll(t)
				p.checkSnapshots(t)
			},
			"restart": func(t *rapid.T) {
				p.b.restart(tb)
				p.forget()
			},
			"dropSnapshots": func(t *rapid.T) {
				// The node would rebuild the folder from the log; the runtime
				// alone must cope too: no snapshot means waking from the log.
				p.b.stop(tb)
				if err := os.RemoveAll(filepath.Join(p.b.dir, "snapshots")); err != nil {
					t.Fatal(err)
				}
				p.b.start(tb)
				p.forget()
				p.corrupt = [propNumActors]bool{}
			},
			"corruptSnapshot": func(t *rapid.T) {
				// A snapshot whose image does not decode is a miss: the actor
				// must wake from the log alone (now or at its next wake).
				i := actor.Draw(t, "actor")
				subj := propSubject(t, propType, propKey(i))
				if err := p.b.snaps.Flush(); err != nil {
					t.Fatal(err)
				}
				bad := snapshot.Snapshot{Actor: subj, Seq: 1, CodeVersion: "1", State: []byte{0xff, 0x01, 0x02}}
				if err := p.b.snaps.Write([]snapshot.Snapshot{bad}, nil); err != nil {
					t.Fatal(err)
				}
				p.corrupt[i] = true
			},
			"checkAll": func(t *rapid.T) {
				for i := range propNumActors {
					p.dirty[i] = true
				}
			},
			"": func(t *rapid.T) {
				for i := range propNumActors {
					if p.dirty[i] {
						p.read(t, i)
						delete(p.dirty, i)
					}
				}
			},
		})
		// The last word: every actor, then its snapshot after a sleep; then
		// from a fresh process with no snapshots, its state bytes against the
		// fold of its log, and a rebuild of every snapshot from the log.
		p.checkAll(rt)
		p.sleepAll(rt)
		p.checkSnapshots(rt)
		p.b.stop(tb)
		if err := os.RemoveAll(filepath.Join(p.b.dir, "snapshots")); err != nil {
			rt.Fatal(err)
		}
		p.b.start(tb)
		p.forget()
		p.checkAll(rt)
		for i := range propNumActors {
			p.checkRaw(rt, i)
		}
		p.checkLog(rt)
		if rebuild { // a quarter of the checks: each rebuild costs ~30 ms
			p.checkRebuild(rt)
		}
	})
}

// checkLog checks that each actor's log holds one event per successful call,
// create and destroy, and none for the calls that failed.
func (p *propRun) checkLog(t *rapid.T) {
	for i := range propNumActors {
		if n := len(p.readLog(t, i)); n != p.events[i] {
			t.Fatalf("actor %d: the log holds %d events, want %d (one per successful call, create and destroy)", i, n, p.events[i])
		}
	}
}

func propExpectJSON(t *rapid.T, out json.RawMessage, want any) {
	t.Helper()
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != string(w) {
		t.Fatalf("output %s, model %s", out, w)
	}
}

func propSubject(t interface{ Fatal(...any) }, typ string, key []string) string {
	subj, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	return subj
}
