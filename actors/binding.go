package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"time"
)

// Definition is an actor type as a Registry holds it: any *Type[S].
type Definition interface {
	Name() string
	limits(defaults RuntimeOptions) limits
	newHolder() holder
	hasAction(name string) bool
	actionNames() []string
	definitionError() error
	runInspector() RunInspector
}

// limits are a type's effective limits, its options over the runtime's defaults.
type limits struct {
	idle           time.Duration
	actionTimeout  time.Duration
	maxState       int
	maxArgs        int
	mailbox        int
	snapshotEvery  int
	maxConns       int
	codeVersion    string
	hasRequest     bool
	connectHooks   bool // OnBeforeConnect, CreateConnState, ConnState or OnConnect
	disconnectHook bool
	hasWebSocket   bool
	hasQueues      bool
	subscribeHooks bool // some event has CanSubscribe
	hasRun         bool
	maxQueue       int
	maxQueueMsg    int
	metrics        *typeMetrics
}

// holder is one actor's typed state and vars and the type's code around them.
// Every method runs in the actor's mailbox, one at a time.
type holder interface {
	load(state []byte) error // replace the state with a fresh decode
	// migrate replaces the state with the type's Migrate of state, written by
	// code version from, and reports true; false (state untouched): no hook.
	migrate(from string, state []byte) (bool, error)
	encode() ([]byte, error)
	create(r *run, input json.RawMessage) error
	wake(r *run) error
	sleep(r *run) error
	destroy(r *run) error
	invoke(r *run, action string, args json.RawMessage) (any, error)
	stateChanged(r *run) bool // false: the type has no OnStateChange hook, nothing ran
	beforeResponse(r *run, action string, output any) (any, error)
	connect(r *run, conn *Conn) error
	disconnect(r *run, conn *Conn)
	request(r *run, w http.ResponseWriter, req *http.Request) error
	websocket(s sessionCore, ws WebSocket)
	// canPublish reports whether the type has queue name (known), whether a
	// CanPublish hook ran, and whether the run's connection may send to it.
	canPublish(r *run, name string) (known, hooked, ok bool, err error)
	// canSubscribe runs the CanSubscribe of event name, if any (hooked).
	canSubscribe(r *run, name string) (hooked, ok bool, err error)
	// runHandler runs Options.Run, if any, until it returns.
	runHandler(rc runCore) error
}

func (t *Type[S]) definitionError() error { return t.err }

func (t *Type[S]) runInspector() RunInspector { return t.opts.RunInspector }

// cloneValue returns a deep copy of v, of v's type, through JSON: each
// connection (ConnState) and each wake (Vars) starts from its own copy of a
// static value, as RivetKit's structuredClone gives. NewType checked that v
// encodes; what JSON does not carry (unexported fields, funcs) is not copied.
func cloneValue(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	p := reflect.New(reflect.TypeOf(v))
	if err := json.Unmarshal(raw, p.Interface()); err != nil {
		return v
	}
	return p.Elem().Interface()
}

func (t *Type[S]) hasAction(name string) bool { _, ok := t.actions[name]; return ok }

func (t *Type[S]) actionNames() []string {
	out := make([]string, 0, len(t.actions))
	for name := range t.actions {
		out = append(out, name)
	}
	return out
}

func (t *Type[S]) limits(d RuntimeOptions) limits {
	pick := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	pickD := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	o := t.opts
	return limits{
		idle: pickD(o.IdleTimeout, d.IdleTimeout), actionTimeout: pickD(o.ActionTimeout, d.ActionTimeout),
		maxState: pick(o.MaxStateBytes, d.MaxStateBytes), maxArgs: pick(o.MaxArgsBytes, d.MaxArgsBytes),
		mailbox: pick(o.MailboxSize, d.MailboxSize), snapshotEvery: pick(o.SnapshotEvery, d.SnapshotEvery),
		maxConns: pick(o.MaxConnections, d.MaxConnections), codeVersion: o.CodeVersion,
		hasRequest: o.OnRequest != nil, hasWebSocket: o.OnWebSocket != nil,
		connectHooks:   o.OnBeforeConnect != nil || o.CreateConnState != nil || o.ConnState != nil || o.OnConnect != nil,
		disconnectHook: o.OnDisconnect != nil,
		hasQueues:      len(o.Queues) > 0, hasRun: o.Run != nil, subscribeHooks: hasSubscribeHook(o.Events),
		maxQueue: pick(o.MaxQueueSize, defaultMaxQueue), maxQueueMsg: pick(o.MaxQueueMessageBytes, defaultMaxQueueMessage),
	}
}

func (t *Type[S]) newHolder() holder { return &typed[S]{t: t} }

