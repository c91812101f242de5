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

// BenchmarkBareLoop is the ceiling BenchmarkActions is held to: the bare
// actor loop of DESIGN.md ("The hot path") over the same kind of log, with
// nothing of the runtime. Each busy actor has a goroutine (started on its
// first call, gone when its mailbox drains) that takes one call at a time,
// appends a counter-sized event fenced on the actor's last sequence, and
// replies once JetStream has acknowledged it. Callers are spread as in
// BenchmarkActions.
func BenchmarkBareLoop(b *testing.B) {
	for _, n := range []int{100, 10_000} {
		b.Run(fmt.Sprintf("actors=%d", n), func(b *testing.B) {
			l := benchRawLog(b)
			ev := &eventlog.Event{}
			if err := eventlog.UnmarshalEvent(benchCounterEvent(), ev); err != nil {
				b.Fatal(err)
			}
			loops := make([]*bareActor, n)
			for i := range loops {
				subj, err := eventlog.ActorRef{Type: "bare", Key: []string{strconv.Itoa(i)}}.Subject()
				if err != nil {
					b.Fatal(err)
				}
				loops[i] = &bareActor{log: l, subject: subj, ev: ev}
			}
			workers := min(n, benchutil.Workers())
			b.ResetTimer()
			cpu := benchutil.StartCPU()
			benchSplit(b.N, workers, func(w, i int) {
				owned := (n - w + workers - 1) / workers
				if err := loops[w+(i%owned)*workers].call(); err != nil {
					b.Error(err)
				}
			})
			benchutil.ReportRate(b, b.N)
			cpu.Report(b, b.N)
		})
	}
}

// bareActor is one actor of BenchmarkBareLoop.
type bareActor struct {
	log     *eventlog.Log
	subject string
	ev      *eventlog.Event

	mu      sync.Mutex
	queue   []chan error
	running bool
	last    uint64 // touched only by the running goroutine
}

func (a *bareActor) call() error {
	reply := make(chan error, 1)
	a.mu.Lock()
	a.queue = append(a.queue, reply)
	if !a.running {
		a.running = true
		go a.loop()
	}
	a.mu.Unlock()
	return <-reply
}

func (a *bareActor) loop() {
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		reply := a.queue[0]
		a.queue = a.queue[1:]
		a.mu.Unlock()
		seq, err := a.log.Append(context.Background(), a.subject, a.last, a.ev)
		if err == nil {
			a.last = seq
		}
		reply <- err
	}
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
			cpu := benchutil.StartCPU()
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
			cpu.Report(b, b.N)
			lat.Report(b)
		})
	}
}

// benchChatText is the text of chat message i: about 60 bytes, as in issue 13.
func benchChatText(i int) string {
	return fmt.Sprintf("message %06d: the quick brown fox jumps over the lazy dog", i)
}

// benchChatArgs is sendMessage's arguments for message i.
func benchChatArgs(i int) json.RawMessage {
	raw, err := json.Marshal([]string{"ada", benchChatText(i)})
	if err != nil {
		panic(err)
	}
	return raw
}

// benchChatRooms creates rooms chat rooms (keys prefix-0, prefix-1, ...) and
// sends sent messages to each, rooms in parallel, and returns their handles.
func benchChatRooms(b *testing.B, bd *bundle, prefix string, rooms, sent int) []*actors.Handle {
	b.Helper()
	handles := make([]*actors.Handle, rooms)
	cl := bd.rt.Client()
	ctx := context.Background()
	workers := min(rooms, benchutil.Workers())
	var once sync.Once
	var ferr error
	benchSplit(rooms, workers, func(w, i int) {
		r := w + i*workers
		h, _, err := cl.GetOrCreate(ctx, "chatRoom", []string{prefix + "-" + strconv.Itoa(r)}, nil)
		for m := 0; err == nil && m < sent; m++ {
			_, err = h.ActionJSON(ctx, "sendMessage", benchChatArgs(m))
		}
		if err != nil {
			once.Do(func() { ferr = err })
			return
		}
		handles[r] = h
	})
	if ferr != nil {
		b.Fatalf("fill %d chat rooms with %d messages: %v", rooms, sent, ferr)
	}
	return handles
}

// benchChatSteady is how many timed messages a room takes before the next
// room is used, for rooms below builtin.MaxChatHistory messages: their state
// grows with every message, so each stays near the size under test. A full
// room stays full (the oldest message is dropped), so one room serves.
const benchChatSteady = 10

func benchChatRoomsFor(b *testing.B, bd *bundle, prefix string, sent, calls int) []*actors.Handle {
	rooms := 1
	if sent < builtin.MaxChatHistory {
		rooms = calls/benchChatSteady + 1
	}
	return benchChatRooms(b, bd, prefix, rooms, sent)
}

