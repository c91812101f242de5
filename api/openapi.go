package api

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// documentAccess declares how to reach and authenticate to the API in its
// OpenAPI document: the bearer scheme is always declared (so clients and
// the docs page's "Try it" know how to send a token), and required on every
// operation when the server has a token; without one, the empty requirement
// says no authentication is needed. The server is the one that served the
// document ("/", relative).
func documentAccess(cfg *huma.Config, tokenSet bool) {
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{"bearer": {Type: "http", Scheme: "bearer",
		Description: "The server's API token (--api-token), as Authorization: Bearer <token>"}}
	if tokenSet {
		cfg.Security = []map[string][]string{{"bearer": {}}}
	} else {
		cfg.Security = []map[string][]string{{}}
	}
	cfg.Servers = []*huma.Server{{URL: "/", Description: "This server"}}
}

// noSchemaLinks drops Huma's schema links: they put "$schema" in Huma's
// responses but not in the fast path's nor the hand-written routes', so a
// client saw it on some answers only. Every response is now without it.
func noSchemaLinks(cfg *huma.Config) { cfg.CreateHooks = nil }

// gatewayNote says in the document why the RivetKit gateway is not in it.
const gatewayNote = "\n\nOperational routes: `GET /healthz` and `GET /readyz` (no token needed) and `GET /metrics` (Prometheus text) are served by the node and documented here. " +
	"The RivetKit gateway (`/gateway/{actor}/...`, also under `/api/rivet`) is not: it speaks RivetKit's own protocol (CBOR or JSON envelopes, WebSocket frames), for the unmodified RivetKit client, which is its documentation; use the /v1 routes from anything else."

// documentNodeRoutes adds the node's operational routes to the document.
// rivetflow.Start serves them beside the API; an API mounted elsewhere may
// not have them.
func (s *Server) documentNodeRoutes() {
	status := func(example map[string]any) *huma.Response {
		return &huma.Response{Description: "The node's status", Content: map[string]*huma.MediaType{"application/json": {
			Schema: &huma.Schema{Type: huma.TypeObject, Properties: map[string]*huma.Schema{
				"status":  {Type: huma.TypeString, Examples: []any{example["status"]}},
				"reason":  {Type: huma.TypeString, Description: "Why the node is not ready", Examples: []any{"starting or shutting down"}},
				"version": {Type: huma.TypeString, Examples: []any{"1.0.0"}},
				"uptime":  {Type: huma.TypeString, Examples: []any{"3h2m1s"}}}},
			Example: example}}}
	}
	open := []map[string][]string{{}}
	for _, op := range []*huma.Operation{
		{OperationID: "healthz", Method: http.MethodGet, Path: "/healthz", Tags: []string{"operations"}, Security: open,
			Summary: "Liveness", Description: "200 while the process serves HTTP (no token needed).",
			Responses: map[string]*huma.Response{"200": status(map[string]any{"status": "ok", "version": "1.0.0", "uptime": "3h2m1s"})}},
		{OperationID: "readyz", Method: http.MethodGet, Path: "/readyz", Tags: []string{"operations"}, Security: open,
			Summary: "Readiness", Description: "200 when the node takes work: started, not draining, and the event log answers; else 503 with the reason (no token needed).",
			Responses: map[string]*huma.Response{"200": status(map[string]any{"status": "ready"}),
				"503": status(map[string]any{"status": "unavailable", "reason": "starting or shutting down"})}},
		{OperationID: "metrics", Method: http.MethodGet, Path: "/metrics", Tags: []string{"operations"},
			Summary: "Prometheus metrics", Description: "The node's metrics in the Prometheus text format.",
			Responses: map[string]*huma.Response{"200": {Description: "Prometheus text exposition format",
				Content: map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString}}}},
				"401": problemResponse("Missing or wrong API token")}},
	} {
		s.api.OpenAPI().AddOperation(op)
	}
}
