package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// consumerTarget is one way of running two nodes on one stream: two
// Consumer values on one embedded log, or an embedded server and a client
// of it over TCP (the external mode).
type consumerTarget struct {
	name string
	open func(t *testing.T) (a, b *eventlog.Log)
}

func consumerTargets() []consumerTarget {
	return []consumerTarget{
		{"embedded", func(t *testing.T) (*eventlog.Log, *eventlog.Log) {
			l := openLog(t, t.TempDir())
			return l, l
		}},
		{"external", func(t *testing.T) (*eventlog.Log, *eventlog.Log) {
			addr := freeAddr(t)
			server := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.Listen = addr })
			return server, openLog(t, "", func(c *eventlog.Config) { c.URL = "nats://" + addr })
		}},
	}
}

// appendN appends n events to the actor typ/key (a create, then actions)
// and returns their sequences.
func appendN(t testing.TB, l *eventlog.Log, typ, key string, n int) []uint64 {
	t.Helper()
	subj := subjectOf(t, typ, key)
	last := mustLast(t, l, subj)
	var out []uint64
	for i := range n {
		kind := eventlog.KindAction
		if last == 0 {
			kind = eventlog.KindCreate
		}
		seq, err := l.Append(context.Background(), subj, last, &eventlog.Event{Kind: kind, Action: fmt.Sprint("a", i)})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		out = append(out, seq)
		last = seq
	}
	return out
}

// newConsumer binds to a consumer, with short fetches (each stop waits for
// the one in flight) unless cfg sets them.
func newConsumer(t testing.TB, l *eventlog.Log, cfg eventlog.ConsumerConfig) *eventlog.Consumer {
	t.Helper()
	if cfg.FetchWait == 0 {
		cfg.FetchWait = 100 * time.Millisecond
	}
	c, err := l.Consumer(context.Background(), cfg)
	if err != nil {
		t.Fatalf("consumer %s: %v", cfg.Name, err)
	}
	return c
}

// consume runs c.Consume with fn until the returned stop is called (or the
// test ends); stop waits for Consume to return.
func consume(t testing.TB, c *eventlog.Consumer, fn func(ctx context.Context, l *eventlog.Lease)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Consume(ctx, fn); err != nil {
			t.Errorf("Consume: %v", err)
		}
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitPending(t testing.TB, c *eventlog.Consumer, want uint64) {
	t.Helper()
	n, err := c.Pending(testCtx(t))
	if err != nil || n != want {
		t.Fatalf("pending = %d (%v), want %d", n, err, want)
	}
}

// One node alone gets every event once, decoded, in stream order.
func TestConsumerDeliversInOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range consumerTargets() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, _ := tc.open(t)
			var want []uint64
			for a := range 3 {
				want = append(want, appendN(t, l, "ord", fmt.Sprint(a), 5)...)
			}
			c := newConsumer(t, l, eventlog.ConsumerConfig{Name: "ord", Batch: 4})
			got := make(chan *eventlog.Lease, len(want))
			stop := consume(t, c, func(ctx context.Context, l *eventlog.Lease) {
				if err := l.AckSync(ctx); err != nil {
					t.Errorf("ack %d: %v", l.Seq(), err)
				}
				got <- l
			})
			ctx := testCtx(t)
			var prev uint64
			for range want {
				var l *eventlog.Lease
				select {
				case l = <-got:
				case <-ctx.Done():
					t.Fatalf("after %d: %v", prev, ctx.Err())
				}
				ev := l.Event
				if l.Err != nil || ev == nil || ev.Seq <= prev || ev.Subject == "" || ev.Stored.IsZero() || ev.Action == "" || l.Delivered != 1 {
					t.Fatalf("lease after %d: %+v (event %+v)", prev, l, ev)
				}
				prev = ev.Seq
			}
			if prev != want[len(want)-1] {
				t.Fatalf("last seq %d, want %d", prev, want[len(want)-1])
			}
			stop()
			waitPending(t, c, 0)
		})
	}
}

// Two nodes on one consumer name: every event goes to one of them, once.
func TestConsumerSharedByNodes(t *testing.T) {
	t.Parallel()
	for _, tc := range consumerTargets() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			la, lb := tc.open(t)
			const n = 200
			cfg := eventlog.ConsumerConfig{Name: "shared", Batch: 8}
			var mu sync.Mutex
			seen := map[uint64]int{}
			by := map[string]int{}
			all := make(chan struct{})
			handler := func(node string) func(context.Context, *eventlog.Lease) {
				return func(ctx context.Context, l *eventlog.Lease) {
					if err := l.AckSync(ctx); err != nil {
						t.Errorf("%s: ack %d: %v", node, l.Seq(), err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					seen[l.Seq()]++
					by[node]++
					if len(seen) == n {
						close(all)
					}
				}
			}
			ca, cb := newConsumer(t, la, cfg), newConsumer(t, lb, cfg)
			stopA := consume(t, ca, handler("a"))
			stopB := consume(t, cb, handler("b"))
			for w := range 4 {
				appendN(t, []*eventlog.Log{la, lb}[w%2], "sh", fmt.Sprint(w), n/4)
			}
			select {
			case <-all:
			case <-testCtx(t).Done():
				t.Fatalf("saw %d of %d events", len(seen), n)
			}
			stopA()
			stopB()
			for seq, times := range seen {
				if times != 1 {
					t.Errorf("event %d handled %d times", seq, times)
				}
			}
			t.Logf("events per node: %v", by)
			waitPending(t, ca, 0)
		})
	}
}

