package workflows_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/history"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// shopVariant is what a changed build of the shop workflow does otherwise.
type shopVariant struct {
	charge    string // the name of the charge step
	suffix    string // appended to the result's summary
	skipSleep bool   // the sleep "cool" is gone
	failRun   bool   // the workflow fails at its end
	noWait    bool   // it returns after the Join, without the signal wait
	fold      string // the name of the step in the Join's branch "box"
	noFold    bool   // the branch "box" no longer calls its step
	refold    bool   // the branch "box" calls a second step after it
	boxed     string // appended to the branch "box"'s result
}

// shopWorkflow is a workflow of steps, a short sleep, a Join, a signal
// wait and a step after it; its result depends on W.Now and W.Rand, which
// a replay must reproduce.
func shopWorkflow(v shopVariant) *workflows.Workflow[order, receipt] {
	if v.charge == "" {
		v.charge = "charge"
	}
	return workflows.Define("shop", func(w *workflows.W, in order) (receipt, error) {
		price, err := workflows.Step(w, "price", func(ctx context.Context, s *workflows.StepContext) (int, error) {
			return 7 * in.Qty, nil
		})
		if err != nil {
			return receipt{}, err
		}
		if !v.skipSleep {
			if err := w.Sleep("cool", 5*time.Millisecond); err != nil {
				return receipt{}, err
			}
		}
		parts, err := workflows.Join(w, "pack", []workflows.Branch[string]{
			{Name: "box", Run: func(bw *workflows.W) (string, error) {
				if v.noFold {
					return "box", nil
				}
				r, err := workflows.Step(bw, cmp.Or(v.fold, "fold"), func(ctx context.Context, s *workflows.StepContext) (string, error) { return "box", nil })
				if err != nil || !v.refold {
					return r + v.boxed, err
				}
				return workflows.Step(bw, "refold", func(ctx context.Context, s *workflows.StepContext) (string, error) { return r, nil })
			}},
			{Name: "label", Run: func(bw *workflows.W) (string, error) {
				return workflows.Step(bw, "print", func(ctx context.Context, s *workflows.StepContext) (string, error) { return "label", nil })
			}},
		})
		if err != nil {
			return receipt{}, err
		}
		if v.noWait {
			return receipt{Summary: strings.Join(parts, "+")}, nil
		}
		payload, _, err := w.WaitSignal("confirm", "confirm", 0)
		if err != nil {
			return receipt{}, err
		}
		id, err := workflows.Step(w, v.charge, func(ctx context.Context, s *workflows.StepContext) (string, error) {
			return s.ID(), nil
		})
		if err != nil {
			return receipt{}, err
		}
		if v.failRun {
			return receipt{}, errors.New("out of stock")
		}
		sum := fmt.Sprintf("%d %s for %d (%s) %s %s at %d, lucky %d%s", in.Qty, in.Item, price, id,
			strings.Join(parts, "+"), payload, w.Now().UnixMilli(), w.Rand().IntN(1_000_000), v.suffix)
		return receipt{Summary: sum, Steps: 5}, nil
	}, workflows.Options{ParkAfter: 100 * time.Millisecond})
}

// readHistory reads the whole recorded history of run runID of workflow
// name from the runtime's log, as an export does.
func readHistory(t *testing.T, log *eventlog.Log, name, runID string) []*eventlog.Event {
	t.Helper()
	subject, err := eventlog.ActorRef{Type: name, Key: []string{runID}}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	var evs []*eventlog.Event
	var after uint64
	for {
		page, more, err := log.ReadActorPage(context.Background(), subject, after, 0)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, page...)
		if len(page) > 0 {
			after = page[len(page)-1].Seq
		}
		if !more || len(page) == 0 {
			break
		}
	}
	if len(evs) == 0 {
		t.Fatalf("no history for run %s of %s", runID, name)
	}
	return evs
}

// replayed folds a history into what a HistoryCheck sees, as the actors
// replayer does.
func replayed(t *testing.T, name, runID string, evs []*eventlog.Event) *actors.ReplayedActor {
	t.Helper()
	id, err := actors.ActorID(name, []string{runID})
	if err != nil {
		t.Fatal(err)
	}
	var im actorstate.Image
	kvSeq := map[string]uint64{}
	for _, ev := range evs {
		if err := im.Apply(ev); err != nil {
			t.Fatal(err)
		}
		for _, kw := range ev.KV {
			kvSeq[string(kw.Key)] = ev.Seq
		}
	}
	im.Settle()
	return &actors.ReplayedActor{ID: id, Type: name, Key: []string{runID}, Events: evs, Final: im, KVSeq: kvSeq}
}

