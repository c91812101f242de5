package actors

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

type requestKey struct{}

// WithRequest attaches the HTTP request a call or connection comes from:
// Handle.Connect and Handle.StatelessAction give it to the connection, and
// the connection hooks and actions see it as c.Request() and Conn.Request().
func WithRequest(ctx context.Context, r *http.Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

func requestOf(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// StatelessAction calls an action through a connection that lives for this
// one call, as RivetKit serves an action over plain HTTP: OnBeforeConnect,
// CreateConnState (or the static ConnState) and OnConnect run first with
// params (JSON), and a refusal answers their error without running the
// action; the action sees the connection as c.Conn() and among c.Conns();
// OnDisconnect runs after it. All of it is one turn of the mailbox. The
// request attached with WithRequest is the connection's Request. A type
// without connection hooks pays only for the connection value.
func (h *Handle) StatelessAction(ctx context.Context, params json.RawMessage, name string, args json.RawMessage) (json.RawMessage, error) {
	if len(params) > 0 && !json.Valid(params) {
		return nil, errorf(ErrInvalidArgs, "connection parameters are not valid JSON")
	}
	rt := h.client.rt
	conn := &Conn{id: rt.connIDs.Add(1), rt: rt, handle: h, params: params, req: requestOf(ctx), stateless: true,
		done: make(chan struct{})}
	return h.client.submitAction(ctx, h, name, args, conn)
}

// doStatelessAction runs an action through its stateless connection: the
// connection hooks, the action, OnDisconnect.
func (inst *instance) doStatelessAction(o *op) result {
	if !inst.image.Exists {
		return result{err: errorf(ErrNotFound, "actor %s does not exist", inst.id)}
	}
	conn := o.conn
	conn.inst = inst
	if err := inst.openStateless(o); err != nil {
		return result{err: err}
	}
	res := inst.doConnAction(o)
	inst.closeStateless(conn)
	return res
}

// openStateless runs the connect hooks of o's stateless connection and
// registers it; on a refusal the connection is closed and never registered.
func (inst *instance) openStateless(o *op) error {
	conn := o.conn
	if inst.lim.connectHooks {
		if _, err := inst.execute(o.ctx, eventlog.KindSystem, "$connect", nil, o.caller, conn, false, func(r *run) (any, error) {
			return nil, inst.h.connect(r, conn)
		}); err != nil {
			conn.markClosed(nil)
			return err
		}
	}
	inst.mu.Lock()
	if inst.conns == nil {
		inst.conns = map[uint64]*Conn{}
	}
	inst.conns[conn.id] = conn
	inst.mu.Unlock()
	conn.mu.Lock()
	conn.registered = true
	conn.mu.Unlock()
	return nil
}

// closeStateless closes a stateless connection after its call and runs
// OnDisconnect.
func (inst *instance) closeStateless(conn *Conn) {
	conn.markClosed(nil)
	if inst.dropConn(conn) && inst.lim.disconnectHook && inst.image.Exists {
		inst.disconnectHooks(conn)
	}
}