// typed is the holder of an actor whose state is S.
type typed[S any] struct {
	t     *Type[S]
	state *S
	vars  any
}

func (h *typed[S]) ctx(r *run) *Context[S] { return &Context[S]{State: h.state, Vars: h.vars, run: r} }

func (h *typed[S]) load(b []byte) error {
	s := new(S)
	if err := json.Unmarshal(b, s); err != nil {
		return fmt.Errorf("decode state of type %s: %w", h.t.name, err)
	}
	h.state = s
	return nil
}

func (h *typed[S]) migrate(from string, b []byte) (bool, error) {
	f := h.t.opts.Migrate
	if f == nil {
		return false, nil
	}
	s, err := f(from, bytes.Clone(b)) // the hook may keep or change its input
	if err != nil {
		return true, fmt.Errorf("Migrate of type %s from code version %q to %q: %w", h.t.name, from, h.t.opts.CodeVersion, err)
	}
	h.state = &s
	return true, nil
}

func (h *typed[S]) encode() ([]byte, error) { return json.Marshal(h.state) }

// create and wake are the timed versions (inspect.go) with the timings
// thrown away.
func (h *typed[S]) create(r *run, input json.RawMessage) error {
	return h.createTimed(r, input, &wakeMetrics{})
}

func (h *typed[S]) wake(r *run) error { return h.wakeTimed(r, &wakeMetrics{}) }

func (h *typed[S]) sleep(r *run) error {
	if f := h.t.opts.OnSleep; f != nil {
		return f(h.ctx(r))
	}
	return nil
}

func (h *typed[S]) destroy(r *run) error {
	if f := h.t.opts.OnDestroy; f != nil {
		return f(h.ctx(r))
	}
	return nil
}

func (h *typed[S]) invoke(r *run, action string, args json.RawMessage) (any, error) {
	fn, ok := h.t.actions[action]
	if !ok {
		return nil, errorf(ErrActionNotFound, "actor type %s has no action %q", h.t.name, action)
	}
	return fn(h.ctx(r), args)
}

func (h *typed[S]) stateChanged(r *run) bool {
	f := h.t.opts.OnStateChange
	if f == nil {
		return false
	}
	f(h.ctx(r))
	return true
}

func (h *typed[S]) beforeResponse(r *run, action string, output any) (any, error) {
	if f := h.t.opts.OnBeforeActionResponse; f != nil {
		return f(h.ctx(r), action, output)
	}
	return output, nil
}

func (h *typed[S]) connect(r *run, conn *Conn) error {
	o := h.t.opts
	if o.OnBeforeConnect != nil {
		if err := o.OnBeforeConnect(h.ctx(r), conn.params); err != nil {
			return err
		}
	}
	switch {
	case o.CreateConnState != nil:
		st, err := o.CreateConnState(h.ctx(r), conn.params)
		if err != nil {
			return err
		}
		conn.state = st
	case o.ConnState != nil:
		conn.state = cloneValue(o.ConnState)
	}
	if o.OnConnect != nil {
		o.OnConnect(h.ctx(r), conn)
	}
	return nil
}

func (h *typed[S]) disconnect(r *run, conn *Conn) {
	if f := h.t.opts.OnDisconnect; f != nil {
		f(h.ctx(r), conn)
	}
}

func (h *typed[S]) request(r *run, w http.ResponseWriter, req *http.Request) error {
	f := h.t.opts.OnRequest
	if f == nil {
		return errorf(ErrNoRequestHandler, "actor type %s has no OnRequest handler", h.t.name)
	}
	f(h.ctx(r), w, req)
	return nil
}

func (h *typed[S]) websocket(s sessionCore, ws WebSocket) {
	h.t.opts.OnWebSocket(&Session[S]{core: s}, ws)
}

func (h *typed[S]) canPublish(r *run, name string) (known, hooked, ok bool, err error) {
	spec, found := h.t.opts.Queues[name]
	if !found {
		spec, found = h.t.opts.Queues["*"]
	}
	if !found {
		return false, false, false, nil
	}
	if spec.CanPublish == nil {
		return true, false, true, nil
	}
	ok, err = spec.CanPublish(h.ctx(r))
	return true, true, ok, err
}

func (h *typed[S]) canSubscribe(r *run, name string) (hooked, ok bool, err error) {
	spec, found := h.t.opts.Events[name]
	if !found || spec.CanSubscribe == nil {
		return false, true, nil
	}
	ok, err = spec.CanSubscribe(h.ctx(r))
	return true, ok, err
}

func (h *typed[S]) runHandler(rc runCore) error { return h.t.opts.Run(&RunContext[S]{core: rc}) }