// BenchmarkChatRoom measures the built-in chatRoom's sendMessage, one call at
// a time, on a room that has been sent 10, 1,000 and 3,000 messages of ~60
// bytes (it keeps the last builtin.MaxChatHistory = 1,000, about 97 KB of
// state):
//
//	go test ./actors -run '^$' -bench 'ChatRoom' -benchtime 2000x
//
// Events record changes, not copies, so both the event and the latency should
// be flat in the room's size (issue 13). It reports:
//
//   - B/event: the encoded envelope of the last sendMessage event, the bytes
//     the log stores per message; args-B: its arguments; fixed-B: the same
//     event with no arguments, patch, output or broadcast arguments (the
//     fixed envelope); x-args: (B/event - fixed-B) / args-B, the variable part
//     as a multiple of the arguments. The variable part is the arguments, the
//     patch adding the message (and removing the oldest past 1,000), the
//     recorded output (the message) and the recorded newMessage broadcast.
//   - p50-us, p99-us: the action's latency.
func BenchmarkChatRoom(b *testing.B) {
	for _, sent := range []int{10, 1000, 3000} {
		b.Run(fmt.Sprintf("msgs=%d", sent), func(b *testing.B) {
			bd := setup(b, builtin.Registry())
			rooms := benchChatRoomsFor(b, bd, "room", sent, b.N)
			ctx := context.Background()
			var lat benchutil.Latencies
			var last *actors.Handle
			b.ResetTimer()
			for i := range b.N {
				last = rooms[0]
				if len(rooms) > 1 {
					last = rooms[i/benchChatSteady]
				}
				start := time.Now()
				if _, err := last.ActionJSON(ctx, "sendMessage", benchChatArgs(sent+i)); err != nil {
					b.Fatal(err)
				}
				lat.Add(time.Since(start))
			}
			b.StopTimer()
			lat.Report(b)
			subj, err := eventlog.ActorRef{Type: "chatRoom", Key: last.Key()}.Subject()
			if err != nil {
				b.Fatal(err)
			}
			ev, err := bd.log.LastEvent(ctx, subj)
			if err != nil || ev == nil || ev.Action != "sendMessage" {
				b.Fatalf("last event of %s: %+v, %v", subj, ev, err)
			}
			size := len(eventlog.MarshalEvent(ev))
			fixed := *ev
			fixed.Args, fixed.Patch, fixed.State, fixed.Output = nil, nil, nil, nil
			fixed.Broadcasts = append([]eventlog.Broadcast(nil), ev.Broadcasts...)
			for i := range fixed.Broadcasts {
				fixed.Broadcasts[i].Args = nil
			}
			fixedSize := len(eventlog.MarshalEvent(&fixed))
			b.ReportMetric(float64(size), "B/event")
			b.ReportMetric(float64(len(ev.Args)), "args-B")
			b.ReportMetric(float64(fixedSize), "fixed-B")
			b.ReportMetric(float64(size-fixedSize)/float64(len(ev.Args)), "x-args")
		})
	}
}

// BenchmarkChatRoomLatency compares sendMessage's latency on a room that has
// been sent 3,000 messages (1,000 kept, ~97 KB of state) with rooms that hold
// about 10, alternating one call to each so that the machine's noise hits
// both alike. It reports both p50s and their ratio (issue 13: at most 1.5).
//
//	go test ./actors -run '^$' -bench 'ChatRoomLatency' -benchtime 2000x
func BenchmarkChatRoomLatency(b *testing.B) {
	bd := setup(b, builtin.Registry())
	small := benchChatRoomsFor(b, bd, "small", 10, b.N)
	big := benchChatRooms(b, bd, "big", 1, 3000)[0]
	ctx := context.Background()
	var latSmall, latBig benchutil.Latencies
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := small[i/benchChatSteady].ActionJSON(ctx, "sendMessage", benchChatArgs(10+i)); err != nil {
			b.Fatal(err)
		}
		latSmall.Add(time.Since(start))
		start = time.Now()
		if _, err := big.ActionJSON(ctx, "sendMessage", benchChatArgs(3000+i)); err != nil {
			b.Fatal(err)
		}
		latBig.Add(time.Since(start))
	}
	b.StopTimer()
	p10, p3000 := latSmall.Quantile(0.5), latBig.Quantile(0.5)
	b.ReportMetric(float64(p10.Nanoseconds())/1e3, "p50-10msgs-us")
	b.ReportMetric(float64(p3000.Nanoseconds())/1e3, "p50-3000msgs-us")
	b.ReportMetric(float64(p3000)/float64(p10), "p50-ratio")
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
	// A leak grows the heap in every round; the collector's timing moves a
	// single round by a few hundred bytes per sleep either way (measured on
	// the code before this test's last change too), so a leak is growth in
	// two rounds running.
	var grown float64
	for round := range 2 {
		before := benchHeap()
		for range cycles {
			cycle()
		}
		grown = float64(benchHeap()-before) / (n * cycles)
		t.Logf("round %d: heap grew %.0f bytes per sleep over %d sleeps", round+1, grown, n*cycles)
		if grown <= 300 {
			return
		}
	}
	t.Errorf("the heap grows by %.0f bytes per sleep and wake in two rounds running: something outlives the sleep", grown)
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