// waitStatus polls run runID until its status is want.
func waitStatus(t *testing.T, e *env, name, runID string, want workflows.Status) workflows.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status == want {
			return run
		}
		if run.Status.Finished() || time.Now().After(deadline) {
			t.Fatalf("run %s of %s is %s, want %s", runID, name, run.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// check runs the history check of d over a history.
func check(t *testing.T, d workflows.Definition, a *actors.ReplayedActor) *actors.Divergence {
	t.Helper()
	div, err := workflows.HistoryCheckOf(d)(context.Background(), a)
	if err != nil {
		t.Fatalf("check %s with %s: %v", a.ID, d.Name(), err)
	}
	return div
}

// wroteKey is the sequence of the last event of evs that wrote key.
func wroteKey(t *testing.T, evs []*eventlog.Event, key string) uint64 {
	t.Helper()
	var seq uint64
	for _, ev := range evs {
		for _, kw := range ev.KV {
			if string(kw.Key) == key {
				seq = ev.Seq
			}
		}
	}
	if seq == 0 {
		t.Fatalf("no event writes %s", key)
	}
	return seq
}

// finishEvent is the sequence of the $wf event that finished the run.
func finishEvent(t *testing.T, evs []*eventlog.Event) uint64 {
	t.Helper()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Action == "$wf" && strings.Contains(string(evs[i].Args), `"op":"finish"`) {
			return evs[i].Seq
		}
	}
	t.Fatal("no finish event")
	return 0
}

// shopRuns records two runs of the shop workflow: "done" completed, and
// "open" left waiting for its signal. It returns their histories.
func shopRuns(t *testing.T) (done, open []*eventlog.Event) {
	t.Helper()
	wf := shopWorkflow(shopVariant{})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "done", order{Item: "tea", Qty: 3}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := workflows.Start(ctx, e.eng, wf, "open", order{Item: "cup", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, "shop", "done", workflows.StatusWaiting)
	if _, _, err := e.eng.Signal(ctx, "shop", "done", "confirm", json.RawMessage(`"yes"`)); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "shop", "done"); run.Status != workflows.StatusCompleted {
		t.Fatalf("run done %s: %+v", run.Status, run.Error)
	}
	waitStatus(t, e, "shop", "open", workflows.StatusWaiting)
	return readHistory(t, e.log, "shop", "done"), readHistory(t, e.log, "shop", "open")
}

// The build that recorded the runs replays them without divergence; a
// changed build diverges where the change meets the history, at the event
// that recorded what it contradicts, and not where the history cannot
// tell (an open run that has not reached the change).
func TestHistoryCheckOfWorkflowRuns(t *testing.T) {
	t.Parallel()
	doneEvs, openEvs := shopRuns(t)
	done, open := replayed(t, "shop", "done", doneEvs), replayed(t, "shop", "open", openEvs)

	same := shopWorkflow(shopVariant{})
	if d := check(t, same, done); d != nil {
		t.Fatalf("the recording build diverges on the completed run:\n%s", d.Report())
	}
	if d := check(t, same, open); d != nil {
		t.Fatalf("the recording build diverges on the open run:\n%s", d.Report())
	}

	t.Run("renamed step", func(t *testing.T) {
		wf := shopWorkflow(shopVariant{charge: "bill"})
		d := check(t, wf, done)
		if d == nil {
			t.Fatal("a renamed step replays without divergence")
		}
		if want := wroteKey(t, doneEvs, workflows.JournalPrefix(0)+"charge"); d.Seq != want {
			t.Errorf("divergence at seq %d, want %d (the event that recorded charge):\n%s", d.Seq, want, d.Report())
		}
		rep := d.Report()
		t.Log(rep)
		for _, s := range []string{`"bill"`, `"charge"`, "workflow differs", "$wf"} {
			if !strings.Contains(rep, s) {
				t.Errorf("report lacks %s:\n%s", s, rep)
			}
		}
		if d.What != "workflow" || d.Action != "$wf" || !strings.Contains(d.Expected, "charge") || !strings.Contains(d.Actual, "bill") {
			t.Errorf("divergence %+v", d)
		}
		// The open run has not reached the step yet: nothing to contradict.
		if d := check(t, wf, open); d != nil {
			t.Errorf("the open run diverges before the change:\n%s", d.Report())
		}
	})

	t.Run("other result", func(t *testing.T) {
		wf := shopWorkflow(shopVariant{suffix: "!"})
		d := check(t, wf, done)
		if d == nil {
			t.Fatal("another result replays without divergence")
		}
		t.Log(d.Report())
		if want := finishEvent(t, doneEvs); d.Seq != want {
			t.Errorf("divergence at seq %d, want the finish event %d:\n%s", d.Seq, want, d.Report())
		}
		if !strings.Contains(d.Actual, "!") || strings.Contains(d.Expected, "!") {
			t.Errorf("actual result lacks the change:\n%s", d.Report())
		}
		if d := check(t, wf, open); d != nil {
			t.Errorf("the open run has no result to compare:\n%s", d.Report())
		}
	})

	t.Run("fails where it completed", func(t *testing.T) {
		d := check(t, shopWorkflow(shopVariant{failRun: true}), done)
		if d == nil || d.Seq != finishEvent(t, doneEvs) || !strings.Contains(d.Message, "fails where the recorded run completed") {
			t.Fatalf("divergence %v", d)
		}
	})

	t.Run("removed sleep", func(t *testing.T) {
		d := check(t, shopWorkflow(shopVariant{skipSleep: true}), done)
		if d == nil {
			t.Fatal("a removed sleep replays without divergence")
		}
		t.Log(d.Report())
		if want := wroteKey(t, doneEvs, workflows.JournalPrefix(0)+"cool"); d.Seq != want || !strings.Contains(d.Message, "without calling sleep \"cool\"") {
			t.Errorf("divergence at seq %d, want %d:\n%s", d.Seq, want, d.Report())
		}
	})

	t.Run("returns where the run waits", func(t *testing.T) {
		d := check(t, shopWorkflow(shopVariant{noWait: true}), open)
		if d == nil {
			t.Fatal("code that no longer waits replays the waiting run without divergence")
		}
		t.Log(d.Report())
		if want := wroteKey(t, openEvs, workflows.JournalPrefix(0)+"confirm"); d.Seq != want {
			t.Errorf("divergence at seq %d, want %d (the wait's entry):\n%s", d.Seq, want, d.Report())
		}
	})

	t.Run("another workflow's code", func(t *testing.T) {
		other := workflows.Define("shop", func(w *workflows.W, in order) (receipt, error) {
			err := w.Sleep("price", time.Millisecond)
			return receipt{}, err
		})
		d := check(t, other, open)
		if d == nil || d.Seq != wroteKey(t, openEvs, workflows.JournalPrefix(0)+"price") || !strings.Contains(d.Message, "sleep") {
			t.Fatalf("divergence %v", d)
		}
	})
}

// A run that continued as new is checked epoch by epoch: each earlier
// epoch must end in ContinueAsNew with the recorded input.
func TestHistoryCheckContinueAsNew(t *testing.T) {
	t.Parallel()
	cycle := func(step int) *workflows.Workflow[int, int] {
		return workflows.Define("cycle", func(w *workflows.W, n int) (int, error) {
			got, err := workflows.Step(w, "tick", func(ctx context.Context, s *workflows.StepContext) (int, error) { return n, nil })
			if err != nil {
				return 0, err
			}
			if got < 2 {
				return 0, w.ContinueAsNew(got + step)
			}
			return got * 10, nil
		})
	}
	wf := cycle(1)
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "c1", 0); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "cycle", "c1"); run.Status != workflows.StatusCompleted || run.Epoch != 2 {
		t.Fatalf("run %s at epoch %d", run.Status, run.Epoch)
	}
	evs := readHistory(t, e.log, "cycle", "c1")
	a := replayed(t, "cycle", "c1", evs)
	if d := check(t, wf, a); d != nil {
		t.Fatalf("the recording build diverges:\n%s", d.Report())
	}
	d := check(t, cycle(2), a)
	if d == nil {
		t.Fatal("another ContinueAsNew input replays without divergence")
	}
	var first uint64
	for _, ev := range evs {
		if ev.Action == "$wf" && strings.Contains(string(ev.Args), `"op":"continue"`) {
			first = ev.Seq
			break
		}
	}
	t.Log(d.Report())
	if d.Seq != first || !strings.Contains(d.Message, "epoch 0") {
		t.Fatalf("divergence at seq %d, want the first continue event %d:\n%s", d.Seq, first, d.Report())
	}

	// The same through an exported file, as `rivet-flow replay --history`
	// reads it in a fresh process.
	file := filepath.Join(t.TempDir(), "c1.jsonl")
	exp := make([]history.ExportEvent, len(evs))
	for i, ev := range evs {
		exp[i] = history.Export(a.ID, ev)
	}
	var buf bytes.Buffer
	if err := history.Write(&buf, exp...); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		wf   workflows.Definition
		want uint64
	}{{cycle(1), 0}, {cycle(2), first}} {
		reg, err := actors.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		if err := workflows.Register(reg, c.wf); err != nil {
			t.Fatal(err)
		}
		res, err := actors.NewReplayer(reg).ReplayHistoryFile(context.Background(), file)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case c.want == 0 && !res.OK():
			t.Fatalf("the recording build diverges on the file:\n%s", res.Divergence.Report())
		case c.want != 0 && (res.OK() || res.Divergence.Seq != c.want):
			t.Fatalf("the changed build on the file: %+v, want a divergence at %d", res.Divergence, c.want)
		}
	}
}

