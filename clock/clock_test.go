package clock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)

// Advance runs every timer due by the new time, in due order (ties in the
// order they were made), synchronously, each seeing its due time as Now;
// later timers stay pending.
func TestFakeAdvanceRunsDueTimersInOrder(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	var got []string
	var seen []time.Time
	arm := func(d time.Duration, name string) {
		f.AfterFunc(d, func() { got = append(got, name); seen = append(seen, f.Now()) })
	}
	arm(3*time.Second, "c")
	arm(time.Second, "a")
	arm(2*time.Second, "b1")
	arm(2*time.Second, "b2")
	if n := f.Pending(); n != 4 {
		t.Fatalf("Pending = %d, want 4", n)
	}
	f.Advance(999 * time.Millisecond)
	if len(got) != 0 {
		t.Fatalf("ran %v before any was due", got)
	}
	f.Advance(1001 * time.Millisecond) // to start+2s
	if want := []string{"a", "b1", "b2"}; !equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	for i, due := range []time.Duration{time.Second, 2 * time.Second, 2 * time.Second} {
		if !seen[i].Equal(start.Add(due)) {
			t.Errorf("timer %s saw Now %v, want its due time %v", got[i], seen[i], start.Add(due))
		}
	}
	if now := f.Now(); !now.Equal(start.Add(2 * time.Second)) {
		t.Fatalf("Now = %v after advancing 2s", now)
	}
	if n := f.Pending(); n != 1 {
		t.Fatalf("Pending = %d, want 1", n)
	}
	f.Advance(time.Hour)
	if want := []string{"a", "b1", "b2", "c"}; !equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
	if f.Pending() != 0 || !f.Now().Equal(start.Add(time.Hour+2*time.Second)) {
		t.Fatalf("Pending %d, Now %v", f.Pending(), f.Now())
	}
}

// A timer made by a timer's function runs in the same Advance when it is due
// by the new time: a re-arming cron's next fires in order.
func TestFakeTimerArmsTimer(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	var fires []time.Time
	var tick func()
	tick = func() {
		fires = append(fires, f.Now())
		f.AfterFunc(10*time.Second, tick)
	}
	f.AfterFunc(10*time.Second, tick)
	f.Advance(35 * time.Second)
	if len(fires) != 3 || !fires[2].Equal(start.Add(30*time.Second)) {
		t.Fatalf("fires %v, want 3 at 10s steps", fires)
	}
	if f.Pending() != 1 {
		t.Fatalf("Pending = %d, want the next tick", f.Pending())
	}
}

func TestFakeStop(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	ran := false
	tm := f.AfterFunc(time.Second, func() { ran = true })
	if !tm.Stop() {
		t.Fatal("Stop of a pending timer = false")
	}
	if tm.Stop() {
		t.Fatal("second Stop = true")
	}
	f.Advance(time.Minute)
	if ran || f.Pending() != 0 {
		t.Fatalf("a stopped timer ran (%v) or is pending (%d)", ran, f.Pending())
	}
	fired := f.AfterFunc(time.Second, func() {})
	f.Advance(time.Second)
	if fired.Stop() {
		t.Fatal("Stop of a fired timer = true")
	}
	// Stopping one timer of several leaves the others in order.
	var got []int
	var ts []clock.Timer
	for i := range 5 {
		ts = append(ts, f.AfterFunc(time.Duration(5-i)*time.Second, func() { got = append(got, i) }))
	}
	ts[2].Stop()
	f.Advance(10 * time.Second)
	if want := []int{4, 3, 1, 0}; len(got) != len(want) || got[0] != 4 || got[1] != 3 || got[2] != 1 || got[3] != 0 {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

// Set moves the clock like Advance, but never backwards.
func TestFakeSet(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	ran := 0
	f.AfterFunc(time.Hour, func() { ran++ })
	f.Set(start.Add(-time.Hour))
	if !f.Now().Equal(start) {
		t.Fatalf("Set to the past moved the clock to %v", f.Now())
	}
	f.Advance(-time.Minute)
	if !f.Now().Equal(start) {
		t.Fatalf("a negative Advance moved the clock to %v", f.Now())
	}
	f.Set(start.Add(time.Hour))
	if ran != 1 || !f.Now().Equal(start.Add(time.Hour)) {
		t.Fatalf("ran %d, Now %v", ran, f.Now())
	}
}

// A timer of d <= 0 is due at once: it runs in its own goroutine without an
// Advance, and is never pending.
func TestFakeDueAtOnce(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	done := make(chan struct{})
	tm := f.AfterFunc(0, func() { close(done) })
	<-done
	if f.Pending() != 0 || tm.Stop() {
		t.Fatalf("Pending %d after a timer due at once", f.Pending())
	}
}

// WaitPending returns once the code under test has armed its timers, and
// gives up with its context.
func TestFakeWaitPending(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		for range 3 {
			f.AfterFunc(time.Minute, func() {})
		}
	}()
	if err := f.WaitPending(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := f.WaitPending(ctx, 0); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := f.WaitPending(short, 4); err != context.Canceled {
		t.Fatalf("WaitPending past its context = %v", err)
	}
}

// Timers made and stopped from many goroutines while the clock moves: every
// timer runs at most once, and exactly once unless stopped (go test -race).
func TestFakeConcurrent(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(start)
	var ran, stopped atomic.Int64
	var wg sync.WaitGroup
	const workers, each = 8, 200
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				tm := f.AfterFunc(time.Duration(1+(w*each+i)%50)*time.Millisecond, func() { ran.Add(1) })
				if i%3 == 0 && tm.Stop() {
					stopped.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			f.Advance(time.Millisecond)
		}
	})
	wg.Wait()
	f.Advance(time.Second)
	if got := ran.Load() + stopped.Load(); got != workers*each {
		t.Fatalf("ran %d + stopped %d = %d, want %d", ran.Load(), stopped.Load(), got, workers*each)
	}
	if f.Pending() != 0 {
		t.Fatalf("Pending = %d", f.Pending())
	}
}

// System is the wall clock.
func TestSystem(t *testing.T) {
	t.Parallel()
	before := time.Now()
	if now := clock.System.Now(); now.Before(before) {
		t.Fatalf("System.Now %v before time.Now %v", now, before)
	}
	done := make(chan struct{})
	clock.System.AfterFunc(time.Millisecond, func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("System timer did not fire")
	}
	if clock.System.AfterFunc(time.Hour, func() {}).Stop() != true {
		t.Fatal("Stop of a pending System timer = false")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
