package eventlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// syncBuffer is a log sink safe for the monitor's goroutine and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// records returns the JSON log records written so far with the given message prefix.
func (s *syncBuffer) records(t *testing.T, prefix string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if msg, _ := rec["msg"].(string); strings.HasPrefix(msg, prefix) {
			out = append(out, rec)
		}
	}
	return out
}

// A store filled past 80% is reported in the gauges and warned about, in
// 5-point steps, up to the append that fails because it is full.
func TestStoreMonitorWarnsBeforeFull(t *testing.T) {
	const limit = 256 << 10
	l := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.MaxStore = limit })
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	mon, err := eventlog.NewStoreMonitor(l, &eventlog.StoreMonitorOptions{
		Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Registerer: reg, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u, err := mon.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.Limit != limit {
		t.Fatalf("limit %d, want --nats-max-store %d", u.Limit, limit)
	}
	if got := testutil.ToFloat64(gaugeOf(t, reg, "rivetflow_eventlog_store_limit_bytes")); got != limit {
		t.Fatalf("limit gauge %v, want %d", got, limit)
	}

	subj := subjectOf(t, "counter", "full")
	payload := bytes.Repeat([]byte("x"), 4<<10)
	var last uint64
	var full error
	for i := 0; i < 200 && full == nil; i++ {
		seq, err := l.Append(ctx, subj, last, &eventlog.Event{Kind: eventlog.KindAction, Action: "fill",
			Args: []byte(`["` + string(payload) + `"]`)})
		if err != nil {
			full = err
			break
		}
		last = seq
		if u, err = mon.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !errors.Is(full, eventlog.ErrLogFull) {
		t.Fatalf("appends to a %d-byte store ended with %v, want ErrLogFull", limit, full)
	}
	if used := testutil.ToFloat64(gaugeOf(t, reg, "rivetflow_eventlog_store_used_bytes")); used != float64(u.Used) || u.Ratio() < 0.9 {
		t.Fatalf("used gauge %v, last check %+v: want the store nearly full", used, u)
	}
	warns := logs.records(t, "JetStream store nearly full")
	if len(warns) < 2 {
		t.Fatalf("%d warnings, want one at 80%% and more as it filled: %s", len(warns), logs.b.String())
	}
	first := warns[0]
	if first["level"] != "WARN" || first["used_percent"].(float64) < 80 || first["used_percent"].(float64) >= 85 ||
		first["limit_bytes"].(float64) != limit || !strings.Contains(first["msg"].(string), "--nats-max-store") {
		t.Fatalf("first warning %v: want a WARN between 80 and 85%% naming the limit and --nats-max-store", first)
	}
	// One warning per 5-point step, not one per check.
	seen := map[float64]bool{}
	for _, w := range warns {
		step := float64(int(w["used_percent"].(float64)/5) * 5)
		if seen[step] {
			t.Fatalf("warned twice in the %v%% step: %v", step, warns)
		}
		seen[step] = true
	}
}

// Start checks at once and then periodically; Stop ends the loop.
func TestStoreMonitorStartStop(t *testing.T) {
	l := openLog(t, t.TempDir())
	reg := prometheus.NewRegistry()
	mon, err := eventlog.NewStoreMonitor(l, &eventlog.StoreMonitorOptions{Logger: discardLogger(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The default --nats-max-store (16 GiB), read by the check Start made.
	if got := testutil.ToFloat64(gaugeOf(t, reg, "rivetflow_eventlog_store_limit_bytes")); got != 16<<30 {
		t.Fatalf("limit gauge %v after Start, want 16 GiB", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := mon.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// gaugeOf returns the collector of reg's metric called name.
func gaugeOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"},
				func() float64 { return mf.GetMetric()[0].GetGauge().GetValue() })
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}
