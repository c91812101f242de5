package actors

import (
	"errors"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// Results of rivetflow_actor_actions_total: a caller's mistake (invalid)
// and an action's own refusal (user_error) are kept apart from the
// server's failures (error), so an alert on errors is not set off by a
// client sending bad arguments.
const (
	resultOK        = "ok"
	resultUserError = "user_error" // the action returned a *UserError
	resultInvalid   = "invalid"    // the call was wrong: invalid_args, not found, too large, ...
	resultError     = "error"      // the server failed: timeout, state decode, log unavailable, ...
)

// typeMetrics are one type's series, resolved once: the hot path skips the
// label lookups.
type typeMetrics struct {
	ok, userErr, invalid, failed prometheus.Counter
	duration                     prometheus.Observer
}

func (m *metrics) forType(name string) *typeMetrics {
	return &typeMetrics{
		ok: m.actions.WithLabelValues(name, resultOK), userErr: m.actions.WithLabelValues(name, resultUserError),
		invalid: m.actions.WithLabelValues(name, resultInvalid), failed: m.actions.WithLabelValues(name, resultError),
		duration: m.duration.WithLabelValues(name),
	}
}

// count counts an action's outcome under its result.
func (tm *typeMetrics) count(err error) {
	switch resultOf(err) {
	case resultOK:
		tm.ok.Inc()
	case resultUserError:
		tm.userErr.Inc()
	case resultInvalid:
		tm.invalid.Inc()
	default:
		tm.failed.Inc()
	}
}

// resultOf classifies an action's error. A runtime error is the caller's
// mistake when its catalogued status is a 4xx other than 429 (overload is
// the server's capacity, not the request's fault).
func resultOf(err error) string {
	if err == nil {
		return resultOK
	}
	var ue *UserError
	if errors.As(err, &ue) {
		return resultUserError
	}
	var re *Error
	if errors.As(err, &re) {
		if e, ok := errcode.Lookup(errcode.Code(re.Code)); ok && e.HTTPStatus >= 400 && e.HTTPStatus < 500 && e.HTTPStatus != 429 {
			return resultInvalid
		}
	}
	return resultError
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

// actionBuckets are the action-time buckets: from 25µs, doubling, until one
// reaches maxTimeout, so an action that runs into its timeout still lands in
// a bucket of its own rather than in +Inf.
func actionBuckets(maxTimeout time.Duration) []float64 {
	const first = 25e-6
	n := 16 // 25µs .. 0.8s, the floor (an action timeout below it keeps them)
	if s := maxTimeout.Seconds(); s > first {
		n = max(n, int(math.Ceil(math.Log2(s/first)))+1)
	}
	return prometheus.ExponentialBuckets(first, 2, n)
}

// maxActionTimeout is the longest action timeout of reg's types under opts
// (the runtime's default for types that set none).
func maxActionTimeout(reg *Registry, opts RuntimeOptions) time.Duration {
	longest := opts.ActionTimeout
	for _, d := range reg.types {
		longest = max(longest, d.limits(opts).actionTimeout)
	}
	return longest
}

// newMetrics registers the runtime's metrics, all named rivetflow_actor_*.
// maxTimeout is the longest action timeout: the action-time buckets reach it.
func newMetrics(reg prometheus.Registerer, maxTimeout time.Duration) (*metrics, error) {
	m := &metrics{
		actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_actor_actions_total",
			Help: "Actions by actor type and result: ok, user_error (the action refused), invalid (the caller's mistake: invalid_args, not found, too large) or error (the server failed).",
		}, []string{"type", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rivetflow_actor_action_seconds", Help: "Action time in the mailbox, append included; the buckets reach the longest action timeout.",
			Buckets: actionBuckets(maxTimeout),
		}, []string{"type"}),
		awake:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "rivetflow_actor_awake", Help: "Actors in memory."}),
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
