package rivetflowtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/rivetflowtest"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// tickerState records when its alarm rang and its cron ticked, in unix
// milliseconds of the recorded clock.
type tickerState struct {
	Rings []int64 `json:"rings"`
	Ticks []int64 `json:"ticks"`
}

// ticker arms an alarm (arm: ring in 25 minutes) and a cron (every 10
// minutes): what Advance must fire, at the right fake times.
var ticker = actors.NewType("ticker", actors.Options[tickerState]{State: tickerState{Rings: []int64{}, Ticks: []int64{}}}).
	Action("arm", actors.Act0(func(c *actors.Context[tickerState]) (string, error) {
		return c.Schedule().After(25*time.Minute, "ring")
	})).
	Action("ring", actors.Act0(func(c *actors.Context[tickerState]) (int64, error) {
		c.State.Rings = append(c.State.Rings, c.Now().UnixMilli())
		return int64(len(c.State.Rings)), nil
	})).
	Action("every10m", actors.Act0(func(c *actors.Context[tickerState]) (bool, error) {
		return true, c.Cron().Set("tick", "@every 10m", "tick")
	})).
	Action("tick", actors.Act0(func(c *actors.Context[tickerState]) (int64, error) {
		c.State.Ticks = append(c.State.Ticks, c.Now().UnixMilli())
		return int64(len(c.State.Ticks)), nil
	}))

