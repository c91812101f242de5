package projections

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/benchutil"
)

// Benchmarks put the projections' apply rate next to the raw Scan (and a raw
// Tail) over the same log in the same run: these machines are shared and
// noisy, so compare ratios, not absolute figures.
//
//	RIVETFLOW_BENCH_EVENTS=1000000 go test ./projections -run '^$' -bench Apply -benchtime 3x
//	RIVETFLOW_BENCH_EVENTS=1000000 go test ./projections -run '^$' -bench 'Apply/rebuild' -benchtime 2x -count 5
//
// rebuild/* reports x-scan, its rate over a raw Scan's timed side by side,
// and cpu-x-scan, the Scan's CPU time over its own.
//	go test ./projections -run '^$' -bench DirectoryPage

// processCPU is the process's CPU time so far (user and system, every
// goroutine: the embedded JetStream's too).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchEvents is RIVETFLOW_BENCH_EVENTS, default 100k.
func benchEvents(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("RIVETFLOW_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("RIVETFLOW_BENCH_EVENTS=%q", v)
		}
	}
	return n
}

// benchFill publishes n events over 10,000 actors (each one's first a
// create), like actions on a counter: a state patch, args and output.
func benchFill(b *testing.B, l *eventlog.Log, n int, from int) {
	b.Helper()
	js := l.JetStream()
	create := eventlog.MarshalEvent(&eventlog.Event{Kind: eventlog.KindCreate, Generation: 1, Time: time.Unix(1_700_000_000, 0),
		HasState: true, State: []byte(`{"count":0}`), CodeVersion: "v1"})
	action := eventlog.MarshalEvent(&eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Action: "increment", Args: []byte(`[1]`),
		Caller: "bench", Time: time.Unix(1_700_000_000, 0), Seed: 42, Patch: []byte(`[{"op":"replace","path":"/count","value":12345}]`),
		Output: []byte(`12345`), CodeVersion: "v1"})
	subjects := make([]string, 10_000)
	for i := range subjects {
		subjects[i], _ = eventlog.ActorRef{Type: "counter", Key: []string{"org-" + strconv.Itoa(i%10), strconv.Itoa(i)}}.Subject()
	}
	for i := from; i < from+n; i++ {
		data := action
		if i < len(subjects) {
			data = create
		}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subjects[i%len(subjects)], Data: data}); err != nil {
			b.Fatal(err)
		}
		if i%2000 == 1999 { // under the client's 4,000 pending publishes
			<-js.PublishAsyncComplete()
		}
	}
	<-js.PublishAsyncComplete()
}

var applyLog struct {
	once sync.Once
	dir  string
	n    int
}

// benchLog returns a log of RIVETFLOW_BENCH_EVENTS events, filled once per process.
func benchLog(b *testing.B) (*eventlog.Log, int) {
	applyLog.once.Do(func() {
		applyLog.n = benchEvents(b)
		applyLog.dir, _ = os.MkdirTemp("", "rivet-flow-projections-bench")
		l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: applyLog.dir, Logger: discardLogger()})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		benchFill(b, l, applyLog.n, 0)
		fmt.Fprintf(os.Stderr, "filled %d events in %s\n", applyLog.n, time.Since(start).Round(time.Millisecond))
		_ = l.Close(context.Background())
	})
	return openLog(b, applyLog.dir), applyLog.n
}

// benchCounts is a typed user projection: per actor, its count of events.
func benchCounts() *Definition[countRow] {
	return Define("counts", Filter{}, func(tx Tx[countRow], ev *eventlog.Event) error {
		id := ev.Subject[len(eventlog.SubjectPrefix)+1:]
		row, _, err := tx.Get(id)
		if err != nil {
			return err
		}
		row.Events++
		row.Last = ev.Seq
		return tx.Put(id, row)
	})
}

