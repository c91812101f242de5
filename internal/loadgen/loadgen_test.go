package loadgen

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	// Every bucket's range starts where the previous one ends, and values map
	// back into the bucket whose range holds them.
	for b := 1; b < nBuckets; b++ {
		if lowest(b) <= lowest(b-1) {
			t.Fatalf("bucket %d starts at %d, not after bucket %d's %d", b, lowest(b), b-1, lowest(b-1))
		}
		if got := bucketOf(lowest(b)); got != b {
			t.Fatalf("bucketOf(lowest(%d)=%d) = %d", b, lowest(b), got)
		}
		if got := bucketOf(lowest(b) - 1); got != b-1 {
			t.Fatalf("bucketOf(%d) = %d; want %d", lowest(b)-1, got, b-1)
		}
	}
	if bucketOf(1<<63-1) != nBuckets-1 {
		t.Fatalf("largest value in bucket %d of %d", bucketOf(1<<63-1), nBuckets)
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var vals []time.Duration
	var a, b Histogram
	for i := range 100_000 {
		d := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		vals = append(vals, d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	slices.Sort(vals)
	if a.Count() != 100_000 || a.Max() != vals[len(vals)-1] {
		t.Fatalf("count %d max %v; want 100000 and %v", a.Count(), a.Max(), vals[len(vals)-1])
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[min(int(q*float64(len(vals))), len(vals)-1)]
		got := a.Quantile(q)
		if diff := float64(got-want) / float64(want); diff > 0.01 || diff < -0.01 {
			t.Errorf("q%v = %v; want %v within 1%%", q, got, want)
		}
	}
	var empty Histogram
	if empty.Quantile(0.5) != 0 || empty.Mean() != 0 {
		t.Error("empty histogram is not zero")
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	var progress atomic.Int64
	boom := errors.New("boom")
	res, err := Run(context.Background(), Config{Concurrency: 4, Duration: 300 * time.Millisecond, ProgressEvery: 50 * time.Millisecond,
		Progress: func(Progress) { progress.Add(1) }},
		func(ctx context.Context, worker int) error {
			if worker < 0 || worker >= 4 {
				t.Errorf("worker %d", worker)
			}
			time.Sleep(time.Millisecond)
			if calls.Add(1)%10 == 0 {
				return boom
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests+res.Errors != calls.Load() || res.Errors == 0 || !errors.Is(res.FirstError, boom) {
		t.Fatalf("result %+v after %d calls", res, calls.Load())
	}
	if uint64(res.Requests) != res.Latency.Count() || res.Latency.Quantile(0.5) < time.Millisecond {
		t.Errorf("latency count %d p50 %v", res.Latency.Count(), res.Latency.Quantile(0.5))
	}
	if res.Elapsed < 300*time.Millisecond || res.Throughput() <= 0 || progress.Load() < 3 {
		t.Errorf("elapsed %v throughput %v progress calls %d", res.Elapsed, res.Throughput(), progress.Load())
	}

	var total Result
	total.Add(res)
	total.Add(res)
	if total.Requests != 2*res.Requests || total.Elapsed != 2*res.Elapsed || total.Latency.Count() != 2*res.Latency.Count() ||
		total.FirstError != res.FirstError {
		t.Errorf("sum of a run twice = %+v; run %+v", total, res)
	}

	// Canceled: a partial result and the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	res, err = Run(ctx, Config{Concurrency: 2, Duration: time.Minute}, func(ctx context.Context, _ int) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
			return nil
		}
	})
	if !errors.Is(err, context.Canceled) || res == nil || res.Errors != 0 {
		t.Fatalf("canceled run = %+v, %v", res, err)
	}

	for _, cfg := range []Config{{Concurrency: 0, Duration: time.Second}, {Concurrency: MaxConcurrency + 1, Duration: time.Second},
		{Concurrency: 1}, {Concurrency: 1, Duration: MaxDuration + 1}} {
		if _, err := Run(context.Background(), cfg, nil); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
}

func TestForEach(t *testing.T) {
	t.Parallel()
	seen := make([]atomic.Int32, 100)
	var last int
	err := ForEach(context.Background(), 100, 8, time.Millisecond, func(done int) { last = done }, func(_ context.Context, i int) error {
		seen[i].Add(1)
		return nil
	})
	if err != nil || last != 100 {
		t.Fatalf("ForEach = %v, last progress %d", err, last)
	}
	for i := range seen {
		if seen[i].Load() != 1 {
			t.Fatalf("item %d ran %d times", i, seen[i].Load())
		}
	}
	boom := errors.New("boom")
	err = ForEach(context.Background(), 1000, 4, 0, nil, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("ForEach with a failure = %v", err)
	}
}
