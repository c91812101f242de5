package projections

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

type obState struct {
	Count int64 `json:"count"`
}

// obRegistry: a sender that sends inc(n) (or any action) one way, and a
// receiver whose reject action always fails.
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
		}))
	reg, err := actors.NewRegistry(sender, recv)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// obNode is what a node wires: a log, a runtime, a runner with the outbox,
// over one data dir.
type obNode struct {
	dir    string
	log    *eventlog.Log
	snaps  *snapshot.Store
	rt     *actors.Runtime
	r      *Runner
	outbox *OutboxProjection
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
	opts.Logger = discardLogger()
	n.outbox = Outbox(n.rt.DeliverSend, opts)
	mustRegister(t, n.r, n.outbox)
	if err := n.r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-n.r.Started()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop stops the runner first (it delivers through the runtime), then the
// runtime, then closes the stores.
func (n *obNode) stop(t testing.TB) {
	t.Helper()
	if n.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
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
func obHandle(t testing.TB, n *obNode, typ, key string) *actors.Handle {
	t.Helper()
	h, _, err := n.rt.Client().GetOrCreate(obCtx(t), typ, []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// obSend has sender send action to target and returns the effect ID.
func obSend(t testing.TB, n *obNode, sender *actors.Handle, target, action string) string {
	t.Helper()
	if _, err := sender.Action(obCtx(t), "send", target, action); err != nil {
		t.Fatal(err)
	}
	seq, err := n.log.LastSubjectSeq(obCtx(t), eventlog.SubjectPrefix+"."+sender.ID)
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

func obCount(t testing.TB, n *obNode, key string) int64 {
	t.Helper()
	h, err := n.rt.Client().Get(obCtx(t), "obrecv", []string{key})
	if err != nil {
		t.Fatal(err)
	}
	c, err := actors.Call[int64](obCtx(t), h, "get")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func obWaitHead(t testing.TB, n *obNode) {
	t.Helper()
	head, err := n.log.LastSeq(obCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.r.Wait(obCtx(t), n.outbox.Name(), head); err != nil {
		t.Fatal(err)
	}
}

func TestOutboxDeadLetters(t *testing.T) {
	t.Parallel()
	n := obStart(t, t.TempDir(), OutboxOptions{MaxAttempts: 3, Backoff: time.Millisecond})
	s, r := obHandle(t, n, "obsender", "s"), obHandle(t, n, "obrecv", "r")
	nobody, err := actors.ActorID("obrecv", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	missing := obSend(t, n, s, nobody, "inc")
	rejected := obSend(t, n, s, r.ID, "reject")
	fine := obSend(t, n, s, r.ID, "inc")
	obWaitHead(t, n)

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
			d.Code != tc.code || d.Attempts != tc.attempts || d.Error == "" || string(d.Args) != "[7]" {
			t.Fatalf("dead letter %s = %+v, want target %s action %s code %s after %d attempts", tc.id, d, tc.target, tc.action, tc.code, tc.attempts)
		}
	}
	letters, _, err := n.outbox.DeadLetters(n.r, 10, "")
	if err != nil || len(letters) != 2 || letters[0].EffectID != missing || letters[1].EffectID != rejected {
		t.Fatalf("dead letters = %+v (%v), want %s then %s", letters, err, missing, rejected)
	}
	if st := mustStatus(t, n.r, OutboxName); st.State != StateLive {
		t.Fatalf("outbox state %s (%s), want live", st.State, st.Error)
	}
	if _, found, _ := n.outbox.DeadLetter(n.r, fine); found {
		t.Fatalf("the delivered send %s is a dead letter", fine)
	}
	if c := obCount(t, n, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
}

// TestOutboxRedeliveryTakesEffectOnce folds the log again (Rebuild) with a
// runtime that remembers no delivery of its own: every send is delivered
// again and the receivers answer from the effect IDs they remember.
func TestOutboxRedeliveryTakesEffectOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := obStart(t, dir, OutboxOptions{})
	s, r := obHandle(t, n, "obsender", "s"), obHandle(t, n, "obrecv", "r")
	var ids []string
	for range 5 {
		ids = append(ids, obSend(t, n, s, r.ID, "inc"))
	}
	obWaitHead(t, n)
	n.stop(t)
	n = obStart(t, dir, OutboxOptions{})
	if err := n.r.Rebuild(obCtx(t), OutboxName, nil); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got := obApplied(t, n.log, r.ID, id); got != 1 {
			t.Fatalf("effect %s applied %d times, want 1", id, got)
		}
	}
	if c := obCount(t, n, "r"); c != 35 {
		t.Fatalf("receiver count = %d, want 35", c)
	}
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
	obWaitHead(t, n)
	if got := obApplied(t, n.log, recvID, effectID); got != 1 {
		t.Fatalf("after the restart the send was applied %d times, want 1", got)
	}
	if c := obCount(t, n, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
	// Again, and with the outbox folded over the log once more: still once.
	n.stop(t)
	n = obStart(t, dir, OutboxOptions{})
	obWaitHead(t, n)
	if err := n.r.Rebuild(obCtx(t), OutboxName, nil); err != nil {
		t.Fatal(err)
	}
	if got := obApplied(t, n.log, recvID, effectID); got != 1 {
		t.Fatalf("after a second restart and a rebuild the send was applied %d times, want 1", got)
	}
	if c := obCount(t, n, "r"); c != 7 {
		t.Fatalf("receiver count = %d, want 7", c)
	}
	if st := mustStatus(t, n.r, OutboxName); st.State != StateLive {
		t.Fatalf("outbox state %s (%s), want live", st.State, st.Error)
	}
}

// TestOutboxStopsWhileTheRuntimeIsDown: an outbox that runs while the
// runtime takes no calls stops on the event (failed, nothing skipped) and
// delivers it once resumed with the runtime up.
func TestOutboxStopsWhileTheRuntimeIsDown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, snaps, err := obOpenLog(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Two runtimes in turn over the log: the first sends (its fast path
	// delivers) and stops; the second, not started yet, is the outbox's,
	// and remembers no delivery.
	first, err := actors.NewRuntime(l, snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := actors.NewRuntime(l, snaps, obRegistry(t), actors.RuntimeOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(filepath.Join(dir, "projections"), l, &Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ob := Outbox(rt.DeliverSend, OutboxOptions{Logger: discardLogger(), Backoff: time.Millisecond, UnavailableWait: 20 * time.Millisecond})
	mustRegister(t, r, ob)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = r.Stop(ctx)
		_ = r.Close()
		_ = rt.Stop(ctx)
		_ = snaps.Close()
		_ = l.Close(ctx)
	})

	if err := first.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := &obNode{log: l, rt: first, r: r, outbox: ob}
	s, rv := obHandle(t, n, "obsender", "s"), obHandle(t, n, "obrecv", "r")
	id := obSend(t, n, s, rv.ID, "inc")
	if err := first.Stop(obCtx(t)); err != nil {
		t.Fatal(err)
	}
	seq, _, _ := actors.ParseEffectID(id)
	start(t, r)
	if err := r.Wait(obCtx(t), OutboxName, seq); !errors.Is(err, ErrFailed) {
		t.Fatalf("Wait with the runtime down: %v, want failed", err)
	}
	if st := mustStatus(t, r, OutboxName); st.FailedSeq != seq || st.Checkpoint >= seq {
		t.Fatalf("outbox status %+v, want failed at %d", st, seq)
	}
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Resume(OutboxName); err != nil {
		t.Fatal(err)
	}
	obWaitHead(t, n)
	if got := obApplied(t, l, rv.ID, id); got != 1 {
		t.Fatalf("send applied %d times, want 1", got)
	}
}
