package scheduler

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// Fire results, the label of rivetflow_scheduler_fires_total.
const (
	// ResultFired: the alarm's action ran and its event was appended.
	ResultFired = "fired"
	// ResultDropped: the actor no longer had the alarm pending with that due
	// time (fired by another node or an earlier attempt, cancelled, moved,
	// or the actor destroyed): nothing ran.
	ResultDropped = "dropped"
	// ResultRetried: an attempt failed and is tried again after a backoff.
	ResultRetried = "retried"
	// ResultFailed: the fire cannot succeed as things are (unknown actor
	// type, invalid actor ID, a state that no longer decodes); it is tried
	// again a minute later (while the index still holds it).
	ResultFailed = "failed"
	// ResultCancelled: the scheduler stopped during the fire; the alarm stays
	// pending and is fired at the next start.
	ResultCancelled = "cancelled"
)

// metrics is nil when Options.Registerer is nil; every method is nil-safe.
type metrics struct {
	reg        prometheus.Registerer
	fires      *prometheus.CounterVec
	lateness   prometheus.Histogram
	collectors []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer, pending, inFlight func() float64) (*metrics, error) {
	if reg == nil {
		return nil, nil
	}
	m := &metrics{
		reg: reg,
		fires: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_scheduler_fires_total",
			Help: "Alarm fires by result: fired, dropped (no longer pending), retried (an attempt failed), failed, cancelled.",
		}, []string{"result"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rivetflow_scheduler_fire_lateness_seconds",
			Help:    "Time from an alarm's due time to the scheduler firing it (first attempt).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 14), // 100us .. ~15min
		}),
	}
	m.collectors = []prometheus.Collector{m.fires, m.lateness,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rivetflow_scheduler_pending_alarms",
			Help: "Alarms pending in this node's alarm index (as of its checkpoint).",
		}, pending),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "rivetflow_scheduler_fires_in_flight",
			Help: "Alarm fires in progress.",
		}, inFlight),
	}
	for _, r := range []string{ResultFired, ResultDropped, ResultRetried, ResultFailed, ResultCancelled} {
		m.fires.WithLabelValues(r)
	}
	if err := promreg.Register(reg, m.collectors...); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *metrics) unregister() {
	if m != nil {
		promreg.Unregister(m.reg, m.collectors...)
	}
}

func (m *metrics) fire(result string) {
	if m != nil {
		m.fires.WithLabelValues(result).Inc()
	}
}

func (m *metrics) late(d time.Duration) {
	if m != nil {
		m.lateness.Observe(max(d, 0).Seconds())
	}
}
