package actorstate_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
)

// imgStates is a history of states (as json.Marshal writes them) whose
// changes shrink, grow, replace arrays, change types, use unicode keys and
// keys with "/" and "~", and hold integers beyond 2^53.
var imgStates = []string{
	`{"n":1,"items":["a","b","c","d","e"],"tags":{"x":"1"}}`,
	`{"n":2,"items":["a","b","c","d","e","f","g"],"tags":{"x":"1"}}`,                       // grow
	`{"n":2,"items":["b","e","g"],"tags":{"x":"1"}}`,                                       // shrink
	`{"n":2,"items":["p","q"],"tags":{"x":"1"}}`,                                           // replace
	`{"n":"two","items":{"k":[]},"tags":null}`,                                             // types
	`{"n":[2],"items":null,"tags":{"ünïcødé":"ü","🎉":"\u2028","日本":"\u003c\u0026\u003e"}}`, // unicode
	`{"n":[2],"items":null,"tags":{"ünïcødé":"ü","a/b":"/","m~n":"~","~1":"~1","~0/~1":"","":"empty","-":"-","0":0}}`,
	`{"n":9007199254740993,"items":[18446744073709551615,-9223372036854775808],"tags":{"a/b":1e400,"~1":-0.0}}`, // big ints, exponents
	`{"n":9007199254740995,"items":[18446744073709551614,-9223372036854775808,123456789012345678901234567890],"tags":{"a/b":1e400}}`,
	`{}`,   // shrink to nothing
	`[]`,   // a state that is not an object
	`null`, // nor a container
	`{"back":true}`,
}

// imgEvents returns a create event with imgStates[0] and one action event per
// later state carrying the patch from the one before.
func imgEvents(t *testing.T) []*eventlog.Event {
	t.Helper()
	evs := []*eventlog.Event{{Seq: 1, Subject: "rf.ev.t.k", Kind: eventlog.KindCreate, Generation: 3, HasState: true,
		State: []byte(imgStates[0]), CodeVersion: "v1"}}
	for i := 1; i < len(imgStates); i++ {
		patch, err := jsonpatch.Diff([]byte(imgStates[i-1]), []byte(imgStates[i]))
		if err != nil {
			t.Fatalf("diff to state %d: %v", i, err)
		}
		ev := &eventlog.Event{Seq: uint64(i + 1), Subject: "rf.ev.t.k", Kind: eventlog.KindAction, Generation: 3, Patch: patch,
			CodeVersion: "v2"}
		if i%4 == 0 {
			ev.KV = []eventlog.KVWrite{{Key: []byte("k" + strings.Repeat("/", i)), Value: []byte(imgStates[i])}}
		}
		evs = append(evs, ev)
	}
	return evs
}

// TestImageFoldsPatches: folding the patches of a history gives every state
// byte for byte, whether the image settles after each event, only at the end
// (in memory), through Fold (decode, apply, encode per event) or through
// ApplyKnown (the runtime's commit, which knows the state after).
func TestImageFoldsPatches(t *testing.T) {
	t.Parallel()
	evs := imgEvents(t)
	var each, lazy, known actorstate.Image
	var snap actorstate.Snapshot
	for i, ev := range evs {
		mustApply(t, &each, ev)
		each.Settle()
		if string(each.State) != imgStates[i] {
			t.Fatalf("after event %d: state %s, want %s", ev.Seq, each.State, imgStates[i])
		}
		mustApply(t, &lazy, ev)
		if i > 0 && lazy.State != nil {
			t.Fatalf("after a patch, State should be stale (nil) until Settle: %s", lazy.State)
		}
		known.ApplyKnown(ev, []byte(imgStates[i]))
		var err error
		if snap, err = actorstate.Fold(snap, ev); err != nil {
			t.Fatalf("Fold event %d: %v", ev.Seq, err)
		}
		if snap.Seq != ev.Seq || snap.CodeVersion != ev.CodeVersion || snap.Actor != ev.Subject {
			t.Fatalf("Fold: %+v", snap)
		}
		if got := each.Encode(); !bytes.Equal(got, snap.State) || !bytes.Equal(got, known.Encode()) {
			t.Fatalf("after event %d: settled, Fold and ApplyKnown encode differently", ev.Seq)
		}
	}
	// Encode settles the patches folded in memory.
	if got, want := lazy.Encode(), each.Encode(); !bytes.Equal(got, want) {
		t.Fatalf("folded in memory: %q, settled each time: %q", got, want)
	}
	if string(lazy.State) != imgStates[len(imgStates)-1] || len(lazy.KV) != 3 || lazy.Generation != 3 || !lazy.Exists {
		t.Fatalf("folded in memory: %+v", lazy)
	}
	back, err := actorstate.Decode(lazy.Encode())
	if err != nil || !reflect.DeepEqual(back, each) {
		t.Fatalf("decode: %+v %v, want %+v", back, err, each)
	}
}

