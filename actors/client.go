package actors

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Client calls actors. From inside an actor (Context.Client) every call's
// result is recorded in the calling action's event.
type Client struct {
	rt     *Runtime
	caller string
	rec    *run // the recording call, for a client inside an actor
}

// WithCaller returns a client that tags its calls with caller (recorded in
// each event: "http:10.0.0.1", "scheduler", ...).
func (c *Client) WithCaller(caller string) *Client {
	cp := *c
	cp.caller = caller
	return &cp
}

// Handle addresses one actor.
type Handle struct {
	client *Client
	def    Definition
	ref    eventlog.ActorRef
	subj   string
	// ID is the actor's stable ID.
	ID string
	// Generation is the actor's generation when the handle was resolved.
	Generation uint64
}

// Type returns the actor's type.
func (h *Handle) Type() string { return h.ref.Type }

// Key returns the actor's key.
func (h *Handle) Key() []string { return append([]string(nil), h.ref.Key...) }

// Get returns a handle to an existing actor, or ErrNotFound.
func (c *Client) Get(ctx context.Context, typ string, key []string) (*Handle, error) {
	h, _, err := c.resolve(ctx, typ, key, resolveGet, nil)
	return h, err
}

// GetOrCreate returns a handle to the actor, creating it with input if it does
// not exist; created says which happened. Creation is atomic in the log.
func (c *Client) GetOrCreate(ctx context.Context, typ string, key []string, input any) (*Handle, bool, error) {
	raw, err := encodeInput(input)
	if err != nil {
		return nil, false, err
	}
	return c.resolve(ctx, typ, key, resolveGetOrCreate, raw)
}

// Create creates the actor with input, or fails with ErrExists.
func (c *Client) Create(ctx context.Context, typ string, key []string, input any) (*Handle, error) {
	raw, err := encodeInput(input)
	if err != nil {
		return nil, err
	}
	h, _, err := c.resolve(ctx, typ, key, resolveCreate, raw)
	return h, err
}

// GetByID returns a handle to an existing actor by ID, or ErrNotFound.
func (c *Client) GetByID(ctx context.Context, id string) (*Handle, error) {
	typ, key, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	return c.Get(ctx, typ, key)
}

// Ref returns a handle by ID without checking that the actor exists (no round
// trip): calls on it fail with ErrNotFound if it does not. Use it on hot paths
// where the call itself is the check.
func (c *Client) Ref(id string) (*Handle, error) {
	typ, key, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	def, ref, subj, err := c.rt.resolve(typ, key)
	if err != nil {
		return nil, err
	}
	return &Handle{client: c, def: def, ref: ref, subj: subj, ID: idOf(subj)}, nil
}

func encodeInput(input any) (json.RawMessage, error) {
	if raw, ok := input.(json.RawMessage); ok {
		if len(raw) > 0 && !json.Valid(raw) {
			return nil, errorf(ErrInvalidArgs, "create input is not valid JSON")
		}
		return raw, nil
	}
	if input == nil {
		return nil, nil
	}
	raw, err := json.Marshal(input)
	if err != nil {
		return nil, errorf(ErrInvalidArgs, "create input does not encode as JSON: %v", err)
	}
	return raw, nil
}

func (c *Client) resolve(ctx context.Context, typ string, key []string, mode int, input json.RawMessage) (*Handle, bool, error) {
	def, ref, subj, err := c.rt.resolve(typ, key)
	if err != nil {
		return nil, false, err
	}
	if c.rec != nil {
		if _, err := c.rec.callIDsFor(idOf(subj)); err != nil {
			return nil, false, err
		}
		if c.rec.replay != nil { // a replay answers from the history: nothing is called
			created, gen, err := c.rec.replay.resolve(idOf(subj))
			if err != nil {
				return nil, false, err
			}
			return &Handle{client: c, def: def, ref: ref, subj: subj, ID: idOf(subj), Generation: gen}, created, nil
		}
	}
	res, err := c.rt.submit(ctx, def, ref, subj, &op{kind: opResolve, mode: mode, args: input, caller: c.caller})
	if c.rec != nil {
		c.record("resolve", map[string]any{"type": typ, "key": key, "mode": mode, "created": res.created, "generation": res.generation}, err)
	}
	if err != nil {
		return nil, false, err
	}
	return &Handle{client: c, def: def, ref: ref, subj: subj, ID: idOf(subj), Generation: res.generation}, res.created, nil
}

