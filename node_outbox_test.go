package rivetflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
)

type outboxTestState struct {
	Count int64 `json:"count"`
}

// outboxTestRegistry: senders send inc(1) one way to a receiver.
func outboxTestRegistry(t *testing.T) *actors.Registry {
	t.Helper()
	sender := actors.NewType("nsender", actors.Options[outboxTestState]{}).
		Action("send", actors.Act(func(c *actors.Context[outboxTestState], target string) (int64, error) {
			c.State.Count++
			return c.State.Count, c.Send(target, "inc", 1)
		}))
	recv := actors.NewType("nrecv", actors.Options[outboxTestState]{}).
		Action("inc", actors.Act(func(c *actors.Context[outboxTestState], n int64) (int64, error) {
			c.State.Count += n
			return c.State.Count, nil
		})).
		Action("get", actors.Act0(func(c *actors.Context[outboxTestState]) (int64, error) { return c.State.Count, nil }))
	reg, err := actors.NewRegistry(sender, recv)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// Two nodes on one NATS server (A embedded and listening, B connected to
// it), actors on both sending many one-way messages to receivers both wake:
// every send is applied once, and over both nodes the outbox handled each
// send-carrying event exactly once.
func TestOutboxTwoNodesHandleEachSendOnce(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	outbox := projections.OutboxOptions{MaxAttempts: 100, Backoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	startNode := func(logCfg eventlog.Config) *Node {
		t.Helper()
		n, err := Start(context.Background(), Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Log: logCfg,
			Registry: outboxTestRegistry(t), Outbox: outbox, Logger: logger})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return n
	}
	a := startNode(eventlog.Config{Listen: addr})
	b := startNode(eventlog.Config{URL: "nats://" + addr})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil { // B first: A runs the server
			t.Errorf("stop b: %v", err)
		}
		if err := a.Stop(ctx); err != nil {
			t.Errorf("stop a: %v", err)
		}
	})
	nodes := []*Node{a, b}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const sendersPerNode, sendsPerSender, receivers = 4, 25, 3
	var recvIDs []string
	for i := range receivers {
		id, err := actors.ActorID("nrecv", []string{fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := a.Runtime().Client().GetOrCreate(ctx, "nrecv", []string{fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
		recvIDs = append(recvIDs, id)
	}
	errs := make(chan error, len(nodes)*sendersPerNode)
	for ni, n := range nodes {
		for s := range sendersPerNode {
			go func() {
				h, _, err := n.Runtime().Client().GetOrCreate(ctx, "nsender", []string{fmt.Sprint(ni, "-", s)}, nil)
				for i := 0; err == nil && i < sendsPerSender; i++ {
					_, err = h.Action(ctx, "send", recvIDs[(s+i)%receivers])
				}
				errs <- err
			}()
		}
	}
	for range len(nodes) * sendersPerNode {
		if err := <-errs; err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	const sends = 2 * sendersPerNode * sendsPerSender

	// Wait until both outboxes together acknowledged every send's event.
	for {
		ca, changedA := a.Outbox().Progress()
		cb, changedB := b.Outbox().Progress()
		if ca.Events+cb.Events >= sends {
			break
		}
		select {
		case <-changedA:
		case <-changedB:
		case <-ctx.Done():
			t.Fatalf("outbox events handled: a %+v, b %+v; want %d in all", ca, cb, sends)
		}
	}
	// Then nothing is left or in work anywhere, so the counts are final.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := a.Outbox().Status(ctx)
		if err == nil && st.Pending == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("outbox still pending: %+v (%v)", st, err)
		}
	}
	var handled, events uint64
	for i, n := range nodes {
		c, _ := n.Outbox().Progress()
		if c.DeadLetters != 0 || c.SkippedOld != 0 {
			t.Errorf("node %d: %+v, want every send delivered", i, c)
		}
		handled += c.Delivered + c.AlreadyDelivered + c.DeadLetters
		events += c.Events
		var metric float64
		for _, result := range []string{"delivered", "already_delivered", "dead_letter"} {
			metric += outboxEffects(t, n, result)
		}
		if metric != float64(c.Delivered+c.AlreadyDelivered+c.DeadLetters) {
			t.Errorf("node %d: metric says %v sends, status %+v", i, metric, c)
		}
		t.Logf("node %d handled %+v", i, c)
	}
	if handled != sends || events != sends {
		t.Fatalf("both outboxes handled %d sends in %d events, want %d each: each exactly once", handled, events, sends)
	}

	// Every send was applied once by its receiver.
	want := map[string]bool{}
	if _, err := a.Events().Scan(ctx, 1, func(ev *eventlog.Event) error {
		for _, d := range actors.Sends(ev) {
			want[d.EffectID] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(want) != sends {
		t.Fatalf("the log holds %d sends, want %d", len(want), sends)
	}
	applied := map[string]int{}
	var total int64
	for i, id := range recvIDs {
		evs, err := a.Events().ReadActor(ctx, eventlog.SubjectPrefix+"."+id, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.CallID != "" {
				applied[ev.CallID]++
			}
		}
		h, err := b.Runtime().Client().Get(ctx, "nrecv", []string{fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		// Both nodes woke the receiver: a stale copy meets a conflict once,
		// and reloads.
		c, err := actors.Call[int64](ctx, h, "get")
		if errors.Is(err, actors.ErrConflict) {
			c, err = actors.Call[int64](ctx, h, "get")
		}
		if err != nil {
			t.Fatal(err)
		}
		total += c
	}
	for id := range want {
		if applied[id] != 1 {
			t.Errorf("send %s applied %d times, want 1", id, applied[id])
		}
	}
	if len(applied) != sends || total != sends {
		t.Fatalf("receivers applied %d distinct sends, counting %d; want %d", len(applied), total, sends)
	}
}

// outboxEffects reads a node's rivetflow_outbox_effects_total{result}.
func outboxEffects(t *testing.T, n *Node, result string) float64 {
	t.Helper()
	mfs, err := n.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rivetflow_outbox_effects_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
