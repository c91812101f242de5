package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// The RivetKit gateway: the routes and message shapes the unmodified npm
// `rivetkit` client (2.3.x, JSON encoding) speaks. See ../shared/RIVETKIT-WIRE.md.
//
// Limit: rvt-key joins key parts with "," without escaping, so ["a","b,c"] and
// ["a,b","c"] arrive identical; keys with commas need the native /v1 API.

func (s *Server) registerGateway() {
	s.handleGateway("GET /metadata", s.gwMetadata)
	s.handleGateway("GET /actors", s.gwListActors)
	s.handleGateway("PUT /actors", s.gwResolveActor(true))
	s.handleGateway("POST /actors", s.gwResolveActor(false))
	s.handleGateway("DELETE /actors/{id}", s.gwDestroyActor)
	s.handleGateway("POST /gateway/{target}/action/{action}", s.gwAction)
	s.handleGateway("GET /gateway/{target}/connect", s.gwConnect)
	s.handleGateway("POST /gateway/{target}/queue/{name}", s.gwQueue)
	s.registerGatewayRaw()
	s.registerInspector()
}

// gwError is the RivetKit error body.
type gwError struct {
	Group    string `json:"group"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Metadata any    `json:"metadata,omitempty"`
}

// gwCode renames the runtime's codes to the ones the client knows.
func gwCode(e *Error) (group, code string) {
	v := gwView(e)
	return v.Group, v.Code
}

// gwInternalMessage is what RivetKit tells a client about an internal error.
const gwInternalMessage = "Internal error. Read the server logs for more details."

// gwView is an error as RivetKit's server reports it: its group, code and
// message where they differ from the native API's (RivetKit's
// deconstructError and its error classes).
func gwView(e *Error) gwError {
	v := gwError{Group: e.Group, Code: e.Code, Message: e.Message, Metadata: e.Metadata}
	switch errcode.Code(e.Code) {
	case errcode.ActorNotFound:
		v.Group, v.Code = errcode.GroupActor, string(errcode.NotFound)
	case errcode.ActorExists:
		v.Group, v.Code = errcode.GroupActor, string(errcode.DuplicateKey)
	case errcode.ActionTimeout:
		v.Group, v.Code, v.Message = "action", "timed_out", "Action timed out: "+e.Message
	case errcode.InternalError:
		v.Group, v.Code, v.Message, v.Metadata = "rivetkit", "internal_error", gwInternalMessage, map[string]any{}
	case errcode.ActorQueueFull:
		v.Group, v.Code = "queue", "full"
	case errcode.ActorQueueMessageTooLarge:
		v.Group, v.Code = "queue", "message_too_large"
	case errcode.QueueMessageNotCompleted:
		v.Group, v.Code = "queue", "previous_message_not_completed"
	case errcode.QueueMessageAlreadyCompleted:
		v.Group, v.Code = "queue", "already_completed"
	case errcode.ActorAborted:
		v.Group, v.Code = errcode.GroupActor, "aborted"
	}
	return v
}

func writeGatewayError(w http.ResponseWriter, e *Error) {
	v := gwView(e)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	for k, v := range e.GetHeaders() {
		h[k] = v
	}
	w.WriteHeader(e.Status)
	_ = jsonEncode(w, v)
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = jsonEncode(w, v)
}

func (s *Server) gwMetadata(w http.ResponseWriter, r *http.Request) {
	names := map[string]any{}
	for _, t := range s.rt.Registry().Types() {
		names[t] = map[string]any{"metadata": map[string]any{}}
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"runtime": "rivet-flow", "version": s.opts.Version, "actorNames": names})
}

// gwActor is an actor in the management API's shape.
type gwActor struct {
	ActorID  string `json:"actor_id"`
	Name     string `json:"name"`
	Key      string `json:"key"`
	CreateTS int64  `json:"create_ts"`
}

func gwActorOf(id, typ string, key []string) gwActor {
	_, key = actors.SplitNamespace(key)
	return gwActor{ActorID: id, Name: typ, Key: serializeKey(key), CreateTS: time.Now().UnixMilli()}
}

// gwNamespace is a gateway request's RivetKit namespace: rvt-namespace on
// the gateway's actor paths, namespace on the management routes. Keys are
// kept apart per namespace (actors.NamespacedKey).
func gwNamespace(r *http.Request) string {
	q := r.URL.Query()
	if ns := q.Get("rvt-namespace"); ns != "" {
		return ns
	}
	return q.Get("namespace")
}

// serializeKey and parseKey are RivetKit's key encoding for the management
// API: parts joined by "/", with "\" escapes and "\0" for an empty part.
func serializeKey(key []string) string {
	if len(key) == 0 {
		return "/"
	}
	parts := make([]string, len(key))
	for i, p := range key {
		if p == "" {
			parts[i] = `\0`
			continue
		}
		p = strings.ReplaceAll(p, `\`, `\\`)
		parts[i] = strings.ReplaceAll(p, "/", `\/`)
	}
	return strings.Join(parts, "/")
}

func parseKey(s string) []string {
	if s == "" || s == "/" {
		return []string{}
	}
	var parts []string
	var cur strings.Builder
	escaping, empty := false, false
	for _, c := range s {
		switch {
		case escaping:
			if c == '0' {
				empty = true
			} else {
				cur.WriteRune(c)
			}
			escaping = false
		case c == '\\':
			escaping = true
		case c == '/':
			parts = append(parts, cur.String())
			cur.Reset()
			empty = false
		default:
			cur.WriteRune(c)
		}
	}
	if escaping {
		cur.WriteRune('\\')
	}
	if cur.Len() > 0 || empty || len(parts) > 0 {
		parts = append(parts, cur.String())
	}
	return parts
}

func (s *Server) gwListActors(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out := []gwActor{}
	switch {
	case q.Get("actor_ids") != "":
		for _, id := range strings.Split(q.Get("actor_ids"), ",") {
			h, err := s.client(r.Context()).GetByID(r.Context(), id)
			if err == nil {
				out = append(out, gwActorOf(h.ID, h.Type(), h.Key()))
			}
		}
	case q.Has("key"):
		if !utf8.ValidString(q.Get("key")) {
			writeGatewayError(w, fromActors(errorfKey(keyTextPrefix+"not valid UTF-8; send keys as UTF-8 text")))
			return
		}
		h, err := s.client(r.Context()).Get(r.Context(), q.Get("name"), actors.NamespacedKey(gwNamespace(r), parseKey(q.Get("key"))))
		if err != nil && !isNotFound(err) {
			writeGatewayError(w, fromActors(err))
			return
		}
		if err == nil {
			out = append(out, gwActorOf(h.ID, h.Type(), h.Key()))
		}
	default:
		// The actor directory's first page of the type's active actors.
		ns := gwNamespace(r)
		page, err := s.listActors(r.Context(), &listInput{Type: q.Get("name"), Prefix: actors.NamespacedKey(ns, nil), Limit: s.opts.MaxListActors})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = fromActors(err)
			}
			writeGatewayError(w, e)
			return
		}
		for _, a := range page.Body.Actors {
			if got, _ := actors.SplitNamespace(a.Key); got == ns || (ns == "" && got == actors.DefaultNamespace) {
				out = append(out, gwActorOf(a.ID, a.Type, a.Key))
			}
		}
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"actors": out})
}

type gwResolveRequest struct {
	Name  string `json:"name"`
	Key   string `json:"key"`
	Input string `json:"input"` // base64 CBOR
}

func (s *Server) gwResolveActor(getOrCreate bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req gwResolveRequest
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
		if err == nil {
			// encoding/json would turn bytes that are not UTF-8 into U+FFFD,
			// making two byte strings one key: refuse them.
			if terr := jsonterms.CheckText(raw); terr != nil {
				writeGatewayError(w, fromActors(errorfKey(keyTextPrefix+terr.Error()+"; send keys as UTF-8 text")))
				return
			}
			err = json.Unmarshal(raw, &req)
		}
		if err != nil {
			writeGatewayError(w, bodyError(err))
			return
		}
		input, apiErr := cborInput(req.Input, base64.StdEncoding)
		if apiErr != nil {
			writeGatewayError(w, apiErr)
			return
		}
		c := s.client(r.Context())
		var h *actors.Handle
		var created bool
		key := actors.NamespacedKey(gwNamespace(r), parseKey(req.Key))
		if getOrCreate {
			h, created, err = c.GetOrCreate(r.Context(), req.Name, key, input)
		} else {
			h, err = c.Create(r.Context(), req.Name, key, input)
			created = err == nil
		}
		if err != nil {
			writeGatewayError(w, fromActors(err))
			return
		}
		writeJSONStatus(w, http.StatusOK, map[string]any{"actor": gwActorOf(h.ID, h.Type(), h.Key()), "created": created})
	}
}

func (s *Server) gwDestroyActor(w http.ResponseWriter, r *http.Request) {
	h, err := s.client(r.Context()).GetByID(r.Context(), r.PathValue("id"))
	if err == nil {
		err = h.Destroy(r.Context())
	}
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{})
}

func bodyError(err error) *Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errorOf(errcode.BodyTooLarge, fmt.Sprintf("request body is over %d bytes", mbe.Limit), nil)
	}
	return errorOf(errcode.MalformedJSON, "request body is not valid JSON: "+err.Error(), nil)
}

// cborInput decodes a create input sent as base64 CBOR into JSON.
func cborInput(s string, enc *base64.Encoding) (json.RawMessage, *Error) {
	if s == "" {
		return nil, nil
	}
	raw, err := enc.DecodeString(s)
	if err != nil {
		return nil, errorOf(errcode.InvalidInput, "rvt-input is not base64: "+err.Error(), nil)
	}
	out, err := cborToRivetJSON(raw)
	if err != nil {
		return nil, errorOf(errcode.InvalidInput, "input is not CBOR: "+err.Error(), nil)
	}
	return fromRivetJSON(out), nil
}

// gwTarget resolves /gateway/{target}: an actor ID (it contains a ".") or a
// type name with rvt-method and rvt-key, optionally followed by "@token".
func (s *Server) gwTarget(r *http.Request) (*actors.Handle, *Error) {
	target, _, _ := strings.Cut(r.PathValue("target"), "@")
	c := s.client(r.Context())
	if strings.Contains(target, ".") {
		h, err := c.Ref(target) // the call itself answers not_found
		if err != nil {
			return nil, fromActors(err)
		}
		return h, nil
	}
	q := r.URL.Query()
	var key []string
	if q.Has("rvt-key") {
		if !utf8.ValidString(q.Get("rvt-key")) {
			return nil, fromActors(errorfKey(keyTextPrefix + "not valid UTF-8; send keys as UTF-8 text"))
		}
		key = strings.Split(q.Get("rvt-key"), ",")
	}
	key = actors.NamespacedKey(gwNamespace(r), key)
	var h *actors.Handle
	var err error
	switch q.Get("rvt-method") {
	case "get", "":
		h, err = c.Get(r.Context(), target, key)
	case "getOrCreate":
		input, apiErr := cborInput(q.Get("rvt-input"), base64.RawURLEncoding)
		if apiErr != nil {
			return nil, apiErr
		}
		h, _, err = c.GetOrCreate(r.Context(), target, key, input)
	case "create":
		input, apiErr := cborInput(q.Get("rvt-input"), base64.RawURLEncoding)
		if apiErr != nil {
			return nil, apiErr
		}
		h, err = c.Create(r.Context(), target, key, input)
	default:
		return nil, errorOf(errcode.InvalidMethod, "rvt-method must be get, getOrCreate or create", nil)
	}
	if err != nil {
		return nil, fromActors(err)
	}
	return h, nil
}

func (s *Server) gwAction(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Args []json.RawMessage `json:"args"`
	}
	if !s.readGatewayMessage(w, r, &body) {
		return
	}
	params, apiErr := connParams(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	args := []byte("[]")
	if body.Args != nil {
		args, _ = json.Marshal(body.Args)
	}
	ctx := actors.WithRequest(r.Context(), r)
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		ctx = actors.WithIdempotencyKey(ctx, key)
	}
	// A stateless call: the connection hooks run for it with the params.
	out, err := h.StatelessAction(ctx, params, r.PathValue("action"), fromRivetJSON(args))
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	if len(out) > s.opts.MaxOutgoingMessageBytes {
		writeGatewayError(w, s.outgoingTooLong(len(out)))
		return
	}
	writeGatewayBody(w, r, http.StatusOK, map[string]json.RawMessage{"output": toRivetJSON(out)})
}

// gwFrame is one RivetKit JSON frame: {"body":{"tag":T,"val":V}}.
type gwFrame struct {
	Body struct {
		Tag string          `json:"tag"`
		Val json.RawMessage `json:"val"`
	} `json:"body"`
}

func frame(tag string, val any) any {
	return map[string]any{"body": map[string]any{"tag": tag, "val": val}}
}

// bigInt is RivetKit's JSON encoding of a bigint: ["$BigInt","N"].
type bigInt uint64

func (b bigInt) MarshalJSON() ([]byte, error) {
	return []byte(`["$BigInt","` + strconv.FormatUint(uint64(b), 10) + `"]`), nil
}

func (b *bigInt) UnmarshalJSON(data []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(data, &pair); err == nil && len(pair) == 2 {
		var s string
		if err := json.Unmarshal(pair[1], &s); err != nil {
			return err
		}
		n, err := strconv.ParseUint(s, 10, 64)
		*b = bigInt(n)
		return err
	}
	var n uint64
	err := json.Unmarshal(data, &n)
	*b = bigInt(n)
	return err
}

func (s *Server) gwConnect(w http.ResponseWriter, r *http.Request) {
	var params json.RawMessage
	encoding := "json"
	for _, p := range websocketProtocols(r) {
		if enc, ok := strings.CutPrefix(p, "rivet_encoding."); ok {
			encoding = enc
		}
		if enc, ok := strings.CutPrefix(p, "rivet_conn_params."); ok {
			if dec, err := url.QueryUnescape(enc); err == nil && json.Valid([]byte(dec)) {
				params = json.RawMessage(dec)
			}
		}
	}
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	conn, err := h.Connect(actors.WithRequest(r.Context(), r), params)
	if err != nil && !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		writeGatewayError(w, fromActors(err)) // not a WebSocket: nothing to close
		return
	}
	ws, acceptErr := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"rivet"}, InsecureSkipVerify: true})
	if err != nil {
		if acceptErr == nil {
			// The client reads a typed error only from a close reason, as
			// RivetKit's own server sends it; an HTTP error is just 1006.
			s.closeRejected(ws, fromActors(err))
		}
		return
	}
	defer conn.Close()
	if acceptErr != nil {
		return
	}
	ws.SetReadLimit(s.opts.MaxBodyBytes)
	ctx, cancel := s.streamContext(r)
	defer cancel()
	session := newWSSession(s, ws, conn, ctx)
	session.cbor, session.rivet = encoding == encodingCBOR, true
	session.send(frame("Init", map[string]any{"actorId": h.ID, "connectionId": conn.ID()}))
	session.run(func(data []byte) {
		var f gwFrame
		if err := json.Unmarshal(data, &f); err != nil {
			session.send(frame("Error", map[string]any{"group": errcode.GroupAPI, "code": string(errcode.MalformedMessage), "message": err.Error(), "actionId": nil}))
			return
		}
		switch f.Body.Tag {
		case "SubscriptionRequest":
			var v struct {
				EventName string `json:"eventName"`
				Subscribe bool   `json:"subscribe"`
			}
			if json.Unmarshal(f.Body.Val, &v) == nil {
				if v.Subscribe {
					// In the read loop: actions sent after it queue behind it.
					if err := conn.SubscribeChecked(ctx, v.EventName); err != nil {
						e := gwView(fromActors(err))
						session.send(frame("Error", map[string]any{"group": e.Group, "code": e.Code, "message": e.Message, "actionId": nil}))
					}
				} else {
					conn.Unsubscribe(v.EventName)
				}
			}
		case "ActionRequest":
			var v struct {
				ID   bigInt          `json:"id"`
				Name string          `json:"name"`
				Args json.RawMessage `json:"args"`
			}
			if err := json.Unmarshal(f.Body.Val, &v); err != nil {
				session.send(frame("Error", map[string]any{"group": errcode.GroupAPI, "code": string(errcode.MalformedMessage), "message": err.Error(), "actionId": nil}))
				return
			}
			id := v.ID
			if len(data) > s.opts.MaxIncomingMessageBytes {
				e := s.incomingTooLong(len(data))
				session.send(frame("Error", map[string]any{"group": e.Group, "code": e.Code, "message": e.Message, "actionId": id}))
				return
			}
			args := v.Args
			if len(args) == 0 || string(args) == "null" {
				args = json.RawMessage("[]")
			}
			// Queued here, in arrival order; only the wait runs apart.
			session.enqueueAction(v.Name, fromRivetJSON(args), func(out json.RawMessage, e *Error) {
				if e != nil {
					v := gwView(e)
					session.send(frame("Error", map[string]any{"group": v.Group, "code": v.Code, "message": v.Message, "metadata": v.Metadata, "actionId": id}))
					return
				}
				if len(out) > s.opts.MaxOutgoingMessageBytes {
					e := s.outgoingTooLong(len(out))
					session.send(frame("Error", map[string]any{"group": e.Group, "code": e.Code, "message": e.Message, "actionId": id}))
					return
				}
				session.send(frame("ActionResponse", map[string]any{"id": id, "output": toRivetJSON(out)}))
			})
		}
	}, func(b actors.Broadcast) any {
		return frame("Event", map[string]any{"name": b.Name, "args": toRivetJSON(b.Args)})
	})
}

// closeRejected ends a refused connection the way RivetKit does: close 1011
// with the reason "group.code#rayId", which the client turns into an
// ActorError with that group and code.
func (s *Server) closeRejected(ws *websocket.Conn, e *Error) {
	group, code := gwCode(e)
	ray := rayID()
	s.lg.Debug("refused a gateway connection", "group", group, "code", code, "message", e.Message, "ray_id", ray)
	reason := group + "." + code + "#" + ray
	_ = ws.Close(websocket.StatusInternalError, reason)
}

// rayID is a short random id that ties a close reason to the server's log.
func rayID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func websocketProtocols(r *http.Request) []string {
	var out []string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return out
}
