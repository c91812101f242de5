package workflows_test

import (
	"context"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// ContinueAsNew restarts the function with the new input in the next
// epoch: each epoch's step runs once, the step count goes on across
// epochs, the old epochs' journal is deleted, and a signal buffered
// before the continue is still there after it.
func TestContinueAsNew(t *testing.T) {
	t.Parallel()
	var runs [4]atomic.Int32
	wf := workflows.Define("continuer", func(w *workflows.W, n int) (string, error) {
		if _, err := workflows.Step(w, "inc", func(context.Context, *workflows.StepContext) (int, error) {
			runs[n].Add(1)
			return n, nil
		}); err != nil {
			return "", err
		}
		if n < 3 {
			return "", w.ContinueAsNew(n + 1)
		}
		payload, _, err := w.WaitSignal("wait", "go", 0)
		return string(payload), err
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "r1", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.eng.Signal(ctx, "continuer", "r1", "go", []byte(`"kept"`)); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "continuer", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `"kept"` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
	for i := range runs {
		if n := runs[i].Load(); n != 1 {
			t.Errorf("epoch %d's step ran %d times, want 1", i, n)
		}
	}
	if run.Steps != 4 {
		t.Errorf("steps %d, want 4 (all epochs)", run.Steps)
	}
	for _, k := range e.journalKeys(t, "continuer", "r1") {
		if !strings.HasPrefix(k, "j/3/") {
			t.Errorf("journal key %s of an old epoch is left", k)
		}
	}
}

// countJournal counts the journal keys of run runID of name, from its
// actor's log (safe off the test's goroutine).
func (e *env) countJournal(name, runID string) (int, error) {
	ctx := context.Background()
	run, err := e.eng.Get(ctx, name, runID)
	if err != nil {
		return 0, err
	}
	im, err := e.rt.ImageAt(ctx, run.ActorID, math.MaxUint64)
	if err != nil {
		return 0, err
	}
	n := 0
	for k := range im.KV {
		if strings.HasPrefix(k, "j/") {
			n++
		}
	}
	return n, nil
}

// waitLong is wait with a deadline of 5 minutes, for long runs.
func (e *env) waitLong(t *testing.T, name, runID string) workflows.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run, err := e.eng.Await(ctx, name, runID)
	if err != nil {
		t.Fatalf("run %s of %s: %v (%+v)", runID, name, err, run)
	}
	return run
}

// memSample is what the flat-memory test samples as the loop goes.
type memSample struct {
	iter int
	// heap is HeapInuse: the whole process, the embedded NATS server's
	// block caches and Pebble's memtables included.
	heap uint64
	// ours is the sampled in-use bytes whose allocation site is this
	// module's code (innermost non-standard-library frame).
	ours int64
	keys int
}

// ourInUse sums the in-use bytes of the heap profile (as of the last GC)
// allocated by this module's code: the first frame outside the standard
// library is in github.com/rivet-flow/rivet-flow. The embedded NATS
// server's and Pebble's caches, which grow with the log until their own
// bounds, are theirs.
func ourInUse() int64 {
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+50)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	var sum int64
	for _, r := range recs {
		frames := runtime.CallersFrames(r.Stack())
		for {
			f, more := frames.Next()
			fn := f.Function
			// A function of the standard library has no '/' or no '.'
			// in its path's first element; a module's has a domain.
			if first, _, ok := strings.Cut(fn, "/"); ok && strings.Contains(first, ".") {
				if strings.HasPrefix(fn, "github.com/rivet-flow/rivet-flow/") && !strings.Contains(fn, "workflows_test.") {
					sum += scaled(r)
				}
				break
			}
			if !more {
				break
			}
		}
	}
	return sum
}

// scaled estimates the in-use bytes a sampled profile record stands for,
// as pprof does (runtime.MemProfileRate sampling).
func scaled(r runtime.MemProfileRecord) int64 {
	objs, bytes := r.InUseObjects(), r.InUseBytes()
	if objs == 0 || bytes == 0 {
		return 0
	}
	avg := float64(bytes) / float64(objs)
	return int64(float64(bytes) / (1 - math.Exp(-avg/float64(runtime.MemProfileRate))))
}

// flatLoop is a workflow that loops total iterations (a Step each, pruned
// every 20), continuing as new every every iterations when every > 0,
// and calls sample every sampleEvery iterations.
func flatLoop(name string, total, every, sampleEvery int, sample func(iter int)) *workflows.Workflow[int, int] {
	return workflows.Define(name, func(w *workflows.W, done int) (int, error) {
		n := total - done
		if every > 0 {
			n = min(n, every)
		}
		sum, err := workflows.Loop(w, "main", 0, func(w *workflows.W, i int) (workflows.LoopResult[int, int], error) {
			if i == n {
				return workflows.Break[int](i), nil
			}
			v, err := workflows.Step(w, "one", func(context.Context, *workflows.StepContext) (int, error) {
				if (done+i)%sampleEvery == 0 {
					sample(done + i)
				}
				return 1, nil
			})
			if err != nil {
				return workflows.LoopResult[int, int]{}, err
			}
			return workflows.Continue[int, int](i + v), nil
		}, workflows.LoopOptions{PruneEvery: 20})
		if err != nil {
			return 0, err
		}
		if done+sum < total {
			return 0, w.ContinueAsNew(done + sum)
		}
		return done + sum, nil
	})
}

// A long loop stays flat: the run's journal keys stay bounded and the
// memory this module's code holds does not grow with the iterations, with
// pruning alone and with ContinueAsNew every 1,000 iterations. 10k
// iterations sampled every 1k (3k every 300 under -race, to keep the test
// short); 100k with RIVETFLOW_LONG=1.
func TestLoopMemoryFlat(t *testing.T) {
	total, every := 10_000, 1_000
	if raceOn || testing.Short() {
		total, every = 3_000, 300
	}
	if os.Getenv("RIVETFLOW_LONG") == "1" {
		total, every = 100_000, 10_000
	}
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 4096
	defer func() { runtime.MemProfileRate = old }()
	for _, tc := range []struct {
		name string
		cont int
	}{{"flatprune", 0}, {"flatcontinue", 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var samples []memSample
			var e *env
			sample := func(iter int) {
				runtime.GC()
				runtime.GC() // the profile is as of the last completed GC
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				keys, err := e.countJournal(tc.name, "r1")
				if err != nil {
					t.Error(err)
				}
				s := memSample{iter: iter, heap: ms.HeapInuse, ours: ourInUse(), keys: keys}
				mu.Lock()
				samples = append(samples, s)
				mu.Unlock()
			}
			wf := flatLoop(tc.name, total, tc.cont, every, sample)
			e = newEnv(t, wf)
			if _, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", 0); err != nil {
				t.Fatal(err)
			}
			run := e.waitLong(t, tc.name, "r1")
			if got, err := workflows.Result(wf, run); err != nil || got != total {
				t.Fatalf("result %d, %v (run %+v, error %+v)", got, err, run, run.Error)
			}
			if run.Steps != total {
				t.Errorf("steps %d, want %d", run.Steps, total)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(samples) < 4 {
				t.Fatalf("%d samples", len(samples))
			}
			base := samples[1] // after the first interval: the runtime is warm
			for _, s := range samples {
				// The loop entry and at most PruneEvery+Keep iterations.
				if s.keys > 42 {
					t.Errorf("iteration %d: %d journal keys", s.iter, s.keys)
				}
				// +20%, and 64 KiB for the profile's sampling.
				if s.iter > base.iter && float64(s.ours) > float64(base.ours)*1.2+64<<10 {
					t.Errorf("iteration %d: this module holds %d bytes, over %d +20%%", s.iter, s.ours, base.ours)
				}
			}
			last := samples[len(samples)-1]
			t.Logf("%s: %d iterations; at %d: module %d B, heap in use %d B; at %d: module %d B, heap in use %d B, %d journal keys",
				tc.name, total, base.iter, base.ours, base.heap, last.iter, last.ours, last.heap, last.keys)
		})
	}
}
