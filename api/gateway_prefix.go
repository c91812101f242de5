package api

import (
	"net/http"
	"strings"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// GatewayPrefix is the path the seed's RivetKit clients use as their endpoint
// (http://host:port/api/rivet). The gateway is served there as well as at
// the root.
const GatewayPrefix = "/api/rivet"

// handleGateway registers a gateway route at the root and under
// GatewayPrefix. pattern is "METHOD /path".
func (s *Server) handleGateway(pattern string, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, h)
	method, path, _ := strings.Cut(pattern, " ")
	s.mux.HandleFunc(method+" "+GatewayPrefix+path, h)
}

// gatewayByHeader routes RivetKit's header-addressed requests into the
// gateway's actor paths: an HTTP request with `x-rivet-target: actor` and
// `x-rivet-actor: <id>` (or a WebSocket offering the subprotocols
// `rivet_target.actor` and `rivet_actor.<id>`) to /gateway/<id><path>, as
// RivetKit's own gateway does after its path-based routing.
func gatewayByHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, GatewayPrefix)
		if strings.HasPrefix(path, "/gateway/") {
			next.ServeHTTP(w, r)
			return
		}
		target, actor := r.Header.Get("x-rivet-target"), r.Header.Get("x-rivet-actor")
		for _, p := range websocketProtocols(r) {
			if v, ok := strings.CutPrefix(p, "rivet_target."); ok {
				target = v
			}
			if v, ok := strings.CutPrefix(p, "rivet_actor."); ok {
				actor = v
			}
		}
		if target != "actor" {
			next.ServeHTTP(w, r)
			return
		}
		if actor == "" {
			writeGatewayError(w, errorOf(errcode.InvalidRequest, "x-rivet-target is actor but x-rivet-actor names no actor", nil))
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path, r2.URL.RawPath = "/gateway/"+actor+path, ""
		r2.RequestURI = r2.URL.RequestURI()
		r2.Header.Del("x-rivet-target")
		r2.Header.Del("x-rivet-actor")
		next.ServeHTTP(w, r2)
	})
}
