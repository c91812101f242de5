package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// sendTypes are a sender whose actions send one way, and a receiver (the
// basic ft actions plus pong, which sends back).
func sendTypes() (*actors.Type[ftState], *actors.Type[ftState]) {
	sender := ftType("ftsender", actors.Options[ftState]{}).
		// send sends inc(n) to target.
		Action("send", actors.Act2(func(c *actors.Context[ftState], target string, n int64) (int64, error) {
			c.State.Count++
			return 0, c.Send(target, "inc", n)
		})).
		// sendThenFail sends, then fails: nothing may be sent.
		Action("sendThenFail", actors.Act(func(c *actors.Context[ftState], target string) (int64, error) {
			if err := c.Send(target, "inc", 1); err != nil {
				return 0, err
			}
			return 0, errors.New("changed my mind")
		})).
		// trySend reports the code of the error Send returns, recording nothing.
		Action("trySend", actors.Act2(func(c *actors.Context[ftState], target, action string) (string, error) {
			var args []any
			if action == "inc-unencodable" {
				action, args = "inc", []any{func() {}}
			}
			err := c.Send(target, action, args...)
			var re *actors.Error
			if errors.As(err, &re) {
				return re.Code, nil
			}
			return fmt.Sprint(err), nil
		})).
		// ping sends pong to target, which sends inc back: a callback.
		Action("ping", actors.Act(func(c *actors.Context[ftState], target string) (int64, error) {
			return 0, c.Send(target, "pong", c.ActorID())
		}))
	recv := ftType("ftrecv", actors.Options[ftState]{}).
		Action("pong", actors.Act(func(c *actors.Context[ftState], from string) (int64, error) {
			c.State.Count++
			return 0, c.Send(from, "inc", int64(100))
		}))
	return sender, recv
}

// sendEvents returns the receiver's events applied under effectID.
func sendEvents(t testing.TB, b *bundle, id, effectID string) []*eventlog.Event {
	t.Helper()
	var out []*eventlog.Event
	for _, ev := range ftEvents(t, b, id) {
		if ev.CallID == effectID {
			out = append(out, ev)
		}
	}
	return out
}

// waitApplied waits until the receiver has an event under effectID.
func waitApplied(t testing.TB, b *bundle, id, effectID string) {
	t.Helper()
	ftEventually(t, "effect "+effectID+" applied on "+id, func() bool { return len(sendEvents(t, b, id, effectID)) > 0 })
}

func TestFeatureSendDeliversOnceAfterTheAck(t *testing.T) {
	t.Parallel()
	sender, recv := sendTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftsender", "s"), ftCreate(t, b, "ftrecv", "r")

	ftCall[int64](t, s, "send", r.ID, 5)
	seq := ftLastSeq(t, b, s.ID)
	evs := ftEvents(t, b, s.ID)
	last := evs[len(evs)-1]
	if len(last.Effects) != 1 || last.Effects[0].Type != actors.EffectSend {
		t.Fatalf("sender's event effects = %+v, want one send", last.Effects)
	}
	eff, err := actors.DecodeSend(last.Effects[0].Data)
	if err != nil || eff.Target != r.ID || eff.Action != "inc" || string(eff.Args) != "[5]" {
		t.Fatalf("send effect = %+v (%v)", eff, err)
	}
	id := actors.EffectID(seq, 0)
	waitApplied(t, b, r.ID, id)
	got := sendEvents(t, b, r.ID, id)
	if len(got) != 1 || got[0].Caller != "actor:"+s.ID || got[0].Action != "inc" {
		t.Fatalf("receiver's events under %s = %+v, want one inc from actor:%s", id, got, s.ID)
	}
	if n := ftCall[int64](t, r, "get"); n != 5 {
		t.Fatalf("receiver count = %d, want 5", n)
	}

	// A redelivery (the outbox's, here by hand), twice and at once from many
	// goroutines, takes no effect.
	d := actors.Sends(last)[0]
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := b.rt.DeliverSend(ftCtx(t), d); err != nil {
				t.Errorf("DeliverSend again: %v", err)
			}
		}()
	}
	wg.Wait()
	// After a restart the runtime remembers nothing it delivered: the
	// receiver's remembered effect IDs answer.
	b.restart(t)
	for range 2 {
		if err := b.rt.DeliverSend(ftCtx(t), d); err != nil {
			t.Fatalf("DeliverSend after restart: %v", err)
		}
	}
	if got := sendEvents(t, b, r.ID, id); len(got) != 1 {
		t.Fatalf("%d events under %s after redeliveries, want 1", len(got), id)
	}
	r, _ = b.rt.Client().Get(ftCtx(t), "ftrecv", []string{"r"})
	if n := ftCall[int64](t, r, "get"); n != 5 {
		t.Fatalf("receiver count after redeliveries = %d, want 5", n)
	}
}

