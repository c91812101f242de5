package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// testWorkflowsOn serves (and replays) the crashy fixtures.
var testWorkflowsOn = []string{testWorkflowsEnv + "=1"}

// replay --history: an exported history replays identical (exit 0), the same
// history with one output edited diverges at that event (exit 1, the report
// names its seq), and a file that is no export is unusable (exit 2).
func TestCLIReplayHistory(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=http://" + p.addr
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	a, _, err := c.GetOrCreate(ctx, "counter", []string{"h"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{5, 2} {
		if _, err := c.Call(ctx, a.ID, "increment", n); err != nil {
			t.Fatal(err)
		}
	}
	export := cli(t, nil, "history", "export", a.ID, addr)
	export.want(t, 0)
	dir := t.TempDir()
	good := filepath.Join(dir, "h.jsonl")
	if err := os.WriteFile(good, []byte(export.stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "replay", "--history", good).want(t, 0, fmt.Sprintf("replayed 3 events of %s: identical", a.ID))
	r := cli(t, nil, "replay", "--history", good, "--json")
	var res replayResultJSON
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || !res.Identical || res.Events != 3 || res.ActorID != a.ID {
		t.Fatalf("--json: %v %q", err, r.stdout)
	}

	// The last increment recorded 70 where the code returns 7.
	lines := strings.Split(strings.TrimSpace(export.stdout), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[2]), &last); err != nil || last["output"] != float64(7) {
		t.Fatalf("third event %s (%v): want increment's output 7", lines[2], err)
	}
	last["output"] = 70
	edited, _ := json.Marshal(last)
	lines[2] = string(edited)
	bad := filepath.Join(dir, "edited.jsonl")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "replay", "--history", bad).want(t, 1, "diverged", fmt.Sprintf("seq %d", uint64(last["seq"].(float64))), "increment")

	garbage := filepath.Join(dir, "garbage.jsonl")
	if err := os.WriteFile(garbage, []byte("not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "replay", "--history", garbage).want(t, 2, "line 1", "rivet-flow history export ID")
	empty := filepath.Join(dir, "empty.jsonl")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "replay", "--history", empty).want(t, 2, "no events", "rivet-flow history export ID")
	cli(t, nil, "replay", "--history", filepath.Join(dir, "nope.jsonl")).want(t, 2, "no such file", "rivet-flow history export ID")

	// Usage.
	cli(t, nil, "replay").want(t, 2, "--history FILE", "--all")
	cli(t, nil, "replay", "--history", good, "--all").want(t, 2, "not both")
	cli(t, nil, "replay", "--history", good, addr).want(t, 2, "--addr goes with --all")
	cli(t, nil, "replay", "--all", "--data-dir", dir, addr).want(t, 2, "not both")
	cli(t, nil, "replay", "--all", "--concurrency", "0", addr).want(t, 2, "--concurrency 0")
	cli(t, nil, "replay", "--all", "--type", "no.pe", addr).want(t, 2, "--type")
	cli(t, nil, "replay", "--help").want(t, 0, "--history", "--all", "--data-dir", "--concurrency")
}

// replay --all over a stopped node's data dir replays the open actors and
// runs, and skips the destroyed actors and finished runs; on a data dir in
// use it points at --addr.
func TestCLIReplayAllDataDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServeEnv(t, dir, testWorkflowsOn)
	c := newTestClient(t, p.addr, "")
	populateReplayLog(t, c)

	cli(t, testWorkflowsOn, "replay", "--all", "--data-dir", dir).want(t, 2, "a node is running on it", "--addr")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("serve exited %d: %s", code, p.stderr.String())
	}

	r := cli(t, testWorkflowsOn, "replay", "--all", "--data-dir", dir, "--json")
	sum := replayAllJSON(t, r, 0)
	wantReplayRows(t, sum, map[string][3]int{"counter": {2, 0, 1}, "crashy": {1, 0, 1}})
	if r.stderr != "" {
		t.Errorf("stderr is no terminal, yet replay wrote to it (a progress bar?): %q", r.stderr)
	}
	cli(t, testWorkflowsOn, "replay", "--all", "--data-dir", dir).want(t, 0, "TYPE", "counter", "crashy", "all identical")
	sum = replayAllJSON(t, cli(t, testWorkflowsOn, "replay", "--all", "--data-dir", dir, "--type", "counter", "--json", "--concurrency", "1"), 0)
	wantReplayRows(t, sum, map[string][3]int{"counter": {2, 0, 1}})

	// Without the fixtures in this binary, the open run cannot be replayed
	// (its type is unknown); the finished one is still skipped.
	sum = replayAllJSON(t, cli(t, nil, "replay", "--all", "--data-dir", dir, "--type", "crashy", "--json"), 1)
	if len(sum.Failed) != 1 || sum.Skipped != 1 {
		t.Fatalf("crashy without the fixtures: %+v, want the open run failed and the finished one skipped", sum)
	}

	empty := t.TempDir()
	cli(t, nil, "replay", "--all", "--data-dir", empty).want(t, 2, "holds no event log")
	cli(t, nil, "replay", "--all", "--data-dir", filepath.Join(empty, "nope")).want(t, 2, "not a directory")
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("replay wrote into an empty dir: %v", entries)
	}
}

