package projections

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/internal/startstop/startstoptest"
)

type obState struct {
	Count int64 `json:"count"`
}

// obFlaky counts the calls of each flaky receiver (by actor ID): its first
// obFlakyFailures calls fail.
var obFlaky sync.Map

const obFlakyFailures = 2

// obRegistry: a sender that sends inc(7) (or any action) one way; a
// receiver whose reject action always fails and whose flaky action fails
// its first calls; and the dead-letter type a node adds.
func obRegistry(t testing.TB) *actors.Registry {
	t.Helper()
	sender := actors.NewType[obState]("obsender", actors.Options[obState]{}).
		Action("send", actors.Act2(func(c *actors.Context[obState], target, action string) (int64, error) {
			return 0, c.Send(target, action, int64(7))
		}))
	recv := actors.NewType[obState]("obrecv", actors.Options[obState]{}).
		Action("inc", actors.Act(func(c *actors.Context[obState], n int64) (int64, error) {
			c.State.Count += n
			return c.State.Count, nil
		})).
		Action("get", actors.Act0(func(c *actors.Context[obState]) (int64, error) { return c.State.Count, nil })).
		Action("reject", actors.Act(func(c *actors.Context[obState], n int64) (int64, error) {
			return 0, actors.NewUserError("no_thanks", "I refuse", nil)
		})).
		Action("flaky", actors.Act(func(c *actors.Context[obState], n int64) (int64, error) {
			calls, _ := obFlaky.LoadOrStore(c.ActorID(), new(atomic.Int32))
			if calls.(*atomic.Int32).Add(1) <= obFlakyFailures {
				return 0, actors.NewUserError("not_yet", "try again", nil)
			}
			c.State.Count += n
			return c.State.Count, nil
		}))
	reg, err := actors.NewRegistry(sender, recv)
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterDeadLetters(reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// obNode is what a node wires: a log, a runtime, a runner with the
// dead-letter projection and the outbox, over one data dir.
type obNode struct {
	dir    string
	log    *eventlog.Log
	snaps  *snapshot.Store
	rt     *actors.Runtime
	r      *Runner
	outbox *Outbox
}

func obOpenLog(dir string) (*eventlog.Log, *snapshot.Store, error) {
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		return nil, nil, err
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: discardLogger()})
	if err != nil {
		return nil, nil, err
	}
	return l, snaps, nil
}

// obOptions are fast test defaults over opts.
func obOptions(opts OutboxOptions) *OutboxOptions {
	opts.Logger = discardLogger()
	if opts.Backoff == 0 {
		opts.Backoff = time.Millisecond
	}
	if opts.FetchWait == 0 {
		opts.FetchWait = 50 * time.Millisecond
	}
	return &opts
}

func obStart(t testing.TB, dir string, opts OutboxOptions) *obNode {
	t.Helper()
	n := &obNode{dir: dir}
	var err error
	if n.log, n.snaps, err = obOpenLog(dir); err != nil {
		t.Fatal(err)
	}
	if n.rt, err = actors.NewRuntime(n.log, n.snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()}); err != nil {
		t.Fatal(err)
	}
	if err := n.rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.r, err = Open(filepath.Join(dir, "projections"), n.log, &Options{Logger: discardLogger()}); err != nil {
		t.Fatal(err)
	}
	if n.outbox, err = NewOutbox(n.log, n.rt, obOptions(opts)); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, n.r, n.outbox.Projection())
	if err := n.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-n.r.Started()
	if err := n.outbox.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop stops the outbox first (it delivers through the runtime), then the
// runner and the runtime, then closes the stores.
func (n *obNode) stop(t testing.TB) {
	t.Helper()
	if n.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.outbox.Stop(ctx); err != nil {
		t.Errorf("stop outbox: %v", err)
	}
	if err := n.r.Stop(ctx); err != nil {
		t.Errorf("stop runner: %v", err)
	}
	if err := n.r.Close(); err != nil {
		t.Errorf("close runner: %v", err)
	}
	if err := n.rt.Stop(ctx); err != nil {
		t.Errorf("stop runtime: %v", err)
	}
	if err := n.snaps.Close(); err != nil {
		t.Errorf("close snapshots: %v", err)
	}
	if err := n.log.Close(ctx); err != nil {
		t.Errorf("close log: %v", err)
	}
	n.rt = nil
}

func obCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// obHandle gets or creates an actor.
func obHandle(t testing.TB, rt *actors.Runtime, typ, key string) *actors.Handle {
	t.Helper()
	h, _, err := rt.Client().GetOrCreate(obCtx(t), typ, []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// obSend has sender send action to target and returns the effect ID.
func obSend(t testing.TB, l *eventlog.Log, sender *actors.Handle, target, action string) string {
	t.Helper()
	if _, err := sender.Action(obCtx(t), "send", target, action); err != nil {
		t.Fatal(err)
	}
	seq, err := l.LastSubjectSeq(obCtx(t), eventlog.SubjectPrefix+"."+sender.ID)
	if err != nil {
		t.Fatal(err)
	}
	return actors.EffectID(seq, 0)
}

// obApplied counts the receiver's events under effectID.
func obApplied(t testing.TB, l *eventlog.Log, id, effectID string) int {
	t.Helper()
	evs, err := l.ReadActor(obCtx(t), eventlog.SubjectPrefix+"."+id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.CallID == effectID {
			n++
		}
	}
	return n
}

func obCount(t testing.TB, rt *actors.Runtime, key string) int64 {
	t.Helper()
	h, err := rt.Client().Get(obCtx(t), "obrecv", []string{key})
	if err != nil {
		t.Fatal(err)
	}
	c, err := actors.Call[int64](obCtx(t), h, "get")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// obWait waits until the outbox's counts satisfy ok, and returns them.
func obWait(t testing.TB, o *Outbox, ok func(OutboxCounts) bool) OutboxCounts {
	t.Helper()
	ctx := obCtx(t)
	for {
		c, changed := o.Progress()
		if ok(c) {
			return c
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("outbox counts %+v: %v", c, ctx.Err())
		}
	}
}

// obIdle waits until the consumer has nothing pending (events without sends
// are acknowledged without waiting for the server, so this polls it), and
// returns the status.
func obIdle(t testing.TB, o *Outbox) OutboxStatus {
	t.Helper()
	ctx := obCtx(t)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := o.Status(ctx)
		if err == nil && st.Pending == 0 {
			return st
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("outbox status %+v (%v): still pending", st, err)
		}
	}
}

func TestOutboxRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	n := obStart(t, t.TempDir(), OutboxOptions{MaxAttempts: obFlakyFailures + 2})
	s, r := obHandle(t, n.rt, "obsender", "s"), obHandle(t, n.rt, "obrecv", t.Name())
	obFlaky.Store(r.ID, new(atomic.Int32)) // a fresh count for each run (-count)
	id := obSend(t, n.log, s, r.ID, "flaky")
	c := obWait(t, n.outbox, func(c OutboxCounts) bool { return c.Events == 1 })
	if c.Delivered != 1 || c.DeadLetters != 0 || c.Returned != 0 {
		t.Fatalf("counts %+v, want the send delivered", c)
	}
	calls, _ := obFlaky.Load(r.ID)
	if got := calls.(*atomic.Int32).Load(); got != obFlakyFailures+1 {
		t.Fatalf("flaky receiver called %d times, want %d (fast path and outbox together)", got, obFlakyFailures+1)
	}
	if got := obApplied(t, n.log, r.ID, id); got != 1 {
		t.Fatalf("send applied %d times, want 1", got)
	}
	if c := obCount(t, n.rt, t.Name()); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
	if st := obIdle(t, n.outbox); !st.Running || st.Consumer != OutboxConsumer {
		t.Fatalf("status %+v", st)
	}
}

// A send to an unknown actor is a dead letter at once; one the receiver
// refuses, after MaxAttempts. Both are recorded in the log before their
// events are acknowledged, and the projection shows them as rows, again
// after a rebuild.
func TestOutboxDeadLetters(t *testing.T) {
	t.Parallel()
	n := obStart(t, t.TempDir(), OutboxOptions{MaxAttempts: 3})
	s, r := obHandle(t, n.rt, "obsender", "s"), obHandle(t, n.rt, "obrecv", "r")
	nobody, err := actors.ActorID("obrecv", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	missing := obSend(t, n.log, s, nobody, "inc")
	rejected := obSend(t, n.log, s, r.ID, "reject")
	fine := obSend(t, n.log, s, r.ID, "inc")
	c := obWait(t, n.outbox, func(c OutboxCounts) bool { return c.Events == 3 })
	if c.Delivered != 1 || c.DeadLetters != 2 {
		t.Fatalf("counts %+v, want 1 delivered and 2 dead letters", c)
	}
	// The records are in the log: the sender type's dead-letter actor.
	dlSubject, err := eventlog.ActorRef{Type: DeadLettersType, Key: []string{"obsender"}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	evs, err := n.log.ReadActor(obCtx(t), dlSubject, 0, 0)
	if err != nil || len(evs) != 3 || evs[1].Action != "record" || evs[2].Action != "record" || evs[2].Caller != OutboxCaller {
		t.Fatalf("dead-letter actor's events: %d (%v), want a create and 2 records", len(evs), err)
	}
	wait(t, n.r, OutboxName, evs[2].Seq)

	check := func() {
		t.Helper()
		for _, tc := range []struct {
			id, target, action, code string
			attempts                 int
		}{
			{missing, nobody, "inc", "actor_not_found", 1}, // undeliverable: at once
			{rejected, r.ID, "reject", "no_thanks", 3},     // the receiver refuses: MaxAttempts
		} {
			d, found, err := n.outbox.DeadLetter(n.r, tc.id)
			if err != nil || !found {
				t.Fatalf("dead letter %s: found %v, %v", tc.id, found, err)
			}
			if d.EffectID != tc.id || d.From != s.ID || d.Target != tc.target || d.Action != tc.action ||
				d.Code != tc.code || d.Attempts != tc.attempts || d.Error == "" || string(d.Args) != "[7]" || d.At.IsZero() {
				t.Fatalf("dead letter %s = %+v, want target %s action %s code %s after %d attempts", tc.id, d, tc.target, tc.action, tc.code, tc.attempts)
			}
		}
		letters, _, err := n.outbox.DeadLetters(n.r, 10, "")
		if err != nil || len(letters) != 2 || letters[0].EffectID != missing || letters[1].EffectID != rejected {
			t.Fatalf("dead letters = %+v (%v), want %s then %s", letters, err, missing, rejected)
		}
		page, err := n.r.Rows(OutboxName, OutboxDeadPrefix, 10, "")
		if err != nil || len(page.Rows) != 2 {
			t.Fatalf("rows under %s: %+v (%v)", OutboxDeadPrefix, page, err)
		}
		if _, found, _ := n.outbox.DeadLetter(n.r, fine); found {
			t.Fatalf("the delivered send %s is a dead letter", fine)
		}
	}
	check()
	if err := n.r.Rebuild(obCtx(t), OutboxName, nil); err != nil {
		t.Fatal(err)
	}
	check()
	if c := obCount(t, n.rt, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
	obIdle(t, n.outbox)
}

// While the runtime takes no calls, the outbox gives the event back (again
// and again, never as a dead letter); once it runs, the send is delivered,
// once.
func TestOutboxGivesEventsBackWhileTheRuntimeIsDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, snaps, err := obOpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Two runtimes over the log: the first sends (its fast path delivers);
	// the second, not started yet, is the outbox's, and remembers no
	// delivery.
	first, err := actors.NewRuntime(l, snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := actors.NewRuntime(l, snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ob, err := NewOutbox(l, rt, obOptions(OutboxOptions{UnavailableWait: 10 * time.Millisecond, MaxBackoff: 5 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = ob.Stop(ctx)
		_ = rt.Stop(ctx)
		_ = first.Stop(ctx)
		_ = snaps.Close()
		_ = l.Close(ctx)
	})
	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ob.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s, rv := obHandle(t, first, "obsender", "s"), obHandle(t, first, "obrecv", "r")
	id := obSend(t, l, s, rv.ID, "inc")
	if err := first.Stop(obCtx(t)); err != nil {
		t.Fatal(err)
	}
	c := obWait(t, ob, func(c OutboxCounts) bool { return c.Returned >= 2 })
	if c.Events != 0 || c.DeadLetters != 0 {
		t.Fatalf("counts %+v with the runtime down, want the event given back only", c)
	}
	if st, _ := ob.Status(obCtx(t)); !strings.Contains(st.LastError, "shutting down") {
		t.Fatalf("last error %q, want the runtime's", st.LastError)
	}
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c = obWait(t, ob, func(c OutboxCounts) bool { return c.Events == 1 })
	if c.Delivered != 1 || c.DeadLetters != 0 {
		t.Fatalf("counts %+v, want the send delivered", c)
	}
	if got := obApplied(t, l, rv.ID, id); got != 1 {
		t.Fatalf("send applied %d times, want 1", got)
	}
}

// A restarted outbox resumes where the consumer is: what it acknowledged
// does not come back, what was sent while it was down is performed, once,
// by a runtime that remembers no delivery of its own.
func TestOutboxRestartResumes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := obStart(t, dir, OutboxOptions{})
	s, r := obHandle(t, n.rt, "obsender", "s"), obHandle(t, n.rt, "obrecv", "r")
	var ids []string
	for range 2 {
		ids = append(ids, obSend(t, n.log, s, r.ID, "inc"))
	}
	obWait(t, n.outbox, func(c OutboxCounts) bool { return c.Events == 2 })
	if err := n.outbox.Stop(obCtx(t)); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		ids = append(ids, obSend(t, n.log, s, r.ID, "inc"))
	}
	n.stop(t)

	n = obStart(t, dir, OutboxOptions{})
	c := obWait(t, n.outbox, func(c OutboxCounts) bool { return c.Events >= 3 })
	if st := obIdle(t, n.outbox); st.Events != 3 || c.Delivered != 3 {
		t.Fatalf("after the restart: %+v, want the 3 sends made while the outbox was down", st)
	}
	for _, id := range ids {
		if got := obApplied(t, n.log, r.ID, id); got != 1 {
			t.Fatalf("effect %s applied %d times, want 1", id, got)
		}
	}
	if c := obCount(t, n.rt, "r"); c != 35 {
		t.Fatalf("receiver count = %d, want 35", c)
	}
}

func TestOutboxStartStopStress(t *testing.T) {
	t.Parallel()
	n := obStart(t, t.TempDir(), OutboxOptions{FetchWait: 10 * time.Millisecond})
	if err := n.outbox.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	startstoptest.StressWith(context.Background(), t, n.outbox, startstoptest.Config{Iterations: 20})
}

// outboxChildEnv, set to a data dir, makes TestOutboxCrashChild the child of
// TestOutboxKillBetweenAckAndDelivery.
const outboxChildEnv = "RIVETFLOW_OUTBOX_CRASH_CHILD"

// TestOutboxCrashChild runs only as the child process: with the crash hook
// on, the first acknowledged send kills the process before the runtime
// delivers it. It runs no outbox.
func TestOutboxCrashChild(t *testing.T) {
	dir := os.Getenv(outboxChildEnv)
	if dir == "" {
		t.Skip("the child process of TestOutboxKillBetweenAckAndDelivery")
	}
	l, snaps, err := obOpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := actors.NewRuntime(l, snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()})
	if err == nil {
		err = rt.Start(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	cl := rt.Client()
	s, _, err := cl.GetOrCreate(context.Background(), "obsender", []string{"s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := cl.GetOrCreate(context.Background(), "obrecv", []string{"r"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Action(context.Background(), "send", r.ID, "inc")
	t.Fatalf("still alive after the send was acknowledged (err %v)", err)
}

// kill -9 between an acknowledged send and its delivery: after the restart
// the outbox delivers it, and it is applied once; a second restart does not
// deliver it again.
func TestOutboxKillBetweenAckAndDelivery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutboxCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), outboxChildEnv+"="+dir, "RIVETFLOW_TEST_CRASH_AFTER_SEND_ACK=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL; output:\n%s", err, out)
	}

	// The log has the acknowledged send; the receiver has not seen it.
	l, snaps, err := obOpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sendSeq uint64
	var sender string
	if _, err := l.Scan(obCtx(t), 1, func(ev *eventlog.Event) error {
		if len(ev.Effects) > 0 {
			sendSeq, sender = ev.Seq, ev.Subject
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sendSeq == 0 || !strings.Contains(sender, "obsender") {
		t.Fatalf("no acknowledged send in the log (last sender %q)", sender)
	}
	effectID := actors.EffectID(sendSeq, 0)
	recvID, err := actors.ActorID("obrecv", []string{"r"})
	if err != nil {
		t.Fatal(err)
	}
	if got := obApplied(t, l, recvID, effectID); got != 0 {
		t.Fatalf("the send was applied %d times before the restart, want 0 (the hook crashes before the fast path)", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := snaps.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart with the outbox: delivered, once.
	n := obStart(t, dir, OutboxOptions{})
	if c := obWait(t, n.outbox, func(c OutboxCounts) bool { return c.Events == 1 }); c.Delivered != 1 {
		t.Fatalf("after the restart: %+v, want the send delivered", c)
	}
	if got := obApplied(t, n.log, recvID, effectID); got != 1 {
		t.Fatalf("after the restart the send was applied %d times, want 1", got)
	}
	if c := obCount(t, n.rt, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
	obIdle(t, n.outbox)
	// Again: the event was acknowledged, nothing comes back.
	n.stop(t)
	n = obStart(t, dir, OutboxOptions{})
	if st := obIdle(t, n.outbox); st.Events != 0 {
		t.Fatalf("after a second restart the outbox handled %+v, want nothing", st)
	}
	if got := obApplied(t, n.log, recvID, effectID); got != 1 {
		t.Fatalf("after a second restart the send was applied %d times, want 1", got)
	}
	if c := obCount(t, n.rt, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
}