// BenchmarkApply measures events/s: the raw Scan (the baseline), a Rebuild
// of the directory and of a typed user projection (a sequential scan folded
// into Pebble batches), the raw Tail of events published live, and the
// projections following the same live publishing (incremental).
func BenchmarkApply(b *testing.B) {
	l, n := benchLog(b)
	ctx := context.Background()
	b.Run("scan", func(b *testing.B) {
		cpu := benchutil.StartCPU()
		for b.Loop() {
			count := 0
			if _, err := l.Scan(ctx, 1, func(*eventlog.Event) error { count++; return nil }); err != nil || count != n {
				b.Fatalf("scanned %d of %d: %v", count, n, err)
			}
		}
		benchutil.ReportRate(b, b.N*n)
		cpu.Report(b, b.N*n)
	})
	for _, name := range []string{DirectoryName, "counts"} {
		b.Run("rebuild/"+name, func(b *testing.B) {
			r, err := Open(filepath.Join(b.TempDir(), "p"), l, &Options{Logger: discardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close()
			if err := r.Register(benchCounts()); err != nil {
				b.Fatal(err)
			}
			// Each iteration scans the log raw (untimed), then rebuilds:
			// x-scan is the rebuild's rate over the scan's, measured side
			// by side, which the machine's noise moves far less than either;
			// cpu-x-scan is the scan's CPU time over the rebuild's, which
			// other processes on the machine hardly move at all.
			var scanned, rebuilt, scanCPU, cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				t0, c0 := time.Now(), processCPU()
				if _, err := l.Scan(ctx, 1, func(*eventlog.Event) error { return nil }); err != nil {
					b.Fatal(err)
				}
				scanned, scanCPU = scanned+time.Since(t0), scanCPU+processCPU()-c0
				b.StartTimer()
				t0, c0 = time.Now(), processCPU()
				if err := r.Rebuild(ctx, name, nil); err != nil {
					b.Fatal(err)
				}
				rebuilt, cpu = rebuilt+time.Since(t0), cpu+processCPU()-c0
			}
			benchutil.ReportRate(b, b.N*n)
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-us/op")
			b.ReportMetric(scanned.Seconds()/rebuilt.Seconds(), "x-scan")
			b.ReportMetric(scanCPU.Seconds()/cpu.Seconds(), "cpu-x-scan")
		})
	}
	live := n / 2
	b.Run("tail", func(b *testing.B) {
		for b.Loop() {
			l := openLog(b, b.TempDir())
			tctx, cancel := context.WithCancel(ctx)
			seen := make(chan struct{})
			count := 0
			go l.Tail(tctx, nil, 1, func(*eventlog.Event) error {
				if count++; count == live {
					close(seen)
				}
				return nil
			})
			benchFill(b, l, live, 0)
			<-seen
			cancel()
		}
		benchutil.ReportRate(b, b.N*live)
	})
	for _, name := range []string{DirectoryName, "counts"} {
		b.Run("incremental/"+name, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				l := openLog(b, b.TempDir())
				r, err := Open(filepath.Join(b.TempDir(), "p"), l, &Options{Logger: discardLogger()})
				if err != nil {
					b.Fatal(err)
				}
				if name == "counts" {
					_ = r.Register(benchCounts())
				}
				if err := r.Start(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				benchFill(b, l, live, 0)
				last, err := l.LastSeq(ctx)
				if err == nil {
					err = r.Wait(ctx, name, last)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				_ = r.Close()
				b.StartTimer()
			}
			benchutil.ReportRate(b, b.N*live)
		})
	}
}

// BenchmarkDirectoryPage measures one page of 100 actors at a random place
// in the directory, with 1k and 100k actors: the time should not grow.
func BenchmarkDirectoryPage(b *testing.B) {
	for _, actors := range []int{1_000, 100_000} {
		b.Run(fmt.Sprint("actors=", actors), func(b *testing.B) {
			r, bundle := setup(b)
			last := bulkCreate(b, bundle.log, "doc", actors, func(i int) string { return "org-" + strconv.Itoa(i%10) })
			bulkCreate(b, bundle.log, "user", 100, func(i int) string { return "org-" + strconv.Itoa(i%10) })
			start(b, r)
			wait(b, r, DirectoryName, last+100)
			rng := rand.New(rand.NewPCG(1, 2))
			for _, q := range []struct {
				name string
				q    func() ActorQuery
			}{
				{"type", func() ActorQuery {
					// The actor at rank r in key order (group, then n), a full page before the end.
					r := rng.IntN(actors - 100)
					g, j := r/(actors/10), r%(actors/10)
					cursor := typeKey("doc", []string{"org-" + strconv.Itoa(g), fmt.Sprintf("n%07d", g+10*j)})
					return ActorQuery{Type: "doc", Cursor: cursorEnc.EncodeToString([]byte(cursor))}
				}},
				{"prefix-all-types", func() ActorQuery {
					// Group g holds actors g, g+10, g+20...: start at its j-th,
					// with at least a page after it.
					g, j := rng.IntN(10), rng.IntN(actors/10-99)
					q := ActorQuery{Prefix: []string{"org-" + strconv.Itoa(g)}, Status: ActorActive}
					if j > 0 {
						i := g + 10*(j-1)
						q.Cursor = cursorEnc.EncodeToString([]byte(typeKey("doc", []string{"org-" + strconv.Itoa(g), fmt.Sprintf("n%07d", i)})))
					}
					return q
				}},
			} {
				b.Run(q.name, func(b *testing.B) {
					var lat benchutil.Latencies
					for b.Loop() {
						query := q.q()
						t0 := time.Now()
						page, err := r.Directory().List(query)
						if err != nil || len(page.Actors) != 100 {
							b.Fatalf("List(%+v) = %d actors, %v", query, len(page.Actors), err)
						}
						lat.Add(time.Since(t0))
					}
					lat.Report(b)
				})
			}
		})
	}
}

// BenchmarkDirectoryFold measures the directory's side of a rebuild alone,
// without the log: events over 10,000 actors (each one's first a create)
// folded and committed in batches of the default BatchSize, as the worker
// does. It moves less with the machine's load than BenchmarkApply does.
//
//	go test ./projections -run '^$' -bench DirectoryFold -benchmem
func BenchmarkDirectoryFold(b *testing.B) {
	r, _ := setup(b)
	p, err := r.get(DirectoryName)
	if err != nil {
		b.Fatal(err)
	}
	const actors = 10_000
	subjects := make([]string, actors)
	for i := range subjects {
		subjects[i], _ = eventlog.ActorRef{Type: "counter", Key: []string{"org-" + strconv.Itoa(i%10), strconv.Itoa(i)}}.Subject()
	}
	ev := &eventlog.Event{Generation: 1, Time: time.Unix(1_700_000_000, 0).UTC()}
	bt := batcher{p: p, tx: p.tx}
	defer p.tx.reset()
	var seq uint64
	for b.Loop() {
		seq++
		ev.Seq, ev.Subject, ev.Kind = seq, subjects[seq%actors], eventlog.KindAction
		if seq <= actors {
			ev.Kind = eventlog.KindCreate
		}
		if err := bt.add(ev); err != nil {
			b.Fatal(err)
		}
		if bt.events >= r.opts.BatchSize {
			if err := bt.commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := bt.commit(); err != nil {
		b.Fatal(err)
	}
}