// A run that failed replays its failure; code that now catches it
// diverges at the finish event.
func TestHistoryCheckFailedRun(t *testing.T) {
	t.Parallel()
	build := func(try bool) *workflows.Workflow[int, string] {
		return workflows.Define("flaky", func(w *workflows.W, n int) (string, error) {
			fn := func(ctx context.Context, s *workflows.StepContext) (string, error) {
				return "", workflows.NonRetryable(errors.New("card declined"))
			}
			if try {
				if r := workflows.TryStep(w, "pay", fn); !r.OK {
					return "declined", nil
				}
				return "paid", nil
			}
			return workflows.Step(w, "pay", fn)
		})
	}
	wf := build(false)
	e := newEnv(t, wf)
	if _, _, err := workflows.Start(context.Background(), e.eng, wf, "f1", 1); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "flaky", "f1"); run.Status != workflows.StatusFailed {
		t.Fatalf("run %s", run.Status)
	}
	evs := readHistory(t, e.log, "flaky", "f1")
	a := replayed(t, "flaky", "f1", evs)
	if d := check(t, wf, a); d != nil {
		t.Fatalf("the recording build diverges:\n%s", d.Report())
	}
	d := check(t, build(true), a)
	if d == nil || d.Seq != finishEvent(t, evs) || !strings.Contains(d.Message, "completes where the recorded run failed") {
		t.Fatalf("divergence %v", d)
	}
}

