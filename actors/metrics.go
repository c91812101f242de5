package actors

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// typeMetrics are one type's series, resolved once: the hot path skips the
// label lookups.
type typeMetrics struct {
	ok, userErr, failed prometheus.Counter
	duration            prometheus.Observer
}

func (m *metrics) forType(name string) *typeMetrics {
	return &typeMetrics{
		ok: m.actions.WithLabelValues(name, "ok"), userErr: m.actions.WithLabelValues(name, "user_error"),
		failed: m.actions.WithLabelValues(name, "error"), duration: m.duration.WithLabelValues(name),
	}
}

type metrics struct {
	actions  *prometheus.CounterVec
	duration *prometheus.HistogramVec
	awake    prometheus.Gauge
	wakes    prometheus.Counter
	sleeps   prometheus.Counter
	rejected prometheus.Counter
	conns    prometheus.Gauge

	evictions     prometheus.Counter // sent to sleep early by the awake limit
	awakeRejected prometheus.Counter // calls refused by the awake limit

	unknownOutcomes prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_actor_actions_total", Help: "Actions by actor type and result (ok, user_error, error).",
		}, []string{"type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rivetflow_actor_action_seconds", Help: "Action time in the mailbox, append included.",
			Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16),
		}, []string{"type"}),
		awake:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rivetflow_actors_awake", Help: "Actors in memory."}),
		wakes:    prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_wakes_total", Help: "Actors loaded from snapshot and log."}),
		sleeps:   prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_sleeps_total", Help: "Actors put to sleep."}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_mailbox_rejections_total", Help: "Calls refused because a mailbox was full."}),
		conns:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rivetflow_actor_connections", Help: "Open actor connections."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_evictions_total",
			Help: "Idle actors sent to sleep before their idle timeout to stay under --max-awake-actors."}),
		awakeRejected: prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_awake_limit_rejections_total",
			Help: "Calls refused (overloaded) because --max-awake-actors were in memory and none could sleep."}),
		unknownOutcomes: prometheus.NewCounter(prometheus.CounterOpts{Name: "rivetflow_actor_unknown_outcomes_total",
			Help: "Appends whose acknowledgement was lost, resolved from the log before answering."}),
	}
	if err := promreg.Register(reg, m.actions, m.duration, m.awake, m.wakes, m.sleeps, m.rejected, m.conns, m.evictions, m.awakeRejected, m.unknownOutcomes); err != nil {
		return nil, err
	}
	return m, nil
}
