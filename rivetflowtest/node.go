package rivetflowtest

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// DefaultStart is where a test node's fake clock starts unless
// Config.Start says otherwise: a fixed instant, so recorded times (and
// golden histories) are the same at every run.
var DefaultStart = time.Date(2026, time.January, 1, 9, 0, 0, 0, time.UTC)

// DefaultTimeout bounds each wait of the kit (Start, Advance, a read of
// the log) unless Config.Timeout says otherwise. A wait that runs out fails
// the test with what it was waiting for.
const DefaultTimeout = 30 * time.Second

// Config configures a test node. The zero value runs the built-in actor
// types (counter, chatRoom, reminder) and no workflows.
type Config struct {
	// Registry holds the actor types served; the node adds its own
	// (workflow run types, schedules, dead letters) to it. Defaults to
	// builtin.Registry().
	Registry *actors.Registry
	// Workflows are the workflows served (workflows.Define). Defaults to
	// none.
	Workflows []workflows.Definition
	// Projections are user read models (projections.Define). Defaults to
	// none.
	Projections []projections.Projection
	// Start is the fake clock's start. Defaults to DefaultStart.
	Start time.Time
	// Timeout bounds each wait of the kit. Defaults to DefaultTimeout.
	Timeout time.Duration
	// Logger receives the node's logs. Defaults to one that discards them
	// (a failing test shows its own messages, not the node's chatter).
	Logger *slog.Logger
	// NodeConfig is the rest of the node's configuration, for what the
	// fields above do not cover (runtime limits, the API token...). Its
	// DataDir, NoListen, Log.Listen, clocks and the fields above are set by
	// Start.
	NodeConfig rivetflow.Config
}

// Node is a running in-process test node (Start). Its methods are safe
// for concurrent use, except Advance, which one goroutine drives at a time.
type Node struct {
	t       testing.TB
	node    *rivetflow.Node
	clock   *clock.Fake
	reg     *actors.Registry
	timeout time.Duration
	dir     string
}

// Start runs a node for the test: data in t.TempDir(), an embedded event
// log with no network port, no HTTP listener (Handler serves the routes),
// and a fake clock that moves only with Advance. It fails the test if the
// node does not start, and stops it in t.Cleanup.
func Start(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.Registry == nil {
		cfg.Registry = builtin.Registry()
	}
	if cfg.Start.IsZero() {
		cfg.Start = DefaultStart
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	fake := clock.NewFake(cfg.Start)
	nc := cfg.NodeConfig
	nc.DataDir = t.TempDir()
	nc.NoListen = true
	nc.Log.Listen = "" // the embedded NATS server opens no port
	nc.Registry, nc.Workflows, nc.Projections, nc.Logger = cfg.Registry, cfg.Workflows, cfg.Projections, cfg.Logger
	nc.Actors.Clock = fake
	nc.Scheduler.Clock = fake
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	rn, err := rivetflow.Start(ctx, nc)
	if err != nil {
		t.Fatalf("rivetflowtest: start a node: %v", err)
		return nil
	}
	n := &Node{t: t, node: rn, clock: fake, reg: cfg.Registry, timeout: cfg.Timeout, dir: nc.DataDir}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
		defer cancel()
		if err := rn.Stop(ctx); err != nil {
			t.Errorf("rivetflowtest: stop the node: %v", err)
		}
	})
	return n
}

// Node returns the underlying node, for what the kit does not wrap
// (queues, projections, the outbox, the event log).
func (n *Node) Node() *rivetflow.Node { return n.node }

// Client returns a Go client of the node's actors (caller "go").
func (n *Node) Client() *actors.Client { return n.node.Runtime().Client() }

// Handler serves the node's HTTP routes (the API, /healthz, /readyz,
// /metrics) in-process: call it with httptest.NewRecorder.
func (n *Node) Handler() http.Handler { return n.node.Handler() }

// Workflows returns the node's workflow engine (StartRun, Get, Await,
// Signal).
func (n *Node) Workflows() *workflows.Engine { return n.node.Workflows() }

// Registry returns the registry the node serves, with the types the node
// added (workflow run types): pass it to RequireReplays.
func (n *Node) Registry() *actors.Registry { return n.reg }

// Clock returns the node's fake clock. Prefer Advance, which also waits
// for what the time change fires; move the clock directly only to test
// what happens before that settles.
func (n *Node) Clock() *clock.Fake { return n.clock }

