package startstop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sampleService is a minimal BaseStartStop user. state is written by the run
// loop without locking so the race detector catches bookkeeping bugs.
type sampleService struct {
	BaseStartStop

	startErr error
	drain    func(context.Context) error
	runs     atomic.Int32

	state     bool
	lastCause error
}

func (s *sampleService) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if s.startErr != nil {
		stopped()
		return s.startErr
	}
	s.runs.Add(1)
	go func() {
		defer stopped()
		s.state = true
		started()
		<-ctx.Done()
		s.lastCause = context.Cause(ctx)
	}()
	return nil
}

func (s *sampleService) Stop(ctx context.Context) error {
	return s.StopDrain(ctx, s.drain)
}

var _ Service = (*sampleService)(nil)

func TestStartStop(t *testing.T) {
	ctx := context.Background()
	s := &sampleService{}

	noErr(t, s.Start(ctx), "start")
	waitClosed(t, s.Started(), "started")
	if !s.state {
		t.Fatal("run loop did not run before started()")
	}
	stopped := s.Stopped()
	if isClosed(stopped) {
		t.Fatal("Stopped closed while running")
	}
	noErr(t, s.Stop(ctx), "stop")
	if !isClosed(stopped) {
		t.Fatal("Stopped not closed when Stop returned")
	}
	if !errors.Is(s.lastCause, ErrStop) {
		t.Fatalf("run ctx cause = %v, want ErrStop", s.lastCause)
	}
}

func TestDoubleStartDoubleStop(t *testing.T) {
	ctx := context.Background()
	s := &sampleService{}

	noErr(t, s.Stop(ctx), "stop before start")
	if !isClosed(s.Stopped()) {
		t.Fatal("Stopped of an idle service should be closed")
	}
	noErr(t, s.Start(ctx), "start")
	noErr(t, s.Start(ctx), "second start")
	if got := s.runs.Load(); got != 1 {
		t.Fatalf("runs = %d, want 1", got)
	}
	noErr(t, s.Stop(ctx), "stop")
	noErr(t, s.Stop(ctx), "second stop")
}

func TestRestart(t *testing.T) {
	ctx := context.Background()
	s := &sampleService{}

	for i := range 3 {
		started := s.Started() // preallocated before Start
		if isClosed(started) {
			t.Fatalf("iteration %d: Started closed before Start", i)
		}
		noErr(t, s.Start(ctx), "start")
		waitClosed(t, started, "preallocated started")
		noErr(t, s.Stop(ctx), "stop")
	}
	if got := s.runs.Load(); got != 3 {
		t.Fatalf("runs = %d, want 3", got)
	}
}

func TestStartError(t *testing.T) {
	ctx := context.Background()
	errBoom := errors.New("boom")
	s := &sampleService{startErr: errBoom}

	if err := s.Start(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("start err = %v, want %v", err, errBoom)
	}
	waitClosed(t, s.Started(), "started after failed start")
	waitClosed(t, s.Stopped(), "stopped after failed start")

	s.startErr = nil // restartable without an intervening Stop
	noErr(t, s.Start(ctx), "start after failure")
	waitClosed(t, s.Started(), "started")
	noErr(t, s.Stop(ctx), "stop")
}

func TestSelfExitThenStart(t *testing.T) {
	s := &sampleService{}
	ctx, cancel := context.WithCancel(context.Background())

	noErr(t, s.Start(ctx), "start")
	stopped := s.Stopped()
	cancel()
	waitClosed(t, stopped, "stopped after start ctx cancelled")

	noErr(t, s.Start(context.Background()), "restart")
	if got := s.runs.Load(); got != 2 {
		t.Fatalf("runs = %d, want 2", got)
	}
	noErr(t, s.Stop(context.Background()), "stop")
}

