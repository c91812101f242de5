package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

func (s *Server) registerRealtime() {
	s.mux.HandleFunc("GET /v1/actors/{id}/sse", s.sse)
	s.mux.HandleFunc("GET /v1/actors/{id}/connect", s.connectWS)
	s.mux.HandleFunc("/v1/actors/{id}/request/{path...}", s.rawRequest)
	s.mux.HandleFunc("GET /v1/actors/{id}/websocket/{path...}", s.rawWebSocket)
	// Documented in OpenAPI; served by the plain handlers above.
	doc := func(op *huma.Operation) {
		op.Tags = []string{"realtime"}
		op.Parameters = append([]*huma.Param{{Name: "id", In: "path", Required: true, Example: "counter.kCm15LWNvdW50ZXI", Schema: &huma.Schema{Type: "string"}}}, op.Parameters...)
		op.Responses = map[string]*huma.Response{"200": {Description: cmp.Or(op.Description, op.Summary)}}
		for status, desc := range map[string]string{"400": "Invalid actor ID or connection parameters", "401": "Missing or wrong API token",
			"404": "Unknown actor, or its type has no handler for this", "429": "Too many connections to this actor"} {
			op.Responses[status] = problemResponse(desc)
		}
		s.api.OpenAPI().AddOperation(op)
	}
	doc(&huma.Operation{OperationID: "actorSSE", Method: http.MethodGet, Path: "/v1/actors/{id}/sse",
		Summary:     "Stream an actor's broadcasts (Server-Sent Events)",
		Description: "One SSE event per broadcast (`event:` its name, `data:` its JSON args), sent only after the action's event is appended. `?event=name` (repeatable) filters; none means every broadcast. Comments every heartbeat keep proxies open. The stream is a connection: `?params=<json>` or the `x-rivet-conn-params` header are its parameters (onBeforeConnect, createConnState), and events sent to it alone arrive too.",
		Parameters:  []*huma.Param{{Name: "event", In: "query", Schema: &huma.Schema{Type: "string"}}, {Name: "params", In: "query", Schema: &huma.Schema{Type: "string"}}}})
	doc(&huma.Operation{OperationID: "actorConnect", Method: http.MethodGet, Path: "/v1/actors/{id}/connect",
		Summary:     "Connect over WebSocket",
		Description: "Text frames of JSON. Server: `{\"type\":\"init\",\"actorId\",\"connectionId\"}` first, then `actionResponse {id, output}`, `event {name, args}`, `error {id?, code, message, metadata?}`. Client: `action {id, name, args}`, `subscribe {event}`, `unsubscribe {event}`. `?params=<json>` are the connection parameters (onBeforeConnect, createConnState).",
		Parameters:  []*huma.Param{{Name: "params", In: "query", Schema: &huma.Schema{Type: "string"}}}})
	doc(&huma.Operation{OperationID: "actorRawRequest", Method: http.MethodPost, Path: "/v1/actors/{id}/request/{path}",
		Summary: "Raw HTTP to the actor's onRequest (any method)", Description: "The response is sent after any state change it made is appended.",
		Parameters: []*huma.Param{rawPathParam("request")}})
	doc(&huma.Operation{OperationID: "actorRawWebSocket", Method: http.MethodGet, Path: "/v1/actors/{id}/websocket/{path}",
		Summary: "Raw WebSocket to the actor's onWebSocket", Description: "Upgrades to a WebSocket handed to the actor's onWebSocket as it is: frames are the actor's own protocol.",
		Parameters: []*huma.Param{rawPathParam("websocket")}})
}

// connect resolves the actor in the path and opens a runtime connection.
func (s *Server) connect(r *http.Request, params json.RawMessage) (*actors.Conn, *Error) {
	h, err := s.client(r.Context()).GetByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return nil, fromActors(err)
	}
	conn, err := h.Connect(actors.WithRequest(r.Context(), r), params)
	if err != nil {
		return nil, fromActors(err)
	}
	return conn, nil
}

// ConnParamsHeader carries connection parameters (JSON) on HTTP calls, as
// the RivetKit client sends them; the native streams also take ?params=.
const ConnParamsHeader = "x-rivet-conn-params"

// connParams reads a request's connection parameters: the
// x-rivet-conn-params header, else the params query parameter.
func connParams(r *http.Request) (json.RawMessage, *Error) {
	p := r.Header.Get(ConnParamsHeader)
	from := ConnParamsHeader
	if p == "" {
		p, from = r.URL.Query().Get("params"), "params"
	}
	if p == "" {
		return nil, nil
	}
	if !json.Valid([]byte(p)) {
		return nil, errorOf(errcode.MalformedJSON, "the connection parameters ("+from+") are not valid JSON", nil)
	}
	return json.RawMessage(p), nil
}

