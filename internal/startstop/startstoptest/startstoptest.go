// Package startstoptest provides Stress, a test helper that hammers a
// startstop.Service's Start and Stop from many goroutines to flush out data
// races, deadlocks, panics and broken Started/Stopped bookkeeping. Run it
// under -race.
package startstoptest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// Config tunes StressWith. Zero fields take the defaults noted.
type Config struct {
	// Goroutines is the number of concurrent workers (default 10).
	Goroutines int
	// Iterations is the number of random operations per worker (default 50).
	Iterations int
	// Timeout bounds every single operation or wait; exceeding it is
	// reported as a probable deadlock (default 10s).
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Goroutines <= 0 {
		c.Goroutines = 10
	}
	if c.Iterations <= 0 {
		c.Iterations = 50
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return c
}

// Stress runs StressWith with the default Config.
func Stress(ctx context.Context, tb testing.TB, svc startstop.Service) {
	tb.Helper()
	StressWith(ctx, tb, svc, Config{})
}

// StressWith checks svc against the startstop.Service contract. It first
// runs a sequential lifecycle (stop before start, double start, double stop,
// restart), then has cfg.Goroutines workers each perform cfg.Iterations
// random Start / Stop / Start+Stop / channel reads with random pauses, and
// finally stops the service. It reports via tb.Errorf (safe from any
// goroutine) any error, panic, operation exceeding cfg.Timeout, a Started
// channel taken before a successful Start that never closes, or a Stopped
// channel taken before a successful Stop that is not closed when Stop
// returns. svc should not be running on entry; it is stopped on return.
// Start and Stop are passed ctx, which should outlive the stress run.
func StressWith(ctx context.Context, tb testing.TB, svc startstop.Service, cfg Config) {
	tb.Helper()
	st := &stresser{ctx: ctx, tb: tb, svc: svc, cfg: cfg.withDefaults()}

	if !st.sequential() {
		return
	}
	var wg sync.WaitGroup
	for range st.cfg.Goroutines {
		rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
		wg.Go(func() { st.worker(rng) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		tb.Errorf("startstoptest: context ended before the stress run finished: %v", err)
	}
	st.stop("final Stop")
}

type stresser struct {
	ctx context.Context
	tb  testing.TB
	svc startstop.Service
	cfg Config
}

// sequential exercises the single-goroutine contract; false means it failed.
func (st *stresser) sequential() bool {
	return st.stop("Stop before Start") &&
		st.start("Start") &&
		st.start("second Start") &&
		st.stop("Stop") &&
		st.stop("second Stop") &&
		st.start("restart") &&
		st.stop("Stop after restart")
}

func (st *stresser) worker(rng *rand.Rand) {
	for range st.cfg.Iterations {
		if st.ctx.Err() != nil {
			return
		}
		var ok bool
		switch rng.IntN(4) {
		case 0:
			ok = st.start("Start")
		case 1:
			ok = st.stop("Stop")
		case 2:
			ok = st.start("Start") && st.stop("Stop")
		default:
			_, _ = st.svc.Started(), st.svc.Stopped()
			ok = true
		}
		if !ok {
			return // one report per worker is enough
		}
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.IntN(200)) * time.Microsecond)
		}
	}
}

// start calls Start and checks a Started channel taken beforehand closes.
func (st *stresser) start(name string) bool {
	started := st.svc.Started()
	if !st.do(name, func() error { return st.svc.Start(st.ctx) }) {
		return false
	}
	if st.ctx.Err() != nil {
		return false // Start may legitimately give up on a dead ctx
	}
	return st.wait(name+": Started channel", started)
}

// stop calls Stop and checks a Stopped channel taken beforehand is closed.
func (st *stresser) stop(name string) bool {
	stopped := st.svc.Stopped()
	if !st.do(name, func() error { return st.svc.Stop(st.ctx) }) {
		return false
	}
	select {
	case <-stopped:
		return true
	default:
		st.tb.Errorf("startstoptest: %s returned but the Stopped channel taken before it is not closed", name)
		return false
	}
}

// do runs fn with panic recovery and a deadlock timeout.
func (st *stresser) do(name string, fn func() error) bool {
	res := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				res <- fmt.Errorf("panic: %v\n%s", r, debug.Stack())
			}
		}()
		res <- fn()
	}()
	select {
	case err := <-res:
		if err != nil {
			st.tb.Errorf("startstoptest: %s: %v", name, err)
			return false
		}
		return true
	case <-time.After(st.cfg.Timeout):
		st.tb.Errorf("startstoptest: %s did not return within %s (deadlock?)", name, st.cfg.Timeout)
		return false
	}
}

func (st *stresser) wait(name string, ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(st.cfg.Timeout):
		st.tb.Errorf("startstoptest: %s not closed within %s", name, st.cfg.Timeout)
		return false
	}
}