// Action calls an action with args encoded as a JSON array and returns its
// JSON output.
func (h *Handle) Action(ctx context.Context, name string, args ...any) (json.RawMessage, error) {
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, errorf(ErrInvalidArgs, "arguments do not encode as JSON: %v", err)
	}
	return h.ActionJSON(ctx, name, raw)
}

// ActionJSON calls an action with args already encoded as a JSON array.
func (h *Handle) ActionJSON(ctx context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	return h.client.submitAction(ctx, h, name, args, nil)
}

func (c *Client) submitAction(ctx context.Context, h *Handle, name string, args json.RawMessage, conn *Conn) (json.RawMessage, error) {
	if len(args) > 0 && !json.Valid(args) {
		return nil, errorf(ErrInvalidArgs, "arguments are not valid JSON")
	}
	o := newOp()
	o.kind, o.action, o.args, o.caller, o.conn = opAction, name, args, c.caller, conn
	if c.rec != nil {
		ids, err := c.rec.callIDsFor(h.ID)
		if err != nil {
			o.recycle()
			c.record("call", map[string]any{"actor": h.ID, "action": name}, err)
			return nil, err
		}
		if c.rec.replay != nil {
			o.recycle()
			return c.rec.replay.call(h.ID, name)
		}
		o.ids = ids
	} else {
		o.ids.idemKey = IdempotencyKey(ctx)
	}
	res, err := c.rt.submit(ctx, h.def, h.ref, h.subj, o)
	if c.rec != nil {
		c.record("call", map[string]any{"actor": h.ID, "action": name, "output": res.output}, err)
	}
	return res.output, err
}

// Destroy destroys the actor (see Context.Destroy).
func (h *Handle) Destroy(ctx context.Context) error {
	if rec := h.client.rec; rec != nil && rec.replay != nil {
		return rec.replay.destroy(h.ID)
	}
	_, err := h.client.rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opDestroy, caller: h.client.caller})
	h.client.record("destroy", map[string]any{"actor": h.ID}, err)
	return err
}

// Connect opens a realtime connection with params (JSON), running the
// OnBeforeConnect, CreateConnState and OnConnect hooks. The request attached
// to ctx with WithRequest is the connection's Request.
func (h *Handle) Connect(ctx context.Context, params json.RawMessage) (*Conn, error) {
	if len(params) > 0 && !json.Valid(params) {
		return nil, errorf(ErrInvalidArgs, "connection parameters are not valid JSON")
	}
	rt := h.client.rt
	conn := &Conn{id: rt.connIDs.Add(1), rt: rt, handle: h, params: params, req: requestOf(ctx),
		events: make(chan Broadcast, rt.opts.ConnBuffer), done: make(chan struct{})}
	if _, err := rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opConnect, conn: conn, caller: h.client.caller}); err != nil {
		conn.shut(err)
		return nil, err
	}
	return conn, nil
}

// Subscribe connects and subscribes to the named broadcasts in one step.
func (h *Handle) Subscribe(ctx context.Context, names ...string) (*Conn, error) {
	conn, err := h.Connect(ctx, nil)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		conn.Subscribe(n)
	}
	return conn, nil
}

// Call calls an action and decodes its output into R.
func Call[R any](ctx context.Context, h *Handle, action string, args ...any) (R, error) {
	var out R
	raw, err := h.Action(ctx, action, args...)
	if err != nil {
		return out, err
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, fmt.Errorf("decode output of %s: %w", action, err)
	}
	return out, nil
}

// record notes a call made from inside an actor as a step of its event.
func (c *Client) record(what string, detail map[string]any, err error) {
	if c.rec == nil {
		return
	}
	if err != nil {
		pub := PublicError(err)
		detail["error"] = pub.Error()
		switch pub := pub.(type) {
		case *UserError:
			detail["code"] = pub.Code
		case *Error: // "runtime" tells a replay which of the two to rebuild
			detail["code"], detail["runtime"] = pub.Code, true
		}
	}
	if c.rec.replay != nil {
		c.rec.replay.seen(what, detail)
		return
	}
	data, _ := json.Marshal(detail)
	c.rec.mu.Lock()
	c.rec.steps = append(c.rec.steps, eventlog.Step{Name: what, Data: data})
	c.rec.mu.Unlock()
}