func (s *Server) sse(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, newError(http.StatusInternalServerError, errcode.GroupAPI, errcode.InternalError, "streaming unsupported", nil))
		return
	}
	params, apiErr := connParams(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	conn, apiErr := s.connect(r, params)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	defer conn.Close()
	names := r.URL.Query()["event"]
	if len(names) == 0 {
		names = []string{actors.AllEvents}
	}
	for _, n := range names {
		if err := conn.SubscribeChecked(r.Context(), n); err != nil {
			writeError(w, fromActors(err))
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": connected to %s\n\n", r.PathValue("id"))
	flusher.Flush()
	ctx, cancel := s.streamContext(r)
	defer cancel()
	tick := time.NewTicker(s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			fmt.Fprint(w, ": heartbeat\n\n")
			flusher.Flush()
		case b, ok := <-conn.Events():
			if !ok {
				reason := "closed"
				if err := conn.Err(); err != nil {
					reason = actors.PublicError(err).Error()
				}
				fmt.Fprintf(w, "event: close\ndata: %s\n\n", mustJSON(map[string]string{"reason": reason}))
				flusher.Flush()
				return
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", sseName(b.Name), b.Args)
			flusher.Flush()
		}
	}
}

// sseName keeps an event name on one line.
func sseName(n string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(n) }

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// wsMessage is the native WebSocket protocol's one message shape.
type wsMessage struct {
	Type         string          `json:"type"`
	ID           *uint64         `json:"id,omitempty"`
	Name         string          `json:"name,omitempty"`
	Event        string          `json:"event,omitempty"`
	Args         json.RawMessage `json:"args,omitempty"`
	Output       json.RawMessage `json:"output,omitempty"`
	ActorID      string          `json:"actorId,omitempty"`
	ConnectionID string          `json:"connectionId,omitempty"`
	Code         string          `json:"code,omitempty"`
	Group        string          `json:"group,omitempty"`
	Message      string          `json:"message,omitempty"`
	Metadata     any             `json:"metadata,omitempty"`
}

func (s *Server) connectWS(w http.ResponseWriter, r *http.Request) {
	params, apiErr := connParams(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	conn, apiErr := s.connect(r, params)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	defer conn.Close()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := s.streamContext(r)
	defer cancel()
	session := newWSSession(s, ws, conn, ctx)
	session.send(wsMessage{Type: "init", ActorID: r.PathValue("id"), ConnectionID: conn.ID()})
	session.run(func(data []byte) {
		var m wsMessage
		if err := json.Unmarshal(data, &m); err != nil {
			session.send(wsMessage{Type: "error", Group: errcode.GroupAPI, Code: string(errcode.MalformedJSON), Message: "messages are JSON objects: " + err.Error()})
			return
		}
		switch m.Type {
		case "subscribe":
			if err := conn.SubscribeChecked(ctx, m.Event); err != nil {
				e := fromActors(err)
				session.send(wsMessage{Type: "error", Group: e.Group, Code: e.Code, Message: e.Message})
			}
		case "unsubscribe":
			conn.Unsubscribe(m.Event)
		case "action":
			session.action(m.ID, m.Name, m.Args, func(id *uint64, out json.RawMessage, err *Error) wsMessage {
				if err != nil {
					return wsMessage{Type: "error", ID: id, Group: err.Group, Code: err.Code, Message: err.Message, Metadata: err.Metadata}
				}
				return wsMessage{Type: "actionResponse", ID: id, Output: out}
			})
		default:
			session.send(wsMessage{Type: "error", Group: errcode.GroupAPI, Code: string(errcode.UnknownMessage), Message: fmt.Sprintf("unknown message type %q", m.Type)})
		}
	}, func(b actors.Broadcast) any { return wsMessage{Type: "event", Name: b.Name, Args: b.Args} })
}

// wsSession runs one WebSocket: a reader, a writer with a bounded queue, the
// connection's broadcasts and heartbeats. A client too slow to drain its queue
// is disconnected with a reason rather than allowed to block the actor.
type wsSession struct {
	s    *Server
	ws   *websocket.Conn
	conn *actors.Conn
	ctx  context.Context
	stop context.CancelFunc
	out  chan any
	// cbor: the RivetKit client chose the CBOR encoding: binary frames of
	// CBOR both ways, carried inside as RivetKit's JSON form (rivetcbor.go).
	cbor bool
	// rivet: a RivetKit gateway session (its close reasons use the codes the
	// RivetKit client knows).
	rivet bool
	// inflight counts actions queued and not yet answered.
	inflight atomic.Int64
}

func newWSSession(s *Server, ws *websocket.Conn, conn *actors.Conn, parent context.Context) *wsSession {
	ctx, stop := context.WithCancel(parent)
	return &wsSession{s: s, ws: ws, conn: conn, ctx: ctx, stop: stop, out: make(chan any, 256)}
}

// send queues a message; if the queue is full the client is too slow.
func (ws *wsSession) send(v any) {
	select {
	case ws.out <- v:
	default:
		ws.closeWith(websocket.StatusPolicyViolation, closeReason(errcode.SlowClient, "send buffer full"))
	}
}

// closeWith sends the close frame first: cancelling the context first would
// drop the socket before the client hears why.
func (ws *wsSession) closeWith(code websocket.StatusCode, reason string) {
	_ = ws.ws.Close(code, reason)
	ws.stop()
}

// action queues an action on the reader's goroutine, so the actions of one
// connection reach the actor's mailbox (and run) in the order they arrived;
// only the wait for the reply runs apart, so the reader is not blocked (replies
// keep their ids, so the client matches them). A refusal to queue (a full
// mailbox, a closed connection) is answered at once, in order.
func (ws *wsSession) action(id *uint64, name string, args json.RawMessage, reply func(*uint64, json.RawMessage, *Error) wsMessage) {
	if len(args) == 0 || string(args) == "null" {
		args = json.RawMessage("[]")
	}
	ws.enqueueAction(name, args, func(out json.RawMessage, err *Error) { ws.send(reply(id, out, err)) })
}

// enqueueAction queues an action through the session's connection now and
// calls answer with its outcome: at once if it could not be queued, else from
// a goroutine that waits for it.
func (ws *wsSession) enqueueAction(name string, args json.RawMessage, answer func(json.RawMessage, *Error)) {
	pending, err := ws.conn.ActionAsync(ws.ctx, name, args)
	if err != nil {
		answer(nil, fromActors(err))
		return
	}
	ws.inflight.Add(1)
	go func() {
		defer ws.inflight.Add(-1) // after answer has queued the reply
		out, err := pending.Wait()
		if err != nil {
			answer(nil, fromActors(err))
			return
		}
		answer(out, nil)
	}()
}

// run pumps messages until the socket or the connection ends.
func (ws *wsSession) run(onMessage func([]byte), event func(actors.Broadcast) any) {
	defer ws.stop()
	readerDone := make(chan struct{})
	defer func() { <-readerDone }()
	go func() {
		defer close(readerDone)
		defer ws.stop()
		for {
			// Not ws.ctx: cancelling a Read closes the socket at once, and the
			// close frame with its reason must go out first. Read ends when
			// the socket closes.
			typ, data, err := ws.ws.Read(context.WithoutCancel(ws.ctx))
			if err != nil {
				return
			}
			if ws.cbor {
				if data, err = cborToRivetJSON(data); err != nil {
					ws.send(frame("Error", map[string]any{"group": errcode.GroupAPI, "code": string(errcode.MalformedMessage), "message": err.Error(), "actionId": nil}))
					continue
				}
			} else if typ != websocket.MessageText {
				ws.send(wsMessage{Type: "error", Group: errcode.GroupAPI, Code: string(errcode.BinaryUnsupported), Message: "send JSON text frames"})
				continue
			}
			onMessage(data)
		}
	}()
	tick := time.NewTicker(ws.s.opts.Heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ws.ctx.Done():
			if ws.s.streams.Err() != nil {
				_ = ws.ws.Close(websocket.StatusGoingAway, closeReason(errcode.Stopping, "server shutting down"))
			} else {
				_ = ws.ws.Close(websocket.StatusNormalClosure, "")
			}
			return
		case <-tick.C:
			// Not cancelled by ws.ctx: a cancelled ping or write drops the socket
			// without the close frame that tells the client why.
			pctx, cancel := context.WithTimeout(context.WithoutCancel(ws.ctx), ws.s.opts.Heartbeat)
			err := ws.ws.Ping(pctx)
			cancel()
			if err != nil {
				ws.closeWith(websocket.StatusPolicyViolation, closeReason(errcode.HeartbeatTimeout, "no pong"))
				return
			}
		case b, ok := <-ws.conn.Events():
			if !ok {
				ws.closeConnGone()
				return
			}
			// Written here, never queued behind ws.out: events keep their
			// order, and the drain below can put them before a reply.
			if !ws.write(event(b)) {
				return
			}
		case m := <-ws.out:
			if ws.ctx.Err() != nil {
				continue // closing: the ctx.Done case sends the close frame
			}
			// An action's broadcasts reach the connection before its answer
			// does: send those already delivered first, so a client sees
			// them before the reply (as RivetKit orders them).
			gone := false
			for drained := false; !drained && !gone; {
				select {
				case b, ok := <-ws.conn.Events():
					if !ok {
						gone = true
					} else if !ws.write(event(b)) {
						return
					}
				default:
					drained = true
				}
			}
			if !ws.write(m) {
				return
			}
			if gone {
				ws.closeConnGone()
				return
			}
		}
	}
}

// write sends one message in the session's encoding; on failure it closes
// the socket and reports false.
func (ws *wsSession) write(m any) bool {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ws.ctx), 10*time.Second)
	defer cancel()
	var err error
	if ws.cbor {
		var data []byte
		if data, err = rivetJSONToCBOR(m); err == nil {
			err = ws.ws.Write(wctx, websocket.MessageBinary, data)
		}
	} else {
		err = writeJSON(wctx, ws.ws, m)
	}
	if err != nil {
		ws.closeWith(websocket.StatusPolicyViolation, closeReason(errcode.SlowClient, "write timeout"))
		return false
	}
	return true
}

