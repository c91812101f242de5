package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Inspection: read-only views of a running actor for the RivetKit inspector
// (the gateway's /inspector routes), and its one write, ReplaceState. Every
// read runs in the actor's mailbox, between calls, so it sees committed
// state; like any call, it wakes an actor that sleeps.

// InspectStateEvent is the system event ReplaceState appends.
const InspectStateEvent = "$inspect_state"

// ConnInfo is one open connection as the inspector shows it.
type ConnInfo struct {
	ID string
	// Transport is "websocket", "sse", "http" (the connection of one HTTP
	// action call) or "" (a connection opened from Go, no request).
	Transport     string
	Params        json.RawMessage // nil: none sent
	State         json.RawMessage // nil: the type keeps no connection state
	Subscriptions int
}

// WakeMetrics is how the actor's last wake went, measured on the instance
// when it came into memory (RivetKit's startup metrics). Durations are wall
// time. A phase the actor did not go through on that wake is zero.
type WakeMetrics struct {
	// At is when the wake began.
	At time.Time
	// New: the wake found no actor (its log was empty or ended in a destroy)
	// and the actor was created in memory right after.
	New bool
	// Total is the whole startup: loading plus, for a new actor, its create,
	// plus the wake hooks and their event.
	Total time.Duration
	// Load is reading the snapshot and the events after it and decoding the
	// state (a Migrate hook, when one runs, is in it).
	Load time.Duration
	// Reads counts round trips to the snapshot store and the log during Load
	// (RivetKit's startup KV round trips).
	Reads int
	// Folded is the number of log events folded over the snapshot.
	Folded int
	// CreateState is the time in CreateState (or the initial state's
	// decode), OnCreate the time in OnCreate; both only for a new actor.
	CreateState, OnCreate time.Duration
	// CreateVars is the time building the vars (CreateVars, or the copy of
	// Vars), OnWake the time in OnWake.
	CreateVars, OnWake time.Duration
}

// Inspection is a consistent view of an actor, taken in its mailbox.
type Inspection struct {
	State       json.RawMessage // the committed state, JSON
	Connections []ConnInfo      // open connections, oldest first
	Wake        WakeMetrics
	Seq         uint64 // the actor's last log sequence
}

// Inspect returns the actor's state, connections and wake metrics, read in
// its mailbox. An actor that does not exist is ErrNotFound.
func (h *Handle) Inspect(ctx context.Context) (Inspection, error) {
	var out Inspection
	err := h.inspectDo(ctx, "$inspect", func(r *run) error {
		inst := r.inst
		out.State = bytes.Clone(inst.image.State)
		if out.State == nil {
			out.State = json.RawMessage("null")
		}
		out.Wake = inst.wakeStats.public()
		out.Seq = inst.lastSeq
		for _, c := range inst.openConns() {
			if c.stateless {
				continue // an HTTP call's connection lives only within its call
			}
			ci := ConnInfo{ID: c.ID(), Transport: c.transport(), Params: c.params}
			if c.state != nil {
				st, err := json.Marshal(c.state)
				if err != nil {
					st = json.RawMessage(`null`)
				}
				ci.State = st
			}
			c.mu.Lock()
			ci.Subscriptions = len(c.subs)
			c.mu.Unlock()
			out.Connections = append(out.Connections, ci)
		}
		return nil
	})
	return out, err
}

// ReplaceState replaces the actor's state with state (JSON of the type's
// state), in its mailbox and recorded like any change: a system event named
// InspectStateEvent is appended (with the new state) before ReplaceState
// returns, so the actor's next call sees it and a wake rebuilds it.
// OnStateChange runs as for any change. JSON that does not decode into the
// type's state is ErrInvalidArgs and changes nothing. Unknown fields are
// dropped as Go's JSON decoding drops them.
func (h *Handle) ReplaceState(ctx context.Context, state json.RawMessage) error {
	if !json.Valid(state) {
		return errorf(ErrInvalidArgs, "the new state of %s is not valid JSON", h.ID)
	}
	return h.inspectDo(ctx, InspectStateEvent, func(r *run) error {
		if err := r.inst.h.load(state); err != nil {
			return errorf(ErrInvalidArgs, "the new state does not fit actor type %s: %v", h.ref.Type, err)
		}
		return nil
	})
}

// ActionNames returns the names of the actor type's actions, sorted.
func (h *Handle) ActionNames() []string {
	names := h.def.actionNames()
	slices.Sort(names)
	return names
}

