package actors_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/benchutil"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// Benchmarks put the actor runtime side by side with raw JetStream on an
// embedded server of the same kind in the same run, because these machines
// are shared and noisy: compare ratios, not absolute figures.
//
//	go test ./actors -run '^$' -bench 'Actions|RawPublish' -benchtime 2s -count 5 | benchstat -
//	go test ./actors -run '^$' -bench 'ColdWake|MemoryPerActor' -benchtime 2s
//
// RIVETFLOW_BENCH_WORKERS sets how many goroutines call actors at once
// (default 128), as in the eventlog benchmarks.

// benchSplit runs n operations over workers goroutines; fn gets the worker
// and the worker's operation index.
func benchSplit(n, workers int, fn func(w, i int)) {
	var wg sync.WaitGroup
	for w := range workers {
		count := n / workers
		if w < n%workers {
			count++
		}
		wg.Go(func() {
			for i := range count {
				fn(w, i)
			}
		})
	}
	wg.Wait()
}

// benchRawLog opens a bare log for the raw JetStream baselines.
func benchRawLog(b *testing.B) *eventlog.Log {
	b.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: b.TempDir(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			b.Errorf("close log: %v", err)
		}
	})
	return l
}

// benchCounterEvent is what the runtime appends for one counter increment,
// so the raw baselines publish messages of the same size.
func benchCounterEvent() []byte {
	return eventlog.MarshalEvent(&eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Action: "increment",
		Args: []byte(`[1]`), Caller: "go", Time: time.Unix(1700000000, 0), Seed: 0x1234567890abcdef,
		HasState: true, State: []byte(`{"count":12345}`), Output: []byte(`12345`), CodeVersion: "1",
		Broadcasts: []eventlog.Broadcast{{Name: "newCount", Args: []byte(`[12345]`)}}})
}

// BenchmarkRawPublish is the baseline for BenchmarkActions: JetStream
// publishes of a counter-sized event to the same kind of stream with no
// fencing, async (windowed by the client, over 10,000 subjects) and sync
// (one at a time, with p50/p99).
func BenchmarkRawPublish(b *testing.B) {
	b.Run("async", func(b *testing.B) {
		benchutil.RawPublishAsync(b, benchRawLog(b).JetStream(), benchCounterEvent())
	})
	b.Run("sync", func(b *testing.B) {
		benchutil.RawPublishSync(b, benchRawLog(b).JetStream(), benchCounterEvent())
	})
}

// benchCreate creates n actors of typ with keys "0".."n-1" from many
// goroutines and returns their handles.
func benchCreate(b testing.TB, bd *bundle, typ string, n int) []*actors.Handle {
	b.Helper()
	handles := make([]*actors.Handle, n)
	cl := bd.rt.Client()
	ctx := context.Background()
	workers := min(n, benchutil.Workers())
	var once sync.Once
	var ferr error
	benchSplit(n, workers, func(w, i int) {
		a := w + i*workers
		h, _, err := cl.GetOrCreate(ctx, typ, []string{strconv.Itoa(a)}, nil)
		if err != nil {
			once.Do(func() { ferr = err })
			return
		}
		handles[a] = h
	})
	if ferr != nil {
		b.Fatalf("create %d %s actors: %v", n, typ, ferr)
	}
	return handles
}