func TestFeatureSendRedeliveryRacesTakeEffectOnce(t *testing.T) {
	t.Parallel()
	sender, recv := sendTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftsender", "s"), ftCreate(t, b, "ftrecv", "r")
	// Deliveries of effects no event recorded (IDs far ahead of the log),
	// each from several goroutines at once, across two runtimes' worth of
	// trackers (a restart in between): each runs once.
	const effects = 20
	for round := range 2 {
		var wg sync.WaitGroup
		for e := range effects {
			d := actors.Delivery{EffectID: actors.EffectID(1_000_000+uint64(e), 0), From: s.ID,
				SendEffect: actors.SendEffect{Target: r.ID, Action: "inc", Args: []byte("[1]")}}
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := b.rt.DeliverSend(ftCtx(t), d); err != nil {
						t.Errorf("DeliverSend: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		if round == 0 {
			b.restart(t)
		}
	}
	r, _ = b.rt.Client().Get(ftCtx(t), "ftrecv", []string{"r"})
	if n := ftCall[int64](t, r, "get"); n != effects {
		t.Fatalf("receiver count = %d, want %d", n, effects)
	}
}

func TestFeatureSendValidatesAndNeedsTheAck(t *testing.T) {
	t.Parallel()
	sender, recv := sendTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftsender", "s"), ftCreate(t, b, "ftrecv", "r")
	unknownType, err := actors.ActorID("nosuchtype", []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ target, action, code string }{
		{"not an id", "inc", "invalid_actor_id"},
		{unknownType, "inc", "actor_type_not_found"},
		{r.ID, "nosuchaction", "action_not_found"},
		{r.ID, "inc-unencodable", "invalid_args"},
	} {
		if code := ftCall[string](t, s, "trySend", tc.target, tc.action); code != tc.code {
			t.Errorf("Send(%q, %q): code %q, want %q", tc.target, tc.action, code, tc.code)
		}
	}
	if _, err := s.Action(ftCtx(t), "sendThenFail", r.ID); err == nil {
		t.Fatal("sendThenFail succeeded")
	}
	for _, ev := range ftEvents(t, b, s.ID) {
		if len(ev.Effects) > 0 {
			t.Fatalf("event %d (%s) records effects %+v, want none", ev.Seq, ev.Action, ev.Effects)
		}
	}
	// A send to an actor that does not exist is undeliverable.
	nobody, err := actors.ActorID("ftrecv", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	d := actors.Delivery{EffectID: "7/0", From: s.ID, SendEffect: actors.SendEffect{Target: nobody, Action: "inc", Args: []byte("[1]")}}
	if err := b.rt.DeliverSend(ftCtx(t), d); !errors.Is(err, actors.ErrNotFound) || !actors.Undeliverable(err) {
		t.Fatalf("DeliverSend to a missing actor: %v, want undeliverable actor_not_found", err)
	}
	d.Target, d.EffectID = r.ID, "bad"
	if err := b.rt.DeliverSend(ftCtx(t), d); !actors.Undeliverable(err) {
		t.Fatalf("DeliverSend with effect ID %q: %v, want undeliverable", d.EffectID, err)
	}
	if n := ftCall[int64](t, r, "get"); n != 0 {
		t.Fatalf("receiver count = %d, want 0", n)
	}
}

func TestFeatureSendCallsBack(t *testing.T) {
	t.Parallel()
	sender, recv := sendTypes()
	b := ftSetup(t, nil, sender, recv)
	s, r := ftCreate(t, b, "ftsender", "s"), ftCreate(t, b, "ftrecv", "r")
	ftCall[int64](t, s, "ping", r.ID) // s -> r.pong -> s.inc(100): no call cycle
	ftEventually(t, "the callback arrived", func() bool {
		for _, ev := range ftEvents(t, b, s.ID) {
			if ev.Action == "inc" && ev.Caller == "actor:"+r.ID {
				return true
			}
		}
		return false
	})
	if n := ftCall[int64](t, s, "get"); n != 100 {
		t.Fatalf("sender count = %d, want 100", n)
	}
}

// sendBenchSink receives the token of every committed hit (from WaitUntil,
// which runs once the receiver's event is appended).
var sendBenchSink atomic.Pointer[func(token int64)]

func sendBenchTypes() (*actors.Type[ftState], *actors.Type[ftState]) {
	src := actors.NewType[ftState]("ftbsrc", actors.Options[ftState]{}).
		Action("send", actors.Act2(func(c *actors.Context[ftState], target string, token int64) (int64, error) {
			return 0, c.Send(target, "hit", token)
		})).
		Action("call", actors.Act2(func(c *actors.Context[ftState], target string, token int64) (int64, error) {
			h, err := c.Client().Ref(target)
			if err != nil {
				return 0, err
			}
			_, err = h.Action(c.Context(), "hit", token)
			return 0, err
		}))
	sink := actors.NewType[ftState]("ftbsink", actors.Options[ftState]{}).
		Action("hit", actors.Act(func(c *actors.Context[ftState], token int64) (int64, error) {
			c.State.Count++
			c.WaitUntil(func(context.Context) {
				if f := sendBenchSink.Load(); f != nil {
					(*f)(token)
				}
			})
			return c.State.Count, nil
		}))
	return src, sink
}

// BenchmarkSendEndToEnd measures a one-way send from the start of the
// sender's call to the receiver's commit ("send"), against a synchronous
// call through the sender's Client from the start of the sender's call to
// its answer, which includes the receiver's commit ("call"), over 1k
// sender/receiver pairs from 16 goroutines. It reports p50/p99 latency and
// the rate; "ack" is the sender's own latency for a send.
func BenchmarkSendEndToEnd(b *testing.B) {
	src, sink := sendBenchTypes()
	bn := ftSetup(b, func(o *actors.RuntimeOptions) { o.Clock = nil }, src, sink)
	const pairs, workers = 1000, 16
	srcs, sinks := make([]*actors.Handle, pairs), make([]*actors.Handle, pairs)
	for i := range pairs {
		srcs[i], sinks[i] = ftCreate(b, bn, "ftbsrc", fmt.Sprint(i)), ftCreate(b, bn, "ftbsink", fmt.Sprint(i))
	}
	for _, mode := range []string{"send", "call"} {
		b.Run(mode, func(b *testing.B) {
			var mu sync.Mutex
			waits := map[int64]chan time.Time{}
			var token atomic.Int64
			sinkFn := func(tok int64) {
				now := time.Now()
				mu.Lock()
				ch := waits[tok]
				mu.Unlock()
				if ch != nil {
					ch <- now
				}
			}
			sendBenchSink.Store(&sinkFn)
			defer sendBenchSink.Store(nil)
			var lat, acks []time.Duration
			var next atomic.Int64
			b.ResetTimer()
			began := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(w), 1))
					var mine, myAcks []time.Duration
					for next.Add(1) <= int64(b.N) {
						p := rng.IntN(pairs)
						tok := token.Add(1)
						ch := make(chan time.Time, 1)
						mu.Lock()
						waits[tok] = ch
						mu.Unlock()
						start := time.Now()
						if _, err := srcs[p].Action(context.Background(), mode, sinks[p].ID, tok); err != nil {
							b.Error(err)
							return
						}
						acked := time.Now()
						committed := <-ch
						if mode == "send" {
							mine = append(mine, committed.Sub(start))
							myAcks = append(myAcks, acked.Sub(start))
						} else {
							mine = append(mine, acked.Sub(start))
						}
						mu.Lock()
						delete(waits, tok)
						mu.Unlock()
					}
					mu.Lock()
					lat, acks = append(lat, mine...), append(acks, myAcks...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(began)
			b.StopTimer()
			pct := func(d []time.Duration, q float64) float64 {
				if len(d) == 0 {
					return 0
				}
				slices.Sort(d)
				return float64(d[min(len(d)-1, int(q*float64(len(d))))].Microseconds())
			}
			b.ReportMetric(pct(lat, 0.50), "p50-µs")
			b.ReportMetric(pct(lat, 0.99), "p99-µs")
			if mode == "send" {
				b.ReportMetric(pct(acks, 0.50), "ack-p50-µs")
			}
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), mode+"s/s")
		})
	}
}