// A new consumer starts MaxAge back; one that exists keeps its place.
func TestConsumerStartsFromMaxAge(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir())
	old := appendN(t, l, "age", "1", 3)
	recent := newConsumer(t, l, eventlog.ConsumerConfig{Name: "recent", MaxAge: time.Nanosecond})
	everything := newConsumer(t, l, eventlog.ConsumerConfig{Name: "everything", MaxAge: -1})
	fresh := appendN(t, l, "age", "1", 2)

	first := func(c *eventlog.Consumer, ack bool) uint64 {
		t.Helper()
		got := make(chan uint64, 1)
		firstOne := true // fn runs on one goroutine
		stop := consume(t, c, func(ctx context.Context, l *eventlog.Lease) {
			if !firstOne { // the others wait, then are given back in order
				<-ctx.Done()
				return
			}
			firstOne = false
			if ack {
				if err := l.AckSync(ctx); err != nil {
					t.Errorf("ack: %v", err)
				}
			}
			got <- l.Seq()
		})
		defer stop()
		select {
		case seq := <-got:
			return seq
		case <-testCtx(t).Done():
			t.Fatal("no event")
			return 0
		}
	}
	if seq := first(recent, false); seq != fresh[0] {
		t.Fatalf("recent consumer starts at %d, want %d (events before its creation are older than MaxAge)", seq, fresh[0])
	}
	if seq := first(everything, true); seq != old[0] {
		t.Fatalf("consumer without MaxAge starts at %d, want %d", seq, old[0])
	}
	// Bound again with a MaxAge that would skip everything: it keeps its place
	// (an unacknowledged old event; which one comes first depends on when the
	// events the last binding held back are given back).
	again := newConsumer(t, l, eventlog.ConsumerConfig{Name: "everything", MaxAge: time.Nanosecond})
	if seq := first(again, true); seq <= old[0] || seq > old[len(old)-1] {
		t.Fatalf("rebound consumer continues at %d, want one of %v (after the acknowledged %d)", seq, old[1:], old[0])
	}
}

// Nak and a stop give events back at once (AckWait is a minute): a stopped
// node's events go to the other node, delivered once more.
func TestConsumerGivesEventsBack(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir())
	cfg := eventlog.ConsumerConfig{Name: "back", AckWait: time.Minute}
	seqs := appendN(t, l, "back", "1", 5)
	a, b := newConsumer(t, l, cfg), newConsumer(t, l, cfg)

	// a: gives the first event back (Nak), acknowledges the second, holds
	// the third until it stops (the rest wait behind it).
	holding := make(chan struct{})
	var mu sync.Mutex
	var aSaw []string
	stopA := consume(t, a, func(ctx context.Context, l *eventlog.Lease) {
		mu.Lock()
		aSaw = append(aSaw, fmt.Sprint(l.Seq(), "#", l.Delivered))
		mu.Unlock()
		switch l.Seq() {
		case seqs[0]:
			t.Logf("nak %d", l.Seq())
			if err := l.Nak(0); err != nil {
				t.Errorf("nak: %v", err)
			}
		case seqs[1]:
			if err := l.AckSync(ctx); err != nil {
				t.Errorf("ack: %v", err)
			}
		default:
			close(holding)
			<-ctx.Done() // returns unsettled: given back
		}
	})
	select {
	case <-holding:
	case <-testCtx(t).Done():
		t.Fatal("a never got the third event")
	}
	stopA()
	mu.Lock()
	if want := []string{fmt.Sprint(seqs[0], "#1"), fmt.Sprint(seqs[1], "#1"), fmt.Sprint(seqs[2], "#1")}; fmt.Sprint(aSaw) != fmt.Sprint(want) {
		t.Fatalf("a saw %v, want %v", aSaw, want)
	}
	mu.Unlock()

	got := make(chan *eventlog.Lease, 2*len(seqs))
	stopB := consume(t, b, func(ctx context.Context, l *eventlog.Lease) {
		if err := l.AckSync(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
		got <- l
	})
	delivered := map[uint64]uint64{}
	for len(delivered) < len(seqs)-1 {
		select {
		case l := <-got:
			delivered[l.Seq()] = l.Delivered
		case <-testCtx(t).Done():
			t.Fatalf("b got %v, want every event but the second, long before AckWait", delivered)
		}
	}
	stopB()
	for _, seq := range []uint64{seqs[0], seqs[2], seqs[3], seqs[4]} {
		if delivered[seq] < 2 {
			t.Errorf("event %d reached b at delivery %d, want a redelivery", seq, delivered[seq])
		}
	}
	if _, ok := delivered[seqs[1]]; ok {
		t.Fatal("the event a acknowledged came again")
	}
	waitPending(t, b, 0)
}

