package actors_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/rivet-flow/rivet-flow/actors"
)

// linInput is one call of the linearizability test: inc(n), get(), or nap()
// (a read that also asks the actor to sleep, modelled as get).
type linInput struct {
	Op string // "inc", "get" or "nap"
	N  int64  // inc's amount
}

// linOutput is the count a call returned, or Unknown when its outcome is not
// known (the call failed with unknown_outcome or its context ended): the
// increment may or may not have happened, and any output is accepted.
type linOutput struct {
	V       int64
	Unknown bool
}

// linModel is a counter: inc(n) returns the count plus n, get returns the count.
var linModel = porcupine.Model{
	Init: func() interface{} { return int64(0) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		st, in, out := state.(int64), input.(linInput), output.(linOutput)
		if in.Op == "inc" {
			return out.Unknown || out.V == st+in.N, st + in.N
		}
		return out.Unknown || out.V == st, st
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(linInput), output.(linOutput)
		res := fmt.Sprint(out.V)
		if out.Unknown {
			res = "unknown"
		}
		if in.Op == "inc" {
			return fmt.Sprintf("inc(%d) -> %s", in.N, res)
		}
		return fmt.Sprintf("%s() -> %s", in.Op, res)
	},
	DescribeState: func(state interface{}) string { return fmt.Sprint(state.(int64)) },
}

