package actorstate_test

import (
	"reflect"
	"testing"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustApply(t *testing.T, im *actorstate.Image, ev *eventlog.Event) {
	t.Helper()
	if err := im.Apply(ev); err != nil {
		t.Fatalf("apply %s: %v", ev.Kind, err)
	}
}

func TestImageRoundTripAndApply(t *testing.T) {
	t.Parallel()
	var im actorstate.Image
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindCreate, Generation: 2, HasState: true, State: []byte(`{}`)})
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, KV: []eventlog.KVWrite{{Key: []byte("b"), Value: []byte("2")}, {Key: []byte("a"), Value: []byte{}}}})
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, HasState: true, State: []byte(`{"x":1}`), KV: []eventlog.KVWrite{{Key: []byte("b"), Delete: true}}})
	want := actorstate.Image{Generation: 2, Exists: true, State: []byte(`{"x":1}`), KV: map[string][]byte{"a": {}}}
	if !reflect.DeepEqual(im, want) {
		t.Fatalf("image = %+v, want %+v", im, want)
	}
	back, err := actorstate.Decode(im.Encode())
	if err != nil || !reflect.DeepEqual(back, want) {
		t.Fatalf("round trip = %+v, %v", back, err)
	}
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindDestroy})
	if im.Exists || im.Generation != 2 || im.State != nil || im.KV != nil {
		t.Fatalf("after destroy: %+v", im)
	}
	if _, err := actorstate.Decode([]byte{9}); err == nil {
		t.Fatal("decoded a bad version")
	}
}
