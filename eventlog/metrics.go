package eventlog

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

type metrics struct {
	appends      *prometheus.CounterVec
	appendOK     prometheus.Counter // children resolved once: the hot path skips the label lookup
	appendConfl  prometheus.Counter
	appendErr    prometheus.Counter
	appendTime   prometheus.Histogram
	inflight     prometheus.Gauge
	readEvents   prometheus.Counter
	scannedEvent prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_eventlog_appends_total",
			Help: "Appends to the event log by result (ok, conflict, error).",
		}, []string{"result"}),
		appendTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "rivetflow_eventlog_append_seconds",
			Help:    "Time from publishing an event to its JetStream acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(20e-6, 2, 16), // 20us .. 650ms
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rivetflow_eventlog_appends_inflight",
			Help: "Appends published and not yet acknowledged.",
		}),
		readEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rivetflow_eventlog_read_events_total",
			Help: "Events read by actor reads (wake, history).",
		}),
		scannedEvent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rivetflow_eventlog_scanned_events_total",
			Help: "Events delivered by scans and tails.",
		}),
	}
	m.appendOK = m.appends.WithLabelValues("ok")
	m.appendConfl = m.appends.WithLabelValues("conflict")
	m.appendErr = m.appends.WithLabelValues("error")
	if err := promreg.Register(reg, m.appends, m.appendTime, m.inflight, m.readEvents, m.scannedEvent); err != nil {
		return nil, err
	}
	return m, nil
}
