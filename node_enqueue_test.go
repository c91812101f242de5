package rivetflow

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/queues"
)

// enqueueTestRegistry: "nenq" actors enqueue {"n": count} into a queue.
func enqueueTestRegistry(t *testing.T) *actors.Registry {
	t.Helper()
	typ := actors.NewType("nenq", actors.Options[outboxTestState]{}).
		Action("enqueue", actors.Act(func(c *actors.Context[outboxTestState], queue string) (int64, error) {
			c.State.Count++
			return c.State.Count, c.Enqueue(queue, map[string]int64{"n": c.State.Count})
		}))
	reg, err := actors.NewRegistry(typ)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func startEnqueueNode(t *testing.T, dir string) *Node {
	t.Helper()
	n, err := Start(context.Background(), Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Registry: enqueueTestRegistry(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Outbox: projections.OutboxOptions{AckWait: 2 * time.Second, Backoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return n
}

func stopNode(t *testing.T, n *Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// waitOutboxEvents waits until n's outbox acknowledged at least events
// events with effects.
func waitOutboxEvents(t *testing.T, n *Node, events uint64) projections.OutboxCounts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, changed := n.Outbox().Progress()
		if c.Events >= events {
			return c
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("outbox: %+v, want %d events", c, events)
		}
	}
}

// claimAll claims every message of queue (waiting up to wait for the first).
func claimAll(t *testing.T, n *Node, queue string, wait time.Duration) []queues.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := n.Queues().Claim(ctx, queue, queues.ClaimOptions{Max: 100, Wait: wait})
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return msgs
}

// enqueueEffectsIn returns the enqueues the log records.
func enqueueEffectsIn(t *testing.T, l *eventlog.Log) []actors.EnqueueDelivery {
	t.Helper()
	var out []actors.EnqueueDelivery
	if _, err := l.Scan(context.Background(), 1, func(ev *eventlog.Event) error {
		out = append(out, actors.Enqueues(ev)...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// An actor enqueues: the fast path and the outbox both perform it (and a
// third, direct repeat under the same effect ID stands for another node's
// outbox), and the message is claimable exactly once.
func TestNodeEnqueueOnceByFastPathAndOutbox(t *testing.T) {
	t.Parallel()
	n := startEnqueueNode(t, t.TempDir())
	defer stopNode(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, err := n.Queues().Put(ctx, "jobs", queues.Config{}); err != nil {
		t.Fatal(err)
	}
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "nenq", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Action(ctx, "enqueue", "jobs"); err != nil {
		t.Fatal(err)
	}
	if c := waitOutboxEvents(t, n, 1); c.Delivered != 1 || c.DeadLetters != 0 {
		t.Fatalf("outbox %+v, want the enqueue delivered", c)
	}
	effs := enqueueEffectsIn(t, n.Events())
	if len(effs) != 1 {
		t.Fatalf("the log records %+v, want one enqueue", effs)
	}
	if err := n.Queues().EnqueueEffect(ctx, "jobs", effs[0].Body, effs[0].EffectID); err != nil {
		t.Fatal(err)
	}
	msgs := claimAll(t, n, "jobs", 2*time.Second)
	if len(msgs) != 1 || string(msgs[0].Body) != `{"n":1}` {
		t.Fatalf("claimed %+v, want one message {\"n\":1}", msgs)
	}
	if more := claimAll(t, n, "jobs", 300*time.Millisecond); len(more) != 0 {
		t.Fatalf("claimed %d more messages, want none", len(more))
	}
}

// An enqueue into a queue that does not exist is the outbox's dead letter,
// with target "queue:<name>".
func TestNodeEnqueueUnknownQueueIsADeadLetter(t *testing.T) {
	t.Parallel()
	n := startEnqueueNode(t, t.TempDir())
	defer stopNode(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "nenq", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Action(ctx, "enqueue", "nope"); err != nil {
		t.Fatal(err)
	}
	if c := waitOutboxEvents(t, n, 1); c.DeadLetters != 1 {
		t.Fatalf("outbox %+v, want one dead letter", c)
	}
	effs := enqueueEffectsIn(t, n.Events())
	if len(effs) != 1 {
		t.Fatalf("the log records %+v, want one enqueue", effs)
	}
	for {
		dl, ok, err := n.Outbox().DeadLetter(n.Projections(), effs[0].EffectID)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if dl.Target != "queue:nope" || dl.Action != actors.EffectEnqueue || string(dl.Args) != `{"n":1}` || dl.Code != "queue_not_found" {
				t.Fatalf("dead letter %+v", dl)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the dead letter never reached the projection")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// enqueueChildEnv, set to a data dir, makes TestNodeEnqueueCrashChild the
// child of TestNodeEnqueueKillBetweenAckAndFastPath.
const enqueueChildEnv = "RIVETFLOW_ENQUEUE_CRASH_CHILD"

// TestNodeEnqueueCrashChild runs only as the child process: with the crash
// hook on, the acknowledged enqueue kills the process before the fast path.
func TestNodeEnqueueCrashChild(t *testing.T) {
	dir := os.Getenv(enqueueChildEnv)
	if dir == "" {
		t.Skip("the child process of TestNodeEnqueueKillBetweenAckAndFastPath")
	}
	n := startEnqueueNode(t, dir)
	ctx := context.Background()
	if _, _, err := n.Queues().Put(ctx, "jobs", queues.Config{}); err != nil {
		t.Fatal(err)
	}
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "nenq", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.Action(ctx, "enqueue", "jobs")
	t.Fatalf("still alive after the enqueue was acknowledged (err %v)", err)
}

// kill -9 between an acknowledged enqueue and the fast path: after the
// restart the outbox enqueues it, once; a second restart adds nothing.
func TestNodeEnqueueKillBetweenAckAndFastPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestNodeEnqueueCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), enqueueChildEnv+"="+dir, "RIVETFLOW_TEST_CRASH_AFTER_SEND_ACK=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL; output:\n%s", err, out)
	}

	// The log has the acknowledged enqueue; the queue is empty.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	effs := enqueueEffectsIn(t, l)
	qm, err := queues.New(l.JetStream(), nil) // not started: it only reads the counts
	if err != nil {
		t.Fatal(err)
	}
	info, err := qm.Get(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(effs) != 1 || info.Stats.Depth != 0 {
		t.Fatalf("before the restart: log enqueues %+v, queue %+v; want one recorded, none enqueued", effs, info.Stats)
	}

	// Restart: the outbox enqueues it, once.
	n := startEnqueueNode(t, dir)
	if c := waitOutboxEvents(t, n, 1); c.Delivered != 1 {
		stopNode(t, n)
		t.Fatalf("after the restart: %+v, want the enqueue delivered", c)
	}
	info, err = n.Queues().Get(ctx, "jobs")
	if err != nil || info.Stats.Depth != 1 {
		stopNode(t, n)
		t.Fatalf("after the restart: queue %+v (%v), want one message", info.Stats, err)
	}
	stopNode(t, n)

	// Again: nothing comes back, and the message is there once.
	n = startEnqueueNode(t, dir)
	defer stopNode(t, n)
	msgs := claimAll(t, n, "jobs", 2*time.Second)
	if len(msgs) != 1 || string(msgs[0].Body) != `{"n":1}` {
		t.Fatalf("claimed %+v, want one message {\"n\":1}", msgs)
	}
	if more := claimAll(t, n, "jobs", 300*time.Millisecond); len(more) != 0 {
		t.Fatalf("claimed %d more messages, want none", len(more))
	}
	if c, _ := n.Outbox().Progress(); c.Events != 0 {
		t.Fatalf("after a second restart the outbox handled %+v, want nothing", c)
	}
}
