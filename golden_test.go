package rivetflow_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/history"
	"github.com/rivet-flow/rivet-flow/rivetflowtest"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Golden histories: recorded runs of the examples, replayed against the
// current code at every test run, so a change that alters what an example
// records fails with the replayer's diff. Record them again, after an
// intended change, with:
//
//	go test -run TestGolden -update .
var update = flag.Bool("update", false, "record the golden histories in testdata/histories again")

const goldenDir = "testdata/histories"

// divergedFile is counter.jsonl with one recorded output edited (the
// increment by 41 says 43, not 42): TestGoldenDiverged checks that the
// replay reports that event.
const divergedFile = "counter-diverged.jsonl"

// golden is one recorded history: record drives a test node and returns
// the actor whose history is the file.
type golden struct {
	file   string
	record func(t *testing.T, n *rivetflowtest.Node) (actorID string)
}

var goldens = []golden{
	{"counter.jsonl", recordCounter},
	{"chatroom.jsonl", recordChatRoom},
	{"reminder.jsonl", recordReminder},
	{"agent.jsonl", recordAgent},
}

// goldenRegistry is the code the histories replay against: the built-in
// types and the example agent workflow (with its offline model).
func goldenRegistry(t *testing.T) *actors.Registry {
	t.Helper()
	reg := builtin.Registry()
	if err := workflows.Register(reg, agent.Workflow(agent.Local{})); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestGolden(t *testing.T) {
	if *update {
		n := rivetflowtest.Start(t, rivetflowtest.Config{
			Workflows: []workflows.Definition{agent.Workflow(agent.Local{})},
		})
		for _, g := range goldens {
			id := g.record(t, n)
			n.Export(t, id, filepath.Join(goldenDir, g.file))
		}
		writeDiverged(t)
	}
	reg := goldenRegistry(t)
	for _, g := range goldens {
		t.Run(strings.TrimSuffix(g.file, ".jsonl"), func(t *testing.T) {
			file := filepath.Join(goldenDir, g.file)
			if _, err := os.Stat(file); err != nil {
				t.Fatalf("%v: record the golden histories with: go test -run TestGolden -update .", err)
			}
			rivetflowtest.RequireReplays(t, reg, file)
		})
	}
}

// The deliberately edited history diverges at the edited event, and the
// report names its sequence and action.
func TestGoldenDiverged(t *testing.T) {
	file := filepath.Join(goldenDir, divergedFile)
	evs, err := history.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edited := editedEvent(evs)
	if edited == nil {
		t.Fatalf("%s has no increment by 41: record it again with -update", file)
	}
	res, err := rivetflowtest.ReplayFile(goldenRegistry(t), file)
	if err != nil {
		t.Fatalf("replay %s: %v", file, err)
	}
	d := res.Divergence
	if d == nil {
		t.Fatalf("%s replayed without divergence (%d events); want one at seq %d", file, res.Events, edited.Seq)
	}
	if d.Seq != edited.Seq || d.Action != "increment" || d.What != "output" {
		t.Fatalf("diverged at seq %d (%s, %s differs), want seq %d (increment, output):\n%s",
			d.Seq, d.Action, d.What, edited.Seq, d.Report())
	}
	for _, want := range []string{"seq " + jsonNum(edited.Seq), "increment", "43", "42"} {
		if !strings.Contains(d.Report(), want) {
			t.Errorf("the report does not say %q:\n%s", want, d.Report())
		}
	}
}

func jsonNum(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// editedEvent is the increment by 41, the event divergedFile edits.
func editedEvent(evs []history.ExportEvent) *history.ExportEvent {
	for i := range evs {
		if evs[i].Action == "increment" && bytes.Equal(evs[i].Args, []byte("[41]")) {
			return &evs[i]
		}
	}
	return nil
}

// writeDiverged copies counter.jsonl to divergedFile with the increment
// by 41's recorded output changed from 42 to 43.
func writeDiverged(t *testing.T) {
	t.Helper()
	evs, err := history.ReadFile(filepath.Join(goldenDir, "counter.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	e := editedEvent(evs)
	if e == nil || string(e.Output) != "42" {
		t.Fatalf("counter.jsonl: no increment by 41 answering 42 to edit")
	}
	e.Output = json.RawMessage("43")
	var b bytes.Buffer
	if err := history.Write(&b, evs...); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(goldenDir, divergedFile), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func recordCounter(t *testing.T, n *rivetflowtest.Node) string {
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "counter", []string{"golden"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, amount := range []int{1, 41} {
		if _, err := h.Action(ctx, "increment", amount); err != nil {
			t.Fatal(err)
		}
		n.Advance(time.Second)
	}
	if _, err := h.Action(ctx, "add", builtin.CounterAdd{Amount: -2}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Action(ctx, "getCount"); err != nil {
		t.Fatal(err)
	}
	rivetflowtest.RequireState(t, n, h.ID, builtin.CounterState{Count: 40})
	return h.ID
}

func recordChatRoom(t *testing.T, n *rivetflowtest.Node) string {
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "chatRoom", []string{"golden"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]string{{"ana", "hello"}, {"bo", "hi ana"}, {"anonymous, one argument"}} {
		args := make([]any, len(m))
		for i, s := range m {
			args[i] = s
		}
		if _, err := h.Action(ctx, "sendMessage", args...); err != nil {
			t.Fatal(err)
		}
		n.Advance(time.Minute)
	}
	if _, err := h.Action(ctx, "sendMessage", "ana", " "); err == nil {
		t.Fatal("an empty message was accepted")
	}
	if _, err := h.Action(ctx, "getHistory"); err != nil {
		t.Fatal(err)
	}
	rivetflowtest.RequireBroadcasts(t, n, h.ID, "newMessage", "newMessage", "newMessage")
	return h.ID
}

func recordReminder(t *testing.T, n *rivetflowtest.Node) string {
	ctx := n.Context()
	h, _, err := n.Client().GetOrCreate(ctx, "reminder", []string{"golden"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := func(user, msg string, d time.Duration) string {
		out, err := actors.Call[builtin.SetReminderResult](ctx, h, "setReminder", user, msg, d.Milliseconds())
		if err != nil {
			t.Fatal(err)
		}
		return out.ReminderID
	}
	set("ana", "stand up", 15*time.Minute)
	lunch := set("bo", "lunch", time.Hour)
	set("ana", "review", 2*time.Hour)
	if _, err := h.Action(ctx, "cancelReminder", lunch); err != nil {
		t.Fatal(err)
	}
	n.Advance(3 * time.Hour) // stand up fires at 15m, review at 2h
	if _, err := h.Action(ctx, "listSent"); err != nil {
		t.Fatal(err)
	}
	rivetflowtest.RequireBroadcasts(t, n, h.ID, "reminder", "reminder")
	return h.ID
}

func recordAgent(t *testing.T, n *rivetflowtest.Node) string {
	ctx := n.Context()
	e := n.Workflows()
	in, _ := json.Marshal(agent.Input{Task: `What is (12 + 30) * 2, how many words are in "the quick brown fox", and where is paris?`})
	if _, _, err := e.StartRun(ctx, agent.WorkflowName, "golden", in); err != nil {
		t.Fatal(err)
	}
	n.Settle()
	run, err := e.Get(ctx, agent.WorkflowName, "golden")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != workflows.StatusWaiting {
		t.Fatalf("the agent run is %s before its approval, want waiting", run.Status)
	}
	n.Advance(time.Hour) // a human takes their time
	payload, _ := json.Marshal(agent.Approval{Approved: true, Note: "looks right"})
	if _, _, err := e.Signal(ctx, agent.WorkflowName, "golden", agent.ApprovalSignal, payload); err != nil {
		t.Fatal(err)
	}
	if run, err = e.Await(ctx, agent.WorkflowName, "golden"); err != nil {
		t.Fatal(err)
	}
	if run.Status != workflows.StatusCompleted {
		t.Fatalf("the agent run ended %s (%v), want completed", run.Status, run.Error)
	}
	n.Settle()
	return run.ActorID
}
