package snapshot

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"
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