// replay --all against a running node lists its open actors and runs
// through the API and exports each history.
func TestCLIReplayAllNode(t *testing.T) {
	t.Parallel()
	p := startServeEnv(t, t.TempDir(), testWorkflowsOn)
	c := newTestClient(t, p.addr, "")
	populateReplayLog(t, c)
	addr := "--addr=http://" + p.addr
	sum := replayAllJSON(t, cli(t, testWorkflowsOn, "replay", "--all", addr, "--json"), 0)
	// The node's directory lists only live actors: the destroyed counter is
	// not even skipped; the finished run is left out by the runs listing,
	// and counted as skipped.
	wantReplayRows(t, sum, map[string][3]int{"counter": {2, 0, 0}, "crashy": {1, 0, 1}})
	if sum.Events < 6 {
		t.Errorf("replayed %d events, want the counters' and the run's", sum.Events)
	}
	cli(t, testWorkflowsOn, "replay", "--all", addr, "--type", "counter").want(t, 0, "counter", "all identical")
}

// A log written by other code (a counter that doubled its increments)
// diverges: replay --all exits 1 and names the actor and the event.
func TestCLIReplayAllDiverged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	doubling := actors.NewType("counter", actors.Options[builtin.CounterState]{}).
		Action("increment", actors.Act(func(c *actors.Context[builtin.CounterState], n int64) (int64, error) {
			c.State.Count += 2 * n
			c.Broadcast("newCount", c.State.Count)
			return c.State.Count, nil
		}))
	reg, err := actors.NewRegistry(doubling)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, NoListen: true, Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	rt := n.Runtime().Client()
	if _, _, err := rt.GetOrCreate(ctx, "counter", []string{"same"}, nil); err != nil {
		t.Fatal(err)
	}
	h, _, err := rt.GetOrCreate(ctx, "counter", []string{"doubled"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Action(ctx, "increment", 3); err != nil {
		t.Fatal(err)
	}
	id, _ := actors.ActorID("counter", []string{"doubled"})
	last, err := n.Events().LastEvent(ctx, eventlog.SubjectPrefix+"."+id)
	if err != nil || last == nil {
		t.Fatalf("last event of %s: %v", id, err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	sum := replayAllJSON(t, cli(t, nil, "replay", "--all", "--data-dir", dir, "--json"), 1)
	wantReplayRows(t, sum, map[string][3]int{"counter": {2, 1, 0}})
	if d := sum.Diverged[0]; d.ActorID != id || d.Seq != last.Seq || d.Action != "increment" || d.What == "" {
		t.Fatalf("divergence %+v, want %s at seq %d (increment)", d, id, last.Seq)
	}
	cli(t, nil, "replay", "--all", "--data-dir", dir).want(t, 1, "first divergence", id, "increment", "1 diverged",
		"rivet-flow replay --history")
}

// populateReplayLog writes: counters a (two increments) and b, counter gone
// (destroyed), a crashy run that completed and one that waits for a signal.
func populateReplayLog(t *testing.T, c *client.Client) {
	t.Helper()
	ctx := context.Background()
	for _, k := range []string{"a", "b", "gone"} {
		a, _, err := c.GetOrCreate(ctx, "counter", []string{k}, nil)
		if err != nil {
			t.Fatal(err)
		}
		switch k {
		case "a":
			for range 2 {
				if _, err := c.Call(ctx, a.ID, "increment", 1); err != nil {
					t.Fatal(err)
				}
			}
		case "gone":
			if err := c.Destroy(ctx, a.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := c.StartRun(ctx, "crashy", "done", crashyIn{Before: 1}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.StartRun(ctx, "crashy", "open", crashyIn{Before: 1, Wait: true}); err != nil {
		t.Fatal(err)
	}
	for runID, want := range map[string]string{"done": client.RunCompleted, "open": client.RunWaiting} {
		eventually(t, 15*time.Second, "run "+runID+" "+want, func() (bool, string) {
			run, err := c.Run(ctx, "crashy", runID)
			if err != nil {
				return false, err.Error()
			}
			return run.Status == want, run.Status
		})
	}
}

// replayAllJSON decodes replay --all --json and checks the exit code.
func replayAllJSON(t *testing.T, r cliResult, code int) replayAllSummary {
	t.Helper()
	r.want(t, code)
	var sum replayAllSummary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("--json: %v\nstdout: %s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return sum
}

// wantReplayRows checks the summary's rows: per type, replayed, diverged
// and skipped.
func wantReplayRows(t *testing.T, sum replayAllSummary, want map[string][3]int) {
	t.Helper()
	got := map[string][3]int{}
	for _, r := range sum.Types {
		got[r.Type] = [3]int{r.Replayed, r.Diverged, r.Skipped}
		if r.Failed > 0 {
			t.Errorf("type %s: %d failed: %+v", r.Type, r.Failed, sum.Failed)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows (replayed, diverged, skipped) = %v, want %v\nsummary: %+v", got, want, sum)
	}
}

// bench replay populates a data dir and measures both phases over it; every
// actor replays identical.
func TestCLIBenchReplay(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "bench", "replay", "--actors", "20", "--events-per-actor", "3", "--json")
	r.want(t, 0)
	var res benchReplayResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || len(res.Phases) != 2 {
		t.Fatalf("--json: %v %q", err, r.stdout)
	}
	for _, p := range res.Phases {
		if p.Actors != 20 || p.Events != 60 || p.Seconds <= 0 || p.Diverged+p.Failed > 0 {
			t.Errorf("phase %+v: want 20 actors, 60 events, none diverged or failed", p)
		}
		if _, err := os.Stat("/proc/self/status"); err == nil && p.PeakRSSMB <= 0 {
			t.Errorf("phase %s: no peak RSS", p.Name)
		}
	}
	if res.Ratio <= 0 {
		t.Errorf("ratio %v", res.Ratio)
	}
	cli(t, nil, "bench", "replay", "--actors", "0").want(t, 2, "--actors 0")
	cli(t, nil, "bench", "replay", "--phase", "nope", "--data-dir", t.TempDir()).want(t, 2, "--phase")
}
