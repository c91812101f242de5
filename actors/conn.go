package actors

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
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
	req    *http.Request
	// stateless: the connection of one HTTP call (Handle.StatelessAction),
	// closed when the call ends; it receives no events.
	stateless bool

	events chan Broadcast

	mu     sync.Mutex
	subs   map[string]bool
	closed bool
	reason error
	done   chan struct{}
	// registered is set by the mailbox, under mu, when it takes the
	// connection in; one closed before that is never taken in (see doConnect).
	registered bool
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

// Request returns the HTTP request that opened the connection (the WebSocket
// upgrade, the SSE request, or the call of a stateless connection), or nil
// (a connection opened from Go without WithRequest). Read it, never change it.
func (c *Conn) Request() *http.Request { return c.req }

// Stateless reports whether the connection lives for one HTTP call
// (Handle.StatelessAction): its hooks ran for that call and it receives no
// events.
func (c *Conn) Stateless() bool { return c.stateless }

// Send sends a realtime event to this connection alone, whatever it
// subscribed to; args are encoded as JSON. It is not recorded and goes out at
// once, as Handle.Publish does: from an action, send from c.OnCommit to send
// only what the log took. A closed connection, or a stateless one, takes
// nothing; one that fell too far behind is closed. The error is only for args
// that do not encode.
func (c *Conn) Send(name string, args ...any) error {
	if name == "" {
		return errorf(ErrInvalidArgs, "send: an event needs a name")
	}
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return errorf(ErrInvalidArgs, "send %s: arguments do not encode as JSON: %v", name, err)
	}
	if c.stateless {
		return nil
	}
	if !c.deliver(Broadcast{Name: name, Args: raw}) {
		c.shut(errorf(ErrConnClosed, "connection fell more than %d events behind", cap(c.events)))
	}
	return nil
}

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

// PendingAction is an action queued through a connection by ActionAsync;
// Wait returns its answer.
type PendingAction struct {
	ctx  context.Context
	o    *op
	h    *Handle
	name string
	once sync.Once
	out  json.RawMessage
	err  error
}

// ActionAsync queues an action through the connection and returns without
// waiting for it: the action is in the actor's mailbox when ActionAsync
// returns, so actions queued one after another from one goroutine run in that
// order. Wait for the answer with the PendingAction's Wait, from any
// goroutine. A full mailbox (ErrOverloaded), a closed connection or a
// stopping runtime is an error here, and nothing is queued. ctx bounds the
// action as it does for Action: if it ends before the action starts, the
// action does not run.
func (c *Conn) ActionAsync(ctx context.Context, name string, args json.RawMessage) (*PendingAction, error) {
	if c.isClosed() {
		return nil, ErrConnClosed
	}
	if len(args) > 0 && !json.Valid(args) {
		return nil, errorf(ErrInvalidArgs, "arguments are not valid JSON")
	}
	h := c.handle
	o := newOp()
	o.kind, o.action, o.args, o.caller, o.conn = opAction, name, args, h.client.caller, c
	if err := c.rt.enqueueOp(ctx, h.def, h.ref, h.subj, o); err != nil {
		o.recycle()
		return nil, err
	}
	return &PendingAction{ctx: ctx, o: o, h: h, name: name}, nil
}

// Wait waits for the action's answer, or for the context ActionAsync was
// given to end. It may be called more than once and from any goroutine.
func (p *PendingAction) Wait() (json.RawMessage, error) {
	p.once.Do(func() {
		select {
		case res := <-p.o.reply:
			p.out, p.err = res.output, res.err
			p.o.recycle()
		case <-p.ctx.Done():
			// The mailbox may still answer: the op is left to the collector.
			p.err = p.ctx.Err()
		}
		p.o = nil
		if c := p.h.client; c.rec != nil {
			c.record("call", map[string]any{"actor": p.h.ID, "action": p.name, "output": p.out}, p.err)
		}
	})
	return p.out, p.err
}

// enqueueOp queues o on the actor's mailbox and returns without waiting for
// it (submit without the wait, and never inline: the op is in the mailbox,
// behind every op queued before, when it returns). The answer arrives on
// o.reply.
func (rt *Runtime) enqueueOp(ctx context.Context, def Definition, ref eventlog.ActorRef, subject string, o *op) error {
	if rt.stopping.Load() {
		return ErrStopping
	}
	o.ctx = ctx
	if o.reply == nil {
		o.reply = make(chan result, 1)
	}
	for {
		// The connection keeps its actor awake: admit finds it at once.
		inst, err := rt.admit(ctx, def, ref, subject)
		if err != nil {
			return err
		}
		ok, err := inst.enqueue(o)
		if err != nil {
			rt.metrics.rejected.Inc()
			return err
		}
		if ok {
			return nil
		}
	}
}

