package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

func benchStore(b *testing.B) *Store {
	b.Helper()
	return openT(b, b.TempDir(), &Options{Logger: slog.New(slog.DiscardHandler)})
}

func benchActors(n int) []string {
	actors := make([]string, n)
	for i := range actors {
		actors[i] = fmt.Sprintf("counter/%08d", i)
	}
	return actors
}

var benchState = bytes.Repeat([]byte("s"), 256)

// BenchmarkWrite measures Write (one Pebble batch, no fsync) per batch size;
// ns/snapshot is the per-snapshot cost.
func BenchmarkWrite(b *testing.B) {
	for _, size := range []int{1, 100} {
		b.Run(fmt.Sprint("batch=", size), func(b *testing.B) {
			s := benchStore(b)
			actors := benchActors(10_000)
			batch := make([]Snapshot, size)
			seq, i := uint64(0), 0
			for b.Loop() {
				for j := range batch {
					seq++
					batch[j] = Snapshot{Actor: actors[i%len(actors)], Seq: seq, CodeVersion: "v1", State: benchState}
					i++
				}
				if err := s.Write(batch, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/snapshot")
		})
	}
}

// BenchmarkPut measures the Writer path a running actor takes, including the
// background commits (Flush at the end).
func BenchmarkPut(b *testing.B) {
	s := benchStore(b)
	actors := benchActors(10_000)
	seq := uint64(0)
	for b.Loop() {
		seq++
		s.Put(Snapshot{Actor: actors[seq%uint64(len(actors))], Seq: seq, CodeVersion: "v1", State: benchState})
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkGet reads flushed snapshots from a 10k-actor store.
func BenchmarkGet(b *testing.B) {
	s := benchStore(b)
	actors := benchActors(10_000)
	puts := make([]Snapshot, len(actors))
	for i, a := range actors {
		puts[i] = Snapshot{Actor: a, Seq: uint64(i + 1), CodeVersion: "v1", State: benchState}
	}
	if err := s.Write(puts, nil); err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, ok, err := s.Get(actors[i%len(actors)]); err != nil || !ok {
			b.Fatal(ok, err)
		}
		i += 7919 // stride through keys rather than scanning in order
	}
}

// BenchmarkRebuild measures Rebuild, the recovery scan that folds the whole
// log into snapshots, over RIVETFLOW_BENCH_EVENTS events (default 200,000)
// spread round-robin over 1,000 and over 10,000 actors, reported as events/s:
//
//	RIVETFLOW_BENCH_EVENTS=1000000 go test ./internal/snapshot -run '^$' -bench Rebuild -benchtime 3x
//
// The events are what the runtime writes for a small state now that events
// record changes: each actor's create event carries its state (about 110
// bytes: a counter plus a few fields, big enough that the runtime writes
// patches for it), and every later event carries a patch replacing the count
// ([{"op":"replace","path":"/count","value":N}]) plus the usual envelope
// (arguments, output, time, seed, a broadcast). The fold applies each patch
// to the decoded state in memory and encodes each actor once per flush.
//
// With 10,000 actors the set of actors in flight equals Rebuild's default
// MaxPending, so every flush empties it and each actor's next event reads
// its snapshot back from Pebble and decodes it again: the worst case of the
// pending-set policy. With 1,000 actors it never flushes before the end.
func BenchmarkRebuild(b *testing.B) {
	n := 200_000
	if v := os.Getenv("RIVETFLOW_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("RIVETFLOW_BENCH_EVENTS=%q: want a positive count", v)
		}
	}
	// A benchmark with sub-benchmarks runs once, so the logs are filled once;
	// each sub-benchmark's function runs more than once (b.N = 1 first).
	for _, actors := range []int{1000, 10_000} {
		l, subjects := benchRebuildLog(b, actors, n)
		// The raw scan (decode every event, fold nothing) in the same run: the
		// ceiling Rebuild's rate is compared with on a noisy machine.
		b.Run(fmt.Sprintf("actors=%d/events=%d/scan", actors, n), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				var scanned uint64
				if _, err := l.Scan(ctx, 1, func(*eventlog.Event) error { scanned++; return nil }); err != nil {
					b.Fatal(err)
				}
				if scanned != uint64(n) {
					b.Fatalf("scanned %d events, want %d", scanned, n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(fmt.Sprintf("actors=%d/events=%d/rebuild", actors, n), func(b *testing.B) {
			ctx := context.Background()
			s := benchStore(b)
			for b.Loop() {
				p, err := Rebuild(ctx, l, s, RebuildOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if p.Scanned != uint64(n) || p.Actors < actors {
					b.Fatalf("rebuild scanned %d events into %d snapshots, want %d into %d", p.Scanned, p.Actors, n, actors)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			// The fold is right: the last actor's count is its number of patches.
			snap, ok, err := s.Get(subjects[actors-1])
			want := fmt.Sprintf(`"count":%d,`, (n-1)/actors)
			if err != nil || !ok || !bytes.Contains(snap.State, []byte(want)) {
				b.Fatalf("snapshot of %s: %q (found %v, %v), want %s in it", subjects[actors-1], snap.State, ok, err, want)
			}
		})
	}
}

// benchRebuildLog opens a log (closed at b's cleanup) holding n events over
// actors actors (see BenchmarkRebuild) and returns it with the actors'
// subjects.
func benchRebuildLog(b *testing.B, actors, n int) (*eventlog.Log, []string) {
	b.Helper()
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(ctx); err != nil {
			b.Error(err)
		}
	})
	subjects := make([]string, actors)
	for i := range subjects {
		if subjects[i], err = (eventlog.ActorRef{Type: "counter", Key: []string{strconv.Itoa(i)}}).Subject(); err != nil {
			b.Fatal(err)
		}
	}
	js := l.JetStream()
	patched, start := 0, time.Now()
	for i := range n {
		a := i % actors
		ev := &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Action: "increment", Args: []byte(`[1]`),
			Caller: "go", Time: time.Unix(1700000000, int64(i)), Seed: uint64(i) * 0x9e3779b97f4a7c15,
			Output: strconv.AppendInt(nil, int64(i/actors), 10), CodeVersion: "1",
			Broadcasts: []eventlog.Broadcast{{Name: "newCount", Args: fmt.Appendf(nil, "[%d]", i/actors)}}}
		if i < actors {
			ev.Kind, ev.Action, ev.Args, ev.Output, ev.Broadcasts = eventlog.KindCreate, "$create", nil, nil, nil
			ev.HasState, ev.State = true, fmt.Appendf(nil,
				`{"count":0,"name":"counter number %05d","tags":["red","green","blue"],"note":"a slightly bigger state"}`, a)
		} else {
			ev.Patch = fmt.Appendf(nil, `[{"op":"replace","path":"/count","value":%d}]`, i/actors)
			patched++
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subjects[a], Data: eventlog.MarshalEvent(ev)}); err != nil {
			b.Fatal(err)
		}
		if i%50_000 == 49_999 {
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
	fmt.Fprintf(os.Stderr, "filled %d events over %d actors (%d with patches) in %s\n",
		n, actors, patched, time.Since(start).Round(time.Millisecond))
	return l, subjects
}