func tickerNode(t *testing.T) (*rivetflowtest.Node, *actors.Handle) {
	t.Helper()
	reg, err := actors.NewRegistry(ticker)
	if err != nil {
		t.Fatal(err)
	}
	n := rivetflowtest.Start(t, rivetflowtest.Config{Registry: reg})
	h, _, err := n.Client().GetOrCreate(n.Context(), "ticker", []string{"t1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, h
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func TestAdvanceFiresAlarmAtItsTime(t *testing.T) {
	t.Parallel()
	n, h := tickerNode(t)
	t0 := n.Now()
	if _, err := h.Action(n.Context(), "arm"); err != nil {
		t.Fatal(err)
	}
	n.Advance(25*time.Minute - time.Millisecond)
	rivetflowtest.RequireState(t, n, h.ID, tickerState{Rings: []int64{}, Ticks: []int64{}})
	n.Advance(time.Millisecond)
	if got, want := n.Now(), t0.Add(25*time.Minute); !got.Equal(want) {
		t.Fatalf("clock at %s, want %s", got, want)
	}
	rivetflowtest.RequireState(t, n, h.ID, tickerState{Rings: []int64{ms(t0.Add(25 * time.Minute))}, Ticks: []int64{}})
	rivetflowtest.RequireEvents(t, n, h.ID,
		rivetflowtest.EventMatch{Action: "arm"},
		rivetflowtest.EventMatch{Action: "ring", Output: 1})
}

// A cron fires at each occurrence on the way, each at its own time, and
// an alarm due in between fires between them. (Alarms due at the same
// millisecond fire in no set order.)
func TestAdvanceFiresCronInTimeOrder(t *testing.T) {
	t.Parallel()
	n, h := tickerNode(t)
	t0 := n.Now()
	ctx := n.Context()
	if _, err := h.Action(ctx, "every10m"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Action(ctx, "arm"); err != nil {
		t.Fatal(err)
	}
	n.Advance(35 * time.Minute)
	rivetflowtest.RequireState(t, n, h.ID, tickerState{
		Rings: []int64{ms(t0.Add(25 * time.Minute))},
		Ticks: []int64{ms(t0.Add(10 * time.Minute)), ms(t0.Add(20 * time.Minute)), ms(t0.Add(30 * time.Minute))},
	})
	got := n.Events(t, h.ID)
	var order []string
	for _, ev := range got[3:] { // after the create, every10m and arm
		order = append(order, ev.Action)
	}
	if want := "tick tick ring tick"; strings.Join(order, " ") != want {
		t.Fatalf("fired %v, want %s", order, want)
	}
}

func TestWorkflowSleepCompletesAfterAdvance(t *testing.T) {
	t.Parallel()
	nap := workflows.Define("nap", func(w *workflows.W, in string) (string, error) {
		if err := w.Sleep("hour", time.Hour); err != nil {
			return "", err
		}
		return "rested " + in, nil
	})
	n := rivetflowtest.Start(t, rivetflowtest.Config{Workflows: []workflows.Definition{nap}})
	ctx := n.Context()
	if _, _, err := workflows.Start(ctx, n.Workflows(), nap, "r1", "ana"); err != nil {
		t.Fatal(err)
	}
	status := func() workflows.Status {
		t.Helper()
		n.Settle()
		run, err := n.Workflows().Get(ctx, "nap", "r1")
		if err != nil {
			t.Fatal(err)
		}
		return run.Status
	}
	if s := status(); s != workflows.StatusSleeping {
		t.Fatalf("status %s before the hour, want sleeping", s)
	}
	n.Advance(time.Hour - time.Millisecond)
	if s := status(); s != workflows.StatusSleeping {
		t.Fatalf("status %s a millisecond before the hour, want sleeping", s)
	}
	n.Advance(time.Millisecond)
	// Advance returned with the run settled: no Await needed.
	run, err := n.Workflows().Get(ctx, "nap", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != workflows.StatusCompleted || string(run.Result) != `"rested ana"` {
		t.Fatalf("run %s with result %s, want completed with \"rested ana\"", run.Status, run.Result)
	}
}

func TestHandlerServesRoutes(t *testing.T) {
	t.Parallel()
	n := rivetflowtest.Start(t, rivetflowtest.Config{})
	rec := httptest.NewRecorder()
	n.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /healthz: %d %s", rec.Code, rec.Body)
	}
	h, _, err := n.Client().GetOrCreate(n.Context(), "counter", []string{"c1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/v1/actors/"+h.ID+"/actions/increment", strings.NewReader(`{"args":[5]}`))
	req.Header.Set("Content-Type", "application/json")
	n.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("POST increment: %d %s", rec.Code, rec.Body)
	}
	var out struct {
		Output json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || string(out.Output) != "5" {
		t.Fatalf("POST increment answered %s (%v), want output 5", rec.Body, err)
	}
	rivetflowtest.RequireEvents(t, n, h.ID, rivetflowtest.EventMatch{Action: "increment", Args: []int{5}, Output: 5, Broadcast: "newCount"})
	rivetflowtest.RequireState(t, n, h.ID, builtin.CounterState{Count: 5})
	rivetflowtest.RequireBroadcasts(t, n, h.ID, "newCount")
}

// A sleep shorter than the workflow's ParkAfter waits in memory on the
// fake clock (the run stays running): Advance moves that clock and
// returns once the run ended.
func TestWorkflowShortSleepCompletesAfterAdvance(t *testing.T) {
	t.Parallel()
	blink := workflows.Define("blink", func(w *workflows.W, in int) (int, error) {
		for i := range in {
			if err := w.Sleep(fmt.Sprintf("blink-%d", i), time.Second); err != nil {
				return 0, err
			}
		}
		return in, nil
	})
	n := rivetflowtest.Start(t, rivetflowtest.Config{Workflows: []workflows.Definition{blink}})
	ctx := n.Context()
	if _, _, err := workflows.Start(ctx, n.Workflows(), blink, "r1", 3); err != nil {
		t.Fatal(err)
	}
	n.Advance(2 * time.Second)
	if run, err := n.Workflows().Get(ctx, "blink", "r1"); err != nil || run.Status != workflows.StatusRunning || run.Current != "blink-2" {
		t.Fatalf("after 2s: run %+v (%v), want running, asleep at blink-2", run, err)
	}
	n.Advance(time.Second)
	run, err := n.Workflows().Get(ctx, "blink", "r1")
	if err != nil || run.Status != workflows.StatusCompleted || string(run.Result) != "3" {
		t.Fatalf("after 3s: run %+v (%v), want completed with 3", run, err)
	}
}

// A step that takes wall time after the sleep (a call to a slow service)
// is waited for: Advance returns once the run's runner is done, not when
// the log was merely quiet for a moment.
func TestAdvanceWaitsForSlowStep(t *testing.T) {
	t.Parallel()
	slow := workflows.Define("slow", func(w *workflows.W, in string) (string, error) {
		if err := w.Sleep("wait", time.Hour); err != nil {
			return "", err
		}
		return workflows.Step(w, "call", func(ctx context.Context, _ *workflows.StepContext) (string, error) {
			select {
			case <-time.After(300 * time.Millisecond): // the slow service, on the wall clock
			case <-ctx.Done():
				return "", ctx.Err()
			}
			return "called " + in, nil
		})
	})
	n := rivetflowtest.Start(t, rivetflowtest.Config{Workflows: []workflows.Definition{slow}})
	ctx := n.Context()
	if _, _, err := workflows.Start(ctx, n.Workflows(), slow, "r1", "bo"); err != nil {
		t.Fatal(err)
	}
	n.Advance(time.Hour)
	run, err := n.Workflows().Get(ctx, "slow", "r1")
	if err != nil || run.Status != workflows.StatusCompleted || string(run.Result) != `"called bo"` {
		t.Fatalf("run %+v (%v), want completed with \"called bo\"", run, err)
	}
}

// A replay re-runs a run's wake hooks but starts no runner: replaying a
// run's history in the middle of a test leaves Advance working. And a
// Join whose branches sleep in memory settles, then completes at its time.
func TestReplayMidRunAndJoinOfSleeps(t *testing.T) {
	t.Parallel()
	pair := workflows.Define("pair", func(w *workflows.W, in string) (string, error) {
		naps := []workflows.Branch[string]{
			{Name: "a", Run: func(w *workflows.W) (string, error) { return "a", w.Sleep("nap", time.Second) }},
			{Name: "b", Run: func(w *workflows.W) (string, error) { return "b", w.Sleep("nap", 2*time.Second) }},
		}
		rs, err := workflows.Join(w, "both", naps)
		if err != nil {
			return "", err
		}
		return in + rs[0] + rs[1], nil
	})
	n := rivetflowtest.Start(t, rivetflowtest.Config{Workflows: []workflows.Definition{pair}})
	ctx := n.Context()
	if _, _, err := workflows.Start(ctx, n.Workflows(), pair, "r1", "x"); err != nil {
		t.Fatal(err)
	}
	n.Settle()
	run, err := n.Workflows().Get(ctx, "pair", "r1")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "pair.jsonl")
	n.Export(t, run.ActorID, file)
	rivetflowtest.RequireReplays(t, n.Registry(), file)
	n.Advance(2 * time.Second)
	if run, err = n.Workflows().Get(ctx, "pair", "r1"); err != nil {
		t.Fatal(err)
	}
	if run.Status != workflows.StatusCompleted || string(run.Result) != `"xab"` {
		t.Fatalf("run %s with result %s, want completed with \"xab\"", run.Status, run.Result)
	}
}
