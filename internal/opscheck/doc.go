// Package opscheck holds no code, only a test: the metric names that the
// Grafana dashboard (docker/grafana/rivet-flow.json) and the Prometheus
// alert rules (docker/prometheus/alerts.yml) use must be exposed by a real
// node's /metrics, with the labels they select on. Renaming a metric
// without updating them fails `go test ./internal/opscheck`.
package opscheck
