package api

import (
	"net/http"
	"strings"
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
