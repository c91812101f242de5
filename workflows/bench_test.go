package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/benchutil"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// The workflow benchmarks put a ten-step run beside one durable actor
// action on the same kind of runtime, in the same run, because these
// machines are shared and noisy: compare the two, not absolute figures.
//
//	go test ./workflows -run '^$' -bench 'TenStep|ActionBaseline' -benchtime 2s
//
// Issue 18's targets: a step costs at most 3x an action (step-p50-us over
// the baseline's p50-us), and 2,650 runs/s at concurrency 64. `rivet-flow
// bench workflows` measures the same on a whole node, with the steps'
// commit-to-commit times.

// benchConcurrency is the runs (or actions) in flight at once.
const benchConcurrency = 64

// benchSteps is the steps of BenchmarkTenStepWorkflow's runs.
const benchSteps = 10

// benchEnv is a runtime with the built-in actor types (counter) and an
// engine of defs over a real embedded log and Pebble store: newEnv's, with
// the baseline's type beside the workflows, for testing.B.
type benchEnv struct {
	log   *eventlog.Log
	snaps *snapshot.Store
	rt    *actors.Runtime
	eng   *workflows.Engine
}

func newBenchEnv(b *testing.B, defs ...workflows.Definition) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	ctx := context.Background()
	reg := builtin.Registry()
	if err := workflows.Register(reg, defs...); err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{}
	var err error
	if e.log, err = eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.log.Close(context.Background()); err != nil {
			b.Errorf("close log: %v", err)
		}
	})
	if e.snaps, err = snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := e.snaps.Close(); err != nil {
			b.Errorf("close snapshots: %v", err)
		}
	})
	if e.rt, err = actors.NewRuntime(e.log, e.snaps, reg, actors.RuntimeOptions{Logger: quietLogger(), SweepInterval: time.Hour}); err != nil {
		b.Fatal(err)
	}
	if err := e.rt.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := e.rt.Stop(ctx); err != nil {
			b.Errorf("stop runtime: %v", err)
		}
	})
	if e.eng, err = workflows.NewEngine(e.rt, defs, &workflows.EngineOptions{Logger: quietLogger(), Log: e.log}); err != nil {
		b.Fatal(err)
	}
	if err := e.eng.Start(ctx); err != nil {
		b.Fatal(err)
	}
	return e
}

// benchParallel runs b.N calls of fn from benchConcurrency goroutines
// (worker index, then the call's number) and returns each call's latency.
func benchParallel(b *testing.B, fn func(worker int, n uint64) error) *benchutil.Latencies {
	var lat benchutil.Latencies
	var next atomic.Uint64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range benchConcurrency {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > uint64(b.N) {
					return
				}
				start := time.Now()
				if err := fn(w, n); err != nil {
					b.Error(err)
					return
				}
				lat.Add(time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	return &lat
}

// BenchmarkTenStepWorkflow starts b.N runs of ten no-op steps, 64 at a
// time, each waited for with Await: runs/s, a run's latency and that
// latency per step (step-p50-us, to hold against BenchmarkActionBaseline's
// p50-us), and ns/step of throughput.
func BenchmarkTenStepWorkflow(b *testing.B) {
	wf := workflows.Define("tensteps", func(w *workflows.W, _ struct{}) (int, error) {
		sum := 0
		for i := range benchSteps {
			v, err := workflows.Step(w, "s"+strconv.Itoa(i), func(context.Context, *workflows.StepContext) (int, error) { return i, nil })
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
	e := newBenchEnv(b, wf)
	ctx := context.Background()
	want := strconv.Itoa(benchSteps * (benchSteps - 1) / 2)
	cpu := benchutil.StartCPU()
	lat := benchParallel(b, func(_ int, n uint64) error {
		id := "r" + strconv.FormatUint(n, 10)
		if _, _, err := e.eng.StartRun(ctx, wf.Name(), id, nil); err != nil {
			return err
		}
		run, err := e.eng.Await(ctx, wf.Name(), id)
		if err != nil {
			return err
		}
		if run.Status != workflows.StatusCompleted || string(run.Result) != want {
			return fmt.Errorf("run %s: %s, result %s, error %+v", id, run.Status, run.Result, run.Error)
		}
		return nil
	})
	cpu.Report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "runs/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSteps), "ns/step")
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	b.ReportMetric(us(lat.Quantile(0.5)), "run-p50-us")
	b.ReportMetric(us(lat.Quantile(0.99)), "run-p99-us")
	b.ReportMetric(us(lat.Quantile(0.5))/benchSteps, "step-p50-us")
	b.ReportMetric(us(lat.Quantile(0.99))/benchSteps, "step-p99-us")
	b.Logf("GOMAXPROCS %d, %d runs", runtime.GOMAXPROCS(0), b.N)
}

// BenchmarkActionBaseline is the baseline of BenchmarkTenStepWorkflow: b.N
// counter increments (each answered once its event is acknowledged), 64 at
// a time, one counter per goroutine, on the same kind of runtime.
func BenchmarkActionBaseline(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	counters := make([]*actors.Handle, benchConcurrency)
	for i := range counters {
		h, _, err := e.rt.Client().GetOrCreate(ctx, "counter", []string{strconv.Itoa(i)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		counters[i] = h
	}
	args := json.RawMessage(`[1]`)
	cpu := benchutil.StartCPU()
	lat := benchParallel(b, func(w int, _ uint64) error {
		_, err := counters[w].ActionJSON(ctx, "increment", args)
		return err
	})
	cpu.Report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "actions/s")
	lat.Report(b)
}