// InProgress on the event at hand keeps its lease, and those of the events
// fetched with it, well past AckWait: the other node gets none of them.
func TestConsumerInProgressKeepsLeases(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir())
	const ackWait = 300 * time.Millisecond
	cfg := eventlog.ConsumerConfig{Name: "lease", AckWait: ackWait}
	seqs := appendN(t, l, "lease", "1", 3)
	a, b := newConsumer(t, l, cfg), newConsumer(t, l, cfg)

	var mu sync.Mutex
	var bGot []uint64
	held := make(chan struct{})
	acked := make(chan uint64, len(seqs))
	stopA := consume(t, a, func(ctx context.Context, l *eventlog.Lease) {
		if l.Seq() == seqs[0] {
			close(held)
			// Hold the event for several AckWaits (the lease is what is tested).
			tick := time.NewTicker(ackWait / 3)
			defer tick.Stop()
			for range 10 {
				<-tick.C
				if err := l.InProgress(); err != nil {
					t.Errorf("in progress: %v", err)
				}
			}
		}
		if l.Delivered != 1 {
			t.Errorf("event %d delivered %d times to a", l.Seq(), l.Delivered)
		}
		if err := l.AckSync(ctx); err != nil {
			t.Errorf("ack: %v", err)
		}
		acked <- l.Seq()
	})
	<-held
	// b starts only now: all three events were fetched by a at once.
	stopB := consume(t, b, func(ctx context.Context, l *eventlog.Lease) {
		mu.Lock()
		bGot = append(bGot, l.Seq())
		mu.Unlock()
		_ = l.AckSync(ctx)
	})
	for range seqs {
		select {
		case <-acked:
		case <-testCtx(t).Done():
			t.Fatal("a did not finish")
		}
	}
	stopA()
	stopB()
	mu.Lock()
	defer mu.Unlock()
	if len(bGot) != 0 {
		t.Fatalf("b got %v while a held them", bGot)
	}
}

// An event that does not decode comes with Err, not Event; Term drops it.
func TestConsumerUndecodableEvent(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir())
	ack, err := l.JetStream().Publish(testCtx(t), subjectOf(t, "bad", "1"), []byte{0xff, 0x00})
	if err != nil {
		t.Fatal(err)
	}
	c := newConsumer(t, l, eventlog.ConsumerConfig{Name: "bad"})
	got := make(chan *eventlog.Lease, 1)
	stop := consume(t, c, func(ctx context.Context, l *eventlog.Lease) {
		if err := l.Term("test"); err != nil {
			t.Errorf("term: %v", err)
		}
		got <- l
	})
	var lease *eventlog.Lease
	select {
	case lease = <-got:
	case <-testCtx(t).Done():
		t.Fatal("no lease")
	}
	stop()
	if lease.Event != nil || !errors.Is(lease.Err, eventlog.ErrCorruptEvent) || lease.Seq() != ack.Sequence {
		t.Fatalf("lease = %+v, want seq %d with a corrupt-event error", lease, ack.Sequence)
	}
}

// Binding with other lease settings updates them; bad configs are refused.
func TestConsumerConfig(t *testing.T) {
	t.Parallel()
	l := openLog(t, t.TempDir())
	newConsumer(t, l, eventlog.ConsumerConfig{Name: "cfg", AckWait: 30 * time.Second, MaxAckPending: 10})
	newConsumer(t, l, eventlog.ConsumerConfig{Name: "cfg", AckWait: 7 * time.Second, MaxAckPending: 20})
	cons, err := l.JetStream().Consumer(testCtx(t), eventlog.DefaultStream, "cfg")
	if err != nil {
		t.Fatal(err)
	}
	cc := cons.CachedInfo().Config
	if cc.AckWait != 7*time.Second || cc.MaxAckPending != 20 || cc.MaxDeliver != -1 || cc.FilterSubject != eventlog.SubjectPrefix+".>" {
		t.Fatalf("consumer config %+v", cc)
	}
	for _, bad := range []eventlog.ConsumerConfig{
		{},
		{Name: "a.b"},
		{Name: "x", AckWait: time.Millisecond},
		{Name: "x", MaxAckPending: 5, Batch: 10},
	} {
		if _, err := l.Consumer(testCtx(t), bad); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
}
