package startstoptest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// tickerService is a well-behaved sample: a ticking run loop with unlocked
// state (so -race sees misuse) and a drain that waits for in-flight work.
type tickerService struct {
	startstop.BaseStartStop

	ticks    int
	inFlight sync.WaitGroup
}

func (s *tickerService) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	s.inFlight.Add(1)
	go func() {
		defer stopped()
		defer s.inFlight.Done()
		s.ticks = 0
		started()
		t := time.NewTicker(50 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.ticks++
			}
		}
	}()
	return nil
}

func (s *tickerService) Stop(ctx context.Context) error {
	return s.StopDrain(ctx, func(context.Context) error {
		time.Sleep(10 * time.Microsecond) // a token graceful phase
		return nil
	})
}

func TestStress(t *testing.T) {
	Stress(t.Context(), t, &tickerService{})
}

func TestStressWith(t *testing.T) {
	StressWith(t.Context(), t, &tickerService{}, Config{Goroutines: 20, Iterations: 100})
}

func TestStressFuncService(t *testing.T) {
	svc := startstop.StartStopFunc(func(ctx context.Context, shouldStart bool, started, stopped func()) error {
		if !shouldStart {
			return nil
		}
		go func() {
			defer stopped()
			started()
			<-ctx.Done()
		}()
		return nil
	})
	Stress(t.Context(), t, svc)
}

// recordingTB captures Errorf so tests can assert Stress catches bugs.
type recordingTB struct {
	testing.TB

	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (r *recordingTB) requireReported(t *testing.T, substr string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errs {
		if strings.Contains(e, substr) {
			return
		}
	}
	t.Fatalf("expected an error containing %q, got %q", substr, r.errs)
}

// blockingStop never returns from Stop until released.
type blockingStop struct {
	tickerService
	release chan struct{}
}

func (s *blockingStop) Stop(context.Context) error { <-s.release; return nil }

// panickingStart panics in Start.
type panickingStart struct{ tickerService }

func (*panickingStart) Start(context.Context) error { panic("start exploded") }

// brokenStopped returns a Stopped channel that never closes.
type brokenStopped struct{ tickerService }

func (*brokenStopped) Stopped() <-chan struct{} { return make(chan struct{}) }

func TestStressDetectsBugs(t *testing.T) {
	cfg := Config{Goroutines: 2, Iterations: 2, Timeout: 50 * time.Millisecond}

	t.Run("Deadlock", func(t *testing.T) {
		svc := &blockingStop{release: make(chan struct{})}
		defer close(svc.release)
		rec := &recordingTB{TB: t}
		StressWith(t.Context(), rec, svc, cfg)
		rec.requireReported(t, "did not return within")
	})

	t.Run("Panic", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		StressWith(t.Context(), rec, &panickingStart{}, cfg)
		rec.requireReported(t, "panic: start exploded")
	})

	t.Run("StoppedNeverCloses", func(t *testing.T) {
		rec := &recordingTB{TB: t}
		StressWith(t.Context(), rec, &brokenStopped{}, cfg)
		rec.requireReported(t, "Stopped channel taken before it is not closed")
	})
}
