package actors_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// callIDTypes are an orchestrator whose actions call workers, and the worker.
func callIDTypes() (*actors.Type[ftState], *actors.Type[ftState]) {
	orch := ftType("ftorch", actors.Options[ftState]{}).
		// fanOut calls n workers from n goroutines at once.
		Action("fanOut", actors.Act(func(c *actors.Context[ftState], n int) (int64, error) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			var sum int64
			var firstErr error
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h, _, err := c.Client().GetOrCreate(c.Context(), "ftworker", []string{fmt.Sprint(i)}, nil)
					var out int64
					if err == nil {
						out, err = actors.Call[int64](c.Context(), h, "inc", 1)
					}
					mu.Lock()
					defer mu.Unlock()
					sum += out
					if err != nil && firstErr == nil {
						firstErr = err
					}
				}()
			}
			wg.Wait()
			return sum, firstErr
		})).
		// incThenFail calls the worker, then fails unless told otherwise.
		Action("incThenFail", actors.Act(func(c *actors.Context[ftState], fail bool) (int64, error) {
			h, err := c.Client().Get(c.Context(), "ftworker", []string{"w"})
			if err != nil {
				return 0, err
			}
			out, err := actors.Call[int64](c.Context(), h, "inc", 10)
			if err != nil {
				return 0, err
			}
			if fail {
				return 0, actors.NewUserError("later_step_failed", "a later step failed", nil)
			}
			return out, nil
		})).
		Action("getWorker", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			h, err := c.Client().Get(c.Context(), "ftworker", []string{"w"})
			if err != nil {
				return 0, err
			}
			return actors.Call[int64](c.Context(), h, "get")
		})).
		// callBack calls the worker, which calls back into this orchestrator.
		Action("callBack", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			h, err := c.Client().Get(c.Context(), "ftworker", []string{"w"})
			if err != nil {
				return "", err
			}
			_, err = h.Action(c.Context(), "callOrch", c.ActorID())
			return "", err
		})).
		Action("self", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			h, err := c.Client().Ref(c.ActorID())
			if err != nil {
				return 0, err
			}
			return actors.Call[int64](c.Context(), h, "get")
		}))
	worker := ftType("ftworker", actors.Options[ftState]{}).
		Action("callOrch", actors.Act(func(c *actors.Context[ftState], id string) (int64, error) {
			h, err := c.Client().Ref(id)
			if err != nil {
				return 0, err
			}
			return actors.Call[int64](c.Context(), h, "get")
		}))
	return orch, worker
}

// Calls from goroutines an action starts are safe and every one is recorded.
func TestFeatureFanOutCallsAreAllRecorded(t *testing.T) {
	t.Parallel()
	orch, worker := callIDTypes()
	b := ftSetup(t, nil, orch, worker)
	h := ftCreate(t, b, "ftorch", "o")
	const n = 16
	if sum := ftCall[int64](t, h, "fanOut", n); sum != n {
		t.Fatalf("fan-out sum %d, want %d", sum, n)
	}
	evs := ftEvents(t, b, h.ID)
	last := evs[len(evs)-1]
	if last.Action != "fanOut" || len(last.Steps) != 2*n { // a resolve and a call per worker
		t.Fatalf("the fan-out event recorded %d steps, want %d", len(last.Steps), 2*n)
	}
}

