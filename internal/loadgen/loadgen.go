// Package loadgen drives a request function from a fixed number of workers
// for a fixed time and measures throughput and latency. It is what
// `rivet-flow bench` is built on; it knows nothing about HTTP.
package loadgen

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Limits keep a run bounded.
const (
	// MaxConcurrency bounds Config.Concurrency.
	MaxConcurrency = 4096
	// MaxDuration bounds Config.Duration.
	MaxDuration = time.Hour
)

// Config configures one run.
type Config struct {
	// Concurrency is the number of workers, each with one request in flight
	// at a time. Required: 1..MaxConcurrency.
	Concurrency int
	// Duration is how long workers start new requests. Required:
	// up to MaxDuration.
	Duration time.Duration
	// Grace bounds how long requests in flight at the end may take; the
	// context fn gets ends then. Defaults to 10s.
	Grace time.Duration
	// Progress, when set, is called every ProgressEvery while the run lasts
	// (from one goroutine).
	Progress func(Progress)
	// ProgressEvery defaults to 1s.
	ProgressEvery time.Duration
}

func (c Config) validate() (Config, error) {
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return c, fmt.Errorf("concurrency %d: want 1 to %d", c.Concurrency, MaxConcurrency)
	}
	if c.Duration <= 0 || c.Duration > MaxDuration {
		return c, fmt.Errorf("duration %v: want more than 0, at most %v", c.Duration, MaxDuration)
	}
	if c.Grace <= 0 {
		c.Grace = 10 * time.Second
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	return c, nil
}

// Progress is a run's state so far.
type Progress struct {
	// Elapsed is the time since the run started.
	Elapsed time.Duration
	// Requests counts the requests that succeeded so far.
	Requests int64
	// Errors counts the requests that failed so far.
	Errors int64
}

// Result is a finished run.
type Result struct {
	// Requests counts the requests that succeeded.
	Requests int64
	// Errors counts the requests that failed.
	Errors int64
	// FirstError is the first failure, if any.
	FirstError error
	// Elapsed is the run's length: from its start until the last request
	// in flight finished.
	Elapsed time.Duration
	// Latency holds the latency of every successful request.
	Latency *Histogram
}

// Throughput is successful requests per second.
func (r *Result) Throughput() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Add adds another run's counts, time and latencies to r (to total runs
// interleaved with others).
func (r *Result) Add(o *Result) {
	r.Requests += o.Requests
	r.Errors += o.Errors
	r.Elapsed += o.Elapsed
	if r.FirstError == nil {
		r.FirstError = o.FirstError
	}
	if r.Latency == nil {
		r.Latency = &Histogram{}
	}
	r.Latency.Merge(o.Latency)
}

// Run calls fn from cfg.Concurrency workers, each calling it again as soon as
// it returns, until cfg.Duration has passed or ctx ends, and reports what
// happened. worker is the worker's index. A run cut short by ctx returns its
// partial result and ctx's error.
func Run(ctx context.Context, cfg Config, fn func(ctx context.Context, worker int) error) (*Result, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	stopAt := start.Add(cfg.Duration)
	reqCtx, cancel := context.WithDeadline(ctx, stopAt.Add(cfg.Grace))
	defer cancel()

	var ok, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	hists := make([]*Histogram, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := range cfg.Concurrency {
		h := &Histogram{}
		hists[w] = h
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(stopAt) {
					return
				}
				err := fn(reqCtx, w)
				if err != nil {
					if ctx.Err() != nil {
						return // canceled: not the target's failure
					}
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					continue
				}
				h.Record(time.Since(t0))
				ok.Add(1)
			}
		})
	}

	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var tick <-chan time.Time
	if cfg.Progress != nil {
		t := time.NewTicker(cfg.ProgressEvery)
		defer t.Stop()
		tick = t.C
	}
wait:
	for {
		select {
		case <-done:
			break wait
		case <-tick:
			cfg.Progress(Progress{Elapsed: time.Since(start), Requests: ok.Load(), Errors: failed.Load()})
		}
	}
	res := &Result{Requests: ok.Load(), Errors: failed.Load(), FirstError: firstErr, Elapsed: time.Since(start), Latency: &Histogram{}}
	for _, h := range hists {
		res.Latency.Merge(h)
	}
	return res, ctx.Err()
}

// ForEach calls fn(i) for every i in [0, n) from up to concurrency goroutines
// and stops at the first error, which it returns. progress, when set, is
// called with the count done every progressEvery and once at the end.
func ForEach(ctx context.Context, n, concurrency int, progressEvery time.Duration, progress func(done int), fn func(ctx context.Context, i int) error) error {
	if concurrency < 1 || concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency %d: want 1 to %d", concurrency, MaxConcurrency)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, finished atomic.Int64
	var wg sync.WaitGroup
	for range min(concurrency, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
				finished.Add(1)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	if progressEvery <= 0 {
		progressEvery = time.Second
	}
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			if progress != nil {
				progress(int(finished.Load()))
			}
			return context.Cause(ctx) // fn's error, the parent's, or nil
		case <-t.C:
			if progress != nil {
				progress(int(finished.Load()))
			}
		}
	}
}
