package actors_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftSnapshotAtHead checks that the actor's snapshot covers its last event.
func ftSnapshotAtHead(t *testing.T, b *bundle, id string) {
	t.Helper()
	snap, found, err := b.snaps.Get(ftSubject(id))
	if err != nil || !found {
		t.Fatalf("no snapshot of %s: %v", id, err)
	}
	if last := ftLastSeq(t, b, id); snap.Seq != last {
		t.Fatalf("snapshot at seq %d, last event %d", snap.Seq, last)
	}
}

func TestFeatureIdleSleep(t *testing.T) {
	t.Parallel()
	var wakes atomic.Int64
	typ := ftType("ftidle", actors.Options[ftState]{
		OnWake: func(*actors.Context[ftState]) error { wakes.Add(1); return nil },
	})
	b := ftSetup(t, nil, typ) // default idle timeout: 30s
	left := actors.InitLeftSignal(t, b.rt)
	h := ftCreate(t, b, "ftidle", "a")
	ftCall[int64](t, h, "inc", 4)
	if n := b.rt.Awake(); n != 1 {
		t.Fatalf("awake %d", n)
	}
	b.clock.Advance(30*time.Second - time.Nanosecond)
	if n := b.rt.SleepIdle(); n != 0 || b.rt.Awake() != 1 {
		t.Fatalf("slept %d actors before the idle timeout", n)
	}
	b.clock.Advance(time.Nanosecond)
	if n := b.rt.SleepIdle(); n != 1 {
		t.Fatalf("SleepIdle at the timeout put %d actors to sleep, want 1", n)
	}
	ftLeft(t, b, left, h.ID, 0)
	ftSnapshotAtHead(t, b, h.ID)

	seq := ftLastSeq(t, b, h.ID)
	if got := ftCall[int64](t, h, "inc", 1); got != 5 {
		t.Fatalf("count after a wake: %d, want 5", got)
	}
	if b.rt.Awake() != 1 || wakes.Load() != 2 {
		t.Fatalf("awake %d, wakes %d", b.rt.Awake(), wakes.Load())
	}
	if evs := ftEvents(t, b, h.ID); evs[len(evs)-1].Seq <= seq || len(evs) != 3 {
		t.Fatalf("the wake appended events: %d in all", len(evs))
	}

	// Calls reset the idle timer.
	b.clock.Advance(20 * time.Second)
	ftCall[int64](t, h, "get")
	b.clock.Advance(20 * time.Second)
	if n := b.rt.SleepIdle(); n != 0 {
		t.Fatal("an actor used 20s ago slept with a 30s timeout")
	}
}

func TestFeatureIdleTimeoutPerType(t *testing.T) {
	t.Parallel()
	short := ftType("ftshort", actors.Options[ftState]{IdleTimeout: 5 * time.Second})
	long := ftType("ftlong", actors.Options[ftState]{})
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.IdleTimeout = 20 * time.Second }, short, long)
	left := actors.InitLeftSignal(t, b.rt)
	s := ftCreate(t, b, "ftshort", "a")
	l := ftCreate(t, b, "ftlong", "a")
	b.clock.Advance(5 * time.Second)
	if n := b.rt.SleepIdle(); n != 1 {
		t.Fatalf("after 5s %d actors slept, want the short one", n)
	}
	ftLeft(t, b, left, s.ID, 1)
	b.clock.Advance(15 * time.Second)
	if n := b.rt.SleepIdle(); n != 1 {
		t.Fatalf("after 20s %d actors slept, want the long one", n)
	}
	ftLeft(t, b, left, l.ID, 0)
	ftSnapshotAtHead(t, b, s.ID)
	ftSnapshotAtHead(t, b, l.ID)
}

func TestFeatureContextSleep(t *testing.T) {
	t.Parallel()
	slept := make(chan struct{}, 1)
	typ := ftType("ftnap", actors.Options[ftState]{
		OnSleep: func(*actors.Context[ftState]) error { slept <- struct{}{}; return nil },
	}).Action("nap", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
		c.State.Count++
		c.Sleep()
		return c.State.Count, nil
	}))
	b := ftSetup(t, nil, typ)
	left := actors.InitLeftSignal(t, b.rt)
	h := ftCreate(t, b, "ftnap", "a")
	if got := ftCall[int64](t, h, "nap"); got != 1 {
		t.Fatalf("nap %d", got)
	}
	// No clock change and no sweep: the actor sleeps on its own.
	ftWait(t, slept, "OnSleep")
	ftLeft(t, b, left, h.ID, 0)
	ftSnapshotAtHead(t, b, h.ID)
	if got := ftCall[int64](t, h, "inc", 1); got != 2 {
		t.Fatalf("count after the nap: %d", got)
	}
}