// The agent example's real workflow (plan step, tool calls in a Join, a
// parked approval wait, a summary step) replays its run while it waits
// for approval and once it completed.
func TestHistoryCheckAgentWorkflow(t *testing.T) {
	t.Parallel()
	wf := agent.Workflow(agent.Local{})
	e := newEnv(t, wf)
	ctx := context.Background()
	if _, _, err := workflows.Start(ctx, e.eng, wf, "a1", agent.Input{Task: "add 2 and 3, then count the words in hello big world"}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, e, agent.WorkflowName, "a1", workflows.StatusWaiting)
	waiting := replayed(t, agent.WorkflowName, "a1", readHistory(t, e.log, agent.WorkflowName, "a1"))
	if d := check(t, wf, waiting); d != nil {
		t.Fatalf("the waiting run diverges:\n%s", d.Report())
	}
	if _, _, err := e.eng.Signal(ctx, agent.WorkflowName, "a1", agent.ApprovalSignal, json.RawMessage(`{"approved":true}`)); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, agent.WorkflowName, "a1"); run.Status != workflows.StatusCompleted {
		t.Fatalf("run %s: %+v", run.Status, run.Error)
	}
	done := replayed(t, agent.WorkflowName, "a1", readHistory(t, e.log, agent.WorkflowName, "a1"))
	if d := check(t, wf, done); d != nil {
		t.Fatalf("the completed run diverges:\n%s", d.Report())
	}
	// A fresh definition, as `rivet-flow replay` in a new process has.
	if d := check(t, agent.Workflow(agent.Local{}), done); d != nil {
		t.Fatalf("a fresh definition diverges:\n%s", d.Report())
	}
	// A build whose tool step (inside the completed Join "tools") is
	// renamed diverges in both, at the first tool step's event.
	for _, a := range []*actors.ReplayedActor{waiting, done} {
		if d := check(t, agentCopy("call"), a); d != nil {
			t.Fatalf("the copy of the agent workflow diverges:\n%s", d.Report())
		}
		d := check(t, agentCopy("invoke"), a)
		if d == nil {
			t.Fatal("a renamed tool step replays without divergence")
		}
		t.Log(d.Report())
		var want uint64
		for k, seq := range a.KVSeq {
			if strings.HasPrefix(k, workflows.JournalPrefix(0)+"tools/") && strings.HasSuffix(k, "/call") && (want == 0 || seq < want) {
				want = seq
			}
		}
		if want == 0 || d.Seq != want || !strings.Contains(d.Message, `"invoke"`) || !strings.Contains(d.Expected, `"call"`) {
			t.Errorf("divergence at seq %d, want %d (the first tool step's event):\n%s", d.Seq, want, d.Report())
		}
	}
}