// closeConnGone closes the socket of a connection the runtime closed (the
// actor was destroyed, the connection fell behind). The answers of actions
// still in flight go out first (the action that destroyed the actor is
// answered before the close), for at most two seconds.
func (ws *wsSession) closeConnGone() {
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	for ws.inflight.Load() > 0 || len(ws.out) > 0 {
		select {
		case m := <-ws.out:
			if !ws.write(m) {
				return
			}
		case <-deadline.C:
			ws.inflight.Store(0)
		case <-time.After(5 * time.Millisecond):
		}
	}
	code := errcode.Closed
	msg := "connection closed"
	var re *actors.Error
	if err := ws.conn.Err(); err != nil && errors.As(err, &re) {
		code, msg = errcode.Code(re.Code), truncate(re.Message, 80)
		if ws.rivet && code == errcode.ActorNotFound {
			code = errcode.NotFound // the code the RivetKit client knows
		}
	}
	ws.closeWith(websocket.StatusGoingAway, closeReason(code, msg))
}

func writeJSON(ctx context.Context, ws *websocket.Conn, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ws.Write(ctx, websocket.MessageText, b)
}

// closeReason is a WebSocket close reason in RivetKit's form: group.code#message.
func closeReason(code errcode.Code, msg string) string {
	return errcode.GroupActor + "." + string(code) + "#" + msg
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// rawRequest passes the request to the actor's onRequest.
func (s *Server) rawRequest(w http.ResponseWriter, r *http.Request) {
	h, err := s.client(r.Context()).GetByID(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, fromActors(err))
		return
	}
	// The body is read here, not by OnRequest in the mailbox: a slow client
	// must not hold every other call to the actor.
	body, err := s.readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case bodyTimedOut(err):
			writeError(w, s.bodyTimeoutError())
		case errors.As(err, &mbe):
			writeError(w, bodyTooLarge(mbe.Limit))
		default:
			writeError(w, errorOf(errcode.MalformedRequest, "cannot read the request body", nil))
		}
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.URL.Path = "/" + r.PathValue("path")
	if err := h.ServeHTTP(w, r); err != nil {
		writeError(w, fromActors(err))
	}
}

