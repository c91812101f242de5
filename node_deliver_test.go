package rivetflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/internal/startstop/startstoptest"
	"github.com/rivet-flow/rivet-flow/queues"
)

// Actor-bound delivery (queues.Deliverer) against a real node. Until the
// node runs its own Deliverer, each test starts one on the node's Manager
// and Runtime.

type deliverTestState struct {
	Got []int `json:"got"`
}

type deliverTestMsg struct {
	To      any  `json:"to"`
	N       int  `json:"n"`
	Fail    bool `json:"fail,omitempty"`
	SleepMs int  `json:"sleepMs,omitempty"`
}

// deliverTestRegistry: "ndel" actors record the n of each message taken
// (take), in order; take fails for a message with "fail", and takes
// sleepMs. fanout(queue, keys) enqueues a message for each key, keyed;
// enqueueDelayed(queue) one with a key, priority 1 and a 400ms delay.
func deliverTestRegistry(t *testing.T) *actors.Registry {
	t.Helper()
	typ := actors.NewType("ndel", actors.Options[deliverTestState]{}).
		Action("take", actors.Act(func(c *actors.Context[deliverTestState], m deliverTestMsg) (int, error) {
			if m.Fail {
				return 0, errors.New("refused")
			}
			time.Sleep(time.Duration(m.SleepMs) * time.Millisecond)
			c.State.Got = append(c.State.Got, m.N)
			return len(c.State.Got), nil
		})).
		Action("fanout", actors.Act2(func(c *actors.Context[deliverTestState], queue string, to []string) (int, error) {
			for i, k := range to {
				if err := c.Enqueue(queue, deliverTestMsg{To: k, N: i}, actors.EnqueueOptions{Key: "to:" + k, Priority: 2}); err != nil {
					return 0, err
				}
			}
			return len(to), nil
		})).
		Action("enqueueDelayed", actors.Act(func(c *actors.Context[deliverTestState], queue string) (int, error) {
			return 0, c.Enqueue(queue, deliverTestMsg{N: 1}, actors.EnqueueOptions{Key: "k", Priority: 1, Delay: 400 * time.Millisecond})
		})).
		Action("got", actors.Act0(func(c *actors.Context[deliverTestState]) ([]int, error) { return c.State.Got, nil }))
	reg, err := actors.NewRegistry(typ)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// startDeliverNode starts a node (stopped when the test ends) and a
// its Deliverer (polling fast for tests).
func startDeliverNode(t *testing.T) (*Node, *queues.Deliverer) {
	t.Helper()
	n, err := Start(context.Background(), Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Registry: deliverTestRegistry(t), Logger: quietLogger, Deliver: *testDelivererOptions()})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { stopNode(t, n) })
	return n, n.Deliverer()
}

// startDeliverer returns the node's Deliverer (the node starts it; a
// queue it must not touch yet is left unbound until then).
func startDeliverer(t *testing.T, n *Node) *queues.Deliverer {
	t.Helper()
	return n.Deliverer()
}

func testDelivererOptions() *queues.DelivererOptions {
	return &queues.DelivererOptions{Logger: quietLogger, Poll: 100 * time.Millisecond, ClaimWait: 500 * time.Millisecond}
}

func deliverCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// putBound creates queue name bound to ndel.take by "/to".
func putBound(t *testing.T, n *Node, name string, cfg queues.Config) {
	t.Helper()
	if cfg.DeliverTo == nil {
		cfg.DeliverTo = &queues.DeliverTo{Type: "ndel", KeyFrom: "/to", Action: "take"}
	}
	if _, _, err := n.Queues().Put(deliverCtx(t), name, cfg); err != nil {
		t.Fatal(err)
	}
}

