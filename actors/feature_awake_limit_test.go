package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftNoneLeft fails if an actor left memory (its left signal is unconsumed).
func ftNoneLeft(t *testing.T, left interface{ WaitC() <-chan string }, when string) {
	t.Helper()
	select {
	case id := <-left.WaitC():
		t.Fatalf("%s: actor %s left memory", when, id)
	default:
	}
}

func TestFeatureAwakeLimitSleepsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	slept := make(chan string, 16)
	typ := ftType("ftlru", actors.Options[ftState]{
		OnSleep: func(c *actors.Context[ftState]) error { slept <- c.ActorID(); return nil },
	})
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAwakeActors = 3 }, typ)
	left := actors.InitLeftSignal(t, b.rt)

	hs := map[string]*actors.Handle{}
	for i, k := range []string{"a", "b", "c"} {
		b.clock.Advance(time.Second)
		hs[k] = ftCreate(t, b, "ftlru", k)
		ftCall[int64](t, hs[k], "inc", int64(10*(i+1)))
	}
	// At the limit, not past it: nobody sleeps early.
	if n := b.rt.Awake(); n != 3 {
		t.Fatalf("%d awake, want 3", n)
	}
	ftNoneLeft(t, left, "exactly at the limit")
	// Calls to awake actors need no room.
	b.clock.Advance(time.Second)
	ftCall[int64](t, hs["a"], "get") // a is now the most recently used
	ftNoneLeft(t, left, "a call to an awake actor at the limit")

	// A fourth actor: b, the least recently used, sleeps through its normal path.
	b.clock.Advance(time.Second)
	hs["d"] = ftCreate(t, b, "ftlru", "d")
	ftLeft(t, b, left, hs["b"].ID, 3)
	if got := ftWait(t, slept, "OnSleep of b"); got != hs["b"].ID {
		t.Fatalf("OnSleep ran for %s, want b (%s)", got, hs["b"].ID)
	}
	ftSnapshotAtHead(t, b, hs["b"].ID)
	ftNoneLeft(t, left, "one eviction for one new actor")

	// b wakes with its state intact, and c (now the least recently used) makes room.
	b.clock.Advance(time.Second)
	if got := ftCall[int64](t, hs["b"], "get"); got != 20 {
		t.Fatalf("b's count after its early sleep: %d, want 20", got)
	}
	ftLeft(t, b, left, hs["c"].ID, 3)
	ftSnapshotAtHead(t, b, hs["c"].ID)
	if got := ftCall[int64](t, hs["b"], "inc", 1); got != 21 {
		t.Fatalf("b's count: %d", got)
	}
	if got := ftCall[int64](t, hs["c"], "get"); got != 30 {
		t.Fatalf("c's count after its early sleep: %d, want 30", got)
	}
	ftLeft(t, b, left, hs["a"].ID, 3)
	if n := b.rt.Awake(); n > 3 {
		t.Fatalf("%d awake, limit 3", n)
	}
}

func TestFeatureAwakeLimitOverloaded(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	typ := ftType("ftfull", actors.Options[ftState]{}).
		Action("block", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			entered <- struct{}{}
			<-release
			return c.State.Count, nil
		})).
		Action("background", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			c.WaitUntil(func(context.Context) { entered <- struct{}{}; <-release })
			return c.State.Count, nil
		}))
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAwakeActors = 3 }, typ)
	t.Cleanup(free) // before the runtime stops (cleanups run last first)
	left := actors.InitLeftSignal(t, b.rt)
	ctx := ftCtx(t)

	// a: an open connection; b: an action in progress; c: WaitUntil work.
	ha, hb, hc := ftCreate(t, b, "ftfull", "a"), ftCreate(t, b, "ftfull", "b"), ftCreate(t, b, "ftfull", "c")
	conn, err := ha.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { _, err := hb.Action(ctx, "block"); blocked <- err }()
	ftWait(t, entered, "the blocking action")
	ftCall[int64](t, hc, "background")
	ftWait(t, entered, "the WaitUntil work")

	dID, err := actors.ActorID("ftfull", []string{"d"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, err = b.rt.Client().GetOrCreate(ctx, "ftfull", []string{"d"}, nil)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("the refusal took %v, want at once", took)
	}
	var re *actors.Error
	if !errors.Is(err, actors.ErrOverloaded) || !errors.As(err, &re) {
		t.Fatalf("a 4th actor with none able to sleep: %v, want ErrOverloaded", err)
	}
	if re.RetryAfter <= 0 || !strings.Contains(re.Message, "max-awake-actors 3") {
		t.Fatalf("overloaded error: retry after %v, message %q", re.RetryAfter, re.Message)
	}
	if seq := ftLastSeq(t, b, dID); seq != 0 {
		t.Fatalf("the refused actor has events (last seq %d)", seq)
	}
	if n := b.rt.Awake(); n != 3 {
		t.Fatalf("%d awake after the refusal, want 3", n)
	}
	ftNoneLeft(t, left, "the refusal")
	// The three busy actors still take calls: they need no room.
	if got := ftCall[int64](t, ha, "inc", 1); got != 1 {
		t.Fatalf("a: %d", got)
	}
	// Actions through a connection too.
	if _, err := conn.Action(ctx, "inc", []byte(`[1]`)); err != nil {
		t.Fatal(err)
	}

	// The connection closes: a can sleep now, and makes room for d.
	conn.Close()
	if _, _, err := b.rt.Client().GetOrCreate(ctx, "ftfull", []string{"d"}, nil); err != nil {
		// The disconnect may still be in a's mailbox; it is processed in order.
		if !errors.Is(err, actors.ErrOverloaded) {
			t.Fatal(err)
		}
		ftEventually(t, "a 4th actor fits once a's connection closed", func() bool {
			_, _, err := b.rt.Client().GetOrCreate(ctx, "ftfull", []string{"d"}, nil)
			return err == nil
		})
	}
	ftLeft(t, b, left, ha.ID, 3)
	// a wakes again, with its state, by putting d (idle) to sleep.
	if got := ftCall[int64](t, ha, "get"); got != 2 {
		t.Fatalf("a's count after its early sleep: %d, want 2", got)
	}
	ftLeft(t, b, left, dID, 3)
	free()
	if err := ftWait(t, blocked, "the blocked action"); err != nil {
		t.Fatal(err)
	}
}

