package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
)

// logAccess writes one access log line: what was asked (method, route
// pattern, actor), what was answered (status, error code, bytes) and how
// long it took. The raw path and query are left out: they can carry a token
// (/gateway/{id}@{token}, ?rvt-token=) and the route says what was asked.
func (s *Server) logAccess(r *http.Request, ev requestEvent) {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("method", r.Method),
		slog.String("route", ev.route),
		slog.Int("status", ev.status),
		slog.Float64("duration_ms", float64(ev.took.Microseconds())/1000),
		slog.Int64("bytes", ev.bytes),
	)
	if ev.actor != "" {
		attrs = append(attrs, slog.String("actor", ev.actor))
	}
	if ev.code != "" {
		attrs = append(attrs, slog.String("code", ev.code))
	}
	if ev.group != "" {
		attrs = append(attrs, slog.String("group", ev.group))
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		attrs = append(attrs, slog.String("remote", host))
	}
	s.opts.AccessLog.LogAttrs(context.Background(), slog.LevelInfo, "http request", attrs...)
}
