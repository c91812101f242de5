package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/rivet-flow/rivet-flow/errcode"
)

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// public paths need no token.
func public(path string) bool {
	return path == "/healthz" || path == "/readyz" || strings.HasPrefix(path, docsAssets)
}

// auth requires the token, when one is set, on every route but health: as a
// bearer token, or the way the RivetKit client sends it (x-rivet-token,
// rvt-token, a rivet_token.<token> WebSocket subprotocol, or
// /gateway/{id}@{token}/...).
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		r = r.WithContext(context.WithValue(r.Context(), remoteKey{}, host))
		// The inspector routes check their own token (inspectorAuth), which
		// may differ from the API token.
		if s.opts.Token == "" || public(r.URL.Path) || s.tokenOK(r) || inspectorPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="rivet-flow"`)
		msg := "missing or wrong API token: send Authorization: Bearer <token>"
		if r.URL.Path == "/docs" {
			msg += " (a browser: open /docs?rvt-token=<token>)"
		}
		writeError(w, errorOf(errcode.Unauthorized, msg, nil))
	})
}

// TokenFromRequest returns the token a request carries, wherever it is.
func TokenFromRequest(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if t := r.Header.Get("x-rivet-token"); t != "" {
		return t
	}
	if t := r.URL.Query().Get("rvt-token"); t != "" {
		return t
	}
	for _, p := range websocketProtocols(r) {
		if t, ok := strings.CutPrefix(p, "rivet_token."); ok {
			return t
		}
	}
	if rest, ok := strings.CutPrefix(strings.TrimPrefix(r.URL.Path, GatewayPrefix), "/gateway/"); ok {
		seg, _, _ := strings.Cut(rest, "/")
		if _, tok, ok := strings.Cut(seg, "@"); ok {
			return tok
		}
	}
	return ""
}

func (s *Server) tokenOK(r *http.Request) bool {
	got := TokenFromRequest(r)
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.opts.Token)) == 1
}

// cors answers preflights (before auth: browsers send them without
// credentials) and sets CORS headers for the allowed origins. A wildcard
// allows any origin without credentials.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.opts.CORSOrigins) == 0 {
		return next
	}
	anyOrigin := slices.Contains(s.opts.CORSOrigins, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (anyOrigin || slices.Contains(s.opts.CORSOrigins, origin))
		h := w.Header()
		if allowed {
			h.Add("Vary", "Origin")
			if anyOrigin {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Credentials", "true")
			}
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, x-rivet-token, x-rivet-encoding, x-rivet-conn-params")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent) // a preflight never reaches a route
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeError writes e as problem JSON (for handlers outside Huma).
func writeError(w http.ResponseWriter, e *Error) {
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	for k, v := range e.GetHeaders() {
		h[k] = v
	}
	w.WriteHeader(e.Status)
	_ = jsonEncode(w, e)
}