// rawWebSocket hands the socket to the actor's onWebSocket.
func (s *Server) rawWebSocket(w http.ResponseWriter, r *http.Request) {
	h, err := s.client(r.Context()).GetByID(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, fromActors(err))
		return
	}
	if !h.HasWebSocketHandler() {
		writeError(w, fromActors(actors.ErrNoRequestHandler))
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ws.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := s.streamContext(r)
	defer cancel()
	req := r.Clone(ctx)
	req.URL.Path, req.URL.RawPath = "/"+r.PathValue("path"), ""
	req.RequestURI = req.URL.RequestURI()
	if err := h.ServeWebSocket(actors.WithRequest(ctx, req), rawSocket{ws}); err != nil {
		_ = ws.Close(websocket.StatusInternalError, errcode.GroupActor+"."+fromActors(err).Code)
		return
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

// rawSocket adapts a coder/websocket connection to actors.WebSocket.
type rawSocket struct{ c *websocket.Conn }

func (r rawSocket) Read(ctx context.Context) (bool, []byte, error) {
	typ, data, err := r.c.Read(ctx)
	return typ == websocket.MessageText, data, err
}

func (r rawSocket) Write(ctx context.Context, text bool, data []byte) error {
	typ := websocket.MessageBinary
	if text {
		typ = websocket.MessageText
	}
	return r.c.Write(ctx, typ, data)
}

func (r rawSocket) Close(code int, reason string) error {
	return r.c.Close(websocket.StatusCode(code), reason)
}

// rawPathParam documents the {path} of a raw route: the rest of the URL,
// handed to the actor (it may hold slashes, OpenAPI's path parameters may
// not, so "Try it" sends one segment).
func rawPathParam(route string) *huma.Param {
	return &huma.Param{Name: "path", In: "path", Required: true, Example: "hello",
		Description: "The path after /" + route + "/, as the actor's handler sees it (it may hold more slashes)",
		Schema:      &huma.Schema{Type: "string"}}
}

// problemResponse documents an error answer of a hand-written route.
func problemResponse(desc string) *huma.Response {
	return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{
		"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/Error"}}}}
}
