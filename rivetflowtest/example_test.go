package rivetflowtest_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/rivetflowtest"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// exampleTB is the testing.TB of the examples, which get none: it panics
// on a failure and runs its cleanups at done. In a test, pass t.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (t *exampleTB) Helper()                           {}
func (t *exampleTB) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleTB) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (t *exampleTB) Cleanup(f func())                  { t.cleanups = append(t.cleanups, f) }

func (t *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "rivetflowtest-example-")
	if err != nil {
		panic(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func (t *exampleTB) done() {
	for _, f := range slices.Backward(t.cleanups) {
		f()
	}
}

// A reminder set for 15 minutes fires when the test advances the clock
// 15 minutes, at once and at its due time.
func Example() {
	t := &exampleTB{}
	defer t.done()

	n := rivetflowtest.Start(t, rivetflowtest.Config{}) // the built-in types
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "reminder", []string{"standup"}, nil)
	if err != nil {
		panic(err)
	}
	if _, err := h.Action(ctx, "setReminder", "ana", "stand up", 15*60*1000); err != nil {
		panic(err)
	}

	n.Advance(15 * time.Minute)

	rivetflowtest.RequireBroadcasts(t, n, h.ID, "reminder")
	sent, err := actors.Call[[]builtin.SentReminder](ctx, h, "listSent")
	if err != nil {
		panic(err)
	}
	fmt.Println(sent[0].Message, "at", time.UnixMilli(sent[0].FiredAt).UTC().Format(time.Kitchen))
	// Output: stand up at 9:15AM
}

// RequireEvents checks an actor's actions in order; zero fields of an
// EventMatch match anything.
func ExampleRequireEvents() {
	t := &exampleTB{}
	defer t.done()

	n := rivetflowtest.Start(t, rivetflowtest.Config{})
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "counter", []string{"visits"}, nil)
	if err != nil {
		panic(err)
	}
	for range 2 {
		if _, err := h.Action(ctx, "increment", 1); err != nil {
			panic(err)
		}
	}

	rivetflowtest.RequireEvents(t, n, h.ID,
		rivetflowtest.EventMatch{Action: "increment", Args: []int{1}, Output: 1},
		rivetflowtest.EventMatch{Action: "increment", Output: 2, Broadcast: "newCount"})
	rivetflowtest.RequireState(t, n, h.ID, builtin.CounterState{Count: 2})
	fmt.Println(len(n.Events(t, h.ID)), "events")
	// Output: 3 events
}

// Export writes an actor's history as a golden file; RequireReplays (or
// ReplayFile) replays it with the current code.
func ExampleNode_Export() {
	t := &exampleTB{}
	defer t.done()

	n := rivetflowtest.Start(t, rivetflowtest.Config{})
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "chatRoom", []string{"lobby"}, nil)
	if err != nil {
		panic(err)
	}
	if _, err := h.Action(ctx, "sendMessage", "ana", "hello"); err != nil {
		panic(err)
	}
	file := t.TempDir() + "/lobby.jsonl"
	n.Export(t, h.ID, file)

	// In CI, the file checked in: does the code still record the same?
	rivetflowtest.RequireReplays(t, n.Registry(), file)
	res, err := rivetflowtest.ReplayFile(n.Registry(), file)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Events, "events replayed, identical:", res.OK())
	// Output: 2 events replayed, identical: true
}

// A workflow's durable sleep of a day ends when the test advances the
// clock a day, in no time.
func ExampleNode_Advance() {
	t := &exampleTB{}
	defer t.done()

	trial := workflows.Define("trial", func(w *workflows.W, user string) (string, error) {
		if err := w.Sleep("trial period", 24*time.Hour); err != nil {
			return "", err
		}
		return user + "'s trial ended", nil
	})
	n := rivetflowtest.Start(t, rivetflowtest.Config{Workflows: []workflows.Definition{trial}})
	ctx := n.Context()
	if _, _, err := workflows.Start(ctx, n.Workflows(), trial, "ana", "ana"); err != nil {
		panic(err)
	}

	n.Advance(24 * time.Hour)

	run, err := n.Workflows().Get(ctx, "trial", "ana")
	if err != nil {
		panic(err)
	}
	out, err := workflows.Result(trial, run)
	fmt.Println(run.Status, out, err, n.Now().Format(time.DateTime))
	// Output: completed ana's trial ended <nil> 2026-01-02 09:00:00
}
