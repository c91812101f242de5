package actors

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Options configures an actor type whose state is S (any JSON-serializable
// type). Every field is optional.
type Options[S any] struct {
	// State is the initial state of a new actor, unless CreateState is set.
	State S
	// CreateState computes the initial state from the create input (JSON).
	CreateState func(c *Context[S], input json.RawMessage) (S, error)
	// CreateVars builds the in-memory, never persisted vars on every wake.
	CreateVars func(c *Context[S]) (any, error)
	// Vars is the vars every wake starts from when CreateVars is not set: a
	// static value, copied (through JSON) for each wake. Set one or the other.
	Vars any

	// Lifecycle hooks. OnCreate runs once, in the create event; OnWake on every
	// wake (after create too); OnSleep before the actor leaves memory; OnDestroy
	// before the tombstone. State changes they make are recorded in events.
	OnCreate  func(c *Context[S], input json.RawMessage) error
	OnWake    func(c *Context[S]) error
	OnSleep   func(c *Context[S]) error
	OnDestroy func(c *Context[S]) error
	// OnFork runs in the create event of a fork of an actor of this type
	// (Client.Fork), instead of CreateState and OnCreate, once the state,
	// KV, alarms and crons are the source's (from is its ID); what it
	// changes joins that event, and an error fails the fork (nothing is
	// appended). Vars do not exist yet. For an engine's bookkeeping (a
	// workflow run takes its new run ID); most types need none.
	OnFork func(c *Context[S], from string) error
	// OnStateChange runs after a call changed the state, before the event is
	// built (changes it makes are part of the same event): actions, alarm and
	// schedule fires, connection hooks, OnRequest, WebSocket sessions' Do. Not
	// for the lifecycle's (create, fork, OnWake, OnSleep, Migrate).
	OnStateChange func(c *Context[S])
	// OnBeforeActionResponse may replace an action's output before it is
	// recorded and returned.
	OnBeforeActionResponse func(c *Context[S], action string, output any) (any, error)

	// Connection hooks, run in the actor's mailbox for every connection: a
	// WebSocket or SSE stream, and the stateless connection of each HTTP
	// action call (Handle.StatelessAction). OnBeforeConnect may refuse a
	// connection (return a *UserError); CreateConnState builds its state.
	// c.Request() is the HTTP request the connection came with, if any.
	OnBeforeConnect func(c *Context[S], params json.RawMessage) error
	CreateConnState func(c *Context[S], params json.RawMessage) (any, error)
	// ConnState is the state every connection starts with when
	// CreateConnState is not set: a static value, copied (through JSON) for
	// each connection. Set one or the other.
	ConnState    any
	OnConnect    func(c *Context[S], conn *Conn)
	OnDisconnect func(c *Context[S], conn *Conn)

	// OnRequest serves raw HTTP requests sent to the actor, in its mailbox.
	OnRequest func(c *Context[S], w http.ResponseWriter, r *http.Request)
	// OnWebSocket serves a raw WebSocket. It runs outside the mailbox for the
	// socket's lifetime; use s.Do to touch state (recorded as events).
	OnWebSocket func(s *Session[S], ws WebSocket)

	// Queues are the actor's named queues (c.Queue()): a message sent to one
	// (Handle.SendQueue, the RivetKit client's handle.send) is appended to the
	// actor's log and waits, durably and in arrival order, until the actor's
	// code takes it with Next. Each name maps to its options; the name "*"
	// accepts any name. A send to a name not listed fails with
	// ErrUnknownQueue.
	Queues map[string]QueueSpec[S]
	// Events are the actor's broadcast names that check who subscribes:
	// each name maps to its options. A name not listed takes any subscriber.
	Events map[string]EventSpec[S]
	// Run is a long-running handler, started after every wake (and create)
	// outside the mailbox, as a raw WebSocket session is: it touches state
	// through rc.Do and takes queue messages with rc.Queue().Next. Its
	// context ends when the actor sleeps or is destroyed; it keeps the actor
	// awake while it runs, except while it waits for a queue message. An
	// error or a return leaves the actor to sleep when idle, never destroys it.
	Run func(rc *RunContext[S]) error
	// RunInspector, set with Run by a package that builds a Run handler
	// (workflows/actorwf), shows the handler's records in the inspector and
	// resets them for a replay from the beginning (Handle.RunHistory,
	// Handle.RestartRun).
	RunInspector RunInspector

	// Limits and tuning; zero takes the runtime's default (RuntimeOptions).
	IdleTimeout    time.Duration // sleep after this long without work (default 30s)
	ActionTimeout  time.Duration // default 60s
	MaxStateBytes  int           // encoded state plus KV (default 512 KiB)
	MaxArgsBytes   int           // encoded arguments of one call (default 256 KiB)
	MailboxSize    int           // calls queued per actor before ErrOverloaded (default 1024)
	SnapshotEvery  int           // snapshot after this many events (default 100)
	MaxConnections int           // connections per actor (default 1024)
	// MaxQueueSize is how many messages may wait in the actor's queues
	// (default 1000); MaxQueueMessageBytes bounds one message's name and
	// JSON body (default 64 KiB). Queued messages count toward MaxStateBytes.
	MaxQueueSize         int
	MaxQueueMessageBytes int
	// CodeVersion is recorded in every event (default "1").
	CodeVersion string
	// Migrate upgrades a state written by another code version. It runs on
	// wake when the code version recorded for the actor (its snapshot's or
	// last event's) differs from CodeVersion, with that version and the
	// stored state as JSON, and returns the state to continue with. The
	// upgrade is recorded in the log as a "$migrate" system event (its args
	// name the versions: {"from":...,"to":...}) carrying the change and the
	// new code version, so it runs once per actor and the log alone rebuilds
	// the migrated state. An error (or a panic) leaves the actor unloaded
	// and its log untouched: every call fails with state_decode_failed until
	// the code is fixed. Without Migrate the stored state is decoded as is.
	Migrate func(fromCodeVersion string, raw json.RawMessage) (S, error)
}

// ActionFunc is an action of an actor with state S, with its arguments as a
// JSON array. Act, Act0 and Act2 build typed ones.
type ActionFunc[S any] func(c *Context[S], args json.RawMessage) (any, error)

// Type is an actor type: a name, options and actions. Build it with NewType
// and Action, then Register it.
type Type[S any] struct {
	name    string
	opts    Options[S]
	actions map[string]ActionFunc[S]
	initial []byte // encoded Options.State, decoded fresh for each new actor
	err     error
}

// NewType defines an actor type named name (1 to 64 of [A-Za-z0-9_-], starting
// with a letter).
func NewType[S any](name string, opts Options[S]) *Type[S] {
	t := &Type[S]{name: name, opts: opts, actions: map[string]ActionFunc[S]{}}
	if err := eventlog.ValidateType(name); err != nil {
		t.err = err
	}
	var err error
	if t.initial, err = json.Marshal(opts.State); err != nil {
		t.err = fmt.Errorf("actor type %s: initial state does not encode as JSON: %w", name, err)
	}
	if opts.CodeVersion == "" {
		t.opts.CodeVersion = "1"
	}
	if opts.ConnState != nil && opts.CreateConnState != nil {
		t.err = fmt.Errorf("actor type %s: set ConnState or CreateConnState, not both", name)
	}
	if opts.Vars != nil && opts.CreateVars != nil {
		t.err = fmt.Errorf("actor type %s: set Vars or CreateVars, not both", name)
	}
	for what, v := range map[string]any{"ConnState": opts.ConnState, "Vars": opts.Vars} {
		if _, err := json.Marshal(v); err != nil {
			t.err = fmt.Errorf("actor type %s: %s does not encode as JSON (it is copied through JSON): %w", name, what, err)
		}
	}
	return t
}

// Action adds an action and returns t, for chaining.
func (t *Type[S]) Action(name string, fn ActionFunc[S]) *Type[S] {
	if name == "" || fn == nil {
		t.err = fmt.Errorf("actor type %s: action needs a name and a function", t.name)
	}
	t.actions[name] = fn
	return t
}

// Name returns the type's name.
func (t *Type[S]) Name() string { return t.name }

// HasAction reports whether t has an action named name.
func (t *Type[S]) HasAction(name string) bool {
	_, ok := t.actions[name]
	return ok
}

// Act0 adapts an action without arguments.
func Act0[S, R any](fn func(c *Context[S]) (R, error)) ActionFunc[S] {
	return func(c *Context[S], args json.RawMessage) (any, error) {
		if err := decodeArgs(c.run, args); err != nil {
			return nil, err
		}
		return fn(c)
	}
}

// Act adapts an action with one argument of type A.
func Act[S, A, R any](fn func(c *Context[S], arg A) (R, error)) ActionFunc[S] {
	return func(c *Context[S], args json.RawMessage) (any, error) {
		var a A
		if err := decodeArgs(c.run, args, &a); err != nil {
			return nil, err
		}
		return fn(c, a)
	}
}

// Act2 adapts an action with two arguments.
func Act2[S, A, B, R any](fn func(c *Context[S], a A, b B) (R, error)) ActionFunc[S] {
	return func(c *Context[S], args json.RawMessage) (any, error) {
		var a A
		var b B
		if err := decodeArgs(c.run, args, &a, &b); err != nil {
			return nil, err
		}
		return fn(c, a, b)
	}
}
