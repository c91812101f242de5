package actors

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Context is what actor code sees while it runs: the state, the vars, and the
// actor's deterministic clock, random source and side effects. It is valid only
// during the call it was passed to.
type Context[S any] struct {
	// State is the actor's state; mutate it freely. A failed call's changes are
	// discarded.
	State *S
	// Vars holds what CreateVars returned: in memory only, rebuilt on wake.
	Vars any
	run  *run
}

// run is the non-generic part of a Context: one unit of work in a mailbox and
// everything it records for its event.
type run struct {
	// mu guards what goroutines the action starts may touch at once: calls
	// through Client (steps, step indexes), the lazy context, broadcasts.
	mu         sync.Mutex
	chain      []string // actors waiting on this call, outermost first (cycle detection)
	callBase   uint64   // the actor's last sequence when the call began: its call IDs' middle part
	nextCall   int      // step index of the next call through Client
	parent     context.Context
	deadline   time.Time          // the action timeout
	ctx        context.Context    // parent with the deadline, built on first use
	cancel     context.CancelFunc // of ctx
	inst       *instance
	now        time.Time
	seed       uint64
	rng        *rand.Rand
	caller     string
	conn       *Conn
	req        *http.Request // the HTTP request behind the call: its connection's, or OnRequest's
	broadcasts []eventlog.Broadcast
	kv         kvOverlay
	steps      []eventlog.Step
	effects    []eventlog.Effect // one-way sends (send.go), alarms and crons (alarm.go, cron.go), in call order
	kind       eventlog.Kind     // of the event the run builds
	alarms     *alarmOverlay     // the alarms and crons as this run changed them, built on first use
	fire       *actorstate.Alarm // the alarm this run is the fire of (FireAlarm)
	output     json.RawMessage   // a system event's recorded output: a failed fire's error
	eventArgs  json.RawMessage   // a Do's args, replaced by its closure (SetEventArgs)
	sleep      bool
	forceSleep bool
	destroy    bool
	waits      []func(context.Context)
	replay     *replayFeed // during a replay: the recorded results of calls to other actors (replay_feed.go)
	commits    []func()    // OnCommit's, run in the mailbox once the event is committed
	queue      *Queue      // c.Queue(), built on first use
	released   bool        // the call has ended
}

func newRun(ctx context.Context, inst *instance, caller string, conn *Conn) *run {
	r := &run{parent: ctx, inst: inst, now: inst.rt.clock.Now().UTC(), seed: rand.Uint64(), caller: caller, conn: conn,
		kv: kvOverlay{base: inst.image.KV}, chain: inst.ids.chain, callBase: inst.lastSeq}
	if conn != nil {
		r.req = conn.req
	}
	return r
}

// Context returns the call's context: cancelled at the action timeout or when
// the runtime stops.
func (c *Context[S]) Context() context.Context { return c.run.context() }

// context builds the call's context on first use: most calls never ask, and a
// timer per call is a measurable share of the hot path.
func (r *run) context() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithDeadline(r.parent, r.deadline)
	}
	return r.ctx
}

// release frees the call's context, if it was built.
func (r *run) release() {
	r.released = true
	if r.cancel != nil {
		r.cancel()
	}
}

// ActorID returns the actor's ID.
func (c *Context[S]) ActorID() string { return c.run.inst.id }

// Type returns the actor's type name.
func (c *Context[S]) Type() string { return c.run.inst.ref.Type }

// Key returns the actor's key, as its namespace sees it (NamespacedKey).
func (c *Context[S]) Key() []string {
	_, key := SplitNamespace(c.run.inst.ref.Key)
	return append([]string(nil), key...)
}

// Namespace returns the actor's namespace: DefaultNamespace unless a RivetKit
// client addressed it in another (NamespacedKey).
func (c *Context[S]) Namespace() string {
	ns, _ := SplitNamespace(c.run.inst.ref.Key)
	return ns
}

// Now returns the time the call started. It is recorded in the event, so a
// replay sees the same time.
func (c *Context[S]) Now() time.Time { return c.run.now }

// Rand returns the call's random source, seeded from a seed recorded in the
// event, so a replay draws the same numbers.
func (c *Context[S]) Rand() *rand.Rand {
	if c.run.rng == nil { // built on first use: most calls never draw
		c.run.rng = rand.New(rand.NewPCG(c.run.seed, c.run.seed^0x9e3779b97f4a7c15))
	}
	return c.run.rng
}

// Log returns a logger tagged with the actor (a Replayer's logger while it
// re-runs the call).
func (c *Context[S]) Log() *slog.Logger {
	return c.run.inst.rt.logger.With("actor", c.run.inst.id)
}

// Caller says who made this call ("http:...", "actor:<id>", "go", ...).
func (c *Context[S]) Caller() string { return c.run.caller }

// Conn returns the connection the call came through, or nil (always nil
// while a Replayer re-runs the call).
func (c *Context[S]) Conn() *Conn { return c.run.conn }

// Conns returns the actor's open connections, oldest first: WebSocket and
// SSE streams, and the stateless connection of an HTTP call while it runs.
// Each has its ID, Params and State. Empty in a replay.
func (c *Context[S]) Conns() []*Conn {
	if c.run.replay != nil {
		return nil
	}
	return c.run.inst.openConns()
}

