package actors

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
	"github.com/rivet-flow/rivet-flow/internal/testsignal"
)

// SnapshotStore is where the runtime caches actor snapshots (the node passes
// its Pebble store). Get and Put are called from many actors at once; Put may
// write behind, since a snapshot is only a cache of the log.
type SnapshotStore interface {
	Get(actor string) (snap actorstate.Snapshot, found bool, err error)
	Put(snap actorstate.Snapshot)
}

// Clock is the runtime's time source (clock.Clock): clock.System, or in
// tests a *clock.Fake. The runtime reads Now for each call's recorded time
// and for idleness; the idle sweeper polls on the wall clock every
// SweepInterval (tests with a fake clock call SleepIdle).
type Clock = clock.Clock

// TimeSource is what RuntimeOptions.Clock must have: Now. A Clock has it;
// a value with Now alone (the time source of older tests) still works, its
// timers then running on the wall clock (Runtime.Clock).
type TimeSource interface{ Now() time.Time }

// nowOnly makes a TimeSource a Clock whose timers are the wall clock's.
type nowOnly struct{ TimeSource }

func (nowOnly) AfterFunc(d time.Duration, f func()) clock.Timer { return clock.System.AfterFunc(d, f) }

// RuntimeOptions configures a Runtime. Per-type Options override the limits.
type RuntimeOptions struct {
	// IdleTimeout puts an actor to sleep after this long without work. Defaults to 30s.
	IdleTimeout time.Duration
	// ActionTimeout bounds one action; its caller gets ErrActionTimeout. Defaults to 60s.
	ActionTimeout time.Duration
	// MaxStateBytes bounds an actor's encoded state plus its KV. Defaults to 512 KiB.
	MaxStateBytes int
	// MaxArgsBytes bounds one call's encoded arguments or create input. Defaults to 256 KiB.
	MaxArgsBytes int
	// MailboxSize bounds the calls queued for one actor; more get ErrOverloaded. Defaults to 1024.
	MailboxSize int
	// SnapshotEvery writes a snapshot after this many events. Defaults to 100.
	SnapshotEvery int
	// MaxConnections bounds the connections to one actor. Defaults to 1024.
	MaxConnections int
	// ConnBuffer bounds the broadcasts queued for one connection; a connection
	// that falls further behind is closed as too slow. Defaults to 256.
	ConnBuffer int
	// MaxAwakeActors bounds the actors in memory at once (awake: loaded, or
	// being looked up). A call that would bring one more into memory at the
	// limit first puts the least recently used idle actors to sleep early
	// (OnSleep, snapshot; a batch of 1% of the limit, at least one); if none
	// can sleep (each has queued work, connections or WaitUntil work), the
	// call fails at once with ErrOverloaded. Defaults to 100,000: an idle
	// actor with a small state costs about 2-3 KB, so the default bounds the
	// table to a few hundred MB at typical states, while it holds 10x the
	// working set of BenchmarkActions and lets ~3,300 new actors a second
	// stay for the default 30s idle timeout before any sleeps early.
	MaxAwakeActors int
	// IdempotencyWindow is how long an actor remembers a call's idempotency
	// key (and at most its last actorstate.MaxRememberedKeys keys). Defaults
	// to 24h.
	IdempotencyWindow time.Duration
	// SweepInterval is how often idle actors are looked for. Defaults to 1s.
	SweepInterval time.Duration
	// MaxAlarms bounds an actor's pending alarms, its crons' next fires
	// included; setting one more fails with ErrTooManyAlarms. Defaults to 1,000.
	MaxAlarms int
	// Clock is the runtime's time source, normally a Clock (a *clock.Fake in
	// tests; Runtime.Clock returns it to share with the scheduler). Defaults
	// to clock.System.
	Clock TimeSource
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the runtime's metrics. Defaults to none.
	Registerer prometheus.Registerer
	// Enqueuer performs the enqueues actions record (Context.Enqueue); a
	// node sets its queues.Manager. Defaults to none: they become dead letters.
	Enqueuer Enqueuer
}

