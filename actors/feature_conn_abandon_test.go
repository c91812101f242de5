package actors_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftOpenConns reads the runtime's open-connections gauge.
func ftOpenConns(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "rivetflow_actor_connections" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no rivetflow_actor_connections metric")
	return 0
}

// TestFeatureAbandonedConnect (issue 14, defect 7): a caller whose context
// ends while the connection hooks run gets an error and never a registered
// connection: the mailbox does not keep it (no MaxConnections slot held, the
// actor can sleep), and OnDisconnect pairs an OnConnect that ran.
func TestFeatureAbandonedConnect(t *testing.T) {
	t.Parallel()
	entered := make(chan string, 1)
	release := make(chan struct{})
	disconnected := make(chan string, 4)
	typ := ftType("ftabandon", actors.Options[ftState]{
		MaxConnections: 1,
		OnConnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			c.State.Count++
			entered <- conn.ID()
			<-release
		},
		OnDisconnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			c.State.Count--
			disconnected <- conn.ID()
		},
	})
	reg := prometheus.NewRegistry()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Registerer = reg }, typ)
	left := actors.InitLeftSignal(t, b.rt)
	h := ftCreate(t, b, "ftabandon", "a")

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		conn, err := h.Connect(ctx, nil)
		if err == nil {
			conn.Close()
			err = errors.New("connected")
		}
		errc <- err
	}()
	abandoned := ftWait(t, entered, "OnConnect to start")
	cancel()
	if err := ftWait(t, errc, "the abandoned connect to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned connect: %v, want context.Canceled", err)
	}
	close(release) // the hook finishes after its caller gave up

	// The abandoned connection holds no slot: with MaxConnections 1 the next
	// connect (queued behind it) succeeds.
	conn, err := h.Connect(ftCtx(t), nil)
	if err != nil {
		t.Fatalf("connect after an abandoned one: %v", err)
	}
	ftWait(t, entered, "OnConnect of the second connection")
	if id := ftWait(t, disconnected, "OnDisconnect of the abandoned connection"); id != abandoned {
		t.Fatalf("OnDisconnect for %s, want the abandoned %s", id, abandoned)
	}
	if n := ftOpenConns(t, reg); n != 1 {
		t.Fatalf("%v connections open, want 1", n)
	}
	conn.Close()
	if id := ftWait(t, disconnected, "OnDisconnect"); id != conn.ID() {
		t.Fatalf("OnDisconnect for %s, want %s", id, conn.ID())
	}
	if got := ftCall[int64](t, h, "get"); got != 0 {
		t.Fatalf("connect and disconnect hooks unpaired: count %d, want 0", got)
	}
	if n := ftOpenConns(t, reg); n != 0 {
		t.Fatalf("%v connections open after every one closed, want 0", n)
	}
	// Nothing keeps the actor awake.
	b.clock.Advance(24 * time.Hour)
	if n := b.rt.SleepIdle(); n != 1 {
		t.Fatalf("SleepIdle put %d actors to sleep, want 1", n)
	}
	ftLeft(t, b, left, h.ID, 0)
}

// TestFeatureAbandonedConnectRace: a caller giving up races the mailbox
// taking its connection in (before the check, between the check and the
// reply, after the reply). Whatever the interleaving, a caller that got an
// error has no connection left behind, and the hooks stay paired.
func TestFeatureAbandonedConnectRace(t *testing.T) {
	t.Parallel()
	var connects, disconnects atomic.Int64
	hooked := make(chan struct{}, 1)
	typ := ftType("ftabrace", actors.Options[ftState]{
		OnConnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			connects.Add(1)
			hooked <- struct{}{}
			// Finish a little later than the signal: the test gives up
			// around the end of the hooks.
			for start := time.Now(); time.Since(start) < 20*time.Microsecond; {
			}
		},
		OnDisconnect: func(c *actors.Context[ftState], conn *actors.Conn) { disconnects.Add(1) },
	})
	reg := prometheus.NewRegistry()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Registerer = reg }, typ)
	h := ftCreate(t, b, "ftabrace", "a")
	const rounds = 400
	var opened []*actors.Conn
	failed := 0
	for i := range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		type res struct {
			conn *actors.Conn
			err  error
		}
		done := make(chan res, 1)
		go func() {
			conn, err := h.Connect(ctx, nil)
			done <- res{conn, err}
		}()
		ftWait(t, hooked, "OnConnect")
		// Give up a little later each round: the window the mailbox needs to
		// take the connection in and answer is a few microseconds.
		for start := time.Now(); time.Since(start) < time.Duration(i%40)*time.Microsecond; {
		}
		cancel()
		r := ftWait(t, done, "the connect to return")
		if r.err != nil {
			failed++
			continue
		}
		opened = append(opened, r.conn)
	}
	for _, c := range opened {
		c.Close()
	}
	// Every close, and every disconnect of a connection taken in as its
	// caller gave up, is queued before this call: it sees them all done.
	ftCall[int64](t, h, "get")
	if c, d := connects.Load(), disconnects.Load(); c != rounds || d != rounds {
		t.Errorf("%d OnConnect and %d OnDisconnect for %d connects (%d failed), want %d each", c, d, rounds, failed, rounds)
	}
	if n := ftOpenConns(t, reg); n != 0 {
		t.Fatalf("%v connections open after %d opened ones closed and %d failed, want 0", n, len(opened), failed)
	}
	t.Logf("%d connected, %d failed", len(opened), failed)
}