// agentCopy is the agent example's workflow as a changed build has it,
// its tool step named toolStep (the example's is "call"). A check replays
// the recorded results of its steps, which never run.
func agentCopy(toolStep string) *workflows.Workflow[agent.Input, agent.Output] {
	unrun := errors.New("a check runs no step")
	return workflows.Define(agent.WorkflowName, func(w *workflows.W, in agent.Input) (agent.Output, error) {
		plan, err := workflows.Step(w, "plan", func(ctx context.Context, s *workflows.StepContext) (agent.Plan, error) { return agent.Plan{}, unrun })
		if err != nil {
			return agent.Output{}, err
		}
		branches := make([]workflows.Branch[agent.ToolResult], len(plan.Calls))
		for i, c := range plan.Calls {
			branches[i] = workflows.Branch[agent.ToolResult]{Name: fmt.Sprintf("%d-%s", i, c.Tool), Run: func(bw *workflows.W) (agent.ToolResult, error) {
				return workflows.Step(bw, toolStep, func(ctx context.Context, _ *workflows.StepContext) (agent.ToolResult, error) {
					return agent.ToolResult{}, unrun
				})
			}}
		}
		results, err := workflows.Join(w, "tools", branches)
		if err != nil {
			return agent.Output{}, err
		}
		out := agent.Output{Tools: results}
		payload, _, err := w.WaitSignal("approval", agent.ApprovalSignal, 24*time.Hour)
		if err != nil {
			return agent.Output{}, err
		}
		var a agent.Approval
		if err := json.Unmarshal(payload, &a); err != nil || !a.Approved {
			return agent.Output{}, errors.New("the test approves its run")
		}
		out.Approved, out.Note = a.Approved, a.Note
		out.Summary, err = workflows.Step(w, "summarize", func(ctx context.Context, s *workflows.StepContext) (string, error) { return "", unrun })
		return out, err
	})
}

// End to end: actors.NewReplayer over a registry where workflows.Register
// ran checks workflow runs with their HistoryCheck.
func TestReplayerChecksWorkflowRuns(t *testing.T) {
	t.Parallel()
	doneEvs, openEvs := shopRuns(t)
	replayer := func(d workflows.Definition) *actors.Replayer {
		reg, err := actors.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		if err := workflows.Register(reg, d); err != nil {
			t.Fatal(err)
		}
		return actors.NewReplayer(reg)
	}
	ctx := context.Background()
	same := replayer(shopWorkflow(shopVariant{}))
	for name, evs := range map[string][]*eventlog.Event{"done": doneEvs, "open": openEvs} {
		id, _ := actors.ActorID("shop", []string{name})
		res, err := same.ReplayHistory(ctx, id, evs)
		if err != nil {
			t.Fatalf("replay %s: %v", name, err)
		}
		if !res.OK() {
			t.Fatalf("replay %s:\n%s", name, res.Divergence.Report())
		}
	}
	id, _ := actors.ActorID("shop", []string{"done"})
	res, err := replayer(shopWorkflow(shopVariant{charge: "bill"})).ReplayHistory(ctx, id, doneEvs)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() {
		t.Fatal("a renamed step replays without divergence")
	}
	if want := wroteKey(t, doneEvs, workflows.JournalPrefix(0)+"charge"); res.Divergence.Seq != want || res.Divergence.What != "workflow" {
		t.Fatalf("divergence at seq %d, want %d:\n%s", res.Divergence.Seq, want, res.Divergence.Report())
	}
}

// loopyWorkflow counts in a Loop named loop, then waits at a WaitAny (a
// Race) named gate for the signal go or an hour.
func loopyWorkflow(loop, gate string) *workflows.Workflow[int, string] {
	return loopyStep(loop, gate, "add", 3)
}

