package actorstate_test

import (
	"fmt"
	"testing"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Effect IDs and call IDs share Calls, each kind under its own bound: a
// flood of sends does not push out remembered calls, nor calls sends.
func TestRememberBoundsEffectsAndCallsApart(t *testing.T) {
	t.Parallel()
	var im actorstate.Image
	seq := uint64(0)
	fold := func(callID string) {
		seq++
		mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Seq: seq, Action: "inc", Args: []byte("[1]"), CallID: callID})
	}
	for i := range 300 {
		fold(fmt.Sprintf("caller.k/%d/0", i))
	}
	for i := range 2000 {
		fold(fmt.Sprintf("%d/0", 10_000+i))
	}
	calls, effects := 0, 0
	for id := range im.Calls {
		if actorstate.IsEffectID(id) {
			effects++
		} else {
			calls++
		}
	}
	if calls != actorstate.MaxRememberedCalls || effects != actorstate.MaxRememberedEffects {
		t.Fatalf("remembered %d calls and %d effects, want %d and %d", calls, effects, actorstate.MaxRememberedCalls, actorstate.MaxRememberedEffects)
	}
	for _, id := range []string{"caller.k/299/0", "caller.k/44/0", "11999/0", "10976/0"} {
		if _, ok := im.Calls[id]; !ok {
			t.Errorf("%s forgotten", id)
		}
	}
	for _, id := range []string{"caller.k/43/0", "10975/0"} {
		if _, ok := im.Calls[id]; ok {
			t.Errorf("%s still remembered: the oldest of its kind goes", id)
		}
	}
	// The bounds survive a snapshot round trip.
	back, err := actorstate.Decode(im.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Calls) != len(im.Calls) {
		t.Fatalf("%d remembered after a round trip, want %d", len(back.Calls), len(im.Calls))
	}
}
