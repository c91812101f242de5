package actors

import (
	"bytes"
	"context"
	"net/http"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// WebSocket is a raw WebSocket as OnWebSocket sees it; the API layer adapts
// its socket library to it.
type WebSocket interface {
	Read(ctx context.Context) (text bool, data []byte, err error)
	Write(ctx context.Context, text bool, data []byte) error
	Close(code int, reason string) error
}

// Session is a raw WebSocket's view of its actor: OnWebSocket runs outside the
// mailbox for the socket's lifetime, and Do runs code in it.
type Session[S any] struct{ core sessionCore }

type sessionCore struct {
	h   *Handle
	ctx context.Context
}

// Context ends when the socket's request ends.
func (s *Session[S]) Context() context.Context { return s.core.ctx }

// Request returns the WebSocket's upgrade request, its URL's path the part
// after /websocket (as the API hands it over: "/chat" for
// .../websocket/chat?room=1, the query kept), or nil when the socket came
// from Go without WithRequest. Read it, never change it.
func (s *Session[S]) Request() *http.Request { return requestOf(s.core.ctx) }

// ActorID returns the actor's ID.
func (s *Session[S]) ActorID() string { return s.core.h.ID }

// Do runs fn in the actor's mailbox like an action: its state changes,
// broadcasts and KV writes are recorded in an event before Do returns.
func (s *Session[S]) Do(fn func(c *Context[S]) error) error {
	h := s.core.h
	_, err := h.client.rt.submit(s.core.ctx, h.def, h.ref, h.subj, &op{kind: opDo, action: "$websocket", caller: h.client.caller, fn: func(r *run) error {
		t := r.inst.h.(*typed[S])
		return fn(t.ctx(r))
	}})
	return err
}

// doFn runs an opDo's closure as the system event o.action with o.args
// (Session.Do: "$websocket", no args; the package function Do: its own), and
// appends only if the closure changed something.
func (inst *instance) doFn(o *op) error {
	if !inst.image.Exists {
		return errorf(ErrNotFound, "actor %s does not exist", inst.id)
	}
	_, err := inst.execute(o.ctx, eventlog.KindSystem, o.action, o.args, o.caller, nil, false, func(r *run) (any, error) {
		return nil, o.fn(r)
	})
	return err
}

// HasWebSocketHandler reports whether the actor's type has OnWebSocket.
func (h *Handle) HasWebSocketHandler() bool { return h.client.rt.limits[h.ref.Type].hasWebSocket }

// ServeWebSocket hands a raw WebSocket to the actor's OnWebSocket hook and
// returns when the hook does. The actor stays awake meanwhile.
func (h *Handle) ServeWebSocket(ctx context.Context, ws WebSocket) error {
	if !h.client.rt.limits[h.ref.Type].hasWebSocket {
		return errorf(ErrNoRequestHandler, "actor type %s has no OnWebSocket handler", h.ref.Type)
	}
	var inst *instance
	for {
		var err error
		if inst, err = h.client.rt.admit(ctx, h.def, h.ref, h.subj); err != nil { // counts toward --max-awake-actors
			return err
		}
		inst.busy.Add(1)
		inst.mu.Lock()
		dead := inst.dead
		inst.mu.Unlock()
		if !dead {
			break
		}
		inst.busy.Add(-1) // evicted between admit and busy: take a fresh instance
	}
	defer inst.busy.Add(-1)
	inst.mu.Lock()
	if inst.sockets == nil {
		inst.sockets = map[WebSocket]struct{}{}
	}
	inst.sockets[ws] = struct{}{}
	inst.mu.Unlock()
	defer func() {
		inst.mu.Lock()
		delete(inst.sockets, ws)
		inst.mu.Unlock()
	}()
	h.def.newHolder().websocket(sessionCore{h: h, ctx: ctx}, ws)
	return nil
}

// responseBuffer holds a raw request's response until its event is appended.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
}

func (b *responseBuffer) Header() http.Header { return b.header }

func (b *responseBuffer) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *responseBuffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	if b.body.Len()+len(p) > b.limit {
		return 0, errorf(ErrStateTooLarge, "response body over %d bytes", b.limit)
	}
	return b.body.Write(p)
}

// ServeHTTP passes a raw request to the actor's OnRequest hook in its mailbox.
// The response is sent only after any state change it made is appended.
func (h *Handle) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	if !h.client.rt.limits[h.ref.Type].hasRequest {
		return errorf(ErrNoRequestHandler, "actor type %s has no OnRequest handler", h.ref.Type)
	}
	buf := &responseBuffer{header: http.Header{}, limit: h.client.rt.opts.MaxStateBytes}
	_, err := h.client.rt.submit(r.Context(), h.def, h.ref, h.subj, &op{kind: opRequest, resp: buf, req: r, caller: h.client.caller})
	if err != nil {
		return err
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	if buf.status == 0 {
		buf.status = http.StatusOK
	}
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
	return nil
}

func (inst *instance) doRequest(o *op) error {
	if !inst.image.Exists {
		return errorf(ErrNotFound, "actor %s does not exist", inst.id)
	}
	_, err := inst.execute(o.ctx, eventlog.KindSystem, "$request", nil, o.caller, nil, false, func(r *run) (any, error) {
		r.req = o.req
		return nil, inst.h.request(r, o.resp, o.req)
	})
	return err
}