// TestImageBadPatchChangesNothing: a patch that does not apply is an error and
// leaves the image as it was, including patches folded in memory before it and
// the KV writes of the bad event.
func TestImageBadPatchChangesNothing(t *testing.T) {
	t.Parallel()
	evs := imgEvents(t)[:4]
	var im actorstate.Image
	for _, ev := range evs {
		mustApply(t, &im, ev) // in memory, not settled
	}
	bad := []struct {
		name  string
		patch string
	}{
		{"missing member", `[{"op":"replace","path":"/nope","value":1}]`},
		{"second op fails", `[{"op":"replace","path":"/n","value":99},{"op":"remove","path":"/items/7"}]`},
		{"failed test", `[{"op":"add","path":"/z","value":1},{"op":"test","path":"/n","value":3}]`},
		{"bad escape", `[{"op":"add","path":"/tags/~2","value":1}]`},
		{"not a patch", `{"op":"add"}`},
		{"not JSON", `[{"op":`},
	}
	for _, tc := range bad {
		ev := &eventlog.Event{Seq: 99, Kind: eventlog.KindAction, Patch: []byte(tc.patch),
			KV: []eventlog.KVWrite{{Key: []byte("leaked"), Value: []byte("1")}}}
		if err := im.Apply(ev); err == nil {
			t.Fatalf("%s: applied", tc.name)
		}
	}
	im.Settle()
	if string(im.State) != imgStates[3] || im.KV["leaked"] != nil {
		t.Fatalf("after bad patches: state %s, KV %v; want %s and no KV", im.State, im.KV, imgStates[3])
	}
	// With no state to patch (before a create, after a tombstone).
	for _, im := range []actorstate.Image{{}, {Generation: 3}} {
		if err := im.Apply(&eventlog.Event{Kind: eventlog.KindAction, Patch: []byte(`[]`)}); err == nil {
			t.Fatalf("patched an image with no state: %+v", im)
		}
	}
	// A snapshot whose state is not JSON cannot be patched, and Fold says so.
	broken := actorstate.Image{Generation: 1, Exists: true, State: []byte(`{"n":`)}
	if _, err := actorstate.Fold(actorstate.Snapshot{Actor: "a", Seq: 1, State: broken.Encode()},
		&eventlog.Event{Seq: 2, Kind: eventlog.KindAction, Patch: []byte(`[]`)}); err == nil {
		t.Fatal("Fold patched a state that is not JSON")
	}
}

// TestImageOldFullStateEvents: events written before patches (the whole state
// on every change, version 1 envelopes) fold as before, and patches fold on
// top of them; a full state after patches folded in memory replaces them.
func TestImageOldFullStateEvents(t *testing.T) {
	t.Parallel()
	old := []*eventlog.Event{
		{Kind: eventlog.KindCreate, Generation: 1, HasState: true, State: []byte(`{"count":0}`)},
		{Kind: eventlog.KindAction, Generation: 1, HasState: true, State: []byte(`{"count":1,"text":"x"}`)},
		{Kind: eventlog.KindAction, Generation: 1, KV: []eventlog.KVWrite{{Key: []byte("a"), Value: []byte("1")}}},
		{Kind: eventlog.KindAction, Generation: 1, HasState: true, State: []byte(`{"text":"x","count":2}`)}, // another member order
	}
	var im actorstate.Image
	for i, ev := range old {
		b := eventlog.MarshalEvent(ev)
		b[0] = 1 // as the release before patches wrote it
		var back eventlog.Event
		if err := eventlog.UnmarshalEvent(b, &back); err != nil {
			t.Fatalf("version 1 event %d: %v", i, err)
		}
		mustApply(t, &im, &back)
	}
	patch, err := jsonpatch.Diff([]byte(`{"text":"x","count":2}`), []byte(`{"count":3,"text":"x","big":9007199254740993}`))
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Patch: patch})
	if got := string(im.Encode()); !strings.Contains(got, `{"count":3,"text":"x","big":9007199254740993}`) {
		t.Fatalf("patch over an old full state: %s (%s)", im.State, patch)
	}
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Patch: []byte(`[{"op":"remove","path":"/big"}]`)})
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, HasState: true, State: []byte(`{"whole":1}`)})
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Patch: []byte(`[{"op":"add","path":"/a~1b","value":2}]`)})
	im.Settle()
	if string(im.State) != `{"whole":1,"a/b":2}` || string(im.KV["a"]) != "1" {
		t.Fatalf("image %s %v", im.State, im.KV)
	}
	// A destroy drops the state folded in memory; a patch after it fails.
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Patch: []byte(`[{"op":"add","path":"/c","value":3}]`)})
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindDestroy, Generation: 1})
	if im.Encode(); im.State != nil || im.Exists {
		t.Fatalf("after destroy: %+v", im)
	}
	err = im.Apply(&eventlog.Event{Kind: eventlog.KindAction, Patch: []byte(`[]`)})
	var opErr *jsonpatch.OpError
	if err == nil || errors.As(err, &opErr) {
		t.Fatalf("patch after a destroy: %v", err)
	}
}
