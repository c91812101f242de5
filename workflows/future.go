package workflows

import "sync"

// futureHook is how a Go's fan-out tells its Future the tracker group it
// runs in, so Await can block the caller on it (design §3.4).
type futureHook struct {
	mu sync.Mutex
	t  *tracker
	g  *group
}

func (h *futureHook) set(t *tracker, g *group) {
	h.mu.Lock()
	h.t, h.g = t, g
	h.mu.Unlock()
}

func (h *futureHook) get() (*tracker, *group) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.t, h.g
}

// Future is the outcome of a branch started with Go.
type Future[T any] struct {
	w    *W
	hook *futureHook
	fan  *fanIn // Engine.WaitIdle's count of the branch and its awaiter
	done chan struct{}
	r    T
	err  error
}

// Go starts fn as the journaled call name, a one-branch Join (its branch
// is name/go) that runs while the caller goes on, and returns its Future.
// Its branch counts in the run's parking like a Join's: the run parks only
// when it and the caller are both blocked. Await every Future before the
// function returns: one left running is abandoned (its steps may have
// run). A replay returns the recorded result, as Join does.
func Go[T any](w *W, name string, fn func(w *W) (T, error)) *Future[T] {
	f := &Future[T]{w: w, hook: &futureHook{}, done: make(chan struct{})}
	branches := []Branch[T]{{Name: "go", Run: fn}}
	if err := w.failed(); err != nil {
		f.err = err
		close(f.done)
		return f
	}
	p, scopes, err := branchScopes(w, KindJoin, name, branches)
	if err != nil {
		f.err = w.fail(err)
		close(f.done)
		return f
	}
	// Visit in the caller's turn: the journal check sees Go where the
	// code calls it, not when its goroutine gets to run.
	v, err := w.replay.Visit(KindJoin, p)
	if err != nil {
		f.err = w.fail(w.nondeterminism(err))
		close(f.done)
		return f
	}
	fw := w.branch(w.ctx, w.scope) // its own Now and failure; the caller's scope
	fw.future = f.hook
	f.fan = &fanIn{w: w}
	f.fan.start()
	go func() {
		defer close(f.done)
		defer f.fan.done()
		rs, err := join(fw, p, scopes, v, branches, JoinOptions{Concurrency: 1})
		if t, g := f.hook.get(); t != nil {
			t.endFuture(g)
		}
		if err == nil && len(rs) == 1 {
			f.r = rs[0]
		}
		f.err = err
	}()
	return f
}

// Await waits for the Go's branch and returns its result. Its failure
// fails the run (a *JoinError, as Join's); a park or a stop unwinds the
// caller too.
func (f *Future[T]) Await() (T, error) {
	var zero T
	select {
	case <-f.done:
	default:
		if t, g := f.hook.get(); t != nil {
			// The caller is now blocked on the branch: it is part of the
			// run's parking as a Join's owner is.
			t.mu.Lock()
			if _, open := g.owner.futures[g]; open && g.owner.group == nil {
				delete(g.owner.futures, g)
				g.owner.group = g
				t.changed()
			}
			t.mu.Unlock()
		}
		// Blocked on the branch, which counts itself and hands its count
		// back when it ends.
		f.fan.wait(func() {
			select {
			case <-f.done:
			case <-f.w.ctx.Done():
				<-f.done // the branch unwinds with the execution
			}
		})
	}
	if f.err != nil {
		if f.w.ctx.Err() != nil && !f.w.cancelling {
			return zero, f.w.fail(errStop)
		}
		return zero, f.w.fail(f.err)
	}
	return f.r, nil
}
