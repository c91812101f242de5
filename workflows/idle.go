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