// A call that committed in the callee before its caller failed is not run
// again when the caller retries: the callee remembers the call ID and answers
// the repeat with its recorded output. Another call in the same slot runs.
func TestFeatureCallIDsMakeRetriedCallsTakeEffectOnce(t *testing.T) {
	t.Parallel()
	orch, worker := callIDTypes()
	b := ftSetup(t, nil, orch, worker)
	h := ftCreate(t, b, "ftorch", "o")
	w := ftCreate(t, b, "ftworker", "w")
	for range 3 {
		if _, err := h.Action(ftCtx(t), "incThenFail", true); err == nil {
			t.Fatal("incThenFail succeeded")
		}
	}
	if got := ftCall[int64](t, w, "get"); got != 10 {
		t.Fatalf("worker count after 3 failed callers: %d, want 10 (the call ran once)", got)
	}
	if got := ftCall[int64](t, h, "incThenFail", false); got != 10 {
		t.Fatalf("retry that succeeds got %d, want the recorded 10", got)
	}
	// The caller moved on: a new call ID, a new increment.
	if got := ftCall[int64](t, h, "incThenFail", false); got != 20 {
		t.Fatalf("next call got %d, want 20", got)
	}
	// Remembered across sleep and the loss of every snapshot (the fold rebuilds it).
	if _, err := h.Action(ftCtx(t), "incThenFail", true); err == nil {
		t.Fatal("incThenFail succeeded")
	}
	ftAsleep(t, b)
	b.restart(t)
	h, _ = b.rt.Client().Ref(h.ID)
	if got := ftCall[int64](t, h, "incThenFail", false); got != 30 {
		t.Fatalf("retry after restart got %d, want the recorded 30", got)
	}
	// Another action in the same slot (a different call) runs for real.
	if _, err := h.Action(ftCtx(t), "incThenFail", true); err == nil {
		t.Fatal("incThenFail succeeded")
	}
	if got := ftCall[int64](t, h, "getWorker"); got != 40 {
		t.Fatalf("getWorker in the failed call's slot got %d, want the live 40", got)
	}
}

// A -> B -> A and A -> A fail at once with call_cycle instead of waiting
// out the action timeout.
func TestFeatureCallCyclesFailAtOnce(t *testing.T) {
	t.Parallel()
	orch, worker := callIDTypes()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.ActionTimeout = time.Minute }, orch, worker)
	h := ftCreate(t, b, "ftorch", "o")
	ftCreate(t, b, "ftworker", "w")
	for _, action := range []string{"callBack", "self"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := h.Action(ctx, action)
		cancel()
		var re *actors.Error
		if !errors.Is(err, actors.ErrCallCycle) || !errors.As(err, &re) {
			t.Fatalf("%s: %v, want call_cycle", action, err)
		}
		if !containsStr(re.Message, h.ID) || !containsStr(re.Message, "one-way") {
			t.Errorf("%s: message %q should name the chain and point to one-way sends", action, re.Message)
		}
	}
}

// A caller's idempotency key: the first committed call is remembered; a
// repeat gets its output and appends nothing; other arguments are refused;
// after the window the key is new again.
func TestFeatureIdempotencyKeys(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.IdempotencyWindow = 48 * time.Hour }, ftType("ftidem", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftidem", "a")
	ctx := actors.WithIdempotencyKey(ftCtx(t), "order-1")
	first, err := actors.Call[int64](ctx, h, "inc", 5)
	if err != nil || first != 5 {
		t.Fatalf("first: %d, %v", first, err)
	}
	seq := ftLastSeq(t, b, h.ID)
	again, err := actors.Call[int64](ctx, h, "inc", 5)
	if err != nil || again != 5 || ftLastSeq(t, b, h.ID) != seq {
		t.Fatalf("repeat: %d, %v (log %d -> %d): want the first answer and nothing appended", again, err, seq, ftLastSeq(t, b, h.ID))
	}
	if _, err := actors.Call[int64](ctx, h, "inc", 6); !errors.Is(err, actors.ErrIdempotencyKeyReused) {
		t.Fatalf("same key, other args: %v, want idempotency_key_reused", err)
	}
	ftAsleep(t, b) // advances the clock by 24h
	b.restart(t)
	h, _ = b.rt.Client().Ref(h.ID)
	if again, err := actors.Call[int64](ctx, h, "inc", 5); err != nil || again != 5 {
		t.Fatalf("repeat after a restart: %d, %v", again, err)
	}
	b.clock.Advance(25 * time.Hour)
	if n, err := actors.Call[int64](ctx, h, "inc", 5); err != nil || n != 10 {
		t.Fatalf("after the window: %d, %v, want a new increment (10)", n, err)
	}
}