func enqueueMsg(t *testing.T, n *Node, queue string, m deliverTestMsg) string {
	t.Helper()
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Queues().Enqueue(deliverCtx(t), queue, body, queues.EnqueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// gotOf is what actor ndel/key took (nil if it does not exist).
func gotOf(t *testing.T, n *Node, key ...string) []int {
	t.Helper()
	ctx := deliverCtx(t)
	h, err := n.Runtime().Client().Get(ctx, "ndel", key)
	if errors.Is(err, actors.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err := actors.Call[[]int](ctx, h, "got")
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// eventually polls cond until it holds, or fails the test with what().
func eventually(t *testing.T, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueSettled waits until queue holds nothing waiting or in flight.
func queueSettled(t *testing.T, n *Node, queue string) queues.Stats {
	t.Helper()
	var st queues.Stats
	eventually(t, func() string { return fmt.Sprintf("queue %s: %+v, want empty", queue, st) }, func() bool {
		info, err := n.Queues().Get(deliverCtx(t), queue)
		if err != nil {
			t.Fatal(err)
		}
		st = info.Stats
		return st.Depth == 0 && st.InFlight == 0
	})
	return st
}

// Messages for several actors (keys of one part and of two) are each
// delivered once, in enqueue order per actor, and acked.
func TestNodeDeliverToActorsOncePerMessageInOrder(t *testing.T) {
	t.Parallel()
	n, d := startDeliverNode(t)
	putBound(t, n, "inbox", queues.Config{})
	keys := []any{"a", "b", "c", []string{"multi", "part"}}
	const per = 25
	for i := range per {
		for _, k := range keys {
			enqueueMsg(t, n, "inbox", deliverTestMsg{To: k, N: i})
		}
	}
	want := make([]int, per)
	for i := range want {
		want[i] = i
	}
	for _, k := range keys {
		key, ok := k.([]string)
		if !ok {
			key = []string{k.(string)}
		}
		var got []int
		eventually(t, func() string { return fmt.Sprintf("actor %v took %v, want %v", key, got, want) }, func() bool {
			got = gotOf(t, n, key...)
			return len(got) >= per
		})
		if !slices.Equal(got, want) {
			t.Fatalf("actor %v took %v, want %v (each once, in order)", key, got, want)
		}
	}
	if st := queueSettled(t, n, "inbox"); st.DeadLetters != 0 {
		t.Fatalf("queue %+v, want no dead letters", st)
	}
	if s := d.Stats(); s.Delivered != int64(per*len(keys)) || s.Failed != 0 || s.DeadLettered != 0 {
		t.Fatalf("deliverer stats %+v, want %d delivered", s, per*len(keys))
	}
}

// A message delivered and committed whose ack was lost (here: delivered by
// hand under the Deliverer's idempotency key, then released as a crash
// would leave it) is delivered again and acked, and takes effect once.
func TestNodeDeliverRedeliveryTakesEffectOnce(t *testing.T) {
	t.Parallel()
	n, _ := startDeliverNode(t)
	ctx := deliverCtx(t)
	// Unbound while the test plays the first delivery, then bound.
	if _, _, err := n.Queues().Put(ctx, "inbox", queues.Config{}); err != nil {
		t.Fatal(err)
	}
	id := enqueueMsg(t, n, "inbox", deliverTestMsg{To: "a", N: 1})
	msgs, err := n.Queues().Claim(ctx, "inbox", queues.ClaimOptions{Max: 1, Wait: 10 * time.Second})
	if err != nil || len(msgs) != 1 || msgs[0].ID != id {
		t.Fatalf("claim: %+v (%v), want message %s", msgs, err, id)
	}
	key, err := n.Queues().DeliveryIdempotencyKey(ctx, "inbox", id)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "ndel", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.ActionJSON(actors.WithIdempotencyKey(ctx, key), "take", json.RawMessage("["+string(msgs[0].Body)+"]")); err != nil {
		t.Fatal(err)
	}
	zero := time.Duration(0)
	if _, err := n.Queues().Nack(ctx, "inbox", []string{msgs[0].Receipt}, &zero); err != nil {
		t.Fatal(err)
	}

	if _, err := n.Queues().Update(ctx, "inbox", queues.Patch{DeliverTo: &queues.DeliverTo{Type: "ndel", KeyFrom: "/to", Action: "take"}}); err != nil {
		t.Fatal(err)
	}
	d := startDeliverer(t, n)
	eventually(t, func() string { return fmt.Sprintf("stats %+v, want 1 delivered", d.Stats()) }, func() bool {
		return d.Stats().Delivered == 1
	})
	queueSettled(t, n, "inbox")
	if got := gotOf(t, n, "a"); !slices.Equal(got, []int{1}) {
		t.Fatalf("actor took %v, want [1]: the redelivery took effect again", got)
	}
	// Later messages still take effect.
	enqueueMsg(t, n, "inbox", deliverTestMsg{To: "a", N: 2})
	var got []int
	eventually(t, func() string { return fmt.Sprintf("actor took %v, want [1 2]", got) }, func() bool {
		got = gotOf(t, n, "a")
		return len(got) >= 2
	})
	if !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("actor took %v, want [1 2]", got)
	}
}

// A message naming no actor key is a dead letter at once; one whose call
// keeps failing is one after maxDeliveries.
func TestNodeDeliverDeadLetters(t *testing.T) {
	t.Parallel()
	n, d := startDeliverNode(t)
	ctx := deliverCtx(t)
	putBound(t, n, "inbox", queues.Config{MaxDeliveries: 2})
	noKey := enqueueMsg(t, n, "inbox", deliverTestMsg{N: 1})
	numKey := enqueueMsg(t, n, "inbox", deliverTestMsg{To: 7, N: 2})
	failing := enqueueMsg(t, n, "inbox", deliverTestMsg{To: "a", N: 3, Fail: true})
	var page queues.DeadLetterPage
	eventually(t, func() string { return fmt.Sprintf("dead letters %+v, want 3", page.Items) }, func() bool {
		var err error
		if page, err = n.Queues().ListDeadLetters(ctx, "inbox", 10, ""); err != nil {
			t.Fatal(err)
		}
		return len(page.Items) >= 3
	})
	byID := map[string]queues.DeadLetter{}
	for _, dl := range page.Items {
		byID[dl.MessageID] = dl
	}
	for _, c := range []struct {
		id, reason string
		attempts   int
	}{{noKey, queues.ReasonNoActorKey, 1}, {numKey, queues.ReasonNoActorKey, 1}, {failing, queues.ReasonMaxDeliveries, 2}} {
		if dl := byID[c.id]; dl.Reason != c.reason || dl.Attempts != c.attempts {
			t.Errorf("message %s: dead letter %+v, want reason %s after %d attempts", c.id, dl, c.reason, c.attempts)
		}
	}
	if st := queueSettled(t, n, "inbox"); st.DeadLetters != 3 {
		t.Fatalf("queue %+v, want 3 dead letters", st)
	}
	if got := gotOf(t, n, "a"); len(got) != 0 {
		t.Fatalf("actor took %v, want nothing", got)
	}
	if s := d.Stats(); s.DeadLettered != 2 || s.Failed != 2 || s.Delivered != 0 {
		t.Fatalf("stats %+v, want 2 dead-lettered at once and 2 failed calls", s)
	}
}

// A binding to an action the registry does not have is not consumed: its
// messages wait. Once the binding is fixed (PATCH), they are delivered.
func TestNodeDeliverMisconfiguredBindingWaitsForAFix(t *testing.T) {
	t.Parallel()
	n, _ := startDeliverNode(t)
	ctx := deliverCtx(t)
	putBound(t, n, "inbox", queues.Config{DeliverTo: &queues.DeliverTo{Type: "ndel", KeyFrom: "/to", Action: "nope"}})
	enqueueMsg(t, n, "inbox", deliverTestMsg{To: "a", N: 1})
	time.Sleep(500 * time.Millisecond) // a few of the Deliverer's polls
	info, err := n.Queues().Get(ctx, "inbox")
	if err != nil {
		t.Fatal(err)
	}
	if info.Stats.Depth != 1 || info.Stats.InFlight != 0 {
		t.Fatalf("queue %+v, want the message waiting, unclaimed", info.Stats)
	}
	if _, err := n.Queues().Update(ctx, "inbox", queues.Patch{DeliverTo: &queues.DeliverTo{Type: "ndel", KeyFrom: "/to", Action: "take"}}); err != nil {
		t.Fatal(err)
	}
	var got []int
	eventually(t, func() string { return fmt.Sprintf("actor took %v, want [1]", got) }, func() bool {
		got = gotOf(t, n, "a")
		return len(got) >= 1
	})
	if !slices.Equal(got, []int{1}) {
		t.Fatalf("actor took %v, want [1]", got)
	}
	// Unbinding stops the delivery: a new message waits.
	if _, err := n.Queues().Update(ctx, "inbox", queues.Patch{ClearDeliverTo: true}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return "the Deliverer still delivers the unbound queue" }, func() bool {
		return !n.Deliverer().Delivering("inbox")
	})
	// A long poll the stopped worker had open ends within its ClaimWait.
	time.Sleep(testDelivererOptions().ClaimWait)
	enqueueMsg(t, n, "inbox", deliverTestMsg{To: "a", N: 2})
	time.Sleep(700 * time.Millisecond)
	if got := gotOf(t, n, "a"); !slices.Equal(got, []int{1}) {
		t.Fatalf("after unbinding the actor took %v, want [1]", got)
	}
	msgs, err := n.Queues().Claim(ctx, "inbox", queues.ClaimOptions{Max: 10, Wait: 5 * time.Second})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim after unbinding: %+v (%v), want the message", msgs, err)
	}
}

// A call longer than the queue's lease is not delivered twice: the
// Deliverer extends the lease while the call runs.
func TestNodeDeliverExtendsTheLeaseOfALongCall(t *testing.T) {
	t.Parallel()
	n, d := startDeliverNode(t)
	putBound(t, n, "slow", queues.Config{AckWaitMs: 300})
	enqueueMsg(t, n, "slow", deliverTestMsg{To: "a", N: 1, SleepMs: 1200}) // 4 leases
	eventually(t, func() string { return fmt.Sprintf("stats %+v, want a delivery", d.Stats()) }, func() bool {
		return d.Stats().Delivered > 0
	})
	queueSettled(t, n, "slow")
	time.Sleep(500 * time.Millisecond) // a redelivery would come now
	if got := gotOf(t, n, "a"); !slices.Equal(got, []int{1}) {
		t.Fatalf("actor took %v, want [1]", got)
	}
	if s := d.Stats(); s.Delivered != 1 {
		t.Fatalf("stats %+v, want one delivery (a lease lost delivers it again)", s)
	}
}

// The Deliverer keeps the lifecycle contract under concurrent Start and
// Stop.
func TestNodeDeliverStartStopStress(t *testing.T) {
	t.Parallel()
	n, _ := startDeliverNode(t)
	putBound(t, n, "inbox", queues.Config{})
	d, err := queues.NewDeliverer(n.Queues(), n.Runtime(), testDelivererOptions())
	if err != nil {
		t.Fatal(err)
	}
	startstoptest.StressWith(context.Background(), t, d, startstoptest.Config{Goroutines: 4, Iterations: 20})
}

// An actor fans out through an actor-bound queue: its enqueues (effects,
// with options) reach every target actor once.
func TestNodeDeliverFanOutFromAnActor(t *testing.T) {
	t.Parallel()
	n, _ := startDeliverNode(t)
	ctx := deliverCtx(t)
	putBound(t, n, "inbox", queues.Config{})
	src, _, err := n.Runtime().Client().GetOrCreate(ctx, "ndel", []string{"src"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"}
	if _, err := src.Action(ctx, "fanout", "inbox", targets); err != nil {
		t.Fatal(err)
	}
	for i, k := range targets {
		var got []int
		eventually(t, func() string { return fmt.Sprintf("actor %s took %v, want [%d]", k, got, i) }, func() bool {
			got = gotOf(t, n, k)
			return len(got) >= 1
		})
		if !slices.Equal(got, []int{i}) {
			t.Fatalf("actor %s took %v, want [%d]", k, got, i)
		}
	}
	queueSettled(t, n, "inbox")
}

// c.Enqueue's options reach the queue: key, priority and delay.
func TestNodeEnqueueWithOptions(t *testing.T) {
	t.Parallel()
	n, _ := startDeliverNode(t)
	ctx := deliverCtx(t)
	if _, _, err := n.Queues().Put(ctx, "plain", queues.Config{}); err != nil {
		t.Fatal(err)
	}
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "ndel", []string{"src"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := h.Action(ctx, "enqueueDelayed", "plain"); err != nil {
		t.Fatal(err)
	}
	msgs, err := n.Queues().Claim(ctx, "plain", queues.ClaimOptions{Max: 1, Wait: 10 * time.Second})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim: %+v (%v)", msgs, err)
	}
	if m := msgs[0]; m.Key != "k" || m.Priority != 1 || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("claimed %+v after %s, want key k, priority 1, after 400ms", m, time.Since(start))
	}
}