// TestLinearizabilityCounter: concurrent increments and reads of one actor,
// while it is put to sleep (woken again from its snapshot and log) and the
// runtime restarts, form a linearizable history of a counter.
//
// Failed calls are left out of the history: the runtime answers an error only
// when the event is not stored (ErrStopping during the restart, for one).
// The exceptions, unknown_outcome and an ended context, are kept as
// increments whose outcome is unknown: they may take effect at any point
// after their call, or never.
func TestLinearizabilityCounter(t *testing.T) {
	t.Parallel()
	const clients, total = 8, 400
	var wakes, sleeps atomic.Int64
	typ := ftType("ftlin", actors.Options[ftState]{
		SnapshotEvery: 16, // wakes fold events over a snapshot, not just a snapshot
		OnWake:        func(*actors.Context[ftState]) error { wakes.Add(1); return nil },
		OnSleep:       func(*actors.Context[ftState]) error { sleeps.Add(1); return nil },
	}).Action("nap", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
		c.Sleep()
		return c.State.Count, nil
	}))
	b := ftSetup(t, nil, typ)
	var cur atomic.Pointer[actors.Handle] // replaced by the restart
	cur.Store(ftCreate(t, b, "ftlin", "one"))

	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) } // monotonic nanoseconds
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var (
		next, done atomic.Int64 // tickets handed out, calls answered
		wg         sync.WaitGroup
		mu         sync.Mutex
		ops        []porcupine.Operation
		unknown    []int // indexes in ops of calls with unknown outcomes
		failures   = map[string]int{}
		gate       sync.RWMutex // held by the sleeps below, between calls
	)
	defer wg.Wait() // after a t.Fatal below too: the workers stop with ctx
	defer cancel()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(start.UnixNano())))
			// Two clients call without a deadline: they run their calls
			// inline on an idle actor instead of handing them to the pool.
			callCtx := ctx
			if c < 2 {
				callCtx = context.Background()
			}
			for next.Add(1) <= total && ctx.Err() == nil {
				in := linInput{Op: "get"}
				switch p := rng.IntN(100); {
				case p < 55:
					in = linInput{Op: "inc", N: 1 + rng.Int64N(5)}
				case p < 60:
					in.Op = "nap"
				}
				for ctx.Err() == nil {
					var args []any
					if in.Op == "inc" {
						args = []any{in.N}
					}
					h := cur.Load()
					gate.RLock()
					call := now()
					v, err := actors.Call[int64](callCtx, h, in.Op, args...)
					ret := now()
					gate.RUnlock()
					op := porcupine.Operation{ClientId: c, Input: in, Call: call, Output: linOutput{V: v}, Return: ret}
					mu.Lock()
					switch {
					case err == nil:
						ops = append(ops, op)
					case in.Op == "inc" && (errors.Is(err, actors.ErrUnknownOutcome) || errors.Is(err, context.DeadlineExceeded)):
						op.Output = linOutput{Unknown: true}
						unknown = append(unknown, len(ops))
						ops = append(ops, op)
					default:
						failures[fmt.Sprintf("%s: %v", in.Op, err)]++
					}
					mu.Unlock()
					if errors.Is(err, actors.ErrStopping) {
						// The restart: retry on the new runtime's handle.
						time.Sleep(time.Millisecond)
						continue
					}
					break
				}
				done.Add(1)
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond) // let the mailbox empty now and then
			}
		}()
	}

	// Disturb the actor while the clients run: sleeps and one restart.
	waitDone := func(n int64) {
		t.Helper()
		for done.Load() < n {
			if ctx.Err() != nil {
				t.Fatalf("the clients made %d calls before the deadline", done.Load())
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	// sleepIdle puts the actor to sleep past its idle timeout. A busy actor
	// never idles, so it holds the calls back for a moment, to queue the
	// sleep behind the calls in flight, then lets them race the sleep; it
	// tries again until OnSleep ran (a call queued first cancels the sleep)
	// or the actor is asleep already (after a nap: the clients' nap calls ask
	// for more sleeps, unaided).
	sleepIdle := func() {
		t.Helper()
		before := sleeps.Load()
		for range 200 {
			gate.Lock()
			b.clock.Advance(24 * time.Hour)
			b.rt.SleepIdle()
			gate.Unlock()
			for range 20 {
				if sleeps.Load() != before || b.rt.Awake() == 0 {
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		t.Fatal("the actor did not go to sleep")
	}
	for _, at := range []int64{40, 80, 120} {
		waitDone(at)
		sleepIdle()
	}
	waitDone(total / 2)
	b.restart(t)
	h, err := b.rt.Client().Get(ftCtx(t), "ftlin", []string{"one"})
	if err != nil {
		t.Fatalf("get the actor after the restart: %v", err)
	}
	cur.Store(h)
	for _, at := range []int64{260, 300, 340} {
		waitDone(at)
		sleepIdle()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the clients did not finish: %d calls answered", done.Load())
	}

	midWakes, midSleeps := wakes.Load(), sleeps.Load()

	// A last read, once the actor has slept: it folds every stored increment.
	ftAsleep(t, b)
	call := now()
	v := ftCall[int64](t, h, "get")
	ops = append(ops, porcupine.Operation{ClientId: clients, Input: linInput{Op: "get"}, Call: call, Output: linOutput{V: v}, Return: now()})
	// Unknown outcomes may take effect until the end of the history.
	end := now() + 1
	for _, i := range unknown {
		ops[i].Return = end
	}

	t.Logf("%d operations (%d unknown outcomes), final count %d, %d wakes and %d sleeps during the run, failed calls left out: %v",
		len(ops), len(unknown), v, midWakes, midSleeps, failures)
	if !porcupine.CheckOperations(linModel, ops) {
		res, info := porcupine.CheckOperationsVerbose(linModel, ops, 30*time.Second)
		f, err := os.CreateTemp("", "rivet-flow-linearizability-*.html")
		if err != nil {
			t.Fatalf("history not linearizable (%v); no file for the visualization: %v", res, err)
		}
		f.Close()
		if err := porcupine.VisualizePath(linModel, info, f.Name()); err != nil {
			t.Fatalf("history not linearizable (%v); visualization failed: %v", res, err)
		}
		t.Fatalf("history not linearizable (%v); visualization: %s", res, f.Name())
	}
	if len(ops) < total/2 {
		t.Fatalf("only %d of %d calls succeeded", len(ops), total)
	}
	// Sleeps at six points above and with the restart (unless the actor was
	// asleep then), most followed by a wake.
	if midWakes < 3 || midSleeps < 3 {
		t.Fatalf("%d wakes and %d sleeps during the run: the actor was not put to sleep while called", midWakes, midSleeps)
	}
}
