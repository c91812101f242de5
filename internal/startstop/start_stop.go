// Package startstop gives long-running services one lifecycle contract
// (Service) and an embeddable helper (BaseStartStop) that does the fiddly,
// race-prone bookkeeping so a service only writes its own run loop.
//
// The shape follows riverqueue/river's rivershared/startstop, with two
// differences: Stop takes a context that bounds a graceful drain (see
// BaseStartStop.StopDrain), and each run has its own started/stopped
// channels, so a stale stopped() from an old run can never disturb a new one.
package startstop

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrStop is the cause set on a run context (see BaseStartStop.StartInit)
// when the service is cancelled because it is being stopped. It lets a run
// loop tell a controlled stop apart from its parent context ending:
//
//	if errors.Is(context.Cause(ctx), startstop.ErrStop) { ... }
var ErrStop = errors.New("startstop: service stopped")

// Service is the lifecycle contract shared by every long-running component.
type Service interface {
	// Start starts the service and returns once it has been launched; the
	// service backgrounds its own work. Start on a running service is a no-op
	// returning nil. A service is restartable: Start after Stop runs it anew.
	Start(ctx context.Context) error

	// Stop stops the service: a graceful drain bounded by ctx that turns into
	// a hard stop (run context cancelled) when ctx ends. It returns an error
	// when the drain did not complete cleanly. Stop before Start, double Stop
	// and concurrent Stops are all tolerated. When Stop returns the service
	// has exited (Stopped is closed), except if ctx ended while this call was
	// waiting on a concurrent Stop, which is reported as an error.
	Stop(ctx context.Context) error

	// Started returns a channel closed once the service has started, or has
	// failed to start and stopped instead. Taken before Start, it is closed by
	// the next run.
	Started() <-chan struct{}

	// Stopped returns a channel closed once the current run has exited. When
	// the service is not running it returns an already-closed channel, so take
	// the reference after Start and before Stop to wait for a particular run.
	Stopped() <-chan struct{}
}

// closedChan is returned by Stopped when no run is active.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

func noop() {}

// run is the state of one Start→Stop cycle.
type run struct {
	cancel   context.CancelCauseFunc
	started  chan struct{}
	stopped  chan struct{}
	done     chan struct{} // closed when a Stop has finalized this run
	stopping bool          // guarded by BaseStartStop.mu
}

func (r *run) exited() bool {
	select {
	case <-r.stopped:
		return true
	default:
		return false
	}
}

// BaseStartStop implements the bookkeeping half of Service. Embed it (by
// value; the zero value is ready) and write Start around StartInit:
//
//	func (s *Svc) Start(ctx context.Context) error {
//		ctx, shouldStart, started, stopped := s.StartInit(ctx)
//		if !shouldStart {
//			return nil // already running
//		}
//		if err := s.setup(); err != nil {
//			stopped() // always; otherwise Stop would wait forever
//			return err
//		}
//		go func() {
//			defer stopped()
//			started()
//			s.loop(ctx) // returns promptly once ctx is done
//		}()
//		return nil
//	}
//
// Stop, Started and Stopped come for free. A service with in-flight work to
// drain overrides Stop with a one-liner around StopDrain.
type BaseStartStop struct {
	mu          sync.Mutex
	run         *run          // nil when idle
	nextStarted chan struct{} // preallocated by Started while idle
}

// StartInit must be the first call in a service's Start. It returns the run
// context (derived from ctx, cancelled with cause ErrStop on Stop; pass
// context.WithoutCancel(ctx) if the service must outlive ctx), whether the
// caller should start (false if it is already running), and the started and
// stopped funcs. The service calls started() once it is up and must call
// stopped() exactly when its work has fully exited, including on a startup
// error. Both are idempotent and no-ops when shouldStart is false.
//
// If a Stop is in progress, StartInit waits for it to finish and then starts
// a fresh run; if ctx ends while waiting it reports shouldStart false. A run
// that exited on its own (stopped() called without Stop) does not block a new
// Start.
func (s *BaseStartStop) StartInit(ctx context.Context) (context.Context, bool, func(), func()) {
	for {
		s.mu.Lock()
		r := s.run
		if r == nil || (!r.stopping && r.exited()) {
			return s.newRunLocked(ctx)
		}
		if !r.stopping {
			s.mu.Unlock()
			return ctx, false, noop, noop
		}
		s.mu.Unlock()

		select {
		case <-r.done:
		case <-ctx.Done():
			return ctx, false, noop, noop
		}
	}
}

// newRunLocked installs a new run. It is called with s.mu held and unlocks it.
func (s *BaseStartStop) newRunLocked(ctx context.Context) (context.Context, bool, func(), func()) {
	started := s.nextStarted
	if started == nil {
		started = make(chan struct{})
	}
	s.nextStarted = nil

	runCtx, cancel := context.WithCancelCause(ctx)
	r := &run{
		cancel:  cancel,
		started: started,
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.run = r
	s.mu.Unlock()

	closeStarted := sync.OnceFunc(func() { close(started) })
	closeStopped := sync.OnceFunc(func() {
		closeStarted()
		cancel(ErrStop)
		close(r.stopped)
	})
	return runCtx, true, closeStarted, closeStopped
}

// Stop is the default Service.Stop for services with nothing to drain: it
// cancels the run context and waits for the run loop to exit. It is
// StopDrain(ctx, nil).
func (s *BaseStartStop) Stop(ctx context.Context) error {
	return s.StopDrain(ctx, nil)
}

// StopDrain stops the service gracefully. If it is running, drain(ctx) is
// called first while the run context is still live (it should stop intake,
// wait for in-flight work, and return early with an error once ctx ends);
// then the run context is cancelled with ErrStop (the hard stop) and StopDrain
// waits for stopped(). A non-nil drain error is returned wrapped.
//
// The wait after the hard stop is not bounded by ctx: a run loop must return
// promptly once its context is done. This is what guarantees that when Stop
// returns the service has exited and may be restarted.
//
// Concurrent callers do not drain twice: the first one performs the stop and
// the others wait for it, returning nil when it completes or an error if
// their own ctx ends first. Stopping an idle service returns nil at once.
func (s *BaseStartStop) StopDrain(ctx context.Context, drain func(context.Context) error) (err error) {
	s.mu.Lock()
	r := s.run
	if r == nil {
		s.mu.Unlock()
		return nil
	}
	if r.stopping {
		s.mu.Unlock()
		select {
		case <-r.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("startstop: waiting for concurrent stop: %w", context.Cause(ctx))
		}
	}
	r.stopping = true
	s.mu.Unlock()

	defer s.finishStop(r) // also runs if drain panics, so Stop never wedges

	if drain != nil && !r.exited() {
		if derr := drain(ctx); derr != nil {
			return fmt.Errorf("startstop: drain incomplete, hard-stopped: %w", derr)
		}
	}
	return nil
}

// finishStop hard-stops r, waits for its run loop and resets to idle.
func (s *BaseStartStop) finishStop(r *run) {
	r.cancel(ErrStop)
	<-r.stopped

	s.mu.Lock()
	if s.run == r {
		s.run = nil
	}
	s.mu.Unlock()
	close(r.done)
}

// Started implements Service.Started.
func (s *BaseStartStop) Started() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.run != nil {
		return s.run.started
	}
	if s.nextStarted == nil {
		s.nextStarted = make(chan struct{})
	}
	return s.nextStarted
}

// Stopped implements Service.Stopped.
func (s *BaseStartStop) Stopped() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()

	if s.run != nil {
		return s.run.stopped
	}
	return closedChan
}
