package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/internal/loadgen"
)

// queueLoad is the shape of one slice's load.
type queueLoad struct {
	producers, consumers, batch, bodyBytes int
	// keys: each message gets a key from this many (0: none); priority:
	// each enqueue's (0: the default); actors: each body names one of
	// this many actors (0: none; see queueBody).
	keys, priority, actors int
	// consumerPause slows each claiming consumer down after every claim
	// (the overflow phase); a pushDriver is slowed down by its handler.
	consumerPause time.Duration
	// drain: after the slice, consumers take what the producers left
	// (up to drainMax), so that the next slice starts empty.
	drain bool
}

// queueResult is what one or more slices of one side did.
type queueResult struct {
	Enqueued   int64   `json:"enqueued"`
	Acked      int64   `json:"acked"`
	QueueFull  int64   `json:"queueFull"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	Max        float64 `json:"maxMs"`

	elapsed time.Duration
	hist    loadgen.Histogram
	slices  []float64 // msgs/s of each slice
}

func (r *queueResult) add(o *queueResult) {
	r.Enqueued += o.Enqueued
	r.Acked += o.Acked
	r.QueueFull += o.QueueFull
	r.Errors += o.Errors
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	r.elapsed += o.elapsed
	r.hist.Merge(&o.hist)
	r.slices = append(r.slices, o.slices...)
}

func (r *queueResult) finish() *queueResult {
	r.Seconds = r.elapsed.Seconds()
	if r.elapsed > 0 {
		r.PerSecond = float64(r.Acked) / r.elapsed.Seconds()
	}
	r.P50, r.P99, r.Max = ms(r.hist.Quantile(0.5)), ms(r.hist.Quantile(0.99)), ms(r.hist.Max())
	return r
}

// runQueueSlice runs producers and consumers against d for dur. Acked
// counts the acks done within dur, and the latencies are those of the
// deliveries within it. The consumers of a pullDriver are ld.consumers
// goroutines claiming; those of a pushDriver are its own (a router, the
// Deliverer), already running: the slice only observes them.
func runQueueSlice(ctx context.Context, d queueDriver, ld queueLoad, dur time.Duration, progress func(acked int64, el time.Duration)) (*queueResult, error) {
	res := &queueResult{}
	var (
		mu                   sync.Mutex
		enqueued, full, errs atomic.Int64
		inWindow, consumed   atomic.Int64
		seq                  atomic.Int64
		producersDone        atomic.Bool
		firstErr             error
		pwg, cwg             sync.WaitGroup
		start                = time.Now()
		deadline             = start.Add(dur)
		fail                 = func(err error) {
			errs.Add(1)
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		// drained: after the slice, whether the consumers are done.
		drained = func(now time.Time) bool {
			return !ld.drain || now.After(deadline.Add(drainMax)) || (producersDone.Load() && consumed.Load() >= enqueued.Load())
		}
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	windowAcked := inWindow.Load
	var win *pushWindow
	if pd, ok := d.(pushDriver); ok {
		win = newPushWindow(deadline)
		s0 := pd.settled()
		pd.observe(win)
		defer pd.observe(nil)
		windowAcked = func() int64 {
			if time.Now().Before(deadline) {
				return pd.settled() - s0
			}
			return inWindow.Load()
		}
		cwg.Go(func() {
			t := time.NewTimer(time.Until(deadline))
			defer t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			n := pd.settled() - s0
			inWindow.Store(n)
			consumed.Store(n)
			for ctx.Err() == nil {
				consumed.Store(pd.settled() - s0)
				if drained(time.Now()) {
					// Acked by the handlers is not yet settled on the
					// queue: wait for that too, so that the next slice
					// starts on an empty queue.
					n, err := pd.pending(ctx)
					if err != nil && ctx.Err() == nil {
						fail(fmt.Errorf("queue stats: %w", err))
					}
					if err != nil || n == 0 || !ld.drain || time.Now().After(deadline.Add(drainMax)) {
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}

	for range ld.producers {
		pwg.Go(func() {
			body := queueBody(ld.bodyBytes, ld.actors > 0)
			var opts enqueueOpts
			opts.priority = ld.priority
			for ctx.Err() == nil && time.Now().Before(deadline) {
				if ld.keys > 0 || ld.actors > 0 {
					i := seq.Add(1)
					if ld.keys > 0 {
						opts.key = "k" + strconv.FormatInt(i%int64(ld.keys), 10)
					}
					if ld.actors > 0 {
						setActor(body, int(i%int64(ld.actors)))
					}
				}
				stamp(body, time.Now())
				switch err := d.enqueue(ctx, body, opts); {
				case err == nil:
					enqueued.Add(1)
				case errors.Is(err, errQueueFull):
					full.Add(1)
					time.Sleep(time.Millisecond)
				case ctx.Err() != nil:
					return
				default:
					fail(fmt.Errorf("enqueue: %w", err))
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	hists := make([]loadgen.Histogram, ld.consumers)
	if pd, ok := d.(pullDriver); ok && win == nil {
		for c := range ld.consumers {
			cwg.Go(func() {
				h := &hists[c]
				for ctx.Err() == nil {
					now := time.Now()
					if !now.Before(deadline) && drained(now) {
						return
					}
					bodies, ack, err := pd.claim(ctx, ld.batch)
					if err != nil {
						if ctx.Err() != nil {
							return
						}
						fail(fmt.Errorf("claim: %w", err))
						time.Sleep(10 * time.Millisecond)
						continue
					}
					if len(bodies) == 0 {
						continue
					}
					got := time.Now()
					if got.Before(deadline) {
						for _, b := range bodies {
							if t := bornAt(b); !t.IsZero() {
								h.Record(got.Sub(t))
							}
						}
					}
					if err := ack(ctx); err != nil {
						if ctx.Err() != nil {
							return
						}
						fail(fmt.Errorf("ack: %w", err))
						continue
					}
					consumed.Add(int64(len(bodies)))
					if time.Now().Before(deadline) {
						inWindow.Add(int64(len(bodies)))
					}
					if ld.consumerPause > 0 {
						time.Sleep(ld.consumerPause)
					}
				}
			})
		}
	}
	stopTick := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopTick:
				return
			case <-t.C:
				if progress != nil {
					progress(windowAcked(), min(time.Since(start), dur))
				}
			}
		}
	}()
	pwg.Wait()
	producersDone.Store(true)
	cwg.Wait()
	close(stopTick)
	<-ticked
	res.Enqueued, res.Acked, res.QueueFull, res.Errors = enqueued.Load(), inWindow.Load(), full.Load(), errs.Load()
	if win != nil {
		win.mergeInto(&res.hist)
	}
	mu.Lock()
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	mu.Unlock()
	res.elapsed = dur
	for i := range hists {
		res.hist.Merge(&hists[i])
	}
	res.slices = []float64{float64(res.Acked) / dur.Seconds()}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, nil
}

// heapSampler records the peak heap while it runs: allocated (which
// reaches about twice the live heap between collections, with GOGC=100)
// and live (marked by the last collection).
type heapSampler struct {
	peak, peakLive atomic.Uint64
	stop           chan struct{}
	done           chan struct{}
}

// liveHeap is the heap marked live by the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func heapNow() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapAfterGC is the live heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	return heapNow()
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(heapNow())
	s.peakLive.Store(liveHeap())
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if h := heapNow(); h > s.peak.Load() {
					s.peak.Store(h)
				}
				if h := liveHeap(); h > s.peakLive.Load() {
					s.peakLive.Store(h)
				}
			}
		}
	}()
	return s
}

// Stop stops the sampler and returns the peaks: allocated and live.
func (s *heapSampler) Stop() (uint64, uint64) {
	close(s.stop)
	<-s.done
	return s.peak.Load(), s.peakLive.Load()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// overflowResult is the memory check: producers outpacing a slow consumer
// on a bounded queue.
type overflowResult struct {
	MaxMessages int64   `json:"maxMessages"`
	Seconds     float64 `json:"seconds"`
	Enqueued    int64   `json:"enqueued"`
	QueueFull   int64   `json:"queueFull"`
	Acked       int64   `json:"acked"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	HeapStartMB float64 `json:"heapStartMiB"`
	HeapPeakMB  float64 `json:"heapPeakMiB"`
	LivePeakMB  float64 `json:"livePeakMiB"`
	HeapEndMB   float64 `json:"heapEndMiB"`
	// BytesRefused is what the refused enqueues would have added.
	BytesRefusedMB float64 `json:"bytesRefusedMiB"`
	Flat           bool    `json:"flat"`
}