func (o RuntimeOptions) withDefaults() RuntimeOptions {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defD(&o.IdleTimeout, 30*time.Second)
	defD(&o.ActionTimeout, 60*time.Second)
	def(&o.MaxStateBytes, 512<<10)
	def(&o.MaxArgsBytes, 256<<10)
	def(&o.MailboxSize, 1024)
	def(&o.SnapshotEvery, 100)
	def(&o.MaxConnections, 1024)
	def(&o.ConnBuffer, 256)
	def(&o.MaxAwakeActors, DefaultMaxAwakeActors)
	defD(&o.SweepInterval, time.Second)
	defD(&o.IdempotencyWindow, 24*time.Hour)
	def(&o.MaxAlarms, DefaultMaxAlarms)
	if o.Clock == nil {
		o.Clock = clock.System
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// DefaultMaxAlarms is RuntimeOptions.MaxAlarms when unset.
const DefaultMaxAlarms = 1000

// DefaultMaxAwakeActors is RuntimeOptions.MaxAwakeActors when unset.
const DefaultMaxAwakeActors = 100_000

const shardCount = 64

// Runtime runs the actors of a Registry over an event log and a snapshot store.
// It is a service with the common lifecycle (internal/startstop): calls are
// taken between Start and Stop, and a stopped runtime can start again.
type Runtime struct {
	startstop.BaseStartStop
	log     *eventlog.Log
	snaps   SnapshotStore
	reg     *Registry
	opts    RuntimeOptions
	clock   Clock
	logger  *slog.Logger
	metrics *metrics
	seed    maphash.Seed
	shards  [shardCount]shard
	limits  map[string]limits
	// Set by Start before stopping turns false, so readers that saw it false see them.
	ctx      context.Context // ends at Stop: background work (WaitUntil)
	cancel   context.CancelFunc
	sweepEnd chan struct{}
	drains   *pool

	testSignals runtimeTestSignals
	queueWaits  queueWaits   // senders waiting for their queue messages' completion
	sends       *sendTracker // one-way sends delivered lately or in flight (the outbox skips them)

	awake   atomic.Int64 // instances in the table (shards); at most opts.MaxAwakeActors but for raw WebSockets
	evictor evictor      // sends idle actors to sleep at the limit (evict.go)

	work     sync.WaitGroup // mailbox goroutines and background work
	stopping atomic.Bool    // true outside Start..Stop: calls get ErrStopping
	connIDs  atomic.Uint64
}

// runtimeTestSignals fire only in tests that initialised them (export_test.go).
type runtimeTestSignals struct {
	left testsignal.Signal[string] // an actor's ID when it leaves memory
}

// shard is one slice of the actor table: unrelated actors rarely share a lock.
type shard struct {
	mu sync.Mutex
	m  map[string]*instance
}

// NewRuntime returns a runtime; Start it to take calls, Stop it to drain.
func NewRuntime(log *eventlog.Log, snaps SnapshotStore, reg *Registry, opts RuntimeOptions) (*Runtime, error) {
	opts = opts.withDefaults()
	m, err := newMetrics(opts.Registerer, maxActionTimeout(reg, opts))
	if err != nil {
		return nil, fmt.Errorf("actor metrics: %w", err)
	}
	clk, ok := opts.Clock.(Clock)
	if !ok {
		clk = nowOnly{opts.Clock}
	}
	rt := &Runtime{log: log, snaps: snaps, reg: reg, opts: opts, clock: clk,
		logger: opts.Logger.With("component", "actors"), metrics: m, seed: maphash.MakeSeed(),
		limits: map[string]limits{}, sends: newSendTracker()}
	rt.stopping.Store(true)
	for i := range rt.shards {
		rt.shards[i].m = map[string]*instance{}
	}
	for name, d := range reg.types {
		lim := d.limits(opts)
		lim.metrics = m.forType(name)
		rt.limits[name] = lim
	}
	return rt, nil
}

// Start takes calls from now on and starts the idle sweeper. The runtime runs
// until Stop, not until ctx ends; background work (WaitUntil) gets a context
// that ends at Stop.
func (rt *Runtime) Start(ctx context.Context) error {
	// The runtime outlives the context it was started with; Stop ends it.
	ctx, shouldStart, started, stopped := rt.StartInit(context.WithoutCancel(ctx))
	if !shouldStart {
		return nil
	}
	rt.ctx, rt.cancel = context.WithCancel(ctx)
	rt.sweepEnd, rt.drains = make(chan struct{}), newPool(time.Second, 256)
	rt.stopping.Store(false)
	sweepEnd := rt.sweepEnd
	go func() {
		defer stopped()
		started()
		rt.sweep(ctx, sweepEnd)
	}()
	return nil
}

// Clock returns the runtime's clock: RuntimeOptions.Clock (a time source with
// Now alone gets the wall clock's timers).
func (rt *Runtime) Clock() Clock { return rt.clock }

// Registry returns the runtime's registry.
func (rt *Runtime) Registry() *Registry { return rt.reg }

// Client returns a client for calling actors from outside any actor.
func (rt *Runtime) Client() *Client { return &Client{rt: rt, caller: "go"} }

func (rt *Runtime) shardFor(subject string) *shard {
	return &rt.shards[maphash.String(rt.seed, subject)%shardCount]
}

// instance returns the in-memory instance of an actor, creating an unloaded
// one if the actor is not awake, even past MaxAwakeActors (calls go through
// admit, which keeps the limit).
func (rt *Runtime) instance(def Definition, ref eventlog.ActorRef, subject string) *instance {
	sh := rt.shardFor(subject)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	inst, ok := sh.m[subject]
	if !ok {
		inst = newInstance(rt, def, ref, subject)
		sh.m[subject] = inst
		rt.awake.Add(1)
	}
	return inst
}

// admit returns the in-memory instance of an actor, creating an unloaded one
// if the actor is not awake and MaxAwakeActors allows; at the limit it makes
// room (evict.go) or fails with ErrOverloaded. An awake actor costs one shard
// lookup, as before the limit.
func (rt *Runtime) admit(ctx context.Context, def Definition, ref eventlog.ActorRef, subject string) (*instance, error) {
	if inst, ok := rt.tryAdmit(def, ref, subject); ok {
		return inst, nil
	}
	return rt.admitAtLimit(ctx, def, ref, subject)
}

// tryAdmit returns the actor's instance, creating it if a slot is free under
// MaxAwakeActors; ok is false at the limit.
func (rt *Runtime) tryAdmit(def Definition, ref eventlog.ActorRef, subject string) (inst *instance, ok bool) {
	sh := rt.shardFor(subject)
	sh.mu.Lock()
	if inst, ok = sh.m[subject]; ok {
		sh.mu.Unlock()
		return inst, true
	}
	if !rt.reserveSlot() {
		sh.mu.Unlock()
		return nil, false
	}
	inst = newInstance(rt, def, ref, subject)
	sh.m[subject] = inst
	sh.mu.Unlock()
	return inst, true
}

// reserveSlot counts one more instance unless MaxAwakeActors are in memory.
func (rt *Runtime) reserveSlot() bool {
	limit := int64(rt.opts.MaxAwakeActors)
	for {
		n := rt.awake.Load()
		if n >= limit {
			return false
		}
		if rt.awake.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// remove drops inst from the table if its mailbox is empty; it reports whether
// it did. A removed instance is dead: submitters retry with a fresh one.
func (rt *Runtime) remove(inst *instance) bool {
	sh := rt.shardFor(inst.subject)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if len(inst.queue) > 0 || inst.dead {
		return false
	}
	inst.dead = true
	if sh.m[inst.subject] == inst {
		delete(sh.m, inst.subject)
		rt.awake.Add(-1)
	}
	rt.testSignals.left.Signal(inst.id)
	return true
}

// submit queues op on the actor's mailbox and waits for its result.
func (rt *Runtime) submit(ctx context.Context, def Definition, ref eventlog.ActorRef, subject string, o *op) (result, error) {
	if rt.stopping.Load() && o.kind != opSleep {
		return result{}, ErrStopping
	}
	o.ctx = ctx
	if o.reply == nil {
		o.reply = make(chan result, 1)
	}
	// A caller whose context cannot end would wait for the answer however
	// long it takes, so it runs its call itself when the actor is idle:
	// no handoff to a pool worker and back.
	mayInline := ctx.Done() == nil
	for {
		inst, err := rt.admit(ctx, def, ref, subject)
		if err != nil {
			return result{}, err
		}
		ok, inline, err := inst.push(o, mayInline)
		if err != nil {
			rt.metrics.rejected.Inc()
			return result{}, err
		}
		if inline {
			inst.drainInline()
		}
		if ok {
			break
		}
	}
	select {
	case res := <-o.reply:
		if o.pooled {
			o.recycle()
		}
		return res, res.err
	case <-ctx.Done():
		return result{}, ctx.Err()
	}
}

// Stop drains the runtime: new calls get ErrStopping, queued calls finish
// (bounded by ctx), every awake actor runs OnSleep and writes its snapshot, and
// background work is cancelled. Close the snapshot store and log afterwards.
func (rt *Runtime) Stop(ctx context.Context) error { return rt.StopDrain(ctx, rt.drain) }

func (rt *Runtime) drain(ctx context.Context) error {
	<-rt.Started() // a Stop racing Start waits until Start has set the run's fields
	rt.stopping.Store(true)
	close(rt.sweepEnd) // the sweeper exits before the pool closes under it
	// Put every awake actor to sleep: snapshots on disk, hooks run.
	var insts []*instance
	for i := range rt.shards {
		sh := &rt.shards[i]
		sh.mu.Lock()
		for _, inst := range sh.m {
			insts = append(insts, inst)
		}
		sh.mu.Unlock()
	}
	for _, inst := range insts {
		o := &op{kind: opSleep, force: true, ctx: ctx, reply: make(chan result, 1)}
		_, _ = inst.enqueue(o)
	}
	rt.cancel()
	done := make(chan struct{})
	go func() { rt.work.Wait(); close(done) }()
	select {
	case <-done:
		rt.drains.close()
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop actors: work still running: %w", ctx.Err())
	}
}

// sweep puts idle actors to sleep until the run ends.
func (rt *Runtime) sweep(ctx context.Context, end <-chan struct{}) {
	t := time.NewTicker(rt.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-end:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			rt.SleepIdle()
		}
	}
}

// SleepIdle puts every actor idle past its timeout to sleep now. The sweeper
// calls it periodically; tests with a fake clock call it directly.
func (rt *Runtime) SleepIdle() int {
	now := rt.clock.Now()
	n := 0
	for i := range rt.shards {
		sh := &rt.shards[i]
		sh.mu.Lock()
		var idle []*instance
		for _, inst := range sh.m {
			if inst.idleSince(now) {
				idle = append(idle, inst)
			}
		}
		sh.mu.Unlock()
		for _, inst := range idle {
			o := &op{kind: opSleep, ctx: rt.ctx, reply: make(chan result, 1)}
			if ok, _ := inst.enqueue(o); ok {
				n++
			}
		}
	}
	return n
}

// Awake returns how many actors are in memory.
func (rt *Runtime) Awake() int { return int(rt.awake.Load()) }

// resolve validates a type and key and returns the actor's definition, ref and subject.
func (rt *Runtime) resolve(typ string, key []string) (Definition, eventlog.ActorRef, string, error) {
	def, err := rt.reg.lookup(typ)
	if err != nil {
		return nil, eventlog.ActorRef{}, "", err
	}
	ref := eventlog.ActorRef{Type: typ, Key: key}
	subject, err := ref.Subject()
	if err != nil {
		return nil, ref, "", errorf(ErrInvalidKey, "%v", err)
	}
	return def, ref, subject, nil
}

// ActorID returns the ID of the actor with this type and key. IDs are stable
// and reversible: ParseID gives the type and key back.
func ActorID(typ string, key []string) (string, error) {
	subject, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		return "", errorf(ErrInvalidKey, "%v", err)
	}
	return idOf(subject), nil
}

func idOf(subject string) string { return subject[len(eventlog.SubjectPrefix)+1:] }

// ParseID returns the type and key an actor ID names.
func ParseID(id string) (typ string, key []string, err error) {
	ref, perr := eventlog.ParseSubject(eventlog.SubjectPrefix + "." + id)
	if perr != nil {
		return "", nil, errorf(ErrInvalidID, "invalid actor ID %q", id)
	}
	return ref.Type, ref.Key, nil
}

func isCtxErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
