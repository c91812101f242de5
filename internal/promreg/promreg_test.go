package promreg_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// A failed registration leaves nothing registered; Unregister undoes a
// successful one, so the same collectors register again.
func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "a"})
	clash := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if err := reg.Register(clash); err != nil {
		t.Fatal(err)
	}
	b := prometheus.NewCounter(prometheus.CounterOpts{Name: "b_total", Help: "b"})
	if err := promreg.Register(reg, a, b); err == nil {
		t.Fatal("registered a duplicate")
	}
	if err := reg.Register(a); err != nil {
		t.Fatalf("a stayed registered after the failure: %v", err)
	}
	reg.Unregister(a)
	reg.Unregister(clash)
	if err := promreg.Register(reg, a, b); err != nil {
		t.Fatal(err)
	}
	promreg.Unregister(reg, a, b)
	if err := promreg.Register(reg, a, b); err != nil {
		t.Fatalf("after Unregister: %v", err)
	}
	if err := promreg.Register(nil, a); err != nil {
		t.Fatal(err)
	}
}
