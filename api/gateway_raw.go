package api

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// Raw HTTP and WebSocket through the RivetKit gateway: the client's
// handle.fetch(path) sends any method to /gateway/{target}/request/{path}
// and handle.webSocket(path) opens /gateway/{target}/websocket/{path}, the
// target resolved like the gateway's other routes (gwTarget: an actor ID, or
// a type name with rvt-* query parameters). They reach the same OnRequest and
// OnWebSocket as /v1/actors/{id}/request/... and /websocket/....

// registerGatewayRaw serves the raw routes at the root and under
// GatewayPrefix, like the gateway's others. Not through handleGateway: a raw
// request takes any method, so its pattern has none.
func (s *Server) registerGatewayRaw() {
	for _, prefix := range []string{"", GatewayPrefix} {
		s.mux.HandleFunc(prefix+"/gateway/{target}/request", s.gwRawRequest)
		s.mux.HandleFunc(prefix+"/gateway/{target}/request/{path...}", s.gwRawRequest)
		s.mux.HandleFunc("GET "+prefix+"/gateway/{target}/websocket", s.gwRawWebSocket)
		s.mux.HandleFunc("GET "+prefix+"/gateway/{target}/websocket/{path...}", s.gwRawWebSocket)
	}
}

// gwRawRequest passes the request to the actor's OnRequest as the actor's
// own: path after /request, the query without the gateway's rvt-* parameters,
// and without the server's token.
func (s *Server) gwRawRequest(w http.ResponseWriter, r *http.Request) {
	// Read first: a body that cannot be read must not create the actor.
	body, err := s.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case bodyTimedOut(err):
			writeGatewayError(w, s.bodyTimeoutError())
		case errors.As(err, &mbe):
			writeGatewayError(w, bodyTooLarge(s.opts.MaxBodyBytes))
		default:
			writeGatewayError(w, errorOf(errcode.MalformedRequest, "cannot read the request body", nil))
		}
		return
	}
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	req := s.rawRequestFor(r)
	req.Body, req.ContentLength, req.TransferEncoding = io.NopCloser(bytes.NewReader(body)), int64(len(body)), nil
	if err := h.ServeHTTP(w, req); err != nil {
		writeGatewayError(w, fromActors(err))
	}
}

// rawRequestFor is the request a raw handler sees for a gateway request: the
// path after /request or /websocket, without the rvt-* parameters and the
// server's token (header or query).
func (s *Server) rawRequestFor(r *http.Request) *http.Request {
	req := r.Clone(r.Context())
	req.URL.Path, req.URL.RawPath = "/"+r.PathValue("path"), ""
	req.URL.RawQuery = withoutRivetParams(r.URL.RawQuery)
	req.RequestURI = req.URL.RequestURI()
	req.Header.Del("X-Rivet-Token")
	if s.opts.Token != "" && req.Header.Get("Authorization") == "Bearer "+s.opts.Token {
		req.Header.Del("Authorization")
	}
	return req
}

// gwRawWebSocket hands the socket to the actor's OnWebSocket. The client
// offers the subprotocols rivet and rivet_encoding.bare (and rejects a
// handshake that selects none of its offers): rivet is selected when offered.
func (s *Server) gwRawWebSocket(w http.ResponseWriter, r *http.Request) {
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	// gwTarget does not check an actor ID (a call would); a socket is no call.
	h, err := s.client(r.Context()).GetByID(r.Context(), h.ID)
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	if !h.HasWebSocketHandler() {
		writeGatewayError(w, errorOf(errcode.NoRequestHandler, "actor type "+h.Type()+" has no OnWebSocket handler", nil))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"rivet"}, InsecureSkipVerify: true})
	if err != nil {
		return // Accept has answered the client
	}
	ws.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := s.streamContext(r)
	defer cancel()
	if err := h.ServeWebSocket(actors.WithRequest(ctx, s.rawRequestFor(r)), rawSocket{ws}); err != nil {
		e := fromActors(err)
		_ = ws.Close(websocket.StatusInternalError, closeReason(errcode.Code(e.Code), truncate(e.Message, 80)))
		return
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

// withoutRivetParams drops the gateway's rvt-* parameters from a raw query
// and keeps the others as they were sent.
func withoutRivetParams(raw string) string {
	var kept []string
	for _, p := range strings.Split(raw, "&") {
		if k, _, _ := strings.Cut(p, "="); p != "" && !strings.HasPrefix(k, "rvt-") {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}