// TestFeatureAwakeLimitRaces runs calls on more actors than may be awake from
// several goroutines: evictions race new calls to the actors they evict.
// Every increment that succeeded is in the final counts, and the limit holds.
func TestFeatureAwakeLimitRaces(t *testing.T) {
	t.Parallel()
	const limit, keys, workers, calls = 8, 24, 4, 60
	typ := ftType("ftrace", actors.Options[ftState]{})
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAwakeActors = limit }, typ)
	ctx := ftCtx(t)
	cl := b.rt.Client()

	var maxSeen atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if n := int64(b.rt.Awake()); n > maxSeen.Load() {
				maxSeen.Store(n)
			}
			select {
			case <-stop:
				return
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()

	var mu sync.Mutex
	want := map[string]int64{}
	var overloads atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range calls {
				k := fmt.Sprint("k", r.IntN(keys))
				h, _, err := cl.GetOrCreate(ctx, "ftrace", []string{k}, nil)
				if err == nil {
					_, err = h.Action(ctx, "inc", 1)
					if err == nil {
						mu.Lock()
						want[k]++
						mu.Unlock()
					}
				}
				if errors.Is(err, actors.ErrOverloaded) {
					overloads.Add(1)
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	if m := maxSeen.Load(); m > limit {
		t.Fatalf("%d actors awake at once, limit %d", m, limit)
	}
	for k, n := range want {
		h, err := cl.Get(ctx, "ftrace", []string{k})
		if err != nil {
			t.Fatal(err)
		}
		if got := ftCall[int64](t, h, "get"); got != n {
			t.Fatalf("%s: count %d, want %d (successful increments)", k, got, n)
		}
	}
	t.Logf("%d calls refused as overloaded", overloads.Load())
}

// TestFeatureAwakeLimitBurst: many calls for new actors at once at the limit
// get room without sending (many) more actors to sleep than they need, and
// without refusals while idle actors remain.
func TestFeatureAwakeLimitBurst(t *testing.T) {
	t.Parallel()
	const limit, burst = 50, 30 // a batch of one: limit/100 rounds to 1
	var slept atomic.Int64
	typ := ftType("ftburst", actors.Options[ftState]{
		OnSleep: func(*actors.Context[ftState]) error { slept.Add(1); return nil },
	})
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAwakeActors = limit }, typ)
	for i := range limit {
		ftCall[int64](t, ftCreate(t, b, "ftburst", fmt.Sprint("old", i)), "inc", 1)
	}
	ctx := ftCtx(t)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, _, err := b.rt.Client().GetOrCreate(ctx, "ftburst", []string{fmt.Sprint("new", i)}, nil)
			if err == nil {
				_, err = h.Action(ctx, "inc", 1)
			}
			if err != nil {
				t.Errorf("new%d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	// Each new actor needs one slot; a few more may sleep when a slot one
	// call freed went to another (never a sleep per waiting call per round).
	if n := slept.Load(); n < burst || n > burst+burst/3 {
		t.Fatalf("%d actors slept early for %d new ones", n, burst)
	}
	if n := b.rt.Awake(); n > limit {
		t.Fatalf("%d awake, limit %d", n, limit)
	}
	t.Logf("%d slept for %d new actors", slept.Load(), burst)
}
