// Package promreg registers a component's Prometheus collectors all or
// none, and unregisters them again when the component closes.
package promreg

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers every collector with reg, or, if one fails, none (those
// already registered are unregistered again). A nil reg registers nothing.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			Unregister(reg, cs[:i]...)
			return fmt.Errorf("register metrics: %w", err)
		}
	}
	return nil
}

// Unregister unregisters every collector from reg (a nil reg is a no-op).
func Unregister(reg prometheus.Registerer, cs ...prometheus.Collector) {
	if reg == nil {
		return
	}
	for _, c := range cs {
		reg.Unregister(c)
	}
}
