// Package benchutil holds what the repository's benchmarks share: latency
// percentiles, rates and the concurrency knob.
package benchutil

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	at := func(q float64) float64 { return float64(l.Quantile(q).Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.50), "p50-us")
	b.ReportMetric(at(0.99), "p99-us")
}

// Quantile returns the q-quantile (0 to 1) of the durations, 0 if none.
func (l *Latencies) Quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	return l.d[int(q*float64(len(l.d)-1))]
}

// ReportRate adds an events/s metric for n operations over b's elapsed time.
func ReportRate(b *testing.B, n int) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// CPUMeter measures the process's CPU time (user and system, every
// goroutine: JetStream's too, when it is embedded) over a benchmark. On a
// shared, noisy machine it varies less than a rate: use it to compare costs.
type CPUMeter struct{ start time.Duration }

// StartCPU starts a CPUMeter; call it right after b.ResetTimer.
func StartCPU() CPUMeter { return CPUMeter{start: processCPU()} }

// Report adds a cpu-us/op metric for n operations to b.
func (m CPUMeter) Report(b *testing.B, n int) {
	if n > 0 {
		b.ReportMetric(float64((processCPU()-m.start).Microseconds())/float64(n), "cpu-us/op")
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Workers is how many goroutines drive a benchmark at once:
// RIVETFLOW_BENCH_WORKERS, default 128.
func Workers() int {
	if n, err := strconv.Atoi(os.Getenv("RIVETFLOW_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return 128
}

// RawPublishAsync is the baseline the append and action benchmarks compare
// against: b.N unfenced async publishes of data over 10,000 subjects,
// windowed by the client, reported as events/s.
func RawPublishAsync(b *testing.B, js jetstream.JetStream, data []byte) {
	b.ResetTimer()
	cpu := StartCPU()
	for i := range b.N {
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "rf.ev.raw.k" + strconv.Itoa(i%10_000), Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	ReportRate(b, b.N)
	cpu.Report(b, b.N)
}

// RawPublishSync is the latency baseline: b.N unfenced publishes one at a
// time, reported as events/s and p50/p99.
func RawPublishSync(b *testing.B, js jetstream.JetStream, data []byte) {
	var lat Latencies
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "rf.ev.raw.k", Data: data}); err != nil {
			b.Fatal(err)
		}
		lat.Add(time.Since(start))
	}
	ReportRate(b, b.N)
	lat.Report(b)
}
