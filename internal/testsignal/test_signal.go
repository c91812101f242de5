// Package testsignal provides Signal, a hook a service fires at interesting
// moments so tests can wait for them deterministically instead of sleeping.
//
// The zero value is a no-op: production code calls Signal and pays only a nil
// check. A test calls Init before the service starts, after which signalled
// values are buffered for WaitOrTimeout / WaitC. The design follows
// riverqueue/river's rivershared/testsignal. By convention a service groups
// its signals in a struct with an Init(tb) method that inits each one.
package testsignal

import (
	"time"
)

// bufferSize is how many unconsumed values an initialised Signal holds.
const bufferSize = 50

// WaitTimeout is how long WaitOrTimeout waits before failing the test.
const WaitTimeout = 10 * time.Second

// TB is the subset of testing.TB a Signal needs; *testing.T and *testing.B
// satisfy it. It keeps the testing package out of production imports.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// Waiter exposes only the waiting side of a Signal, for handing to code in
// other packages that must not fire it.
type Waiter[T any] interface {
	// WaitOrTimeout returns the next signalled value; see Signal.WaitOrTimeout.
	WaitOrTimeout() T
}

// Signal is a test-only, buffered channel of T. Its zero value is ready and
// inert. Init must happen before any goroutine may call Signal (e.g. before
// the service starts); after that all methods are safe for concurrent use.
type Signal[T any] struct {
	ch chan T
	tb TB
}

var _ Waiter[struct{}] = (*Signal[struct{}])(nil)

// Init arms the signal for a test. Only tests should call it.
func (s *Signal[T]) Init(tb TB) {
	s.ch = make(chan T, bufferSize)
	s.tb = tb
}

// Signal records v. It is a no-op on an uninitialised signal. It never
// blocks: if the buffer is full (the test is not consuming values) it fails
// the test via Errorf and drops v.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
		s.tb.Errorf("testsignal: buffer full (%d unconsumed values); dropping %v", bufferSize, v)
	}
}

// WaitC returns the channel signalled values arrive on, for use in select.
// It panics if the signal was not initialised.
func (s *Signal[T]) WaitC() <-chan T {
	s.mustInit()
	return s.ch
}

// WaitOrTimeout returns the next signalled value. After WaitTimeout it fails
// the test via Errorf (safe off the test goroutine) and returns the zero T.
// It panics if the signal was not initialised.
func (s *Signal[T]) WaitOrTimeout() T {
	return s.waitOrTimeout(WaitTimeout)
}

func (s *Signal[T]) waitOrTimeout(timeout time.Duration) T {
	s.mustInit()
	s.tb.Helper()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-s.ch:
		return v
	case <-timer.C:
		s.tb.Errorf("testsignal: timed out after %s waiting for a signal", timeout)
		var zero T
		return zero
	}
}

// RequireEmpty fails the test via Errorf if a value is waiting, consuming
// it. It panics if the signal was not initialised.
func (s *Signal[T]) RequireEmpty() {
	s.mustInit()
	s.tb.Helper()

	select {
	case v := <-s.ch:
		s.tb.Errorf("testsignal: expected no signal, got %v", v)
	default:
	}
}

func (s *Signal[T]) mustInit() {
	if s.ch == nil {
		panic("testsignal: signal not initialised; call Init from the test first")
	}
}
