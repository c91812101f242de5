package actors_test

import (
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// IsAwake follows one actor in and out of memory: awake after a call, not
// after it sleeps (idle timeout) or is evicted at the awake limit, awake
// again after the next call; asking never wakes an actor.
func TestFeatureIsAwake(t *testing.T) {
	t.Parallel()
	typ := ftType("ftisawake", actors.Options[ftState]{})
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAwakeActors = 2 }, typ)
	left := actors.InitLeftSignal(t, b.rt)

	neverCalled, err := actors.ActorID("ftisawake", []string{"never"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "not an id", neverCalled} {
		if b.rt.IsAwake(id) {
			t.Errorf("IsAwake(%q) before any call", id)
		}
	}
	if n := b.rt.Awake(); n != 0 {
		t.Fatalf("asking woke %d actors", n)
	}

	// Awake after a call; the other actor is not.
	a := ftCreate(t, b, "ftisawake", "a")
	ftCall[int64](t, a, "inc", 1)
	if !b.rt.IsAwake(a.ID) || b.rt.IsAwake(neverCalled) {
		t.Fatalf("after a call: IsAwake(a) %v, IsAwake(never) %v", b.rt.IsAwake(a.ID), b.rt.IsAwake(neverCalled))
	}

	// Not awake once it slept at its idle timeout.
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 1 {
		t.Fatalf("SleepIdle put %d actors to sleep, want 1", n)
	}
	ftLeft(t, b, left, a.ID, 0)
	if b.rt.IsAwake(a.ID) {
		t.Fatal("awake after it slept")
	}

	// Awake again after the next call.
	ftCall[int64](t, a, "inc", 1)
	if !b.rt.IsAwake(a.ID) {
		t.Fatal("not awake after a call that woke it")
	}

	// Evicted at the awake limit (2): one of a and c leaves (the least
	// recently used idle one; which one is the eviction's business, tested
	// with the limit), and IsAwake says which.
	b.clock.Advance(time.Second)
	c := ftCreate(t, b, "ftisawake", "c")
	b.clock.Advance(time.Second)
	d := ftCreate(t, b, "ftisawake", "d")
	gone := left.WaitOrTimeout()
	if gone != a.ID && gone != c.ID {
		t.Fatalf("actor %q left memory, want a or c", gone)
	}
	stayed := c.ID
	if gone == c.ID {
		stayed = a.ID
	}
	if b.rt.IsAwake(gone) || !b.rt.IsAwake(stayed) || !b.rt.IsAwake(d.ID) || b.rt.Awake() != 2 {
		t.Fatalf("after the eviction of %s: IsAwake %v, %s %v, d %v; want false, true, true",
			gone, b.rt.IsAwake(gone), stayed, b.rt.IsAwake(stayed), b.rt.IsAwake(d.ID))
	}
	if gone == c.ID {
		return
	}
	if got := ftCall[int64](t, a, "get"); got != 2 {
		t.Fatalf("a's count after its eviction: %d, want 2", got)
	}
	if !b.rt.IsAwake(a.ID) {
		t.Fatal("not awake after a call that woke it from an eviction")
	}
}
