package projections

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// metrics is nil when Options.Registerer is nil; every method is nil-safe.
type metrics struct {
	reg        prometheus.Registerer
	applied    *prometheus.CounterVec
	batches    *prometheus.CounterVec
	failures   *prometheus.CounterVec
	lag        *prometheus.GaugeVec
	checkpoint *prometheus.GaugeVec
	commit     prometheus.Histogram
	collectors []prometheus.Collector
}

// projMetrics are one projection's children, resolved once.
type projMetrics struct {
	applied, batches, failures prometheus.Counter
	lag, checkpoint            prometheus.Gauge
	commit                     prometheus.Histogram
}

// newMetrics registers the runner's collectors, undoing a partial
// registration on failure.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	label := []string{"projection"}
	m := &metrics{
		reg: reg,
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_projection_events_applied_total",
			Help: "Events folded by a projection (those its filter selects), committed.",
		}, label),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_projection_batches_total",
			Help: "Pebble batches a projection committed (rows and checkpoint together).",
		}, label),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_projection_failures_total",
			Help: "Times a projection stopped on an error (state failed).",
		}, label),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rivetflow_projection_lag",
			Help: "Events in the log after a projection's checkpoint (head minus checkpoint).",
		}, label),
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rivetflow_projection_checkpoint",
			Help: "The last stream sequence a projection committed.",
		}, label),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rivetflow_projection_commit_seconds",
			Help:    "Time to commit one projection batch to Pebble.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16), // 50us .. ~1.6s
		}),
	}
	m.collectors = []prometheus.Collector{m.applied, m.batches, m.failures, m.lag, m.checkpoint, m.commit}
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

func (m *metrics) forProjection(name string) *projMetrics {
	if m == nil {
		return nil
	}
	return &projMetrics{
		applied:    m.applied.WithLabelValues(name),
		batches:    m.batches.WithLabelValues(name),
		failures:   m.failures.WithLabelValues(name),
		lag:        m.lag.WithLabelValues(name),
		checkpoint: m.checkpoint.WithLabelValues(name),
		commit:     m.commit,
	}
}

func (pm *projMetrics) batch(applied int, checkpoint, lag uint64, took time.Duration) {
	if pm == nil {
		return
	}
	pm.applied.Add(float64(applied))
	pm.batches.Inc()
	pm.checkpoint.Set(float64(checkpoint))
	pm.lag.Set(float64(lag))
	pm.commit.Observe(took.Seconds())
}

func (pm *projMetrics) setLag(lag uint64) {
	if pm != nil {
		pm.lag.Set(float64(lag))
	}
}

func (pm *projMetrics) failed() {
	if pm != nil {
		pm.failures.Inc()
	}
}