// Now returns the node's time (the fake clock's).
func (n *Node) Now() time.Time { return n.clock.Now() }

// DataDir returns the node's data directory (under t.TempDir()).
func (n *Node) DataDir() string { return n.dir }

// Context returns a context bounded by the kit's timeout (Config.Timeout)
// and cancelled at the test's end, for the calls a test makes to the node.
func (n *Node) Context() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	n.t.Cleanup(cancel)
	return ctx
}

// Advance moves the clock d forward and fires, in time order, everything
// due on the way: actor alarms, cron ticks, server schedules, workflow
// sleeps and wait timeouts. It goes from one due alarm to the next: the
// clock stops at each alarm's due time, the scheduler fires what is due
// then, and Advance waits until that settled (the log's projections
// caught up, no fire in flight, the workflow runs it resumed parked or
// ended) before it moves on, so what an alarm's action schedules for a
// time within d fires too, at its own time (alarms due at the same
// millisecond fire together, in no set order). It returns with the clock at
// Now()+d and everything settled. A negative d, or a wait past
// Config.Timeout, fails the test (call it from the test's goroutine).
//
// Workflow runs settle when each runner is parked, ended, or waiting in
// memory for the clock or a signal (workflows.Engine.WaitIdle); a step
// blocked on something else than the clock holds Advance until
// Config.Timeout. Where a signal already sits in a waiting run's inbox,
// the log must also stay still for 25ms (its runner may not have woken).
func (n *Node) Advance(d time.Duration) {
	t := n.t
	t.Helper()
	if d < 0 {
		t.Fatalf("rivetflowtest: Advance(%s): the clock never goes back", d)
	}
	if err := n.AdvanceTo(n.clock.Now().Add(d)); err != nil {
		t.Fatalf("rivetflowtest: Advance(%s): %v", d, err)
	}
}

// AdvanceTo is Advance to the instant target, returning the error instead
// of failing a test; a target before Now only settles.
func (n *Node) AdvanceTo(target time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	sched := n.node.Scheduler()
	for {
		if err := n.settle(ctx); err != nil {
			return err
		}
		now := n.clock.Now()
		next, ok, err := sched.NextAfter(now)
		if err != nil {
			return err
		}
		if !ok || next.At.After(target) {
			break
		}
		n.clock.Set(next.At)
	}
	if target.After(n.clock.Now()) {
		n.clock.Set(target)
	}
	return n.settle(ctx)
}

// Settle waits, without moving the clock, until what is due now has
// fired and its work settled, as Advance does after each step. Use it
// after a call that sets an alarm due at once (a zero delay).
func (n *Node) Settle() {
	t := n.t
	t.Helper()
	if err := n.AdvanceTo(time.Time{}); err != nil {
		t.Fatalf("rivetflowtest: Settle: %v", err)
	}
}

// settle waits until the projections have folded the whole log, the
// scheduler has fired everything due at the clock's time, and no workflow
// runner is busy, with the log unchanged over the whole check.
func (n *Node) settle(ctx context.Context) error {
	lg := n.node.Events()
	for {
		head, err := lg.LastSeq(ctx)
		if err != nil {
			return err
		}
		if err := n.caughtUp(ctx, head); err != nil {
			return err
		}
		if err := n.node.Scheduler().WaitIdle(ctx); err != nil {
			return err
		}
		if err := n.node.Workflows().WaitIdle(ctx); err != nil {
			return err
		}
		runs, err := n.runs(ctx)
		if err != nil {
			return err
		}
		after, err := lg.LastSeq(ctx)
		if err != nil {
			return err
		}
		if after != head {
			continue // something happened meanwhile: look again
		}
		if runs == runsSettled {
			return nil
		}
		moved, err := n.logMoves(ctx, head, quietWindow)
		if err != nil {
			return err
		}
		if !moved {
			return nil
		}
	}
}

// caughtUp waits until every projection that is not failed has folded the
// log up to head.
func (n *Node) caughtUp(ctx context.Context, head uint64) error {
	projs := n.node.Projections()
	for _, st := range projs.List() {
		if st.State == projections.StateFailed {
			continue // its own status says so; waiting would not help
		}
		if err := projs.Wait(ctx, st.Name, head); err != nil && !errors.Is(err, projections.ErrFailed) {
			return err
		}
	}
	return nil
}
