package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// originCheck refuses, before anything else runs, a request whose Origin is
// neither the server's own (its host is the request's Host) nor in
// CORSOrigins. Browsers send Origin on cross-site form posts and WebSocket
// upgrades, which need no preflight, so without this check any web page could
// drive a server that has no token. Requests without an Origin (curl, the Go
// and npm clients outside a browser) pass.
func (s *Server) originCheck(next http.Handler) http.Handler {
	anyOrigin := slices.Contains(s.opts.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || anyOrigin || slices.Contains(s.opts.CORSOrigins, origin) || sameOrigin(origin, r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		s.lg.Warn("refused a request from a foreign origin", "origin", origin, "method", r.Method, "path", r.URL.Path)
		writeError(w, errorOf(errcode.OriginNotAllowed,
			"origin "+origin+" is not allowed: serve the page from this server or add its origin to --cors-origins", nil))
	})
}

// sameOrigin reports whether origin (scheme://host[:port]) names host, the
// request's Host. "null" (a sandboxed frame, a file:// page) never does.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host) || strings.EqualFold(withDefaultPort(u), host)
}

// withDefaultPort spells an origin's host with its scheme's default port, as
// some clients send Host.
func withDefaultPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	switch u.Scheme {
	case "http", "ws":
		return u.Host + ":80"
	case "https", "wss":
		return u.Host + ":443"
	}
	return u.Host
}
