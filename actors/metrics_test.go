package actors_test

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rivet-flow/rivet-flow/actors"
)

// gatherFamily returns the metric family called name, failing if reg has none.
func gatherFamily(t *testing.T, reg *prometheus.Registry, name string) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	t.Fatalf("no metric %s", name)
	return nil
}

// Each outcome lands under its own result: a caller's bad arguments are
// "invalid", an action's refusal "user_error", only the server's failure
// "error".
func TestMetricsActionResults(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Registerer = reg }, ftType("counter", actors.Options[ftState]{}))
	h := ftCreate(t, b, "counter", "m")

	ftCall[int64](t, h, "inc", 1)
	if _, err := actors.Call[int64](ftCtx(t), h, "inc", "not a number"); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("inc(string) = %v, want invalid_args", err)
	}
	if _, err := actors.Call[int64](ftCtx(t), h, "fail", "user"); err == nil {
		t.Fatal("fail(user) succeeded")
	}
	if _, err := actors.Call[int64](ftCtx(t), h, "fail", "plain"); err == nil {
		t.Fatal("fail(plain) succeeded")
	}

	got := map[string]float64{}
	for _, m := range gatherFamily(t, reg, "rivetflow_actor_actions_total").GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["type"] == "counter" {
			got[labels["result"]] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{"ok": 1, "invalid": 1, "user_error": 1, "error": 1}
	for result, n := range want {
		if got[result] != n {
			t.Errorf("result %s counted %v times, want %v (all: %v)", result, got[result], n, got)
		}
	}
	gatherFamily(t, reg, "rivetflow_actor_awake")
}

// The action-time buckets reach the longest action timeout, a type's own
// included: an action that runs into it is not lost in +Inf.
func TestMetricsActionBucketsReachTimeout(t *testing.T) {
	for _, tc := range []struct {
		name            string
		runtime, ofType time.Duration
	}{
		{"runtime default", 0, 0},
		{"type timeout", 0, 5 * time.Minute},
		{"runtime timeout", 10 * time.Minute, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Registerer = reg; o.ActionTimeout = tc.runtime },
				ftType("counter", actors.Options[ftState]{ActionTimeout: tc.ofType}))
			ftCall[int64](t, ftCreate(t, b, "counter", "m"), "inc", 1)
			want := max(tc.runtime, tc.ofType)
			if want == 0 {
				want = 60 * time.Second // the runtime's default
			}
			ms := gatherFamily(t, reg, "rivetflow_actor_action_seconds").GetMetric()
			if len(ms) == 0 {
				t.Fatal("no action-time series")
			}
			buckets := ms[0].GetHistogram().GetBucket()
			top := buckets[len(buckets)-1].GetUpperBound()
			if top < want.Seconds() {
				t.Fatalf("largest bucket %vs is under the action timeout %s", top, want)
			}
			if top > 2*want.Seconds() {
				t.Fatalf("largest bucket %vs is far past the action timeout %s", top, want)
			}
		})
	}
}
