package snapshot

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// family gathers reg and returns the named metric whose labels contain
// label ("" matches any), failing if absent.
func family(t *testing.T, reg *prometheus.Registry, name, label string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || strings.Contains(m.String(), label) {
				return m
			}
		}
	}
	t.Fatalf("metric %s{%s} not registered", name, label)
	return nil
}

func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	return family(t, reg, name, label).GetCounter().GetValue()
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	if err := s.Write([]Snapshot{snap("a", 1, ""), snap("b", 1, ""), snap("c", 1, "")}, nil); err != nil {
		t.Fatal(err)
	}
	s.Put(snap("d", 1, ""))
	s.Delete("a")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(snapKey("bad"), []byte{99}, nil); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "b")
	mustGet(t, s, "d")
	mustGet(t, s, "a")
	_, _, _ = s.Get("bad")

	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"rivetflow_snapshot_writes_total", "", 5},
		{"rivetflow_snapshot_write_errors_total", "", 0},
		{"rivetflow_snapshot_reads_total", `value:"hit"`, 2},
		{"rivetflow_snapshot_reads_total", `value:"miss"`, 1},
		{"rivetflow_snapshot_reads_total", `value:"corrupt"`, 1},
	} {
		if got := counterValue(t, b.reg, c.name, c.label); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.label, got, c.want)
		}
	}
	batches := family(t, b.reg, "rivetflow_snapshot_write_batch_size", "").GetHistogram()
	if batches.GetSampleCount() != 2 || batches.GetSampleSum() != 5 {
		t.Errorf("batch_size count/sum = %d/%v, want 2/5", batches.GetSampleCount(), batches.GetSampleSum())
	}
	if n := family(t, b.reg, "rivetflow_snapshot_flush_seconds", "").GetHistogram().GetSampleCount(); n != 2 {
		t.Errorf("flush_seconds count = %d, want 2", n)
	}
}

func TestMetricsRegistration(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	// A second store on the same registry collides and leaves nothing behind.
	if s2, err := Open(t.TempDir(), &Options{Registerer: b.reg}); err == nil {
		s2.Close()
		t.Fatal("second store registered the same metrics")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close unregisters, so a reopen may register again.
	openT(t, b.dir, &b.opts)
}
