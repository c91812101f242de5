package snapshot

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pausedFlusher holds the Writer's flusher at a hook until release. Register
// release as a cleanup after the store's (cleanups run LIFO), or Close would
// wait forever for the paused flusher.
type pausedFlusher struct {
	entered chan struct{} // one signal per time the flusher reaches the hook
	gate    chan struct{}
	once    sync.Once
}

func newPause() *pausedFlusher {
	return &pausedFlusher{entered: make(chan struct{}, 100), gate: make(chan struct{})}
}

func (p *pausedFlusher) wait() {
	select {
	case p.entered <- struct{}{}:
	default:
	}
	<-p.gate
}

func (p *pausedFlusher) release() { p.once.Do(func() { close(p.gate) }) }

// setupPaused opens a store whose flusher stops before taking any batch.
func setupPaused(t *testing.T, opts Options) (*Store, *testBundle, *pausedFlusher) {
	t.Helper()
	p := newPause()
	opts.hooks = &testHooks{beforeBatch: p.wait}
	s, b := setupOpts(t, opts)
	t.Cleanup(p.release)
	return s, b, p
}

func TestWriterCoalesces(t *testing.T) {
	t.Parallel()
	s, b, p := setupPaused(t, Options{})
	for _, seq := range []uint64{1, 5, 3, 100, 42, 99} {
		s.Put(snap("a", seq, fmt.Sprint(seq)))
	}
	s.Put(snap("b", 1, "b"))
	wantSnap(t, s, snap("a", 100, "100")) // older Seqs never replace a newer one
	s.Put(snap("a", 100, "again"))        // an equal Seq replaces
	p.release()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantSnap(t, s, snap("a", 100, "again"))
	if got := counterValue(t, b.reg, "rivetflow_snapshot_writes_total", ""); got != 2 {
		t.Fatalf("writes_total = %v, want 2 (one per actor)", got)
	}
}

func TestWriterStaleAfterInflight(t *testing.T) {
	t.Parallel()
	committing := make(chan struct{})
	gate := make(chan struct{})
	var once sync.Once
	s, _ := setupOpts(t, Options{hooks: &testHooks{beforeCommit: func(int) {
		once.Do(func() { close(committing); <-gate })
	}}})
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	s.Put(snap("a", 10, "ten"))
	recv(t, committing, "first batch in flight")
	// The batch holding seq 10 is taken but not committed: Get still sees
	// it, and an older Put is dropped rather than queued behind it.
	wantSnap(t, s, snap("a", 10, "ten"))
	s.Put(snap("a", 9, "nine"))
	s.Put(snap("b", 1, "b"))
	wantSnap(t, s, snap("a", 10, "ten"))
	// A Delete while in flight commits after it, in the next batch.
	s.Delete("b")
	s.Delete("a")
	wantMissing(t, s, "a")
	close(gate)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantMissing(t, s, "a")
	wantMissing(t, s, "b")
	wantCount(t, s, 0)
}

func TestWriterReadYourWrites(t *testing.T) {
	t.Parallel()
	s, _, p := setupPaused(t, Options{})
	if err := s.Write([]Snapshot{snap("old", 1, "flushed")}, nil); err != nil {
		t.Fatal(err)
	}
	buf := []byte("pending")
	s.Put(Snapshot{Actor: "new", Seq: 2, CodeVersion: "v1", State: buf})
	copy(buf, "XXXXXXX") // Put copied: callers may reuse their buffer
	s.Put(snap("old", 3, "updated"))
	wantSnap(t, s, snap("new", 2, "pending"))
	wantSnap(t, s, snap("old", 3, "updated"))
	wantCount(t, s, 1) // Count sees only flushed snapshots
	p.release()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, 2)
}

func TestWriterFlushSurvivesReopen(t *testing.T) {
	t.Parallel()
	s, b := setupOpts(t, Options{FlushInterval: time.Hour}) // only Flush writes
	s.Put(snap("a", 1, "x"))
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	// Copy the files of the still-open store, as a crash right after Flush
	// would leave them, and open the copy.
	crashed := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(crashed, os.DirFS(b.dir)); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, crashed, &Options{Logger: slog.New(slog.DiscardHandler)})
	wantSnap(t, s2, snap("a", 1, "x"))
}

