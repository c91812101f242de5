package testsignal

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTB records Errorf calls.
type fakeTB struct {
	mu   sync.Mutex
	errs []string
}

func (*fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) requireOneError(t *testing.T, substr string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) != 1 || !strings.Contains(f.errs[0], substr) {
		t.Fatalf("errors = %q, want exactly one containing %q", f.errs, substr)
	}
}

func requirePanics(t *testing.T, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatal("expected panic")
		}
	}()
	fn()
}

func TestZeroValueIsNoop(t *testing.T) {
	var s Signal[int]
	for i := range 2 * bufferSize {
		s.Signal(i) // never blocks, never fails
	}
	requirePanics(t, func() { s.WaitOrTimeout() })
	requirePanics(t, func() { s.WaitC() })
	requirePanics(t, func() { s.RequireEmpty() })
}

func TestSignalAndWait(t *testing.T) {
	var s Signal[string]
	s.Init(t)
	s.RequireEmpty()

	s.Signal("a")
	s.Signal("b")
	if got := s.WaitOrTimeout(); got != "a" {
		t.Fatalf("got %q, want a", got)
	}
	if got := <-s.WaitC(); got != "b" {
		t.Fatalf("got %q, want b", got)
	}
	s.RequireEmpty()

	go s.Signal("from goroutine")
	var w Waiter[string] = &s
	if got := w.WaitOrTimeout(); got != "from goroutine" {
		t.Fatalf("got %q", got)
	}
}

func TestBufferFullFailsInsteadOfBlocking(t *testing.T) {
	tb := &fakeTB{}
	var s Signal[int]
	s.Init(tb)
	for i := range bufferSize + 1 {
		s.Signal(i)
	}
	tb.requireOneError(t, "buffer full")
	if got := s.WaitOrTimeout(); got != 0 {
		t.Fatalf("got %d, want oldest value 0", got)
	}
}

func TestWaitTimesOut(t *testing.T) {
	tb := &fakeTB{}
	var s Signal[int]
	s.Init(tb)
	if got := s.waitOrTimeout(10 * time.Millisecond); got != 0 {
		t.Fatalf("got %d, want zero value", got)
	}
	tb.requireOneError(t, "timed out")
}

func TestRequireEmptyReports(t *testing.T) {
	tb := &fakeTB{}
	var s Signal[int]
	s.Init(tb)
	s.Signal(7)
	s.RequireEmpty()
	tb.requireOneError(t, "got 7")
}

// Example of the convention: a service's signals grouped with an Init.
type workerSignals struct {
	jobDone Signal[int]
}

func (ts *workerSignals) Init(tb TB) { ts.jobDone.Init(tb) }

type worker struct{ signals workerSignals }

func (w *worker) run(jobs []int) {
	for _, j := range jobs {
		w.signals.jobDone.Signal(j)
	}
}

func TestServiceConvention(t *testing.T) {
	prod := &worker{}
	prod.run([]int{1, 2, 3}) // uninitialised: nothing happens

	w := &worker{}
	w.signals.Init(t)
	go w.run([]int{1, 2})
	if a, b := w.signals.jobDone.WaitOrTimeout(), w.signals.jobDone.WaitOrTimeout(); a != 1 || b != 2 {
		t.Fatalf("got %d, %d", a, b)
	}
}
