package actors

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Broadcast is a realtime event an actor sent.
type Broadcast struct {
	Name string
	Args json.RawMessage // JSON array
}

// Conn is a realtime connection to an actor: it receives the broadcasts it
// subscribes to and can call actions (which see it as c.Conn()). It keeps the
// actor awake until closed.
type Conn struct {
	id     uint64
	rt     *Runtime
	inst   *instance
	handle *Handle
	params json.RawMessage
	state  any // set by CreateConnState; touched only in the mailbox

	events chan Broadcast

	mu     sync.Mutex
	subs   map[string]bool
	closed bool
	reason error
	done   chan struct{}
}

// ID returns the connection's ID, unique within the process.
func (c *Conn) ID() string { return strconv.FormatUint(c.id, 10) }

// Params returns the connection parameters the client sent.
func (c *Conn) Params() json.RawMessage { return c.params }

// State returns what CreateConnState returned. Read it from actor code.
func (c *Conn) State() any { return c.state }

// SetState replaces the connection's state. Call it from actor code.
func (c *Conn) SetState(v any) { c.state = v }

// Actor returns the handle of the actor the connection is to.
func (c *Conn) Actor() *Handle { return c.handle }

// AllEvents subscribes a connection to every broadcast.
const AllEvents = "*"

// Subscribe starts delivering broadcasts named name (AllEvents for every one).
func (c *Conn) Subscribe(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[string]bool{}
	}
	c.subs[name] = true
}

// Unsubscribe stops delivering broadcasts named name.
func (c *Conn) Unsubscribe(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.subs, name)
}

// Events delivers subscribed broadcasts in order. It is closed when the
// connection closes; Err then says why.
func (c *Conn) Events() <-chan Broadcast { return c.events }

// Done is closed when the connection closes.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the connection closed (nil while open or after Close).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Action calls an action through the connection.
func (c *Conn) Action(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	if c.isClosed() {
		return nil, ErrConnClosed
	}
	res, err := c.handle.client.submitAction(ctx, c.handle, name, args, c)
	return res, err
}

// Close disconnects: OnDisconnect runs in the actor's mailbox.
func (c *Conn) Close() {
	if !c.shut(nil) {
		return
	}
	o := &op{kind: opDisconnect, conn: c, ctx: context.Background(), reply: make(chan result, 1)}
	if ok, _ := c.inst.enqueue(o); !ok {
		c.inst.dropConn(c)
	}
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// shut marks the connection closed with reason; it reports whether this call
// closed it.
func (c *Conn) shut(reason error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed, c.reason = true, reason
	close(c.done)
	return true
}

func (c *Conn) subscribed(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[name] || c.subs[AllEvents]
}

// deliver queues b without blocking; a connection too slow to keep up is
// closed rather than allowed to hold the actor back.
func (c *Conn) deliver(b Broadcast) bool {
	select {
	case c.events <- b:
		return true
	default:
		return false
	}
}

// doConnect runs the connection hooks and registers the connection.
func (inst *instance) doConnect(o *op) error {
	if !inst.image.Exists {
		return errorf(ErrNotFound, "actor %s does not exist", inst.id)
	}
	if len(inst.connList()) >= inst.lim.maxConns {
		return errorf(ErrTooManyConns, "actor %s has %d connections (limit %d)", inst.id, inst.lim.maxConns, inst.lim.maxConns)
	}
	conn := o.conn
	conn.inst = inst
	if _, err := inst.execute(o.ctx, eventlog.KindSystem, "$connect", nil, o.caller, conn, false, func(r *run) (any, error) {
		return nil, inst.h.connect(r, conn)
	}); err != nil {
		return err
	}
	inst.mu.Lock()
	if inst.conns == nil {
		inst.conns = map[uint64]*Conn{}
	}
	inst.conns[conn.id] = conn
	inst.mu.Unlock()
	inst.rt.metrics.conns.Inc()
	return nil
}

func (inst *instance) doDisconnect(conn *Conn) {
	if !inst.dropConn(conn) {
		return
	}
	if inst.loaded && inst.image.Exists {
		ctx, cancel := inst.rt.ctxForSleep()
		_, err := inst.execute(ctx, eventlog.KindSystem, "$disconnect", nil, "runtime", conn, false, func(r *run) (any, error) {
			inst.h.disconnect(r, conn)
			return nil, nil
		})
		cancel()
		if err != nil {
			inst.rt.logger.Error("OnDisconnect failed", "actor", inst.id, "err", err)
		}
	}
}

// dropConn unregisters conn and closes its event stream; it reports whether
// conn was registered.
func (inst *instance) dropConn(conn *Conn) bool {
	inst.mu.Lock()
	_, ok := inst.conns[conn.id]
	delete(inst.conns, conn.id)
	inst.mu.Unlock()
	if ok {
		inst.rt.metrics.conns.Dec()
		close(conn.events)
	}
	return ok
}

func (inst *instance) connList() []*Conn {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	out := make([]*Conn, 0, len(inst.conns))
	for _, c := range inst.conns {
		out = append(out, c)
	}
	return out
}

// closeConns closes every connection with reason. With hooks, OnDisconnect
// runs for each (shutdown); a destroyed actor has no state to run them on.
func (inst *instance) closeConns(reason error, hooks bool) {
	for _, c := range inst.connList() {
		c.shut(reason)
		if hooks {
			inst.doDisconnect(c)
		} else {
			inst.dropConn(c)
		}
	}
}

// publish fans committed broadcasts out to subscribed connections.
func (inst *instance) publish(bs []eventlog.Broadcast) {
	if len(bs) == 0 {
		return
	}
	for _, c := range inst.connList() {
		if c.isClosed() {
			continue // its disconnect is queued
		}
		for _, b := range bs {
			if !c.subscribed(b.Name) {
				continue
			}
			if !c.deliver(Broadcast{Name: b.Name, Args: b.Args}) {
				inst.rt.logger.Warn("closing a connection that fell behind", "actor", inst.id, "conn", c.ID(), "buffer", cap(c.events))
				c.shut(errorf(ErrConnClosed, "connection fell more than %d events behind", cap(c.events)))
				// OnDisconnect runs as its own unit of work, after this one.
				_, _ = inst.enqueue(&op{kind: opDisconnect, conn: c, ctx: context.Background(), reply: make(chan result, 1)})
				break
			}
		}
	}
}