// loopyStep is loopyWorkflow with the iteration's step named step, the
// loop breaking once the count reaches upTo.
func loopyStep(loop, gate, step string, upTo int) *workflows.Workflow[int, string] {
	return workflows.Define("loopy", func(w *workflows.W, n int) (string, error) {
		total, err := workflows.Loop(w, loop, n, func(iw *workflows.W, s int) (workflows.LoopResult[int, int], error) {
			v, err := workflows.Step(iw, step, func(ctx context.Context, _ *workflows.StepContext) (int, error) { return s + 1, nil })
			if err != nil || v >= upTo {
				return workflows.Break[int](v), err
			}
			return workflows.Continue[int, int](v), nil
		})
		if err != nil {
			return "", err
		}
		i, val, err := w.WaitAny(gate, workflows.OnSignal("go"), workflows.OnTimer(time.Hour))
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d %d %s", total, i, val), nil
	}, workflows.Options{ParkAfter: 100 * time.Millisecond})
}

// A Loop and a WaitAny replay, completed and cancelled; a cancelled run
// is checked up to its frontier (no outcome to compare), and a renamed
// call before it still diverges.
func TestHistoryCheckLoopRaceAndCancel(t *testing.T) {
	t.Parallel()
	wf := loopyWorkflow("count", "gate")
	e := newEnv(t, wf)
	ctx := context.Background()
	for _, id := range []string{"l1", "l2"} {
		if _, _, err := workflows.Start(ctx, e.eng, wf, id, 0); err != nil {
			t.Fatal(err)
		}
		waitStatus(t, e, "loopy", id, workflows.StatusWaiting)
	}
	if _, _, err := e.eng.Signal(ctx, "loopy", "l1", "go", json.RawMessage(`"now"`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Cancel(ctx, "loopy", "l2", "changed my mind"); err != nil {
		t.Fatal(err)
	}
	if run := e.wait(t, "loopy", "l1"); run.Status != workflows.StatusCompleted || string(run.Result) != `"3 0 \"now\""` {
		t.Fatalf("run l1 %s with %s", run.Status, run.Result)
	}
	if run := e.wait(t, "loopy", "l2"); run.Status != workflows.StatusCancelled {
		t.Fatalf("run l2 %s", run.Status)
	}
	l1Evs, l2Evs := readHistory(t, e.log, "loopy", "l1"), readHistory(t, e.log, "loopy", "l2")
	l1, l2 := replayed(t, "loopy", "l1", l1Evs), replayed(t, "loopy", "l2", l2Evs)
	for _, a := range []*actors.ReplayedActor{l1, l2} {
		if d := check(t, wf, a); d != nil {
			t.Fatalf("the recording build diverges on %s:\n%s", a.ID, d.Report())
		}
	}
	// The completed run recorded the race: the renamed one diverges there
	// (the first pending recorded entry of the scope the code skipped).
	d := check(t, loopyWorkflow("count", "door"), l1)
	if d == nil {
		t.Fatal("a renamed WaitAny replays without divergence")
	}
	if want := wroteKey(t, l1Evs, workflows.JournalPrefix(0)+"gate"); d.Seq != want || !strings.Contains(d.Message, `race "door"`) {
		t.Errorf("divergence at seq %d, want %d:\n%s", d.Seq, want, d.Report())
	}
	// The cancelled run never finished its race (no race entry): the
	// renamed race is its frontier, as it is for the cancel's own replay.
	if d := check(t, loopyWorkflow("count", "door"), l2); d != nil {
		t.Errorf("the cancelled run diverges past its frontier:\n%s", d.Report())
	}
	// A renamed loop, before the frontier, diverges in both.
	for _, c := range []struct {
		a   *actors.ReplayedActor
		evs []*eventlog.Event
	}{{l1, l1Evs}, {l2, l2Evs}} {
		d := check(t, loopyWorkflow("tally", "gate"), c.a)
		if d == nil {
			t.Fatalf("a renamed loop replays %s without divergence", c.a.ID)
		}
		if want := wroteKey(t, c.evs, workflows.JournalPrefix(0)+"count"); d.Seq != want || !strings.Contains(d.Message, `loop "tally"`) {
			t.Errorf("%s: divergence at seq %d, want %d:\n%s", c.a.ID, d.Seq, want, d.Report())
		}
	}
}

// recordedKey is the sequence of the last event of evs that wrote a value
// at key (a Loop's prune may delete it later).
func recordedKey(t *testing.T, evs []*eventlog.Event, key string) uint64 {
	t.Helper()
	var seq uint64
	for _, ev := range evs {
		for _, kw := range ev.KV {
			if string(kw.Key) == key && !kw.Delete {
				seq = ev.Seq
			}
		}
	}
	if seq == 0 {
		t.Fatalf("no event writes %s", key)
	}
	return seq
}
