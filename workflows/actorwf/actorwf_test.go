package actorwf_test

// Tests of durable workflows hosted in an actor's Run handler, on a real
// node (embedded log, scheduler, actor runtime): nothing of the log is
// mocked. Sleeping is observed with Runtime.IsAwake, which never wakes the
// actor; waits are bounded by deadlines.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
	"github.com/rivet-flow/rivet-flow/workflows/actorwf"
)

const waitFor = 20 * time.Second

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildEnv); dir != "" {
		killChild(dir)
		return
	}
	goleak.VerifyTestMain(m)
}

// node is a running node over a data dir.
type node struct {
	n   *rivetflow.Node
	cl  *actors.Client
	rt  *actors.Runtime
	dir string
}

// startNode starts a node serving types on dir ("" : a fresh temp dir). The
// node is stopped at cleanup (or earlier with stop).
func startNode(t *testing.T, dir string, types ...actors.Definition) *node {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	reg, err := actors.NewRegistry(types...)
	if err != nil {
		t.Fatal(err)
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Registry: reg,
		Actors: actors.RuntimeOptions{SweepInterval: 20 * time.Millisecond},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{n: n, cl: n.Runtime().Client(), rt: n.Runtime(), dir: dir}
	t.Cleanup(nd.stop)
	return nd
}

func (nd *node) stop() {
	if nd.n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = nd.n.Stop(ctx)
	nd.n = nil
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (nd *node) handle(ctx context.Context, t *testing.T, typ, key string) *actors.Handle {
	t.Helper()
	h, _, err := nd.cl.GetOrCreate(ctx, typ, []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recv receives from ch within the deadline.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitFor):
		t.Fatalf("timed out waiting for %s", what)
	}
	panic("unreachable")
}

// waitAsleep waits until the actor has left memory (it is not woken).
func (nd *node) waitAsleep(t *testing.T, id string) {
	t.Helper()
	eventually(t, "the actor to sleep", func() bool { return !nd.rt.IsAwake(id) })
}

// history reads the workflow's history as the inspector shows it.
func history(ctx context.Context, t *testing.T, h *actors.Handle) actorwf.History {
	t.Helper()
	raw, enabled, err := h.RunHistory(ctx)
	if err != nil || !enabled {
		t.Fatalf("RunHistory: enabled=%v err=%v", enabled, err)
	}
	var hist actorwf.History
	if err := json.Unmarshal(raw, &hist); err != nil {
		t.Fatalf("RunHistory JSON %s: %v", raw, err)
	}
	return hist
}

func waitOutcome(ctx context.Context, t *testing.T, h *actors.Handle, want string) actorwf.History {
	t.Helper()
	var hist actorwf.History
	eventually(t, "outcome "+want, func() bool {
		hist = history(ctx, t, h)
		return hist.Outcome == want
	})
	return hist
}

// st is the state of the test actors.
type st struct {
	Count  int `json:"count"`
	Wakes  int `json:"wakes"`
	Tries  int `json:"tries"`
	Errors int `json:"errors"`
}

// withState adds the usual action and wake counter to a type's options.
func opts(o actors.Options[st]) actors.Options[st] {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 150 * time.Millisecond
	}
	o.OnWake = func(c *actors.Context[st]) error { c.State.Wakes++; return nil }
	return o
}

