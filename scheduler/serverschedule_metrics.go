package scheduler

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Server schedule metrics, per schedule name. They count what committed
// events recorded: each is incremented after its event is appended
// (Context.WaitUntil), never for an action that failed.
var (
	scheduleFires = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rivetflow_schedule_fires_total",
		Help: "Server schedule fires by outcome: started, succeeded, failed, unknown (no reply within runTimeoutMs).",
	}, []string{"schedule", "outcome"})
	scheduleSkipped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rivetflow_schedule_skipped_total",
		Help: "Server schedule occurrences not fired, by reason: overlap, buffer_full, too_many_running, paused.",
	}, []string{"schedule", "reason"})
	scheduleMissed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rivetflow_schedule_missed_total",
		Help: "Server schedule occurrences missed while no tick ran (downtime), not fired under the catch-up policy.",
	}, []string{"schedule"})
)

type metricKind int

const (
	metricFires metricKind = iota
	metricSkipped
	metricMissed
)

// RegisterMetrics registers the server schedule metrics with reg (nil: a
// no-op). Registering them again with the same registry is not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{scheduleFires, scheduleSkipped, scheduleMissed} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return err
			}
		}
	}
	return nil
}

// observe adds n to a metric once the call's event is appended.
func observe(c *actors.Context[ScheduleState], m metricKind, label string, n int) {
	name := c.State.Name
	c.WaitUntil(func(context.Context) {
		switch m {
		case metricFires:
			scheduleFires.WithLabelValues(name, label).Add(float64(n))
		case metricSkipped:
			scheduleSkipped.WithLabelValues(name, label).Add(float64(n))
		case metricMissed:
			scheduleMissed.WithLabelValues(name).Add(float64(n))
		}
	})
}