// Close disconnects: OnDisconnect runs in the actor's mailbox.
func (c *Conn) Close() { c.shut(nil) }

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// shut marks the connection closed with reason and, if the mailbox took it
// in, queues its OnDisconnect there; it reports whether this call closed it.
// A caller whose connect failed shuts its connection too: if the mailbox took
// it in just as the caller gave up (the caller saw its context end first),
// this undoes that, so a failed connect never leaves a connection behind.
func (c *Conn) shut(reason error) bool {
	registered, closed := c.markClosed(reason)
	if !closed || !registered {
		return closed
	}
	o := &op{kind: opDisconnect, conn: c, ctx: context.Background(), reply: make(chan result, 1)}
	if ok, _ := c.inst.enqueue(o); !ok {
		c.inst.dropConn(c)
	}
	return true
}

// markClosed marks the connection closed with reason, leaving its OnDisconnect
// to the caller (the mailbox, which runs it itself). It reports whether the
// mailbox had taken the connection in and whether this call closed it.
func (c *Conn) markClosed(reason error) (registered, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.registered, false
	}
	c.closed, c.reason = true, reason
	close(c.done)
	return c.registered, true
}

func (c *Conn) subscribed(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subs[name] || c.subs[AllEvents]
}

// deliver queues b without blocking; it reports false when the buffer is
// full (a connection too slow to keep up is closed rather than allowed to hold
// the actor back). A closed connection takes nothing. It sends under c.mu:
// dropConn closes the stream only after markClosed, so Handle.Publish, which
// fans out from outside the mailbox, never sends on a closed stream.
func (c *Conn) deliver(b Broadcast) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return true
	}
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
	// The caller may have given up while the hooks ran. Taking the connection
	// in is decided under its lock: a caller that stops waiting from here on
	// shuts it (see Handle.Connect), and shut then queues its OnDisconnect.
	conn.mu.Lock()
	if err := o.ctx.Err(); err != nil || conn.closed {
		conn.mu.Unlock()
		if err == nil {
			err = ErrConnClosed
		}
		// Never taken in: no slot held, nothing keeps the actor awake; the
		// hooks stay paired.
		inst.disconnectHooks(conn)
		return err
	}
	inst.mu.Lock()
	if inst.conns == nil {
		inst.conns = map[uint64]*Conn{}
	}
	inst.conns[conn.id] = conn
	inst.mu.Unlock()
	conn.registered = true
	conn.mu.Unlock()
	inst.rt.metrics.conns.Inc()
	return nil
}

func (inst *instance) doDisconnect(conn *Conn) {
	if !inst.dropConn(conn) {
		return
	}
	inst.disconnectHooks(conn)
}

// disconnectHooks runs OnDisconnect for a connection whose connect hooks ran.
func (inst *instance) disconnectHooks(conn *Conn) {
	if !inst.loaded || !inst.image.Exists {
		return
	}
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

// dropConn unregisters conn and closes its event stream; it reports whether
// conn was registered.
func (inst *instance) dropConn(conn *Conn) bool {
	inst.mu.Lock()
	_, ok := inst.conns[conn.id]
	delete(inst.conns, conn.id)
	inst.mu.Unlock()
	if ok && !conn.stateless {
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

// openConns returns the open connections, oldest first.
func (inst *instance) openConns() []*Conn {
	out := slices.DeleteFunc(inst.connList(), (*Conn).isClosed)
	slices.SortFunc(out, func(a, b *Conn) int { return cmp.Compare(a.id, b.id) })
	return out
}

// closeConns closes every connection with reason. With hooks, OnDisconnect
// runs for each (shutdown); a destroyed actor has no state to run them on.
func (inst *instance) closeConns(reason error, hooks bool) {
	for _, c := range inst.connList() {
		c.markClosed(reason)
		if hooks {
			inst.doDisconnect(c)
		} else {
			inst.dropConn(c)
		}
	}
}

// publish fans broadcasts out to subscribed connections: committed ones from
// the mailbox, unrecorded ones from Handle.Publish on any goroutine.
func (inst *instance) publish(bs []eventlog.Broadcast) {
	if len(bs) == 0 {
		return
	}
	for _, c := range inst.connList() {
		if c.stateless || c.isClosed() {
			continue // receives no events, or its disconnect is queued
		}
		for _, b := range bs {
			if !c.subscribed(b.Name) {
				continue
			}
			if !c.deliver(Broadcast{Name: b.Name, Args: b.Args}) {
				inst.rt.logger.Warn("closing a connection that fell behind", "actor", inst.id, "conn", c.ID(), "buffer", cap(c.events))
				// OnDisconnect runs as its own unit of work, after this one.
				c.shut(errorf(ErrConnClosed, "connection fell more than %d events behind", cap(c.events)))
				break
			}
		}
	}
}
