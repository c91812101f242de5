package scheduler

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/projections"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait of a test; reaching it fails the test.
const waitLimit = 20 * time.Second

// epoch is where the fake clocks start.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// ringState is the state of the test actor type "alarmer".
type ringState struct {
	Rings []ring `json:"rings"`
}

// ring is one fire an alarmer saw.
type ring struct {
	Tag   string    `json:"tag"`
	Alarm string    `json:"alarm"`
	At    time.Time `json:"at"`  // the alarm's due time
	Now   time.Time `json:"now"` // the call's time
}

// alarmerType is an actor type with alarms: set(delayMs, tag) -> id,
// setMany(delaysMs, tag) -> ids, cancel(id) -> bool, alarms() -> pending
// alarms, state() -> rings, and ring(tag), the fire, refused to callers
// other than the scheduler.
func alarmerType(onRing func(c *actors.Context[ringState], r ring)) *actors.Type[ringState] {
	return actors.NewType("alarmer", actors.Options[ringState]{State: ringState{Rings: []ring{}}}).
		Action("set", actors.Act2(func(c *actors.Context[ringState], delayMs int64, tag string) (string, error) {
			return c.Schedule().After(time.Duration(delayMs)*time.Millisecond, "ring", tag)
		})).
		Action("setMany", actors.Act2(func(c *actors.Context[ringState], delaysMs []int64, tag string) ([]string, error) {
			ids := make([]string, len(delaysMs))
			for i, d := range delaysMs {
				id, err := c.Schedule().After(time.Duration(d)*time.Millisecond, "ring", tag)
				if err != nil {
					return nil, err
				}
				ids[i] = id
			}
			return ids, nil
		})).
		Action("cancel", actors.Act(func(c *actors.Context[ringState], id string) (bool, error) {
			return c.Schedule().Cancel(id), nil
		})).
		Action("alarms", actors.Act0(func(c *actors.Context[ringState]) ([]Pending, error) {
			var out []Pending
			for _, a := range c.Schedule().List() {
				out = append(out, Pending{ActorID: c.ActorID(), AlarmID: a.ID, At: a.At})
			}
			return out, nil
		})).
		Action("state", actors.Act0(func(c *actors.Context[ringState]) (ringState, error) {
			return *c.State, nil
		})).
		Action("ring", actors.Act(func(c *actors.Context[ringState], tag string) (bool, error) {
			a, ok := c.Alarm()
			if !ok || c.Caller() != "scheduler" {
				return false, actors.NewUserError("scheduler_only", "ring is the scheduler's", nil)
			}
			r := ring{Tag: tag, Alarm: a.ID, At: a.At, Now: c.Now()}
			c.State.Rings = append(c.State.Rings, r)
			if onRing != nil {
				onRing(c, r)
			}
			return true, nil
		}))
}

// outcome is one finished fire, as the test hook saw it.
type outcome struct {
	Pending
	Result string
}

// node is one rivet-flow node's worth of services over a log: a runtime, a
// projection runner and a scheduler, all on one fake clock.
type node struct {
	dir    string // snapshots and projections live under it
	log    *eventlog.Log
	reg    *actors.Registry
	clock  *clock.Fake
	opts   Options // copied for each scheduler; hooks are the node's
	rtOpts actors.RuntimeOptions

	snaps  *snapshot.Store
	rt     *actors.Runtime
	runner *projections.Runner
	s      *Scheduler

	outcomes chan outcome
	retries  chan error

	mu      sync.Mutex
	armedAt time.Time
	armedCh chan struct{} // closed and replaced at every arm
}

// bundle is a data dir with its log and one node (more with addNode).
type bundle struct {
	dir   string
	clock *clock.Fake
	reg   *actors.Registry
	log   *eventlog.Log
	n     *node
}

// setup opens a log, a runtime, a runner and a scheduler on a fresh data dir
// with a fake clock, all started and stopped at cleanup. mutate may change
// the scheduler's options.
func setup(t testing.TB, reg *actors.Registry, mutate ...func(*Options)) *bundle {
	t.Helper()
	if reg == nil {
		var err error
		if reg, err = actors.NewRegistry(alarmerType(nil)); err != nil {
			t.Fatal(err)
		}
	}
	b := &bundle{dir: t.TempDir(), clock: clock.NewFake(epoch), reg: reg}
	b.openLog(t)
	b.n = b.addNode(t, filepath.Join(b.dir, "node"), mutate...)
	t.Cleanup(func() { b.closeLog(t) })
	return b
}