func TestFeatureWaitUntil(t *testing.T) {
	t.Parallel()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	stopped := make(chan struct{})
	var failedRan atomic.Bool
	typ := ftType("ftwait", actors.Options[ftState]{}).
		Action("bg", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			c.WaitUntil(func(ctx context.Context) {
				close(started)
				<-release
				close(done)
			})
			return true, nil
		})).
		Action("bgUntilStop", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			c.WaitUntil(func(ctx context.Context) {
				<-ctx.Done()
				close(stopped)
			})
			return true, nil
		})).
		Action("bgFail", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			c.WaitUntil(func(context.Context) { failedRan.Store(true) })
			return false, actors.NewUserError("nope", "nope", nil)
		}))
	b := ftSetup(t, nil, typ)
	left := actors.InitLeftSignal(t, b.rt)
	h := ftCreate(t, b, "ftwait", "a")
	if _, err := h.Action(ftCtx(t), "bgFail"); err == nil {
		t.Fatal("bgFail succeeded")
	}
	ftCall[bool](t, h, "bg")
	ftWait(t, started, "the background work to start")
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 0 || b.rt.Awake() != 1 {
		t.Fatalf("an actor with background work slept (%d)", n)
	}
	close(release)
	ftWait(t, done, "the background work to end")
	ftEventually(t, "the idle actor is put to sleep", func() bool { return b.rt.SleepIdle() == 1 })
	ftLeft(t, b, left, h.ID, 0)

	// Background work ends with the runtime: its context is cancelled at Stop.
	h, err := b.rt.Client().Get(ftCtx(t), "ftwait", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	ftCall[bool](t, h, "bgUntilStop")
	b.stop(t)
	select {
	case <-stopped:
	default:
		t.Fatal("Stop returned before the background work saw its context end")
	}
	if failedRan.Load() {
		t.Fatal("a failed call's WaitUntil ran")
	}
}

func TestFeatureKeepAwake(t *testing.T) {
	t.Parallel()
	release, done := make(chan struct{}), make(chan struct{})
	typ := ftType("ftkeep", actors.Options[ftState]{}).
		Action("keep", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			c.KeepAwake(func(context.Context) {
				<-release
				close(done)
			})
			return true, nil
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "ftkeep", "a")
	ftCall[bool](t, h, "keep")
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 0 {
		t.Fatal("an actor with KeepAwake work was put to sleep")
	}
	close(release)
	ftWait(t, done, "the background work to end")
	ftEventually(t, "the idle actor is put to sleep", func() bool { return b.rt.SleepIdle() == 1 })
}

func TestFeatureBusyActorsStayAwake(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	disconnected := make(chan struct{}, 1)
	typ := ftType("ftbusy", actors.Options[ftState]{
		OnDisconnect: func(*actors.Context[ftState], *actors.Conn) { disconnected <- struct{}{} },
	}).Action("block", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
		close(started)
		<-release
		return true, nil
	}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "ftbusy", "a")

	// A running action keeps the actor awake.
	res := make(chan error, 1)
	go func() { _, err := h.Action(ftCtx(t), "block"); res <- err }()
	ftWait(t, started, "the action to start")
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 0 {
		t.Fatal("an actor running an action was put to sleep")
	}
	close(release)
	if err := ftWait(t, res, "the action"); err != nil {
		t.Fatal(err)
	}

	// So does an open connection, until it closes.
	conn, err := h.Connect(ftCtx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Hour)
	if n := b.rt.SleepIdle(); n != 0 || b.rt.Awake() != 1 {
		t.Fatalf("an actor with an open connection slept (%d)", n)
	}
	select {
	case <-conn.Done():
		t.Fatal("the connection closed")
	default:
	}
	conn.Close()
	ftWait(t, disconnected, "OnDisconnect")
	ftAsleep(t, b)
	ftSnapshotAtHead(t, b, h.ID)
}
