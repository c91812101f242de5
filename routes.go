package rivetflow

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rivet-flow/rivet-flow/api"
)

func (n *Node) routes() {
	apiOpts := n.cfg.API
	apiOpts.Version, apiOpts.Logger, apiOpts.Projections = n.cfg.Version, n.log, n.projs
	apiOpts.Workflows = n.workflows
	apiOpts.Registerer = n.registry
	if n.cfg.AccessLog && apiOpts.AccessLog == nil {
		apiOpts.AccessLog = n.log.With("component", "access")
	}
	if apiOpts.Queues == nil {
		apiOpts.Queues = n.queues
	}
	srv := api.New(n.runtime, n.events, apiOpts)
	n.api = srv
	srv.Handle("GET /metrics", promhttp.HandlerFor(n.registry, promhttp.HandlerOpts{Registry: n.registry}))
	n.mux.HandleFunc("GET /healthz", n.healthz)
	n.mux.HandleFunc("GET /readyz", n.readyz)
	n.mux.Handle("/", srv.Handler())
}

// healthz says the process is alive and serving HTTP.
func (n *Node) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "version": n.cfg.Version,
		"uptime": time.Since(n.started).Round(time.Second).String()})
}

// readyz says the node takes work: started, not draining, and the event log answers.
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	if !n.ready.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "starting or shutting down"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := n.events.Ready(ctx); err != nil {
		n.log.Warn("not ready", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": "event log: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