func (b *bundle) openLog(t testing.TB) {
	t.Helper()
	var err error
	if b.log, err = eventlog.Open(context.Background(), eventlog.Config{DataDir: b.dir, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
}

func (b *bundle) closeLog(t testing.TB) {
	t.Helper()
	if b.log == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := b.log.Close(ctx); err != nil {
		t.Errorf("close log: %v", err)
	}
	b.log = nil
}

// addNode opens and starts another node over the bundle's log, its stores
// under dir, stopped at cleanup.
func (b *bundle) addNode(t testing.TB, dir string, mutate ...func(*Options)) *node {
	t.Helper()
	n := &node{dir: dir, log: b.log, reg: b.reg, clock: b.clock,
		outcomes: make(chan outcome, 10_000), retries: make(chan error, 10_000), armedCh: make(chan struct{})}
	n.rtOpts = actors.RuntimeOptions{Logger: quietLogger(), Clock: b.clock, SweepInterval: time.Hour}
	n.opts = Options{Logger: quietLogger(), RetryBackoff: time.Second, MaxRetryBackoff: time.Second}
	for _, f := range mutate {
		f(&n.opts)
	}
	n.opts.hooks = &testHooks{
		armed: func(at time.Time) {
			n.mu.Lock()
			n.armedAt = at
			close(n.armedCh)
			n.armedCh = make(chan struct{})
			n.mu.Unlock()
		},
		finished: func(p Pending, result string) { n.outcomes <- outcome{Pending: p, Result: result} },
		retrying: func(p Pending, err error) { n.retries <- err },
	}
	n.start(t)
	t.Cleanup(func() { n.stop(t) })
	return n
}

// start opens the node's stores and starts its services (runtime, runner,
// scheduler), like the node does.
func (n *node) start(t testing.TB) {
	t.Helper()
	var err error
	if n.snaps, err = snapshot.Open(filepath.Join(n.dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if n.rt, err = actors.NewRuntime(n.log, n.snaps, n.reg, n.rtOpts); err != nil {
		t.Fatal(err)
	}
	if n.runner, err = projections.Open(filepath.Join(n.dir, "projections"), n.log,
		&projections.Options{Logger: quietLogger(), HeadInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	opts := n.opts
	if n.s, err = New(n.rt, n.runner, &opts); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, svc := range []interface{ Start(context.Context) error }{n.rt, n.runner, n.s} {
		if err := svc.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-n.s.Started():
	case <-time.After(waitLimit):
		t.Fatal("the scheduler did not start")
	}
}

// stop stops the node's services in reverse order and closes its stores.
func (n *node) stop(t testing.TB) {
	t.Helper()
	if n.s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := n.s.Close(); err != nil {
		t.Errorf("stop scheduler: %v", err)
	}
	if err := n.runner.Stop(ctx); err != nil {
		t.Errorf("stop runner: %v", err)
	}
	if err := n.rt.Stop(ctx); err != nil {
		t.Errorf("stop runtime: %v", err)
	}
	if err := n.runner.Close(); err != nil {
		t.Errorf("close runner: %v", err)
	}
	if err := n.snaps.Close(); err != nil {
		t.Errorf("close snapshots: %v", err)
	}
	n.s = nil
}

// waitArmed waits until the node's scheduler has armed its timer for at.
func (n *node) waitArmed(t testing.TB, at time.Time) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		cur, ch := n.armedAt, n.armedCh
		n.mu.Unlock()
		if cur.Equal(at) {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("the scheduler armed its timer for %v, want %v", cur, at)
		}
	}
}

// next waits for the next finished fire.
func (n *node) next(t testing.TB) outcome {
	t.Helper()
	select {
	case o := <-n.outcomes:
		return o
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a fire")
	}
	return outcome{}
}

// nextRetrying waits for the next finished fire, moving the clock past
// the retry backoff whenever a fire is retried.
func (n *node) nextRetrying(t testing.TB) outcome {
	t.Helper()
	for {
		select {
		case o := <-n.outcomes:
			return o
		case err := <-n.retries:
			t.Logf("a fire is retried after: %v", err)
			n.clock.Advance(n.opts.MaxRetryBackoff)
		case <-time.After(waitLimit):
			n.mu.Lock()
			armed := n.armedAt
			n.mu.Unlock()
			st, _ := n.s.Stats()
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("timed out waiting for a fire (clock %v, armed %v, stats %+v)\n%s", n.clock.Now(), armed, st, buf)
		}
	}
}

// eventually polls cond until it holds, for states the runtime reaches
// asynchronously with no signal to wait on (an actor gone to sleep); never
// for a schedule, which the fake clock drives.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// requireNoFire fails if a fire finished that the test has not taken.
func (n *node) requireNoFire(t testing.TB) {
	t.Helper()
	select {
	case o := <-n.outcomes:
		t.Fatalf("unexpected fire: %+v", o)
	default:
	}
}

// waitIndex waits until the node's alarm index has committed the log's head.
func (n *node) waitIndex(t testing.TB) {
	t.Helper()
	ctx := testCtx(t)
	seq, err := n.log.LastSeq(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.runner.Wait(ctx, IndexName, seq); err != nil {
		t.Fatal(err)
	}
}

// actor gets or creates an alarmer.
func (n *node) actor(t testing.TB, key string) *actors.Handle {
	t.Helper()
	h, _, err := n.rt.Client().GetOrCreate(testCtx(t), "alarmer", []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func call[R any](t testing.TB, h *actors.Handle, action string, args ...any) R {
	t.Helper()
	out, err := actors.Call[R](testCtx(t), h, action, args...)
	if err != nil {
		t.Fatalf("%s%v: %v", action, args, err)
	}
	return out
}

// set sets an alarm on h in d (from the clock's now) and returns its ID and due time.
func (n *node) set(t testing.TB, h *actors.Handle, d time.Duration, tag string) (string, time.Time) {
	t.Helper()
	at := n.clock.Now().Add(d)
	return call[string](t, h, "set", d.Milliseconds(), tag), at
}

// rows returns every row of the node's alarm index.
func (n *node) rows(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		page, err := n.runner.Rows(IndexName, "", projections.MaxPageLimit, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Rows {
			out[r.Key] = string(r.Value)
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// events returns the actions of the actor's events in the log.
func events(t testing.TB, l *eventlog.Log, id string) []*eventlog.Event {
	t.Helper()
	var out []*eventlog.Event
	var after uint64
	for {
		evs, err := l.ReadActor(testCtx(t), eventlog.SubjectPrefix+"."+id, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}