func TestWriterCloseDrains(t *testing.T) {
	t.Parallel()
	s, b := setupOpts(t, Options{FlushInterval: time.Hour, MaxBatch: 3})
	for i := range 10 {
		s.Put(snap(fmt.Sprint("a", i), uint64(i+1), ""))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openT(t, b.dir, &b.opts)
	wantCount(t, s2, 10)
}

func TestWriterIntervalFlush(t *testing.T) {
	t.Parallel()
	batches := make(chan int, 10)
	s, _ := setupOpts(t, Options{FlushInterval: time.Millisecond, hooks: &testHooks{
		afterBatch: func(n int, err error) {
			if err == nil {
				batches <- n
			}
		},
	}})
	s.Put(snap("a", 1, "x"))
	if n := recv(t, batches, "interval flush"); n != 1 {
		t.Fatalf("batch of %d, want 1", n)
	}
	wantCount(t, s, 1) // written without any Flush call
}

func TestWriterDeleteOrdering(t *testing.T) {
	t.Parallel()
	type op struct {
		del   bool
		seq   uint64
		flush bool // Flush after this op
	}
	tests := []struct {
		name    string
		ops     []op
		wantSeq uint64 // 0 = deleted
	}{
		{"put delete", []op{{seq: 1}, {del: true}}, 0},
		{"delete put", []op{{del: true}, {seq: 1}}, 1},
		{"put delete put", []op{{seq: 1}, {del: true}, {seq: 2}}, 2},
		{"put delete older put", []op{{seq: 5}, {del: true}, {seq: 2}}, 2},
		{"flushed put then delete", []op{{seq: 1, flush: true}, {del: true}}, 0},
		{"flushed delete then put", []op{{seq: 1}, {del: true, flush: true}, {seq: 3}}, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, _ := setupOpts(t, Options{FlushInterval: time.Hour})
			check := func() {
				t.Helper()
				if tc.wantSeq == 0 {
					wantMissing(t, s, "a")
				} else {
					wantSnap(t, s, snap("a", tc.wantSeq, fmt.Sprint(tc.wantSeq)))
				}
			}
			for _, o := range tc.ops {
				if o.del {
					s.Delete("a")
				} else {
					s.Put(snap("a", o.seq, fmt.Sprint(o.seq)))
				}
				if o.flush {
					if err := s.Flush(); err != nil {
						t.Fatal(err)
					}
				}
			}
			check() // pending
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			check() // flushed
		})
	}
}

func TestWriterBounded(t *testing.T) {
	t.Parallel()
	const maxBatch = 2
	blocked := make(chan struct{}, 100)
	p := newPause()
	s, _ := setupOpts(t, Options{MaxBatch: maxBatch, hooks: &testHooks{
		beforeBatch: p.wait,
		putBlocked:  func() { blocked <- struct{}{} },
	}})
	t.Cleanup(p.release)

	limit := 4 * maxBatch
	for i := range limit {
		s.Put(snap(fmt.Sprint("a", i), 1, ""))
	}
	recv(t, p.entered, "flusher paused") // MaxBatch reached: flusher woke and is held
	if len(blocked) != 0 {
		t.Fatal("Put blocked below the limit")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Put(snap("over", 1, "")) // one actor too many
	}()
	recv(t, blocked, "Put to block at the limit")
	// Coalescing into an actor already pending needs no room.
	s.Put(snap("a0", 2, ""))
	wantSnap(t, s, snap("a0", 2, ""))
	select {
	case <-done:
		t.Fatal("Put over the limit returned while the flusher was paused")
	default:
	}
	p.release()
	recv(t, done, "blocked Put to return")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, limit+1)
}

func TestWriterPutInvalidDropped(t *testing.T) {
	t.Parallel()
	s, b := setup(t)
	s.Put(Snapshot{Seq: 1})
	s.Put(snap("zero", 0, ""))
	s.Delete("")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, 0)
	if got := strings.Count(b.logs.String(), "dropping invalid"); got != 3 {
		t.Fatalf("logged %d invalid drops, want 3:\n%s", got, b.logs)
	}
}

// TestWriterConcurrent runs Puts, Deletes, Gets and Flushes together (for
// -race) and checks that every actor ends at its last Seq. Each worker owns
// its actors' Puts, as the runtime does (one writer per actor); reads and
// Deletes cross over.
func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := setupOpts(t, Options{MaxBatch: 8, FlushInterval: time.Millisecond})
	const workers, actors, rounds = 4, 48, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				for a := range actors {
					actor := fmt.Sprint("a", a)
					if a%workers == w {
						s.Put(snap(actor, uint64(r+1), fmt.Sprint(r+1)))
					}
					if a == w {
						s.Delete("gone")
					}
					if _, _, err := s.Get(actor); err != nil {
						t.Error(err)
						return
					}
				}
				if r%10 == w {
					if err := s.Flush(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	wantCount(t, s, actors)
	for a := range actors {
		wantSnap(t, s, snap(fmt.Sprint("a", a), rounds, fmt.Sprint(rounds)))
	}
}