// benchSleepAll puts every actor to sleep and waits until none is awake.
func benchSleepAll(b testing.TB, bd *bundle) {
	b.Helper()
	bd.clock.Advance(time.Hour)
	deadline := time.Now().Add(time.Minute)
	for bd.rt.SleepIdle(); bd.rt.Awake() > 0; bd.rt.SleepIdle() {
		if time.Now().After(deadline) {
			b.Fatalf("%d actors still awake a minute after SleepIdle", bd.rt.Awake())
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkActions measures durable counter increments through the Client
// (each answered after its event is acknowledged) across 1, 100 and 10,000
// actors, from RIVETFLOW_BENCH_WORKERS goroutines (default 128, at most one
// per actor), each calling its own actors round-robin. With one actor the
// calls are sequential and p50/p99 are its latency; compare with
// BenchmarkRawPublish/sync.
func BenchmarkActions(b *testing.B) {
	for _, n := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("actors=%d", n), func(b *testing.B) {
			bd := setup(b, builtin.Registry())
			handles := benchCreate(b, bd, "counter", n)
			workers := min(n, benchutil.Workers())
			ctx := context.Background()
			var lat benchutil.Latencies
			b.ResetTimer()
			benchSplit(b.N, workers, func(w, i int) {
				// Worker w owns actors w, w+workers, w+2*workers, ...
				owned := (n - w + workers - 1) / workers
				h := handles[w+(i%owned)*workers]
				start := time.Now()
				if _, err := h.ActionJSON(ctx, "increment", json.RawMessage(`[1]`)); err != nil {
					b.Error(err)
					return
				}
				if workers == 1 {
					lat.Add(time.Since(start))
				}
			})
			benchutil.ReportRate(b, b.N)
			lat.Report(b)
		})
	}
}

// coldState is the cold-wake actor's state: about 1 KB of JSON.
type coldState struct {
	N    int    `json:"n"`
	Data string `json:"data"`
}

const coldTail = 100 // events after the snapshot a cold wake reads

var coldDef = actors.NewType("cold", actors.Options[coldState]{
	State: coldState{Data: strings.Repeat("d", 1000)},
	// Snapshots only on sleep; the benchmark rewinds them (see coldRewind).
	SnapshotEvery: 1 << 30,
}).
	Action("bump", actors.Act0(func(c *actors.Context[coldState]) (int, error) {
		c.State.N++
		return c.State.N, nil
	})).
	Action("get", actors.Act0(func(c *actors.Context[coldState]) (int, error) {
		return c.State.N, nil
	}))

// coldRewind replaces each actor's snapshot with one coldTail events before
// its last event, folded from the log with actorstate.Fold (exactly what the
// runtime would have written there), so the next wake reads that snapshot
// plus a coldTail-event tail. The actors must be asleep. It returns, per
// actor, the sequence the snapshot is at.
func coldRewind(b *testing.B, bd *bundle, subjects []string) []uint64 {
	b.Helper()
	ctx := context.Background()
	// Pending write-behind snapshots would land after ours and win.
	if err := bd.snaps.Flush(); err != nil {
		b.Fatal(err)
	}
	puts := make([]snapshot.Snapshot, 0, len(subjects))
	at := make([]uint64, len(subjects))
	for i, subj := range subjects {
		var evs []*eventlog.Event
		for after := uint64(0); ; {
			page, err := bd.log.ReadActor(ctx, subj, after, 0)
			if err != nil {
				b.Fatal(err)
			}
			evs = append(evs, page...)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
		if len(evs) <= coldTail {
			b.Fatalf("%s has %d events, want more than %d", subj, len(evs), coldTail)
		}
		var snap snapshot.Snapshot
		for _, ev := range evs[:len(evs)-coldTail] {
			var err error
			if snap, err = actorstate.Fold(snap, ev); err != nil {
				b.Fatal(err)
			}
		}
		puts, at[i] = append(puts, snap), snap.Seq
	}
	if err := bd.snaps.Write(puts, nil); err != nil {
		b.Fatal(err)
	}
	return at
}

// BenchmarkColdWake measures waking an actor with ~1 KB of state from its
// snapshot plus the 100 events after it (each event carries the ~1 KB state).
//
// A sleeping actor's snapshot is always current (sleep writes one), so the
// benchmark builds the case by hand: a pool of actors each gets 100+ events,
// is put to sleep, and has its snapshot replaced by one folded from the log
// up to 100 events before its end (coldRewind). Then the first call to each
// actor is timed, one actor at a time; when the pool is used up, the timer
// stops while the pool sleeps and is rewound again.
//
//   - first-call: the first action (a read-only "get", which still appends
//     its event): wake + action + append, what a caller waits for.
//   - wake: Client.Get, which wakes the actor and appends nothing.
//   - log-read: eventlog.ReadActor of the same 100 events (batched direct get
//     plus decoding), the floor under the wake.
//   - raw-direct-get: the same batched direct get on the bare NATS connection,
//     without decoding: raw JetStream.
//
// Both the Pebble snapshot and the JetStream blocks are in memory (recently
// written), so this is a wake without disk reads, not a cold disk.
func BenchmarkColdWake(b *testing.B) {
	for _, mode := range []string{"first-call", "wake", "log-read", "raw-direct-get"} {
		b.Run(mode, func(b *testing.B) {
			reg, err := actors.NewRegistry(coldDef)
			if err != nil {
				b.Fatal(err)
			}
			bd := setup(b, reg)
			pool := min(b.N, 200)
			handles := benchCreate(b, bd, "cold", pool)
			subjects := make([]string, pool)
			for i := range subjects {
				subjects[i] = propSubject(b, "cold", []string{strconv.Itoa(i)})
			}
			ctx := context.Background()
			workers := min(pool, benchutil.Workers())
			benchSplit(pool, workers, func(w, i int) {
				h := handles[w+i*workers]
				for range coldTail + 1 {
					if _, err := h.Action(ctx, "bump"); err != nil {
						b.Error(err)
						return
					}
				}
			})
			benchSleepAll(b, bd)
			after := coldRewind(b, bd, subjects)
			cl := bd.rt.Client()
			stream := eventlog.DefaultStream
			var lat benchutil.Latencies
			b.ResetTimer()
			for i := range b.N {
				a := i % pool
				if a == 0 && i > 0 {
					b.StopTimer()
					if mode == "first-call" || mode == "wake" {
						benchSleepAll(b, bd)
						after = coldRewind(b, bd, subjects)
					}
					b.StartTimer()
				}
				start := time.Now()
				switch mode {
				case "first-call":
					if _, err := handles[a].Action(ctx, "get"); err != nil {
						b.Fatal(err)
					}
				case "wake":
					if _, err := cl.Get(ctx, "cold", []string{strconv.Itoa(a)}); err != nil {
						b.Fatal(err)
					}
				case "log-read":
					evs, err := bd.log.ReadActor(ctx, subjects[a], after[a], 0)
					if err != nil || len(evs) != coldTail {
						b.Fatalf("read %d events (want %d): %v", len(evs), coldTail, err)
					}
				case "raw-direct-get":
					if n, err := benchDirectGet(ctx, bd.log.Conn(), stream, subjects[a], after[a]); err != nil || n != coldTail {
						b.Fatalf("read %d messages (want %d): %v", n, coldTail, err)
					}
				}
				lat.Add(time.Since(start))
			}
			b.StopTimer()
			lat.Report(b)
		})
	}
}

// benchDirectGet reads every message of subject after seq with one batched
// JetStream direct get and counts them, decoding nothing.
func benchDirectGet(ctx context.Context, nc *nats.Conn, stream, subject string, after uint64) (int, error) {
	req, err := json.Marshal(map[string]any{"seq": after + 1, "next_by_subj": subject, "batch": 1000})
	if err != nil {
		return 0, err
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, req); err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return n, err
		}
		if status := msg.Header.Get("Status"); status != "" {
			if status == "204" || status == "404" {
				return n, nil
			}
			return n, fmt.Errorf("status %s %s", status, msg.Header.Get("Description"))
		}
	}
}

