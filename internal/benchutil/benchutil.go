// Package benchutil holds what the repository's benchmarks share: latency
// percentiles, rates and the concurrency knob.
package benchutil

import (
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Latencies records per-operation durations from many goroutines.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

// Report adds p50-us and p99-us metrics to b (nothing if none were recorded).
func (l *Latencies) Report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	at := func(q float64) float64 { return float64(l.d[int(q*float64(len(l.d)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
}

// ReportRate adds an events/s metric for n operations over b's elapsed time.
func ReportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// Workers is how many goroutines drive a benchmark at once:
// RIVETFLOW_BENCH_WORKERS, default 128.
func Workers() int {
	if n, err := strconv.Atoi(os.Getenv("RIVETFLOW_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 128
}
