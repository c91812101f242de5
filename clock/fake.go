package clock

import (
	"container/heap"
	"context"
	"sync"
	"time"
)

// Fake is a clock that moves only when told to (Advance, Set). Timers come due
// on its time: Advance runs every timer due by the new time, in due order
// (ties in the order they were made), each on the goroutine that called
// Advance, before Advance returns. A timer made with d <= 0 is due at once and
// runs in its own goroutine, like time.AfterFunc, since no Advance would ever
// be needed to reach it.
//
// Fake is safe for concurrent use. A timer's function may make and stop
// timers, but must not call Advance or Set (they wait for it: deadlock).
// Concurrent Advance calls run one after another.
type Fake struct {
	advance sync.Mutex // one Advance at a time, so timers run in due order

	mu      sync.Mutex
	now     time.Time
	timers  fakeHeap
	seq     uint64
	changed chan struct{} // closed and replaced when a timer is made
}

// NewFake returns a Fake clock that reads start until moved.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the clock's time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc calls fn once the clock has been moved d past now (see Fake).
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	t := &fakeTimer{f: f, fn: fn}
	if d <= 0 {
		t.index = -1 // never pending: Stop reports false
		go fn()
		return t
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	t.due, t.seq = f.now.Add(d), f.seq
	heap.Push(&f.timers, t)
	close(f.changed)
	f.changed = make(chan struct{})
	return t
}

// Advance moves the clock d forward, running every timer due by then, in due
// order, each before Advance returns; a timer's Now reads its due time. Timers
// that the functions make and that are due by the new time run too.
// A negative d does nothing.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		return
	}
	f.advance.Lock()
	defer f.advance.Unlock()
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.runUntil(target)
}

// Set moves the clock to t, as Advance does; a t before now does nothing (the
// clock never goes back).
func (f *Fake) Set(t time.Time) {
	f.advance.Lock()
	defer f.advance.Unlock()
	f.runUntil(t)
}

func (f *Fake) runUntil(target time.Time) {
	for {
		f.mu.Lock()
		if len(f.timers) == 0 || f.timers[0].due.After(target) {
			if target.After(f.now) {
				f.now = target
			}
			f.mu.Unlock()
			return
		}
		t := heap.Pop(&f.timers).(*fakeTimer)
		if t.due.After(f.now) {
			f.now = t.due
		}
		f.mu.Unlock()
		t.fn()
	}
}

// Pending returns how many timers have neither fired nor been stopped.
func (f *Fake) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitPending blocks until at least n timers are pending (made and neither
// fired nor stopped), or ctx ends. It is woken by each new timer, not by
// polling, so a test can wait for the code under test to arm its timers
// before it advances the clock.
func (f *Fake) WaitPending(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// fakeTimer is one AfterFunc of a Fake; index is its place in the heap, -1
// once it left it (fired or stopped).
type fakeTimer struct {
	f     *Fake
	fn    func()
	due   time.Time
	seq   uint64
	index int
}

// Stop removes the timer if it is still pending.
func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.f.timers, t.index)
	return true
}

// fakeHeap orders timers by due time, then by creation.
type fakeHeap []*fakeTimer

func (h fakeHeap) Len() int { return len(h) }
func (h fakeHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h fakeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *fakeHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *fakeHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