// benchHeap returns the live heap plus goroutine stacks after a full GC.
func benchHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc + m.StackInuse)
}

// TestSleepWakeCyclesRetainNoMemory wakes and sleeps the same 2,000 actors
// over and over: once warm, the heap must not grow with the number of sleeps.
// It is not parallel, so no other test allocates while it measures.
func TestSleepWakeCyclesRetainNoMemory(t *testing.T) {
	const n, cycles = 2000, 4
	bd := setup(t, builtin.Registry())
	benchCreate(t, bd, "counter", n)
	cl := bd.rt.Client()
	ctx := context.Background()
	workers := min(n, benchutil.Workers())
	cycle := func() {
		benchSplit(n, workers, func(w, i int) {
			if _, err := cl.Get(ctx, "counter", []string{strconv.Itoa(w + i*workers)}); err != nil {
				t.Error(err)
			}
		})
		benchSleepAll(t, bd)
	}
	cycle()
	cycle()
	before := benchHeap()
	for range cycles {
		cycle()
	}
	grown := float64(benchHeap()-before) / (n * cycles)
	t.Logf("heap grew %.0f bytes per sleep over %d sleeps", grown, n*cycles)
	if grown > 300 {
		t.Errorf("the heap grows by %.0f bytes per sleep and wake: something outlives the sleep", grown)
	}
}

// BenchmarkMemoryPerActor measures what actors cost in memory, over 10,000
// counters:
//
//   - B/awake-actor: heap and stacks with all of them awake and idle, minus
//     with all of them asleep (each iteration wakes all with Client.Get, which
//     appends nothing, then sleeps all).
//   - B/sleeping-actor: with all of them asleep, minus before any existed.
//     Nothing of a sleeping actor stays in the runtime; what remains is the
//     embedded JetStream's per-subject index and Pebble's memtable.
//   - B/raw-subject: the baseline for that, from a bare log: heap growth from
//     one message published to each of 10,000 subjects.
func BenchmarkMemoryPerActor(b *testing.B) {
	const n = 10_000
	raw := func() float64 {
		js := benchRawLog(b).JetStream()
		data := benchCounterEvent()
		before := benchHeap()
		for i := range n {
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: "rf.ev.raw.k" + strconv.Itoa(i), Data: data}); err != nil {
				b.Fatal(err)
			}
		}
		<-js.PublishAsyncComplete()
		return float64(benchHeap()-before) / n
	}()

	bd := setup(b, builtin.Registry())
	base := benchHeap()
	benchCreate(b, bd, "counter", n)
	benchSleepAll(b, bd)
	sleeping := benchHeap()
	cl := bd.rt.Client()
	ctx := context.Background()
	workers := min(n, benchutil.Workers())
	var awake int64
	b.ResetTimer()
	for range b.N {
		benchSplit(n, workers, func(w, i int) {
			if _, err := cl.Get(ctx, "counter", []string{strconv.Itoa(w + i*workers)}); err != nil {
				b.Error(err)
			}
		})
		if got := bd.rt.Awake(); got != n {
			b.Fatalf("%d actors awake, want %d", got, n)
		}
		b.StopTimer()
		up := benchHeap()
		benchSleepAll(b, bd)
		down := benchHeap()
		awake += up - down
		b.StartTimer()
	}
	b.StopTimer()
	b.ReportMetric(float64(awake)/float64(b.N)/n, "B/awake-actor")
	b.ReportMetric(float64(sleeping-base)/n, "B/sleeping-actor")
	b.ReportMetric(raw, "B/raw-subject")
}
