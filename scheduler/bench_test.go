package scheduler

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/projections"
)

// Benchmarks run on the wall clock (clock.System) over a real embedded log
// and Pebble, beside a raw time.AfterFunc baseline measured in the same run.
// Run them one at a time:
//
//	go test -run '^$' -bench BenchmarkFireLateness -benchtime 1x ./scheduler/
//	go test -run '^$' -bench BenchmarkStartup1M -benchtime 1x -timeout 30m ./scheduler/

// bellType is the benchmarks' actor type: setAt(unixMs...) sets alarms due
// at those times; ring, their fire, reports the alarm to onRing.
func bellType(onRing func(a time.Time, now time.Time)) *actors.Type[struct{}] {
	return actors.NewType("bell", actors.Options[struct{}]{}).
		Action("setAt", actors.Act(func(c *actors.Context[struct{}], ms []int64) (int, error) {
			for _, m := range ms {
				if _, err := c.Schedule().At(time.UnixMilli(m), "ring"); err != nil {
					return 0, err
				}
			}
			return len(ms), nil
		})).
		Action("ring", actors.Act0(func(c *actors.Context[struct{}]) (bool, error) {
			a, _ := c.Alarm()
			if onRing != nil {
				onRing(a.At, c.Now())
			}
			return true, nil
		}))
}

// benchNode is a runtime, a runner and a scheduler on the wall clock.
type benchNode struct {
	dir    string
	log    *eventlog.Log
	snaps  *snapshot.Store
	rt     *actors.Runtime
	runner *projections.Runner
	s      *Scheduler

	// Set by start: the process's heap (after a GC) once the scheduler is
	// ready, and the time to open and start the runner (with the index) and
	// then the scheduler.
	heapReady           uint64
	openTook, schedTook time.Duration
}

func heapNow() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func openBenchLog(b *testing.B, dir string) *eventlog.Log {
	b.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			b.Error(err)
		}
	})
	return l
}