func getState(ctx context.Context, t *testing.T, h *actors.Handle) st {
	t.Helper()
	out, err := h.Action(ctx, "get")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	var s st
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func newType(name string, o actors.Options[st], fn func(w *actorwf.W[st]) error, wo ...actorwf.Options[st]) *actors.Type[st] {
	return actors.NewType(name, actorwf.With(opts(o), fn, wo...)).
		Action("get", actors.Act0(func(c *actors.Context[st]) (st, error) { return *c.State, nil }))
}

// park waits for a queue message that never comes: the workflow stays
// unfinished and the actor may sleep.
func park(w *actorwf.W[st]) error {
	_, err := w.Queue().Next("park", actors.NextOptions{Names: []string{"never"}})
	return err
}

var parkQueues = map[string]actors.QueueSpec[st]{"never": {}}

// 1. A step's result, its state change seen with its journal entry, and no
// second run after a sleep and a wake.
func TestStepRunsOnceAcrossSleep(t *testing.T) {
	var execs, stepRuns atomic.Int32
	results := make(chan int, 10)
	typ := newType("stepper", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		execs.Add(1)
		v, err := actorwf.Step(w, "inc", func(c *actors.Context[st]) (int, error) {
			stepRuns.Add(1)
			c.State.Count++
			return c.State.Count * 10, nil
		})
		if err != nil {
			return err
		}
		results <- v
		return park(w)
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "stepper", "a")
	if v := recv(t, "the step's result", results); v != 10 {
		t.Fatalf("step result = %d, want 10", v)
	}
	if s := getState(ctx, t, h); s.Count != 1 {
		t.Fatalf("state after the step = %+v, want count 1", s)
	}
	hist := history(ctx, t, h)
	if md, ok := hist.EntryMetadata["inc"]; !ok || md.Status != "completed" {
		t.Fatalf("journal entry of the step: %+v (all: %+v)", md, hist.EntryMetadata)
	}

	nd.waitAsleep(t, h.ID)
	s := getState(ctx, t, h) // wakes it: the workflow runs again from the top
	if s.Wakes < 2 || s.Count != 1 {
		t.Fatalf("state after a wake = %+v, want wakes >= 2 and count 1", s)
	}
	if v := recv(t, "the replayed step's result", results); v != 10 {
		t.Fatalf("replayed step result = %d, want 10", v)
	}
	if execs.Load() < 2 {
		t.Fatalf("the workflow ran %d times, want a second execution after the wake", execs.Load())
	}
	if n := stepRuns.Load(); n != 1 {
		t.Fatalf("the step's function ran %d times, want 1", n)
	}
}

// 2. Retries: one failed attempt, its OnError event and its state change
// persist; no OnError again on replay. TryStep's failures.
func TestStepRetriesAndFailures(t *testing.T) {
	var mu sync.Mutex
	var events []actorwf.ErrorEvent
	var flakyRuns atomic.Int32
	type failures struct{ exhausted, critical *actorwf.StepFailure }
	got := make(chan failures, 10)
	typ := newType("retrier", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		v, err := actorwf.Step(w, "flaky", func(c *actors.Context[st]) (string, error) {
			c.State.Tries++
			if flakyRuns.Add(1) == 1 {
				return "", errors.New("boom")
			}
			return "ok", nil
		}, actorwf.StepOptions{MaxRetries: 2, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
		if err != nil {
			return err
		}
		if v != "ok" {
			return fmt.Errorf("flaky returned %q", v)
		}
		_, f1, err := actorwf.TryStep(w, "once", func(c *actors.Context[st]) (int, error) {
			return 0, errors.New("no retries")
		}, actorwf.StepOptions{MaxRetries: -1})
		if err != nil {
			return err
		}
		_, f2, err := actorwf.TryStep(w, "critical", func(c *actors.Context[st]) (int, error) {
			return 0, actorwf.NonRetryable(errors.New("fatal"))
		}, actorwf.StepOptions{BackoffBase: time.Millisecond})
		if err != nil {
			return err
		}
		got <- failures{f1, f2}
		return park(w)
	}, actorwf.Options[st]{OnError: func(c *actors.Context[st], ev actorwf.ErrorEvent) {
		c.State.Errors++
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "retrier", "a")
	f := recv(t, "the workflow to reach the parking", got)

	mu.Lock()
	var flaky []actorwf.ErrorEvent
	for _, ev := range events {
		if ev.Step != nil && ev.Step.StepName == "flaky" {
			flaky = append(flaky, ev)
		}
	}
	total := len(events)
	mu.Unlock()
	if len(flaky) != 1 {
		t.Fatalf("OnError events of flaky = %+v, want exactly one", flaky)
	}
	ev := *flaky[0].Step
	if ev.Attempt != 1 || !ev.WillRetry || ev.RetryDelay != 1 || ev.Error.Message != "boom" {
		t.Fatalf("OnError event = %+v, want attempt 1, willRetry, retryDelay 1, message boom", ev)
	}
	if total != 3 { // flaky's failed attempt, once's and critical's single attempts
		t.Fatalf("OnError was called %d times, want 3: %+v", total, events)
	}

	if f.exhausted == nil || f.exhausted.Kind != workflows.FailureExhausted || f.exhausted.Attempts != 1 || f.exhausted.Message != "no retries" {
		t.Fatalf("TryStep with MaxRetries -1: %+v, want exhausted after 1 attempt", f.exhausted)
	}
	if f.critical == nil || f.critical.Kind != workflows.FailureCritical || f.critical.Attempts != 1 {
		t.Fatalf("TryStep of a NonRetryable error: %+v, want critical after 1 attempt", f.critical)
	}
	if !strings.HasSuffix(f.exhausted.Step, "once") {
		t.Fatalf("StepFailure.Step = %q, want the step's name", f.exhausted.Step)
	}

	s := getState(ctx, t, h)
	if s.Tries != 2 || s.Errors != 3 {
		t.Fatalf("state = %+v, want tries 2 (the failed attempt's change kept) and errors 3", s)
	}

	nd.waitAsleep(t, h.ID)
	_ = getState(ctx, t, h)
	f = recv(t, "the replayed workflow to reach the parking", got)
	if f.exhausted == nil || f.exhausted.Kind != workflows.FailureExhausted || f.critical == nil || f.critical.Kind != workflows.FailureCritical {
		t.Fatalf("replayed failures: %+v %+v", f.exhausted, f.critical)
	}
	mu.Lock()
	n := len(events)
	mu.Unlock()
	if n != 3 || flakyRuns.Load() != 2 {
		t.Fatalf("after a wake: OnError calls %d (want 3), flaky runs %d (want 2)", n, flakyRuns.Load())
	}
	if s := getState(ctx, t, h); s.Tries != 2 || s.Errors != 3 {
		t.Fatalf("state after a wake = %+v", s)
	}
}

// A failed Step returned from the workflow fails it, with the failure in
// the outcome.
func TestFailedStepFailsWorkflow(t *testing.T) {
	typ := newType("failer", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		_, err := actorwf.Step(w, "bad", func(c *actors.Context[st]) (int, error) {
			return 0, actorwf.NonRetryable(errors.New("nope"))
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "failer", "a")
	hist := waitOutcome(ctx, t, h, "failed")
	if !strings.Contains(hist.Error, "nope") {
		t.Fatalf("outcome error = %q", hist.Error)
	}
}

// 3. A short sleep keeps the actor awake; a long one lets it sleep and its
// alarm brings the workflow back without any call.
func TestSleepShortAndLong(t *testing.T) {
	before := make(chan time.Time, 4)
	after := make(chan time.Time, 4)
	var afterRuns atomic.Int32
	typ := newType("sleeper", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		start := time.Now()
		if err := actorwf.Sleep(w, "short", 30*time.Millisecond); err != nil {
			return err
		}
		if _, err := actorwf.Step(w, "before", func(c *actors.Context[st]) (int, error) {
			before <- start
			return 0, nil
		}); err != nil {
			return err
		}
		if err := actorwf.Sleep(w, "nap", 1200*time.Millisecond); err != nil {
			return err
		}
		_, err := actorwf.Step(w, "after", func(c *actors.Context[st]) (int, error) {
			afterRuns.Add(1)
			after <- time.Now()
			return 0, nil
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "sleeper", "a")
	start := recv(t, "the step after the short sleep", before)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("short sleep took %v", d)
	}
	t0 := time.Now()
	nd.waitAsleep(t, h.ID) // the long sleep does not keep it awake
	if time.Since(t0) > time.Second {
		t.Fatalf("the actor slept only after %v", time.Since(t0))
	}
	at := recv(t, "the alarm to resume the workflow", after)
	if d := at.Sub(t0); d < time.Second {
		t.Fatalf("the step after the long sleep ran %v after it began", d)
	}
	waitOutcome(ctx, t, h, "completed")
	if afterRuns.Load() != 1 {
		t.Fatalf("the step after the sleep ran %d times", afterRuns.Load())
	}
}

// 3b. A long sleep's deadline survives a node restart.
func TestSleepSurvivesRestart(t *testing.T) {
	before := make(chan struct{}, 4)
	after := make(chan struct{}, 4)
	mk := func() *actors.Type[st] {
		return newType("sleeper", actors.Options[st]{IdleTimeout: 10 * time.Second}, func(w *actorwf.W[st]) error {
			if _, err := actorwf.Step(w, "before", func(c *actors.Context[st]) (int, error) {
				before <- struct{}{}
				return 0, nil
			}); err != nil {
				return err
			}
			if err := actorwf.Sleep(w, "nap", 2*time.Second); err != nil {
				return err
			}
			_, err := actorwf.Step(w, "after", func(c *actors.Context[st]) (int, error) {
				after <- struct{}{}
				return 0, nil
			})
			return err
		})
	}
	ctx := testCtx(t)
	nd := startNode(t, "", mk())
	h := nd.handle(ctx, t, "sleeper", "a")
	recv(t, "the first step", before)
	eventually(t, "the sleep's entry", func() bool {
		_, ok := history(ctx, t, h).EntryMetadata["nap"]
		return ok
	})
	nd.stop()
	select {
	case <-after:
		t.Fatal("the sleep ended before the restart")
	default:
	}
	nd2 := startNode(t, nd.dir, mk())
	recv(t, "the alarm after the restart to resume the workflow", after)
	h2, err := nd2.cl.Get(ctx, "sleeper", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	waitOutcome(ctx, t, h2, "completed")
}

type cmd struct {
	N int `json:"n"`
}

// 4. Queue: a completable message's response reaches a waiting sender;
// taken messages are not taken again after a sleep and a wake; a timeout
// gives nil.
func TestQueueNextCompleteAndReplay(t *testing.T) {
	var applied atomic.Int32
	timeouts := make(chan *actorwf.Message, 4)
	done := make(chan int, 4)
	typ := newType("queuer", actors.Options[st]{Queues: map[string]actors.QueueSpec[st]{"cmd": {}, "never": {}}}, func(w *actorwf.W[st]) error {
		m, err := w.Queue().Next("none", actors.NextOptions{Names: []string{"never"}, Timeout: 50 * time.Millisecond})
		if err != nil {
			return err
		}
		timeouts <- m
		for _, name := range []string{"first", "second"} {
			m, err := w.Queue().Next(name, actors.NextOptions{Names: []string{"cmd"}, Completable: true})
			if err != nil {
				return err
			}
			var c cmd
			if err := m.Decode(&c); err != nil {
				return err
			}
			total, err := actorwf.Step(w, "apply-"+name, func(ctx *actors.Context[st]) (int, error) {
				applied.Add(1)
				ctx.State.Count += c.N
				return ctx.State.Count, nil
			})
			if err != nil {
				return err
			}
			if err := m.Complete(map[string]int{"total": total}); err != nil {
				return err
			}
		}
		s, err := actorwf.Step(w, "read", func(c *actors.Context[st]) (int, error) { return c.State.Count, nil })
		if err != nil {
			return err
		}
		done <- s
		return nil
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "queuer", "a")
	if m := recv(t, "the timed-out wait", timeouts); m != nil {
		t.Fatalf("Next with a timeout and no message = %+v, want nil", m)
	}
	res, err := h.SendQueue(ctx, "cmd", json.RawMessage(`{"n":5}`), actors.QueueSendOptions{Wait: true, Timeout: 10 * time.Second})
	if err != nil || res.Status != actors.QueueCompleted || string(res.Response) != `{"total":5}` {
		t.Fatalf("send = %+v (%s), %v; want completed with {\"total\":5}", res, res.Response, err)
	}

	nd.waitAsleep(t, h.ID)
	if s := getState(ctx, t, h); s.Count != 5 { // wakes: the replay returns the first message
		t.Fatalf("state after a wake = %+v, want count 5", s)
	}
	if m := recv(t, "the replayed timed-out wait", timeouts); m != nil {
		t.Fatalf("replayed timeout = %+v", m)
	}
	res, err = h.SendQueue(ctx, "cmd", json.RawMessage(`{"n":7}`), actors.QueueSendOptions{Wait: true, Timeout: 10 * time.Second})
	if err != nil || res.Status != actors.QueueCompleted || string(res.Response) != `{"total":12}` {
		t.Fatalf("second send = %+v (%s), %v; want completed with {\"total\":12}", res, res.Response, err)
	}
	if v := recv(t, "the workflow's end", done); v != 12 {
		t.Fatalf("count = %d, want 12", v)
	}
	if applied.Load() != 2 {
		t.Fatalf("apply steps ran %d times, want 2", applied.Load())
	}
	waitOutcome(ctx, t, h, "completed")
	qs, err := h.QueueStatus(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if qs.Size != 0 {
		t.Fatalf("completed messages are still queued: %+v", qs)
	}
}

// 5. Loop: state carried across iterations (and across a sleep), Break's
// value, and a journal that stays small.
func TestLoopCarriesStateAndPrunes(t *testing.T) {
	results := make(chan [2]int, 4)
	typ := newType("looper", actors.Options[st]{Queues: map[string]actors.QueueSpec[st]{"cmd": {}}}, func(w *actorwf.W[st]) error {
		many, err := actorwf.Loop(w, "many", 0, func(w *actorwf.W[st], i int) (actorwf.LoopResult[int, int], error) {
			if _, err := actorwf.Step(w, "tick", func(c *actors.Context[st]) (int, error) { c.State.Count++; return i, nil }); err != nil {
				return actorwf.LoopResult[int, int]{}, err
			}
			if i+1 == 40 {
				return actorwf.Break[int](i + 1), nil
			}
			return actorwf.Continue[int, int](i + 1), nil
		})
		if err != nil {
			return err
		}
		sum, err := actorwf.Loop(w, "sum", 0, func(w *actorwf.W[st], sum int) (actorwf.LoopResult[int, int], error) {
			m, err := w.Queue().Next("next", actors.NextOptions{Names: []string{"cmd"}})
			if err != nil {
				return actorwf.LoopResult[int, int]{}, err
			}
			var c cmd
			if err := m.Decode(&c); err != nil {
				return actorwf.LoopResult[int, int]{}, err
			}
			if c.N == 0 {
				return actorwf.Break[int](sum * 100), nil
			}
			return actorwf.Continue[int, int](sum + c.N), nil
		})
		if err != nil {
			return err
		}
		results <- [2]int{many, sum}
		return nil
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "looper", "a")
	send := func(n int) {
		t.Helper()
		if _, err := h.SendQueue(ctx, "cmd", json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)), actors.QueueSendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	send(1)
	send(2)
	eventually(t, "two iterations of sum", func() bool {
		for _, e := range history(ctx, t, h).Entries {
			if v, ok := e.Kind.Val.(map[string]any); ok && e.Path == "sum" && v["iteration"] == float64(2) {
				return true
			}
		}
		return false
	})
	hist := history(ctx, t, h)
	if len(hist.Entries) > 10 {
		t.Fatalf("after 40 iterations the journal has %d entries: %+v", len(hist.Entries), hist.Entries)
	}
	nd.waitAsleep(t, h.ID)
	send(3) // wakes it
	send(0)
	r := recv(t, "the loops' values", results)
	if r != [2]int{40, 600} {
		t.Fatalf("loop values = %v, want [40 600]", r)
	}
	if s := getState(ctx, t, h); s.Count != 40 {
		t.Fatalf("count = %d, want 40 (each tick once)", s.Count)
	}
	hist = waitOutcome(ctx, t, h, "completed")
	if len(hist.Entries) > 10 {
		t.Fatalf("finished journal has %d entries", len(hist.Entries))
	}
}

// 6. Join, Race and Try.
func TestJoinRaceTry(t *testing.T) {
	type out struct {
		join      map[string]int
		joinErr   error
		winner    string
		value     string
		loserDone bool
		tryJoin   *actorwf.TryFailure
		tryStep   *actorwf.TryFailure
	}
	got := make(chan out, 4)
	loserEnded := make(chan struct{}, 4)
	typ := newType("joiner", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		var o out
		step := func(name string, v int) func(w *actorwf.W[st]) (int, error) {
			return func(w *actorwf.W[st]) (int, error) {
				return actorwf.Step(w, name, func(c *actors.Context[st]) (int, error) { c.State.Count += v; return v, nil })
			}
		}
		var err error
		if o.join, err = actorwf.Join(w, "both", map[string]func(w *actorwf.W[st]) (int, error){"a": step("s", 1), "b": step("s", 2)}); err != nil {
			return err
		}
		failing := func(w *actorwf.W[st]) (int, error) {
			return actorwf.Step(w, "s", func(c *actors.Context[st]) (int, error) { return 0, errors.New("branch broke") },
				actorwf.StepOptions{MaxRetries: -1})
		}
		_, o.joinErr = actorwf.Join(w, "bad", map[string]func(w *actorwf.W[st]) (int, error){"ok": step("s", 4), "broken": failing})
		o.winner, o.value, err = actorwf.Race(w, "race", []actorwf.Branch[st, string]{
			{Name: "slow", Run: func(w *actorwf.W[st]) (string, error) {
				<-w.Context().Done()
				loserEnded <- struct{}{}
				return "", w.Context().Err()
			}},
			{Name: "fast", Run: func(w *actorwf.W[st]) (string, error) {
				return actorwf.Step(w, "s", func(c *actors.Context[st]) (string, error) { return "won", nil })
			}},
		})
		if err != nil {
			return err
		}
		if _, o.tryJoin, err = actorwf.Try(w, "guard", func(w *actorwf.W[st]) (map[string]int, error) {
			return actorwf.Join(w, "inner", map[string]func(w *actorwf.W[st]) (int, error){"x": failing})
		}); err != nil {
			return err
		}
		if _, o.tryStep, err = actorwf.Try(w, "guard2", func(w *actorwf.W[st]) (int, error) {
			return failing(w)
		}); err != nil {
			return err
		}
		got <- o
		return nil
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "joiner", "a")
	o := recv(t, "the workflow", got)
	if o.join["a"] != 1 || o.join["b"] != 2 || len(o.join) != 2 {
		t.Fatalf("join values = %v", o.join)
	}
	var je *actorwf.JoinError
	if !errors.As(o.joinErr, &je) || je.Name != "bad" || !strings.Contains(je.Branches["broken"], "branch broke") || len(je.Branches) != 1 {
		t.Fatalf("failing join = %#v", o.joinErr)
	}
	if o.winner != "fast" || o.value != "won" {
		t.Fatalf("race = %q %q", o.winner, o.value)
	}
	recv(t, "the losing branch's context to end", loserEnded)
	if o.tryJoin == nil || o.tryJoin.Source != "join" || o.tryJoin.Name != "inner" {
		t.Fatalf("Try of a failing join = %+v", o.tryJoin)
	}
	if o.tryStep == nil || o.tryStep.Source != "step" || o.tryStep.Name != "s" {
		t.Fatalf("Try of a failing step = %+v", o.tryStep)
	}
	waitOutcome(ctx, t, h, "completed")
	if s := getState(ctx, t, h); s.Count != 7 {
		t.Fatalf("count = %d, want 7 (1+2+4)", s.Count)
	}
}

// 7. A workflow changed between two starts (a recorded step renamed) fails
// instead of running the renamed step.
func TestNondeterminismFailsWorkflow(t *testing.T) {
	reached := make(chan struct{}, 4)
	var renamedRuns atomic.Int32
	mk := func(stepName string) *actors.Type[st] {
		return newType("changer", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
			if _, err := actorwf.Step(w, stepName, func(c *actors.Context[st]) (int, error) {
				if stepName == "uno" {
					renamedRuns.Add(1)
				}
				return 1, nil
			}); err != nil {
				return err
			}
			reached <- struct{}{}
			return park(w)
		})
	}
	ctx := testCtx(t)
	nd := startNode(t, "", mk("one"))
	h := nd.handle(ctx, t, "changer", "a")
	recv(t, "the first version's step", reached)
	eventually(t, "the step's entry", func() bool {
		_, ok := history(ctx, t, h).EntryMetadata["one"]
		return ok
	})
	nd.stop()

	nd2 := startNode(t, nd.dir, mk("uno"))
	h2, err := nd2.cl.Get(ctx, "changer", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := h2.RunHistory(ctx) // wakes it
	if err != nil {
		t.Fatal(err)
	}
	_ = raw
	hist := waitOutcome(ctx, t, h2, "failed")
	if n := renamedRuns.Load(); n != 0 {
		t.Fatalf("the renamed step ran %d times", n)
	}
	if hist.Error == "" {
		t.Fatalf("a failed outcome without its error")
	}
	raw, _, _ = h2.RunHistory(ctx)
	if !strings.Contains(string(raw), `"outcome":"failed"`) {
		t.Fatalf("history JSON = %s", raw)
	}
}

// 8. Inspector: history shape, RestartRun refused in flight, and a replay
// from the beginning once finished.
func TestInspectorHistoryAndRestart(t *testing.T) {
	release := make(chan struct{})
	blocked := make(chan struct{}, 4)
	var firstRuns, actRuns, lastRuns atomic.Int32
	typ := newType("inspected", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		if _, err := actorwf.Step(w, "first", func(c *actors.Context[st]) (int, error) { firstRuns.Add(1); return 1, nil }); err != nil {
			return err
		}
		if _, err := actorwf.Activity(w, "slow", func(ctx context.Context, a *actorwf.ActivityContext[st]) (string, error) {
			actRuns.Add(1)
			blocked <- struct{}{}
			select {
			case <-release:
				return "done", nil
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}); err != nil {
			return err
		}
		_, err := actorwf.Step(w, "last", func(c *actors.Context[st]) (int, error) { lastRuns.Add(1); c.State.Count++; return 0, nil })
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "inspected", "a")
	recv(t, "the activity", blocked)

	raw, enabled, err := h.RunHistory(ctx)
	if err != nil || !enabled {
		t.Fatalf("RunHistory: %v %v", enabled, err)
	}
	var generic map[string]json.RawMessage
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nameRegistry", "entries", "entryMetadata"} {
		if v := string(generic[k]); v == "" || v == "[]" || v == "{}" || v == "null" {
			t.Fatalf("history %s is empty: %s", k, raw)
		}
	}
	if err := h.RestartRun(ctx); !errors.Is(err, actors.ErrRunInFlight) {
		t.Fatalf("RestartRun in flight = %v, want ErrRunInFlight", err)
	}
	close(release)
	waitOutcome(ctx, t, h, "completed")
	if firstRuns.Load() != 1 || actRuns.Load() != 1 || lastRuns.Load() != 1 {
		t.Fatalf("runs before the restart: %d %d %d", firstRuns.Load(), actRuns.Load(), lastRuns.Load())
	}
	if err := h.RestartRun(ctx); err != nil {
		t.Fatalf("RestartRun after the end = %v", err)
	}
	eventually(t, "the replay's last step", func() bool { return lastRuns.Load() == 2 })
	if firstRuns.Load() != 2 || actRuns.Load() != 2 {
		t.Fatalf("runs after the restart: %d %d %d", firstRuns.Load(), actRuns.Load(), lastRuns.Load())
	}
	waitOutcome(ctx, t, h, "completed")
	if s := getState(ctx, t, h); s.Count != 2 {
		t.Fatalf("count = %d, want 2", s.Count)
	}
}

// 9. A step that destroys the actor ends the workflow; the actor is gone.
func TestDestroyFromStep(t *testing.T) {
	var afterRuns atomic.Int32
	typ := newType("doomed", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		if _, err := actorwf.Step(w, "bye", func(c *actors.Context[st]) (int, error) { c.Destroy(); return 0, nil }); err != nil {
			return err
		}
		_, err := actorwf.Step(w, "after", func(c *actors.Context[st]) (int, error) { afterRuns.Add(1); return 0, nil })
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "doomed", "a")
	eventually(t, "the actor to be gone", func() bool {
		_, err := nd.cl.Get(ctx, "doomed", []string{"a"})
		return errors.Is(err, actors.ErrNotFound)
	})
	nd.waitAsleep(t, h.ID)
	if n := afterRuns.Load(); n != 0 {
		t.Fatalf("a step after the destroy ran %d times", n)
	}
}

// W.State outside a step fails and sets the guard key.
func TestStateOutsideStep(t *testing.T) {
	got := make(chan error, 2)
	typ := newType("guarded", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		_, err := w.State()
		got <- err
		_, err = actorwf.Step(w, "s", func(c *actors.Context[st]) (bool, error) {
			v, ok := c.KV().Get(actorwf.GuardKVKey)
			c.State.Count = len(v)
			return ok, nil
		})
		return err
	}).Action("guard", actors.Act0(func(c *actors.Context[st]) (string, error) {
		v, _ := c.KV().Get(actorwf.GuardKVKey)
		return string(v), nil
	}))
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "guarded", "a")
	if err := recv(t, "W.State", got); !errors.Is(err, actorwf.ErrStateOutsideStep) {
		t.Fatalf("W.State = %v", err)
	}
	waitOutcome(ctx, t, h, "completed")
	out, err := h.Action(ctx, "guard")
	if err != nil || string(out) != `"true"` {
		t.Fatalf("guard key = %s, %v", out, err)
	}
}

// Queue().Next's timeout is recorded and waits "without keeping the actor
// awake": once the actor has slept, the timeout must still end the wait at
// its deadline, as a long Sleep's does, without any call.
func TestQueueTimeoutWhileAsleep(t *testing.T) {
	after := make(chan *actorwf.Message, 4)
	typ := newType("qtimeout", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		m, err := w.Queue().Next("wait", actors.NextOptions{Names: []string{"never"}, Timeout: 1500 * time.Millisecond})
		if err != nil {
			return err
		}
		_, err = actorwf.Step(w, "after", func(c *actors.Context[st]) (int, error) {
			after <- m
			return 0, nil
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "qtimeout", "a")
	nd.waitAsleep(t, h.ID)
	select {
	case m := <-after:
		if m != nil {
			t.Fatalf("timed-out Next = %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the actor slept during Next's 1.5s timeout and nothing woke it: the workflow is stuck until a call")
	}
}

// The common "message or timeout" race: a queue wait against a long
// sleep; with nothing sent, the sleep branch wins after the actor slept.
func TestRaceQueueAgainstSleep(t *testing.T) {
	got := make(chan string, 4)
	typ := newType("racer", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		winner, _, err := actorwf.Race(w, "msg-or-timeout", []actorwf.Branch[st, string]{
			{Name: "msg", Run: func(w *actorwf.W[st]) (string, error) {
				m, err := w.Queue().Next("wait", actors.NextOptions{Names: []string{"never"}})
				if err != nil {
					return "", err
				}
				return string(m.Body), nil
			}},
			{Name: "timeout", Run: func(w *actorwf.W[st]) (string, error) {
				return "", actorwf.Sleep(w, "sleep", 1200*time.Millisecond)
			}},
		})
		if err != nil {
			return err
		}
		_, err = actorwf.Step(w, "after", func(c *actors.Context[st]) (string, error) {
			got <- winner
			return winner, nil
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "racer", "a")
	nd.waitAsleep(t, h.ID)
	if w := recv(t, "the race's end after the alarm", got); w != "timeout" {
		t.Fatalf("winner = %q", w)
	}
	waitOutcome(ctx, t, h, "completed")
}

// The inspector's replay of a finished workflow whose actor has gone to
// sleep (the usual case: a finished workflow's actor sleeps when idle).
func TestRestartRunAfterSleep(t *testing.T) {
	var runs atomic.Int32
	typ := newType("replayed", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		_, err := actorwf.Step(w, "s", func(c *actors.Context[st]) (int, error) { runs.Add(1); return 0, nil })
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "replayed", "a")
	waitOutcome(ctx, t, h, "completed")
	nd.waitAsleep(t, h.ID)
	if err := h.RestartRun(ctx); err != nil {
		t.Fatalf("RestartRun of a finished workflow whose actor sleeps = %v, want nil", err)
	}
	eventually(t, "the replayed step", func() bool { return runs.Load() == 2 })
}

// A call removed from a join's branch between two versions is a
// nondeterminism: it must fail the workflow, not become a branch failure
// that Try catches.
func TestNondeterminismInJoinBranchIsNotCaught(t *testing.T) {
	reached := make(chan struct{}, 4)
	var afterRuns atomic.Int32
	mk := func(v2 bool) *actors.Type[st] {
		return newType("joinchanger", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
			_, f, err := actorwf.Try(w, "guard", func(w *actorwf.W[st]) (map[string]int, error) {
				return actorwf.Join(w, "j", map[string]func(w *actorwf.W[st]) (int, error){
					"a": func(w *actorwf.W[st]) (int, error) {
						if _, err := actorwf.Step(w, "s1", func(c *actors.Context[st]) (int, error) { return 1, nil }); err != nil {
							return 0, err
						}
						if v2 {
							return 1, nil // v2 removed s2 and the wait
						}
						if _, err := actorwf.Step(w, "s2", func(c *actors.Context[st]) (int, error) { return 2, nil }); err != nil {
							return 0, err
						}
						reached <- struct{}{}
						return 2, park(w)
					},
				})
			})
			if err != nil {
				return err
			}
			_, err = actorwf.Step(w, "after", func(c *actors.Context[st]) (string, error) {
				afterRuns.Add(1)
				if f != nil {
					return f.Err.Error(), nil
				}
				return "", nil
			})
			return err
		})
	}
	ctx := testCtx(t)
	nd := startNode(t, "", mk(false))
	h := nd.handle(ctx, t, "joinchanger", "a")
	recv(t, "v1 to park in the branch", reached)
	eventually(t, "s2's entry", func() bool {
		for _, e := range history(ctx, t, h).Entries {
			if strings.HasSuffix(e.Path, "s2") {
				return true
			}
		}
		return false
	})
	nd.stop()
	nd2 := startNode(t, nd.dir, mk(true))
	h2, err := nd2.cl.Get(ctx, "joinchanger", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	var hist actorwf.History
	eventually(t, "an outcome", func() bool { hist = history(ctx, t, h2); return hist.Outcome != "" })
	if hist.Outcome != "failed" || afterRuns.Load() != 0 {
		t.Fatalf("outcome %q (%s), the step after the Try ran %d times: want the nondeterminism to fail the workflow", hist.Outcome, hist.Error, afterRuns.Load())
	}
}

// A Next timeout shorter than LongSleep but longer than the idle timeout:
// the actor must not sleep through it either.
func TestQueueShortTimeoutLongerThanIdle(t *testing.T) {
	after := make(chan *actorwf.Message, 4)
	typ := newType("qshort", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		m, err := w.Queue().Next("wait", actors.NextOptions{Names: []string{"never"}, Timeout: 700 * time.Millisecond})
		if err != nil {
			return err
		}
		_, err = actorwf.Step(w, "after", func(c *actors.Context[st]) (int, error) {
			after <- m
			return 0, nil
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	nd.handle(ctx, t, "qshort", "a")
	select {
	case m := <-after:
		if m != nil {
			t.Fatalf("timed-out Next = %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Next's 700ms timeout did not end the wait: the actor slept through it (IdleTimeout 150ms)")
	}
}

// A step whose function outlasts the action timeout is rolled back by the
// mailbox: that must count as a failed attempt (retries, OnError, a final
// failure), not re-run the step forever.
func TestSlowStepIsAFailedAttempt(t *testing.T) {
	var runs atomic.Int32
	typ := newType("slowstep", actors.Options[st]{ActionTimeout: 200 * time.Millisecond}, func(w *actorwf.W[st]) error {
		_, f, err := actorwf.TryStep(w, "slow", func(c *actors.Context[st]) (int, error) {
			runs.Add(1)
			time.Sleep(300 * time.Millisecond)
			return 1, nil
		}, actorwf.StepOptions{MaxRetries: -1})
		if err != nil {
			return err
		}
		if f == nil {
			return errors.New("a step that always times out succeeded")
		}
		return nil
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "slowstep", "a")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if history(ctx, t, h).Outcome != "" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := runs.Load(); n > 2 {
		t.Fatalf("a step with MaxRetries -1 that outlasts the action timeout ran %d times in 5s (outcome %q)", n, history(ctx, t, h).Outcome)
	}
}

// A completable message not completed before the next take fails the
// workflow (ErrMessageNotCompleted), whether or not the actor slept in
// between: after a wake the replayed message must still count as held,
// and must not be taken a second time.
func TestUncompletedMessageAcrossSleep(t *testing.T) {
	type took struct{ first, second uint64 }
	got := make(chan took, 4)
	typ := newType("holder", actors.Options[st]{Queues: map[string]actors.QueueSpec[st]{"cmd": {}}}, func(w *actorwf.W[st]) error {
		m, err := w.Queue().Next("a", actors.NextOptions{Names: []string{"cmd"}, Completable: true})
		if err != nil {
			return err
		}
		if err := actorwf.Sleep(w, "think", 1200*time.Millisecond); err != nil {
			return err
		}
		m2, err := w.Queue().Next("b", actors.NextOptions{Names: []string{"cmd"}, Completable: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		var id2 uint64
		if m2 != nil {
			id2 = m2.ID
		}
		got <- took{m.ID, id2}
		return nil
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "holder", "a")
	if _, err := h.SendQueue(ctx, "cmd", json.RawMessage(`1`), actors.QueueSendOptions{}); err != nil {
		t.Fatal(err)
	}
	nd.waitAsleep(t, h.ID) // asleep in the Sleep, the message held
	var hist actorwf.History
	eventually(t, "an outcome", func() bool {
		if nd.rt.IsAwake(h.ID) { // read only once the alarm woke it
			hist = history(ctx, t, h)
		}
		return hist.Outcome != ""
	})
	select {
	case tk := <-got:
		if tk.first == tk.second {
			t.Fatalf("the held message %d was taken a second time after the wake", tk.first)
		}
		t.Fatalf("took %+v without completing the first: want ErrMessageNotCompleted", tk)
	default:
	}
	if hist.Outcome != "failed" || !strings.Contains(hist.Error, "not completed") {
		t.Fatalf("outcome %q %q, want failed: not completed", hist.Outcome, hist.Error)
	}
}

// A Sleep woken early by a call goes back to sleep and still ends at its
// recorded deadline; sleeps in join branches both end.
func TestSleepEarlyWakeAndJoinedSleeps(t *testing.T) {
	done := make(chan time.Duration, 4)
	typ := newType("napper", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		start, err := actorwf.Step(w, "start", func(c *actors.Context[st]) (time.Time, error) { return c.Now(), nil })
		if err != nil {
			return err
		}
		if _, err := actorwf.Join(w, "naps", map[string]func(w *actorwf.W[st]) (int, error){
			"short": func(w *actorwf.W[st]) (int, error) { return 1, actorwf.Sleep(w, "nap", 1100*time.Millisecond) },
			"long":  func(w *actorwf.W[st]) (int, error) { return 2, actorwf.Sleep(w, "nap", 2500*time.Millisecond) },
		}); err != nil {
			return err
		}
		_, err = actorwf.Step(w, "end", func(c *actors.Context[st]) (int, error) {
			done <- time.Since(start)
			return 0, nil
		})
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "napper", "a")
	nd.waitAsleep(t, h.ID)
	_ = getState(ctx, t, h) // an early wake
	nd.waitAsleep(t, h.ID)  // back to sleep
	d := recv(t, "the joined sleeps to end", done)
	if d < 2500*time.Millisecond {
		t.Fatalf("the workflow went on after %v, before the long sleep's deadline", d)
	}
	waitOutcome(ctx, t, h, "completed")
}

// Misuse is a failure, not a silent reuse: a name used twice in a scope,
// and a name with a path separator.
func TestDuplicateAndInvalidNamesFail(t *testing.T) {
	var second atomic.Int32
	dup := newType("dup", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		if _, err := actorwf.Step(w, "x", func(c *actors.Context[st]) (int, error) { return 1, nil }); err != nil {
			return err
		}
		_, err := actorwf.Step(w, "x", func(c *actors.Context[st]) (int, error) { second.Add(1); return 2, nil })
		return err
	})
	bad := newType("badname", actors.Options[st]{}, func(w *actorwf.W[st]) error {
		_, err := actorwf.Step(w, "a/b", func(c *actors.Context[st]) (int, error) { return 1, nil })
		return err
	})
	ctx := testCtx(t)
	nd := startNode(t, "", dup, bad)
	if hist := waitOutcome(ctx, t, nd.handle(ctx, t, "dup", "a"), "failed"); second.Load() != 0 {
		t.Fatalf("the second step x ran (%s)", hist.Error)
	}
	waitOutcome(ctx, t, nd.handle(ctx, t, "badname", "a"), "failed")
}

// Kill -9: a child process runs a workflow to the middle of a long sleep
// and is killed; a node on the same data dir finishes it, with the step
// before the kill not run again and the sleep's alarm still set.

const killChildEnv = "ACTORWF_KILL_CHILD_DIR"

// durableType is the child's and the parent's workflow: its effects are in
// the state only (no test channels cross the process).
func durableType() *actors.Type[st] {
	return newType("durable", actors.Options[st]{IdleTimeout: 10 * time.Second}, func(w *actorwf.W[st]) error {
		if _, err := actorwf.Step(w, "one", func(c *actors.Context[st]) (int, error) { c.State.Count++; return 0, nil }); err != nil {
			return err
		}
		if err := actorwf.Sleep(w, "nap", 1500*time.Millisecond); err != nil {
			return err
		}
		_, err := actorwf.Step(w, "two", func(c *actors.Context[st]) (int, error) { c.State.Count += 10; return 0, nil })
		return err
	})
}

// killChild starts a node on dir, prints READY once the sleep is journaled
// and waits to be killed (exit 2 on an error).
func killChild(dir string) {
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	reg, err := actors.NewRegistry(durableType())
	if err != nil {
		die(err)
	}
	ctx := context.Background()
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		die(err)
	}
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "durable", []string{"a"}, nil)
	if err != nil {
		die(err)
	}
	for deadline := time.Now().Add(waitFor); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		raw, _, err := h.RunHistory(ctx)
		if err != nil {
			die(err)
		}
		var hist actorwf.History
		if err := json.Unmarshal(raw, &hist); err != nil {
			die(err)
		}
		if _, ok := hist.EntryMetadata["nap"]; ok {
			fmt.Println("READY " + h.ID)
			select {}
		}
	}
	die(errors.New("the sleep was not journaled in time"))
}

func TestKill9MidSleep(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "READY "); ok {
				ready <- id
				return
			}
		}
		ready <- ""
	}()
	var id string
	select {
	case id = <-ready:
		if id == "" {
			_ = cmd.Wait()
			t.Fatalf("the child ended before READY: %s", stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the child was not ready in time: %s", stderr.String())
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	_ = cmd.Wait()

	ctx := testCtx(t)
	nd := startNode(t, dir, durableType())
	// No call: the sleep's alarm, read back from the log, wakes the actor.
	eventually(t, "the alarm to wake the actor after the restart", func() bool { return nd.rt.IsAwake(id) })
	h, err := nd.cl.Get(ctx, "durable", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	waitOutcome(ctx, t, h, "completed")
	if s := getState(ctx, t, h); s.Count != 11 {
		t.Fatalf("count = %d after the kill and the restart, want 11 (each step once)", s.Count)
	}
}

// An Activity runs outside the mailbox (an action answers meanwhile), its
// result is journaled and it does not run again after a sleep and a wake.
func TestActivityJournaledOnce(t *testing.T) {
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	results := make(chan string, 4)
	typ := newType("activist", actors.Options[st]{Queues: parkQueues}, func(w *actorwf.W[st]) error {
		v, err := actorwf.Activity(w, "fetch", func(ctx context.Context, a *actorwf.ActivityContext[st]) (string, error) {
			runs.Add(1)
			started <- struct{}{}
			<-release
			return fmt.Sprintf("attempt %d", a.Attempt()), a.Do(func(c *actors.Context[st]) error { c.State.Count++; return nil })
		})
		if err != nil {
			return err
		}
		results <- v
		return park(w)
	})
	ctx := testCtx(t)
	nd := startNode(t, "", typ)
	h := nd.handle(ctx, t, "activist", "a")
	recv(t, "the activity", started)
	if s := getState(ctx, t, h); s.Count != 0 { // the mailbox is free meanwhile
		t.Fatalf("count = %d", s.Count)
	}
	close(release)
	if v := recv(t, "the activity's result", results); v != "attempt 1" {
		t.Fatalf("activity = %q", v)
	}
	nd.waitAsleep(t, h.ID)
	if s := getState(ctx, t, h); s.Count != 1 {
		t.Fatalf("count after a wake = %d, want 1", s.Count)
	}
	if v := recv(t, "the replayed activity's result", results); v != "attempt 1" {
		t.Fatalf("replayed activity = %q", v)
	}
	if runs.Load() != 1 {
		t.Fatalf("the activity ran %d times", runs.Load())
	}
}