// inspectDo runs fn in the actor's mailbox as the system event name (appended
// only when fn changed the actor).
func (h *Handle) inspectDo(ctx context.Context, name string, fn func(r *run) error) error {
	if h.client.rec != nil {
		return errorf(ErrInvalidArgs, "inspecting %s: not from inside an action", h.ID)
	}
	_, err := h.client.rt.submit(ctx, h.def, h.ref, h.subj, &op{kind: opDo, action: name, caller: h.client.caller, fn: fn})
	return err
}

// transport names how a connection came: from its request, if any.
func (c *Conn) transport() string {
	switch {
	case c.stateless:
		return "http"
	case c.req == nil:
		return ""
	case strings.EqualFold(c.req.Header.Get("Upgrade"), "websocket"):
		return "websocket"
	case c.req.Method == http.MethodGet:
		return "sse"
	}
	return "http"
}

// wakeMetrics is WakeMetrics as the instance collects it. The mailbox
// goroutine alone writes and reads it (load, the create and wake hooks, and
// Inspect's closure), so it needs no lock.
type wakeMetrics struct {
	created time.Time // of a new actor's create
	WakeMetrics
}

func (m *wakeMetrics) public() WakeMetrics { return m.WakeMetrics }

// beginWake starts measuring a wake (load calls it first): what an earlier
// wake measured is dropped.
func (inst *instance) beginWake() *wakeMetrics {
	inst.wakeStats = wakeMetrics{WakeMetrics: WakeMetrics{At: time.Now()}}
	return &inst.wakeStats
}

// loaded marks the end of the load phase: the state is decoded (or the actor
// found absent) after folded events.
func (m *wakeMetrics) loaded(folded int, exists bool) {
	m.Load = time.Since(m.At)
	m.Folded = folded
	m.New = !exists
}

// end closes the wake's total.
func (m *wakeMetrics) end() { m.Total = time.Since(m.At) }

// timedHolder is a holder whose create and wake hooks report the time in
// each user hook (the type's holder, typed[S], is one).
type timedHolder interface {
	createTimed(r *run, input json.RawMessage, m *wakeMetrics) error
	wakeTimed(r *run, m *wakeMetrics) error
}

// createHooks runs the holder's create (CreateState, OnCreate), timing them
// into the wake's metrics: a new actor's create is part of its startup.
func (inst *instance) createHooks(r *run, input json.RawMessage) error {
	m := &inst.wakeStats
	now := time.Now()
	if !m.New || m.At.IsZero() {
		// Created again after a destroy, without a load: a startup of its own.
		*m = wakeMetrics{WakeMetrics: WakeMetrics{At: now, New: true}}
	}
	m.created = now
	th, ok := inst.h.(timedHolder)
	if !ok {
		return inst.h.create(r, input)
	}
	return th.createTimed(r, input, m)
}

// wakeHooks runs the holder's wake (vars, OnWake), timing them into the
// wake's metrics.
func (inst *instance) wakeHooks(r *run) error {
	th, ok := inst.h.(timedHolder)
	if !ok {
		return inst.h.wake(r)
	}
	m := &inst.wakeStats
	err := th.wakeTimed(r, m)
	if m.New && !m.created.IsZero() {
		// A new actor: its create and these hooks ran in the resolve after
		// the load, maybe much later; its startup is the load plus them.
		m.Total = m.Load + time.Since(m.created)
	}
	return err
}

// createTimed runs CreateState and OnCreate, timing them; a fork's create
// runs OnFork instead (no CreateState, no OnCreate).
func (h *typed[S]) createTimed(r *run, input json.RawMessage, m *wakeMetrics) error {
	if p := forkOf(r); p != nil {
		return h.fork(r, p)
	}
	start := time.Now()
	if err := h.load(h.t.initial); err != nil {
		return err
	}
	if f := h.t.opts.CreateState; f != nil {
		s, err := f(h.ctx(r), input)
		if err != nil {
			return err
		}
		h.state = &s
	}
	m.CreateState = time.Since(start)
	if f := h.t.opts.OnCreate; f != nil {
		start = time.Now()
		err := f(h.ctx(r), input)
		m.OnCreate = time.Since(start)
		return err
	}
	return nil
}

// wakeTimed builds the vars and runs OnWake, timing them.
func (h *typed[S]) wakeTimed(r *run, m *wakeMetrics) error {
	start := time.Now()
	h.vars = nil
	if v := h.t.opts.Vars; v != nil {
		h.vars = cloneValue(v)
	}
	if f := h.t.opts.CreateVars; f != nil {
		v, err := f(h.ctx(r))
		if err != nil {
			m.CreateVars = time.Since(start)
			return err
		}
		h.vars = v
	}
	m.CreateVars = time.Since(start)
	if f := h.t.opts.OnWake; f != nil {
		start = time.Now()
		err := f(h.ctx(r))
		m.OnWake = time.Since(start)
		return err
	}
	return nil
}