// start opens and starts the node's services; ready is the time from
// opening the projections to the scheduler's Started. With noScheduler the
// scheduler is made (its index registered) but not started.
func (n *benchNode) start(b *testing.B, reg *actors.Registry, noScheduler ...bool) (ready time.Duration) {
	b.Helper()
	var err error
	if n.snaps, err = snapshot.Open(filepath.Join(n.dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	if n.rt, err = actors.NewRuntime(n.log, n.snaps, reg, actors.RuntimeOptions{Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	if err := n.rt.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	begin := time.Now()
	if n.runner, err = projections.Open(filepath.Join(n.dir, "projections"), n.log, &projections.Options{Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	if n.s, err = New(n.rt, n.runner, &Options{Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	if err := n.runner.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	if len(noScheduler) > 0 && noScheduler[0] {
		return 0
	}
	n.openTook = time.Since(begin)
	if err := n.s.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	<-n.s.Started()
	ready = time.Since(begin)
	n.schedTook = ready - n.openTook
	n.heapReady = heapNow()
	return ready
}

func (n *benchNode) stop(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.s.Close(); err != nil {
		b.Error(err)
	}
	if err := n.runner.Stop(ctx); err != nil {
		b.Error(err)
	}
	if err := n.rt.Stop(ctx); err != nil {
		b.Error(err)
	}
	if err := n.runner.Close(); err != nil {
		b.Error(err)
	}
	if err := n.snaps.Close(); err != nil {
		b.Error(err)
	}
}

func (n *benchNode) waitIndex(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	seq, err := n.log.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.runner.Wait(ctx, IndexName, seq); err != nil {
		b.Fatal(err)
	}
}

// percentiles returns the p50, p99 and max of ds, in milliseconds.
func percentiles(ds []time.Duration) (p50, p99, maxMs float64) {
	slices.Sort(ds)
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))]) / 1e6 }
	return at(0.50), at(0.99), at(1)
}

// BenchmarkFireLateness sets alarms due at rate a second for a few seconds
// (rate/1,000 per millisecond, spread over 1,000 actors) and measures each
// fire's lateness: the time its action starts (Context.Now) minus its due
// time. The baseline arms a time.AfterFunc for each of the same due times
// and measures its callback's lateness; the ceiling (direct-fires/s) is the
// runtime's own rate of Runtime.FireAlarm from 256 callers, no scheduler.
// A rate above the ceiling builds a backlog, and lateness grows with it.
func BenchmarkFireLateness(b *testing.B) {
	for _, rate := range []int{10_000, 5_000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchFireLateness(b, rate) })
	}
}

func benchFireLateness(b *testing.B, rate int) {
	const (
		seconds = 3
		actorsN = 1000
		lead    = 10 * time.Second // to set the alarms before the first is due
	)
	total := rate * seconds
	for range b.N {
		var mu sync.Mutex
		lateness := make([]time.Duration, 0, total)
		done := make(chan struct{})
		var count atomic.Int64
		reg, err := actors.NewRegistry(bellType(func(at, now time.Time) {
			mu.Lock()
			lateness = append(lateness, now.Sub(at))
			mu.Unlock()
			if count.Add(1) == int64(total) {
				close(done)
			}
		}))
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		n := &benchNode{dir: dir, log: openBenchLog(b, dir)}
		n.start(b, reg)
		t0 := time.Now().Add(lead).Truncate(time.Millisecond)
		perActor := make([][]int64, actorsN)
		for i := range total {
			due := t0.Add(time.Duration(i) * time.Second / time.Duration(rate))
			perActor[i%actorsN] = append(perActor[i%actorsN], due.UnixMilli())
		}
		setAlarms(b, n.rt, perActor)
		n.waitIndex(b)
		if time.Now().After(t0) {
			b.Fatalf("setting %d alarms took longer than the %s lead", total, lead)
		}
		select {
		case <-done:
		case <-time.After(lead + seconds*time.Second + time.Minute):
			b.Fatalf("%d of %d alarms fired", count.Load(), total)
		}
		elapsed := time.Since(t0)
		st, _ := n.s.Stats()
		n.stop(b)
		p50, p99, mx := percentiles(lateness)
		b.ReportMetric(p50, "p50-ms")
		b.ReportMetric(p99, "p99-ms")
		b.ReportMetric(mx, "max-ms")
		b.ReportMetric(float64(total)/elapsed.Seconds(), "fires/s")
		b.ReportMetric(float64(st.Dropped+st.Retried), "dropped+retried")

		// The baseline: a raw timer per alarm, same due times.
		base := make([]time.Duration, total)
		var baseWG sync.WaitGroup
		baseWG.Add(total)
		t1 := time.Now().Add(time.Second).Truncate(time.Millisecond)
		for i := range total {
			due := time.UnixMilli(t1.Add(time.Duration(i) * time.Second / time.Duration(rate)).UnixMilli())
			time.AfterFunc(time.Until(due), func() {
				base[i] = time.Since(due)
				baseWG.Done()
			})
		}
		baseWG.Wait()
		p50, p99, mx = percentiles(base)
		b.ReportMetric(p50, "base-p50-ms")
		b.ReportMetric(p99, "base-p99-ms")
		b.ReportMetric(mx, "base-max-ms")

		// The ceiling: the same number of fires called directly on the
		// runtime (no scheduler), as fast as 256 callers go.
		b.ReportMetric(directFires(b, total, actorsN), "direct-fires/s")
	}
}

// setAlarms sets perActor[a] (unix ms) on bell actor a, from 16 callers.
func setAlarms(b *testing.B, rt *actors.Runtime, perActor [][]int64) {
	b.Helper()
	var wg sync.WaitGroup
	ctx := context.Background()
	for w := range 16 {
		wg.Go(func() {
			for a := w; a < len(perActor); a += 16 {
				h, _, err := rt.Client().GetOrCreate(ctx, "bell", []string{fmt.Sprint(a)}, nil)
				if err == nil {
					_, err = h.Action(ctx, "setAt", perActor[a])
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// directFires sets total alarms due now over actorsN bell actors on a node
// whose scheduler is not started, then fires them with Runtime.FireAlarm
// from 256 callers (the scheduler's default concurrency), and returns the
// fires a second.
func directFires(b *testing.B, total, actorsN int) float64 {
	b.Helper()
	reg, err := actors.NewRegistry(bellType(nil))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	n := &benchNode{dir: dir, log: openBenchLog(b, dir)}
	n.start(b, reg, true)
	defer n.stop(b)
	now := time.Now().UnixMilli()
	perActor := make([][]int64, actorsN)
	for i := range total {
		perActor[i%actorsN] = append(perActor[i%actorsN], now)
	}
	setAlarms(b, n.rt, perActor)
	n.waitIndex(b)
	var due []Pending
	for cursor := ""; ; {
		page, err := n.runner.Rows(IndexName, DuePrefix, projections.MaxPageLimit, cursor)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range page.Rows {
			p, err := parseDue(r.Key, r.Value)
			if err != nil {
				b.Fatal(err)
			}
			due = append(due, p)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(due) != total {
		b.Fatalf("%d alarms in the index, want %d", len(due), total)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 256 {
		wg.Go(func() {
			for i := w; i < len(due); i += 256 {
				if ok, err := n.rt.FireAlarm(context.Background(), due[i].ActorID, due[i].AlarmID, due[i].At); !ok || err != nil {
					b.Errorf("FireAlarm: %v %v", ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// BenchmarkStartup1M sets 1,000,000 pending alarms (1,000 actors x 1,000,
// due in a day, so none fires) through the runtime, lets the index fold
// them, stops everything, then measures the start-up from opening the
// projections to the scheduler ready (it has read the earliest alarm and
// armed its timer), split into opening the runner with the index (Pebble;
// the first open after the writes replays its WAL) and the scheduler's first
// read; the process's whole heap once ready (the scheduler keeps no alarm
// in memory but those it fires), the disk the index takes per pending alarm,
// and the cost of reading the next due alarm with a million pending. The
// baseline arms 1,000,000 time.AfterFunc timers (heap per timer, time to
// arm them, not counting loading them from anywhere).
func BenchmarkStartup1M(b *testing.B) {
	const (
		actorsN  = 1000
		perActor = 1000
		total    = actorsN * perActor
	)
	reg, err := actors.NewRegistry(bellType(nil))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	n := &benchNode{dir: dir, log: openBenchLog(b, dir)}
	n.start(b, reg)
	due := time.Now().Add(24 * time.Hour).UnixMilli()
	build := time.Now()
	perActorMs := make([][]int64, actorsN)
	for a := range perActorMs {
		perActorMs[a] = make([]int64, perActor)
		for j := range perActorMs[a] {
			perActorMs[a][j] = due + int64(a*perActor+j)/10
		}
	}
	setAlarms(b, n.rt, perActorMs)
	appended := time.Since(build)
	n.waitIndex(b)
	folded := time.Since(build)
	if st, err := n.s.Stats(); err != nil || st.Pending != total {
		b.Fatalf("%d pending in the index (%v), want %d", st.Pending, err, total)
	}
	n.stop(b)
	var disk int64
	_ = filepath.WalkDir(filepath.Join(dir, "projections"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				disk += info.Size()
			}
		}
		return nil
	})

	var ready, open, sched, next time.Duration
	var heapReady float64
	for range b.N {
		ready += n.start(b, reg)
		open, sched = open+n.openTook, sched+n.schedTook
		heapReady += float64(n.heapReady)
		first, err := n.s.Next(1)
		if err != nil || len(first) != 1 || first[0].At.UnixMilli() != due {
			b.Fatalf("Next: %v %v", first, err)
		}
		const reads = 1000
		start := time.Now()
		for range reads {
			if _, err := n.s.Next(1); err != nil {
				b.Fatal(err)
			}
		}
		next += time.Since(start) / reads
		n.stop(b)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
	b.ReportMetric(appended.Seconds(), "append-s")
	b.ReportMetric(folded.Seconds(), "append+index-s")
	b.ReportMetric(float64(disk)/total, "disk-B/alarm")
	b.ReportMetric(per(ready), "ready-ms")
	b.ReportMetric(per(open), "open-ms")
	b.ReportMetric(per(sched), "sched-ms")
	b.ReportMetric(heapReady/float64(b.N)/(1<<20), "heap-MB")
	b.ReportMetric(float64(next.Nanoseconds())/1000/float64(b.N), "next-us")

	// The baseline: a million raw timers, armed and stopped.
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	timers := make([]*time.Timer, total)
	for i := range timers {
		timers[i] = time.AfterFunc(24*time.Hour+time.Duration(i)*time.Millisecond/10, func() {})
	}
	armed := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	for _, t := range timers {
		t.Stop()
	}
	b.ReportMetric(float64(armed.Microseconds())/1000, "base-arm-ms")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/total, "base-heap-B/timer")
}
