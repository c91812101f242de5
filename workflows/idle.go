package workflows

import (
	"context"
	"sync"
)

// busy counts the runners that are working: started and not waiting in
// memory for the clock or a signal (memWait). A runner counts from the
// moment its start is committed (startIfIdle, in the mailbox, before the
// event that wakes it is answered), so a caller that saw the event sees
// the runner busy.
type busy struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n is 0; replaced when n leaves 0
}

func (b *busy) add(d int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.idle == nil {
		b.idle = make(chan struct{})
		close(b.idle)
	}
	was := b.n
	b.n += d
	switch {
	case was == 0 && b.n > 0:
		b.idle = make(chan struct{})
	case was > 0 && b.n == 0:
		close(b.idle)
	}
}

func (b *busy) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.idle == nil {
		b.idle = make(chan struct{})
		close(b.idle)
	}
	return b.idle
}

// WaitIdle returns once no runner of this engine is working: each is
// parked, ended, or waiting in memory for the clock or a signal. Tests
// with a fake clock (rivetflowtest's Advance) use it to know the work an
// alarm or a call caused has settled; a step blocked on something other
// than the clock keeps it waiting, until ctx ends.
func (e *Engine) WaitIdle(ctx context.Context) error {
	select {
	case <-e.busy.wait():
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// working counts a goroutine of w's execution in (+1) or out (-1) of the
// engine's working runners. A replay-only W (no engine) counts nothing.
func (w *W) working(d int) {
	if w.e != nil && w.ro == nil {
		w.e.busy.add(d)
	}
}

// fanIn counts the branches a caller waits for, so that the caller's
// working count is handed over, not dropped and taken again: the caller
// stops counting when it starts to wait, and the last branch to end then
// keeps its own count as the caller's. Between the two, the count never
// reads 0 while the caller has work to do.
type fanIn struct {
	w       *W
	mu      sync.Mutex
	running int
	waiting bool
}

// start counts a branch in; call it before the branch's goroutine starts.
func (f *fanIn) start() {
	f.mu.Lock()
	f.running++
	f.mu.Unlock()
	f.w.working(1)
}

// done counts a branch out, or hands its count to the waiting caller.
func (f *fanIn) done() {
	f.mu.Lock()
	f.running--
	handover := f.waiting && f.running == 0
	f.mu.Unlock()
	if !handover {
		f.w.working(-1)
	}
}

// wait runs block (the caller's wait for its branches) with the caller
// not counted; once block returns the caller counts again (handed over
// by the last branch, or taken back here if none was running).
func (f *fanIn) wait(block func()) {
	f.mu.Lock()
	if f.running == 0 {
		f.mu.Unlock()
		block()
		return
	}
	f.waiting = true
	f.mu.Unlock()
	f.w.working(-1)
	block()
	f.mu.Lock()
	handed := f.running == 0
	f.waiting = false
	f.mu.Unlock()
	if !handed {
		f.w.working(1) // the wait ended early (the execution unwinds)
	}
}
