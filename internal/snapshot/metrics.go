package snapshot

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// metrics is nil when Options.Registerer is nil; every method is nil-safe so
// call sites need no checks.
type metrics struct {
	reg         prometheus.Registerer
	writes      prometheus.Counter
	writeErrors prometheus.Counter
	batchSize   prometheus.Histogram
	hits        prometheus.Counter
	misses      prometheus.Counter
	corrupt     prometheus.Counter
	flush       prometheus.Histogram
	collectors  []prometheus.Collector
}

// newMetrics registers the store's collectors, undoing partial registration
// on failure so a failed Open leaves the registry as it was.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reg: reg,
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rivetflow_snapshot_writes_total",
			Help: "Snapshot puts and deletes committed to Pebble.",
		}),
		writeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rivetflow_snapshot_write_errors_total",
			Help: "Snapshot batches that failed to commit (their snapshots are dropped; actors rebuild from the log).",
		}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rivetflow_snapshot_write_batch_size",
			Help:    "Puts and deletes per committed Pebble batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 .. 2048
		}),
	}
	reads := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rivetflow_snapshot_reads_total",
		Help: "Snapshot lookups by result: hit, miss, or corrupt (treated as a miss by callers).",
	}, []string{"result"})
	m.flush = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "rivetflow_snapshot_flush_seconds",
		Help:    "Time to commit one batch of snapshots to Pebble.",
		Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16), // 50us .. ~1.6s
	})
	// Resolved once (which also shows zeros rather than gaps on dashboards),
	// so a read costs no label lookup.
	m.hits = reads.WithLabelValues("hit")
	m.misses = reads.WithLabelValues("miss")
	m.corrupt = reads.WithLabelValues("corrupt")
	m.collectors = []prometheus.Collector{m.writes, m.writeErrors, m.batchSize, reads, m.flush}
	if err := promreg.Register(reg, m.collectors...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m == nil {
		return
	}
	promreg.Unregister(m.reg, m.collectors...)
}

func (m *metrics) batch(n int, took time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.writeErrors.Inc()
		return
	}
	m.writes.Add(float64(n))
	m.batchSize.Observe(float64(n))
	m.flush.Observe(took.Seconds())
}

func (m *metrics) read(hit bool, err error) {
	if m == nil {
		return
	}
	switch {
	case errors.Is(err, ErrCorrupt):
		m.corrupt.Inc()
	case err != nil:
		// Pebble/closed errors say nothing about the cache's hit rate.
	case hit:
		m.hits.Inc()
	default:
		m.misses.Inc()
	}
}