func TestDrain(t *testing.T) {
	t.Run("Completes", func(t *testing.T) {
		s := &sampleService{}
		var drainedWhileLive bool
		s.drain = func(context.Context) error {
			drainedWhileLive = !isClosed(s.Stopped())
			return nil
		}
		noErr(t, s.Start(context.Background()), "start")
		noErr(t, s.Stop(context.Background()), "stop")
		if !drainedWhileLive {
			t.Fatal("drain should run before the hard stop")
		}
	})

	t.Run("TimesOutThenHardStops", func(t *testing.T) {
		s := &sampleService{}
		s.drain = func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}
		noErr(t, s.Start(context.Background()), "start")
		stopped := s.Stopped()

		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		err := s.Stop(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("stop err = %v, want DeadlineExceeded", err)
		}
		if !isClosed(stopped) {
			t.Fatal("service not stopped after hard stop")
		}
		noErr(t, s.Stop(context.Background()), "stop again")
	})

	t.Run("PanicStillStops", func(t *testing.T) {
		s := &sampleService{}
		s.drain = func(context.Context) error { panic("drain exploded") }
		noErr(t, s.Start(context.Background()), "start")
		stopped := s.Stopped()

		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("expected panic")
				}
			}()
			_ = s.Stop(context.Background())
		}()
		if !isClosed(stopped) {
			t.Fatal("service not stopped after drain panic")
		}
		s.drain = nil
		noErr(t, s.Start(context.Background()), "restart")
		noErr(t, s.Stop(context.Background()), "stop")
	})
}

func TestConcurrentStopAndStartWhileStopping(t *testing.T) {
	ctx := context.Background()
	s := &sampleService{}
	entered, release := make(chan struct{}), make(chan struct{})
	s.drain = func(context.Context) error {
		close(entered)
		<-release
		return nil
	}
	noErr(t, s.Start(ctx), "start")

	leader := make(chan error, 1)
	go func() { leader <- s.Stop(ctx) }()
	waitClosed(t, entered, "drain entered")

	// A second Stop bounded by a short ctx gives up without draining again.
	shortCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := s.Stop(shortCtx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("concurrent stop err = %v, want DeadlineExceeded", err)
	}

	// Start with a dead ctx while stopping: reports not started, no new run.
	deadCtx, deadCancel := context.WithCancel(ctx)
	deadCancel()
	noErr(t, s.Start(deadCtx), "start with dead ctx")

	s.drain = nil // the leader already holds its drain; no one else drains
	follower := make(chan error, 1)
	restarted := make(chan error, 1)
	go func() { follower <- s.Stop(ctx) }()
	go func() { restarted <- s.Start(ctx) }()
	close(release)
	for name, ch := range map[string]chan error{"leader": leader, "follower": follower, "restart": restarted} {
		select {
		case err := <-ch:
			noErr(t, err, name)
		case <-time.After(testTimeout):
			t.Fatalf("%s did not return", name)
		}
	}
	// The Start issued during the stop waited for it and then ran anew.
	if got := s.runs.Load(); got != 2 {
		t.Fatalf("runs = %d, want 2", got)
	}
	noErr(t, s.Stop(ctx), "final stop")
}

func TestConcurrentHammer(t *testing.T) {
	ctx := context.Background()
	s := &sampleService{}
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			for i := range 100 {
				switch (g + i) % 3 {
				case 0:
					noErrGo(t, s.Start(ctx))
				case 1:
					stopped := s.Stopped()
					noErrGo(t, s.Stop(ctx))
					if !isClosed(stopped) {
						t.Error("Stopped not closed after Stop")
					}
				default:
					_ = s.Started()
				}
			}
		})
	}
	wg.Wait()
	noErr(t, s.Stop(ctx), "final stop")
}

func noErrGo(t *testing.T, err error) {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestStartStopFunc(t *testing.T) {
	var workCtx context.Context
	svc := StartStopFunc(func(ctx context.Context, shouldStart bool, started, stopped func()) error {
		if !shouldStart {
			return nil
		}
		workCtx = ctx
		go func() {
			defer stopped()
			started()
			<-ctx.Done()
		}()
		return nil
	})
	noErr(t, svc.Start(context.Background()), "start")
	waitClosed(t, svc.Started(), "started")
	noErr(t, svc.Stop(context.Background()), "stop")
	if !errors.Is(context.Cause(workCtx), ErrStop) {
		t.Fatalf("cause = %v, want ErrStop", context.Cause(workCtx))
	}
}