// Request returns the HTTP request behind the call, or nil: the request of
// the connection the call came through (in OnBeforeConnect,
// CreateConnState, OnConnect and the actions of a connection opened with
// WithRequest, as the API does) and, in OnRequest, the raw request. Read
// its headers and URL; nil in a replay, which must not depend on it.
func (c *Context[S]) Request() *http.Request { return c.run.req }

// Broadcast sends a realtime event to the actor's subscribers once the call's
// event is appended (never if the call fails). args are encoded as JSON.
func (c *Context[S]) Broadcast(name string, args ...any) {
	raw, err := json.Marshal(args)
	if err != nil {
		panic(&UserError{Code: string(errcode.InvalidBroadcast), Message: "broadcast " + name + ": arguments do not encode as JSON: " + err.Error()})
	}
	c.run.mu.Lock()
	c.run.broadcasts = append(c.run.broadcasts, eventlog.Broadcast{Name: name, Args: raw})
	c.run.mu.Unlock()
}

// KV is the actor's low-level key-value store. Writes are part of the call's
// event and apply only if it is appended.
func (c *Context[S]) KV() *KV { return &KV{o: &c.run.kv} }

// ReservedKV returns the part of the actor's KV that the runtime reserves
// for namespace ns: a package built on actors keeps its records there
// (workflows/actorwf its journal under "wf"), written in the call's event
// like any KV write, carried by snapshots, forks and replays, and never shown
// by KV(). ns is 1 to 32 letters or digits; "q" is the actor's queues'.
func (c *Context[S]) ReservedKV(ns string) *KV { return c.run.reservedKV(ns) }

// Sleep asks the runtime to put the actor to sleep after this call, unless
// connections, raw WebSockets or background work keep it awake (then it
// sleeps when they are gone and it is idle).
func (c *Context[S]) Sleep() { c.run.sleep = true }

// ForceSleep puts the actor to sleep after this call even with connections
// open, as RivetKit's c.sleep(): once its WaitUntil work is done, OnSleep
// runs with the connections and raw WebSockets still open, then they are
// closed (a client that reconnects wakes the actor again) and the actor
// leaves memory.
func (c *Context[S]) ForceSleep() { c.run.forceSleep = true }

// Destroy destroys the actor after this call: OnDestroy runs, a tombstone is
// appended, connections close. A later create with the same key starts a new
// generation.
func (c *Context[S]) Destroy() { c.run.destroy = true }

// WaitUntil runs fn in the background once the call's event is appended,
// keeping the actor awake until fn returns. fn's context ends when the
// runtime stops. fn must not touch c; use a Client to call the actor.
func (c *Context[S]) WaitUntil(fn func(ctx context.Context)) { c.run.waits = append(c.run.waits, fn) }

// OnCommit runs fn in the actor's mailbox once the call's event is
// committed (or, for a call that records nothing, once it succeeded),
// before the caller is answered and before WaitUntil's functions start;
// never when the call fails, and never in a replay. It is for in-process
// bookkeeping that must follow the log, not the code's intent.
func (c *Context[S]) OnCommit(fn func()) { c.run.commits = append(c.run.commits, fn) }

// Replaying reports whether the code runs in a replay (Replayer): it then
// sees the recorded time, seed and call results, and nothing it asks for
// after the event (WaitUntil, OnCommit, Sleep, Destroy) happens.
func (c *Context[S]) Replaying() bool { return c.run.replay != nil }

// KeepAwake is WaitUntil by RivetKit's name.
func (c *Context[S]) KeepAwake(fn func(ctx context.Context)) { c.WaitUntil(fn) }

// Client returns a client for calling other actors from this one. Each call's
// result is recorded in this call's event, so a replay does not repeat it.
// Calls are safe from goroutines the action starts (fan-out), as long as
// they end before the action returns. Each carries a call ID (this actor,
// its last sequence, the call's index) that the callee remembers, so when
// this action fails and runs again the callee answers the repeat with its
// recorded output instead of running twice (at least once, in effect once).
// A call back to an actor already waiting in the call chain (A -> B -> A)
// fails at once with call_cycle: use a one-way send to call back.
func (c *Context[S]) Client() *Client {
	return &Client{rt: c.run.inst.rt, caller: "actor:" + c.run.inst.id, rec: c.run}
}

// Generation returns the actor's generation: 1 for the first create, +1 for
// each create after a destroy.
func (c *Context[S]) Generation() uint64 { return c.run.inst.image.Generation }

// callIDsFor returns the IDs of this run's next call to actor target, or
// ErrCallCycle if target is already waiting in the call chain.
func (r *run) callIDsFor(target string) (callIDs, error) {
	chain := append(append(make([]string, 0, len(r.chain)+1), r.chain...), r.inst.id)
	for _, id := range chain {
		if id == target {
			return callIDs{}, errorf(ErrCallCycle, "call cycle: %s -> %s: a synchronous call back into the chain would wait for itself; call back with a one-way send instead",
				strings.Join(chain, " -> "), target)
		}
	}
	r.mu.Lock()
	idx := r.nextCall
	r.nextCall++
	r.mu.Unlock()
	return callIDs{callID: r.inst.id + "/" + strconv.FormatUint(r.callBase, 10) + "/" + strconv.Itoa(idx), chain: chain}, nil
}
