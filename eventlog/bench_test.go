package eventlog_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/benchutil"
)

// Benchmarks put rivet-flow's appends side by side with raw JetStream publishes
// on the same embedded server in the same run, because these machines are
// shared and noisy: compare ratios, not absolute figures.
//
//	go test ./eventlog -run '^$' -bench 'Append|Raw' -benchtime 3s -count 5 | benchstat -
//	RIVETFLOW_BENCH_EVENTS=1000000 go test ./eventlog -run '^$' -bench 'Scan|Wake' -benchtime 5x
//	RIVETFLOW_BENCH_FSYNC=always go test ./eventlog -run '^$' -bench Append -benchtime 2s

func benchEvent() *eventlog.Event {
	return &eventlog.Event{Kind: eventlog.KindAction, Action: "increment", Args: []byte(`[1]`), Caller: "bench",
		Time: time.Unix(1700000000, 0), Seed: 42, HasState: true, State: []byte(`{"count":12345}`), Output: []byte(`12345`), CodeVersion: "v1"}
}

// BenchmarkRawPublish is the baseline: JetStream publishes to the same stream
// with no fencing, async (windowed by the client) and sync (one at a time).
func BenchmarkRawPublish(b *testing.B) {
	b.Run("async", func(b *testing.B) {
		benchutil.RawPublishAsync(b, openLog(b, b.TempDir()).JetStream(), eventlog.MarshalEvent(benchEvent()))
	})
	b.Run("sync", func(b *testing.B) {
		benchutil.RawPublishSync(b, openLog(b, b.TempDir()).JetStream(), eventlog.MarshalEvent(benchEvent()))
	})
}

// BenchmarkAppend measures fenced appends (reply after the ack) across 1, 100
// and 10,000 actors, one append in flight per actor, many actors at once.
func BenchmarkAppend(b *testing.B) {
	for _, actors := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("actors=%d", actors), func(b *testing.B) {
			l := openLog(b, b.TempDir(), benchFsync)
			subjects := make([]string, actors)
			for i := range subjects {
				subjects[i] = subjectOf(b, "bench", strconv.Itoa(i))
			}
			workers := min(actors, benchutil.Workers())
			ev := benchEvent()
			var lat benchutil.Latencies
			var wg sync.WaitGroup
			ctx := context.Background()
			b.ResetTimer()
			for w := range workers {
				wg.Go(func() {
					last := make([]uint64, actors)
					n := b.N / workers
					if w < b.N%workers {
						n++
					}
					for i := range n {
						// Worker w owns actors w, w+workers, w+2*workers, ...: round-robin over them.
						owned := (actors - w + workers - 1) / workers
						a := w + (i%owned)*workers
						start := time.Now()
						seq, err := l.Append(ctx, subjects[a], last[a], ev)
						if err != nil {
							b.Error(err)
							return
						}
						if actors == 1 || workers == 1 {
							lat.Add(time.Since(start))
						}
						last[a] = seq
					}
				})
			}
			wg.Wait()
			benchutil.ReportRate(b, b.N)
			lat.Report(b)
		})
	}
}

// fillOnce builds one large log per process for the scan and wake benchmarks.
var fill struct {
	once sync.Once
	dir  string
	n    int
	err  error
}

// benchLog returns a log holding RIVETFLOW_BENCH_EVENTS events (default 200k)
// over 10,000 actors, plus actor "cold", whose 100 events are spread over the
// whole log, and actor "hot", whose 100 events are spread over its last tenth.
func benchLog(b *testing.B) (*eventlog.Log, int) {
	fill.once.Do(func() {
		fill.n = 200_000
		if v := os.Getenv("RIVETFLOW_BENCH_EVENTS"); v != "" {
			fill.n, fill.err = strconv.Atoi(v)
		}
		fill.dir, _ = os.MkdirTemp("", "rivet-flow-bench")
		l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: fill.dir, Logger: discardLogger()})
		if err != nil {
			fill.err = err
			return
		}
		defer l.Close(context.Background())
		js := l.JetStream()
		data := eventlog.MarshalEvent(benchEvent())
		cold := subjectOf(b, "wake", "cold")
		hot := subjectOf(b, "wake", "hot")
		start := time.Now()
		for i := range fill.n {
			subj := "rf.ev.bench.k" + strconv.Itoa(i%10_000)
			switch {
			case i%(fill.n/100) == 0:
				subj = cold
			case i >= fill.n*9/10 && i%(fill.n/1000) == 1:
				subj = hot
			}
			if _, err := js.PublishMsgAsync(&nats.Msg{Subject: subj, Data: data}); err != nil {
				fill.err = err
				return
			}
			if i%100_000 == 99_999 {
				<-js.PublishAsyncComplete()
				fmt.Fprintf(os.Stderr, "\rfilling the benchmark log: %d/%d", i+1, fill.n)
			}
		}
		<-js.PublishAsyncComplete()
		fmt.Fprintf(os.Stderr, "\rfilled %d events in %s\n", fill.n, time.Since(start).Round(time.Millisecond))
	})
	if fill.err != nil {
		b.Fatal(fill.err)
	}
	return openLog(b, fill.dir), fill.n
}

// BenchmarkScan is the rebuild scan: events/s over the whole log.
func BenchmarkScan(b *testing.B) {
	l, n := benchLog(b)
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		count := 0
		if _, err := l.Scan(ctx, 1, func(*eventlog.Event) error { count++; return nil }); err != nil {
			b.Fatal(err)
		}
		if count != n {
			b.Fatalf("scanned %d, want %d", count, n)
		}
	}
	benchutil.ReportRate(b, b.N*n)
}

// BenchmarkWake reads one actor's 100 events: the tail a wake reads after its
// snapshot ("hot": spread over the last tenth of the log) and the worst case of
// history scattered through the whole log ("cold").
func BenchmarkWake(b *testing.B) {
	l, _ := benchLog(b)
	for _, name := range []string{"hot", "cold"} {
		b.Run(name, func(b *testing.B) {
			subj := subjectOf(b, "wake", name)
			ctx := context.Background()
			var lat benchutil.Latencies
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				evs, err := l.ReadActor(ctx, subj, 0, 100)
				if err != nil {
					b.Fatal(err)
				}
				if len(evs) != 100 {
					b.Fatalf("read %d events, want 100", len(evs))
				}
				lat.Add(time.Since(start))
			}
			lat.Report(b)
		})
	}
}

// benchFsync applies RIVETFLOW_BENCH_FSYNC (default or always) to the log.
func benchFsync(c *eventlog.Config) {
	if m := os.Getenv("RIVETFLOW_BENCH_FSYNC"); m != "" {
		c.Fsync = eventlog.FsyncMode(m)
	}
}
