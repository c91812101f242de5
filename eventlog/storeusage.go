package eventlog

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/internal/promreg"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// StoreUsage is JetStream's file storage in use and its limit. Every stream
// counts: the events' and the durable queues'.
type StoreUsage struct {
	// Used is the bytes stored.
	Used int64
	// Limit is the bytes allowed (Config.MaxStore for the embedded server,
	// the account's limit on an external one); 0 when the server sets none
	// that the client can see.
	Limit int64
}

// Ratio is Used over Limit, or 0 when the limit is unknown.
func (u StoreUsage) Ratio() float64 {
	if u.Limit <= 0 {
		return 0
	}
	return float64(u.Used) / float64(u.Limit)
}

// StoreUsage reads the store's use (one JetStream API request) and limit.
func (l *Log) StoreUsage(ctx context.Context) (StoreUsage, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := l.shared.AccountInfo(ctx)
	if err != nil {
		return StoreUsage{}, fmt.Errorf("read JetStream account info: %w", err)
	}
	u := StoreUsage{Used: int64(info.Store), Limit: info.Limits.MaxStore}
	if tier, ok := info.Tiers[fmt.Sprintf("R%d", l.cfg.Replicas)]; ok && tier.Limits.MaxStore > 0 && u.Limit <= 0 {
		u.Used, u.Limit = int64(tier.Store), tier.Limits.MaxStore // an account with per-replica-count limits
	}
	if l.emb != nil {
		// The embedded server's account is unlimited; the server's own
		// limit (--nats-max-store) is the one appends meet.
		u.Limit = l.emb.srv.JetStreamConfig().MaxStore
	}
	if u.Limit < 0 {
		u.Limit = 0
	}
	return u, nil
}

// StoreMonitorOptions configures a StoreMonitor. A nil pointer means defaults.
type StoreMonitorOptions struct {
	// Interval is how often the store is checked. Defaults to 30s.
	Interval time.Duration
	// WarnAt is the share of the limit above which the monitor logs a
	// warning (again at every further 5 points). Defaults to 0.8.
	WarnAt float64
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives rivetflow_eventlog_store_used_bytes and
	// rivetflow_eventlog_store_limit_bytes. Defaults to none.
	Registerer prometheus.Registerer
}

// StoreMonitor checks JetStream's file storage periodically: it exports the
// bytes used and the limit as gauges and logs a warning while use is above
// WarnAt, because appends (every action) fail once the store is full.
type StoreMonitor struct {
	startstop.BaseStartStop

	log  *Log
	opts StoreMonitorOptions
	lg   *slog.Logger

	used, limit atomic.Int64

	mu        sync.Mutex
	warnedPct int  // the 5-point step last warned about; 0 below WarnAt
	failing   bool // the last check failed (logged once per outage)
}

// NewStoreMonitor returns a monitor of l's store; Start it to check
// periodically. Its gauges are registered at once (0 until a check).
func NewStoreMonitor(l *Log, opts *StoreMonitorOptions) (*StoreMonitor, error) {
	o := StoreMonitorOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Interval <= 0 {
		o.Interval = 30 * time.Second
	}
	if o.WarnAt <= 0 {
		o.WarnAt = 0.8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	m := &StoreMonitor{log: l, opts: o, lg: o.Logger.With("component", "eventlog")}
	if err := promreg.Register(o.Registerer, storeCollector{m}); err != nil {
		return nil, fmt.Errorf("store metrics: %w", err)
	}
	return m, nil
}

// Start checks the store once, then every Interval until Stop.
func (m *StoreMonitor) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := m.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	_, _ = m.Check(ctx) // a failure is logged; the next tick retries
	go func() {
		defer stopped()
		started()
		t := time.NewTicker(m.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				_, _ = m.Check(ctx)
			}
		}
	}()
	return nil
}

// Check reads the store's use now, updates the gauges and logs a warning if
// use went past WarnAt or a further 5 points above it.
func (m *StoreMonitor) Check(ctx context.Context) (StoreUsage, error) {
	u, err := m.log.StoreUsage(ctx)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if !m.failing && ctx.Err() == nil {
			m.lg.Warn("cannot read the JetStream store's use; retrying", "err", err, "every", m.opts.Interval.String())
		}
		m.failing = true
		return u, err
	}
	m.failing = false
	m.used.Store(u.Used)
	m.limit.Store(u.Limit)
	ratio := u.Ratio()
	if ratio < m.opts.WarnAt {
		if m.warnedPct > 0 {
			m.lg.Info("JetStream store back under its warning level", "used_bytes", u.Used, "limit_bytes", u.Limit,
				"used_percent", percent(ratio))
		}
		m.warnedPct = 0
		return u, nil
	}
	if step := int(math.Floor(ratio*20)) * 5; step > m.warnedPct {
		m.warnedPct = step
		m.lg.Warn("JetStream store nearly full: appends (every action) fail once it is full; raise --nats-max-store and free disk under --data-dir",
			"used_bytes", u.Used, "limit_bytes", u.Limit, "used_percent", percent(ratio),
			"warn_at_percent", percent(m.opts.WarnAt))
	}
	return u, nil
}

func percent(r float64) float64 { return math.Round(r*1000) / 10 }

var (
	storeUsedDesc = prometheus.NewDesc("rivetflow_eventlog_store_used_bytes",
		"JetStream file storage in use (events and queues), as of the last check.", nil, nil)
	storeLimitDesc = prometheus.NewDesc("rivetflow_eventlog_store_limit_bytes",
		"JetStream file storage limit (--nats-max-store, or the account's); appends fail beyond it. Absent when the server shows none.", nil, nil)
)

// storeCollector exports the last check's values; the limit only when known,
// so that used/limit never divides by an unknown limit.
type storeCollector struct{ m *StoreMonitor }

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeUsedDesc
	ch <- storeLimitDesc
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(storeUsedDesc, prometheus.GaugeValue, float64(c.m.used.Load()))
	if limit := c.m.limit.Load(); limit > 0 {
		ch <- prometheus.MustNewConstMetric(storeLimitDesc, prometheus.GaugeValue, float64(limit))
	}
}
