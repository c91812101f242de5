package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"
)

// WaitIdle returns only once every alarm due by the clock's time has
// fired, and NextAfter names the next one to move the clock to: what a
// test kit needs to advance time alarm by alarm without sleeping.
func TestWaitIdleAndNextAfter(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	a, c := n.actor(t, "a"), n.actor(t, "c")
	_, at1 := n.set(t, a, time.Second, "a1")
	_, at2 := n.set(t, c, 2*time.Second, "c2")
	_, at3 := n.set(t, a, 3*time.Second, "a3")
	n.waitIndex(t)
	ctx := testCtx(t)
	if err := n.s.WaitIdle(ctx); err != nil { // nothing due yet
		t.Fatal(err)
	}
	next, ok, err := n.s.NextAfter(b.clock.Now())
	if err != nil || !ok || !next.At.Equal(at1) {
		t.Fatalf("NextAfter(now) = %+v, %v, %v; want the alarm at %v", next, ok, err, at1)
	}

	b.clock.Set(at2) // a1 and c2 come due at once
	if err := n.s.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// Both fired before WaitIdle returned: their rings are in the state
	// without any further wait.
	if got := len(call[ringState](t, a, "state").Rings) + len(call[ringState](t, c, "state").Rings); got != 2 {
		t.Fatalf("%d rings after WaitIdle at %v, want 2", got, at2)
	}
	n.waitIndex(t)
	next, ok, err = n.s.NextAfter(b.clock.Now())
	if err != nil || !ok || !next.At.Equal(at3) {
		t.Fatalf("NextAfter(%v) = %+v, %v, %v; want the alarm at %v", at2, next, ok, err, at3)
	}
	if _, ok, err := n.s.NextAfter(at3); ok || err != nil {
		t.Fatalf("NextAfter(last alarm): %v, %v; want none", ok, err)
	}

	// An alarm due and not firing keeps WaitIdle waiting: here the
	// scheduler is stopped, so only the context ends it.
	if err := n.s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(at3)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := n.s.WaitIdle(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitIdle with a due alarm and a stopped scheduler: %v, want the context's deadline", err)
	}
}
