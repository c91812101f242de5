package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// Crash tests of durable workflows (design workflows.md §9): the real
// binary runs the fixtures of testworkflows.go, is killed with SIGKILL in a
// step, after a commit, in a sleep, in a wait and right after a signal, and
// is restarted on the same data dir. Each step appends its ID to an effects
// file before it returns; the lines the killed process wrote and those of
// the restarted one show which steps ran where.

// crashyHarness is a data dir and the fixtures' files for one test.
type crashyHarness struct {
	dir, effects, marker string
}

func newCrashyHarness(t *testing.T) *crashyHarness {
	files := t.TempDir()
	return &crashyHarness{dir: t.TempDir(), effects: filepath.Join(files, "effects"), marker: filepath.Join(files, "crashed")}
}

// start runs serve with the fixtures on the harness's data dir; a non-empty
// hook is the kill point (RIVETFLOW_TEST_CRASH_IN_WORKFLOW).
func (h *crashyHarness) start(t *testing.T, hook string) (*proc, *client.Client) {
	t.Helper()
	env := []string{testWorkflowsEnv + "=1", testEffectsEnv + "=" + h.effects}
	if hook != "" {
		env = append(env, testCrashEnv+"="+hook, testCrashMarkerEnv+"="+h.marker)
	}
	p := startServeEnv(t, h.dir, env)
	return p, newTestClient(t, p.addr, "")
}

// effectLines returns the effects file's lines (none if it does not exist).
func (h *crashyHarness) effectLines(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(h.effects)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(b))
}

// kill SIGKILLs p and waits for it to die.
func kill(t *testing.T, p *proc) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, p, 10*time.Second)
}

// pollRun polls run id of wf until cond holds and returns it; a run that
// failed or was cancelled ends the test at once.
func pollRun(t *testing.T, c *client.Client, wf, id, what string, cond func(*client.WorkflowRun) bool) *client.WorkflowRun {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.Run(context.Background(), wf, id)
		if err == nil && cond(r) {
			return r
		}
		if err == nil && client.RunFinished(r.Status) && r.Status != client.RunCompleted {
			t.Fatalf("%s: run %s is %s: %+v", what, id, r.Status, r.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 30s; run %s: %+v %v", what, id, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// completed waits for run id of wf to complete and returns its result.
func completed(t *testing.T, c *client.Client, wf, id string) (*client.WorkflowRun, crashyOut) {
	t.Helper()
	r := pollRun(t, c, wf, id, "the run completes", func(r *client.WorkflowRun) bool { return r.Status == client.RunCompleted })
	var out crashyOut
	if err := json.Unmarshal(r.Result, &out); err != nil {
		t.Fatalf("result %s: %v", r.Result, err)
	}
	return r, out
}

// signalGo sends the signal go with payload {"n": n} to run id of wf and
// checks it is acknowledged with 202. It returns without reading the body,
// so that a kill can follow the acknowledgement at once.
func signalGo(t *testing.T, addr, wf, id string, n int) {
	t.Helper()
	url := fmt.Sprintf("http://%s/v1/workflows/%s/runs/%s/signals/go", addr, wf, id)
	resp, err := http.Post(url, "application/json", strings.NewReader(fmt.Sprintf(`{"payload":{"n":%d}}`, n)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("signal go to %s: %d %s, want 202", id, resp.StatusCode, b)
	}
}

// signalN decodes the go payload a result carries.
func signalN(t *testing.T, out crashyOut) int {
	t.Helper()
	var p struct{ N int }
	if err := json.Unmarshal(out.Signal, &p); err != nil {
		t.Fatalf("signal payload %s in the result: %v", out.Signal, err)
	}
	return p.N
}

// checkEffects fails t if effectReruns finds the effects wrong, and
// returns the re-run steps.
func checkEffects(t *testing.T, first, second []string, results map[string]crashyOut) map[string]string {
	t.Helper()
	reruns, err := effectReruns(first, second, results)
	if err != nil {
		t.Fatal(err)
	}
	return reruns
}

// effectReruns checks the effects of completed runs (results by run ID):
// first holds the lines the killed process wrote, second those of the
// restarted one. Each run's steps run in order, one at a time, so its lines
// in first must be a prefix of its steps and its lines in second the rest,
// except that the step running at the kill may run again: it then ends
// first and starts second. Every line must be a completed step's. It
// returns the re-run step of each run that has one.
func effectReruns(first, second []string, results map[string]crashyOut) (map[string]string, error) {
	owner := map[string]string{}
	for run, out := range results {
		for _, id := range out.Steps {
			if other, dup := owner[id]; dup {
				return nil, fmt.Errorf("step ID %s in the results of runs %s and %s", id, other, run)
			}
			owner[id] = run
		}
	}
	byRun := func(lines []string, which string) (map[string][]string, error) {
		m := map[string][]string{}
		for _, l := range lines {
			run, ok := owner[l]
			if !ok {
				return nil, fmt.Errorf("the %s process ran step %s, which no completed run records", which, l)
			}
			m[run] = append(m[run], l)
		}
		return m, nil
	}
	a, err := byRun(first, "killed")
	if err != nil {
		return nil, err
	}
	b, err := byRun(second, "restarted")
	if err != nil {
		return nil, err
	}
	reruns := map[string]string{}
	for run, out := range results {
		fa, fb := a[run], b[run]
		if len(fa) > len(out.Steps) || !slices.Equal(fa, out.Steps[:len(fa)]) {
			return nil, fmt.Errorf("run %s: the killed process ran %v, not a prefix of the steps %v", run, fa, out.Steps)
		}
		switch {
		case slices.Equal(fb, out.Steps[len(fa):]):
		case len(fa) > 0 && slices.Equal(fb, out.Steps[len(fa)-1:]):
			reruns[run] = fa[len(fa)-1]
		default:
			return nil, fmt.Errorf("run %s: steps %v; the killed process ran %v, the restarted one %v: a step is missing or ran twice",
				run, out.Steps, fa, fb)
		}
	}
	return reruns, nil
}

// TestWorkflowCrashEffectsCheck shows that the effects check of the crash
// tests fails on what it must catch: a step missing, run twice in one
// process, re-run after having been followed by another, out of order, or
// not recorded by any run.
func TestWorkflowCrashEffectsCheck(t *testing.T) {
	t.Parallel()
	res := map[string]crashyOut{"r1": {Steps: []string{"a", "b", "c"}}, "r2": {Steps: []string{"x", "y"}}}
	for _, tc := range []struct {
		name          string
		first, second []string
		reruns        map[string]string // nil: must fail
	}{
		{"once each", []string{"a", "x"}, []string{"b", "y", "c"}, map[string]string{}},
		{"in-flight re-run", []string{"a", "x", "b"}, []string{"b", "y", "c"}, map[string]string{"r1": "b"}},
		{"all before", []string{"a", "b", "x", "c", "y"}, nil, map[string]string{}},
		{"two re-runs", []string{"a", "x", "b"}, []string{"b", "x", "y", "c"}, map[string]string{"r1": "b", "r2": "x"}},
		{"missing", []string{"a"}, []string{"c", "x", "y"}, nil},
		{"twice in one process", []string{"a", "a"}, []string{"b", "c", "x", "y"}, nil},
		{"committed step re-run", []string{"a", "b", "x", "y"}, []string{"a", "b", "c"}, nil},
		{"out of order", []string{"b", "a"}, []string{"c", "x", "y"}, nil},
		{"unknown step", []string{"a", "b", "c", "x", "y"}, []string{"z"}, nil},
	} {
		got, err := effectReruns(tc.first, tc.second, res)
		if tc.reruns == nil {
			if err == nil {
				t.Errorf("%s: passed (re-runs %v), want an error", tc.name, got)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.reruns) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.reruns)
		}
	}
}

// TestWorkflowCrashInStep kills the process inside a step, after its effect
// and before its commit (in_step), and right after a step's commit
// (after_commit), then restarts it: the run completes, every step ran
// once, except that the step killed in_step runs again, with the same ID.
func TestWorkflowCrashInStep(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"in_step", "after_commit"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			h := newCrashyHarness(t)
			p, c := h.start(t, point+":before-2")
			if _, _, err := c.StartRun(context.Background(), "crashy", "r1", crashyIn{Before: 3, After: 1}); err != nil {
				t.Fatal(err)
			}
			waitKilled(t, p, 30*time.Second)
			killedAt, err := os.ReadFile(h.marker)
			if err != nil {
				t.Fatalf("the hook left no marker: %v", err)
			}
			first := h.effectLines(t)

			_, c2 := h.start(t, "")
			_, out := completed(t, c2, "crashy", "r1")
			if len(out.Steps) != 4 || out.Steps[1] != string(killedAt) || !strings.HasSuffix(out.Steps[1], "/before-2") {
				t.Fatalf("steps %v; the hook killed at %s", out.Steps, killedAt)
			}
			reruns := checkEffects(t, first, h.effectLines(t)[len(first):], map[string]crashyOut{"r1": out})
			want := map[string]string{}
			if point == "in_step" {
				want["r1"] = string(killedAt) // its effect was written, its commit never came
			}
			if len(first) != 2 || !maps.Equal(reruns, want) {
				t.Fatalf("the killed process ran %v; re-run %v, want %v", first, reruns, want)
			}
		})
	}
}

// TestWorkflowCrashUnderLoad starts 20 runs at once; the first to reach
// its third step kills the process inside it, the others being wherever
// they are. After the restart every start is sent again (idempotent on
// the run ID): all complete, each step ran once but for at most one step
// per run (the one running at the kill), and the killed step ran again.
func TestWorkflowCrashUnderLoad(t *testing.T) {
	t.Parallel()
	h := newCrashyHarness(t)
	p, c := h.start(t, "in_step:before-3")
	const runs = 20
	in := crashyIn{Before: 4}
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			// The kill may answer some starts with an error: they are sent again.
			_, _, _ = c.StartRun(context.Background(), "crashy", fmt.Sprint("load-", i), in)
		})
	}
	waitKilled(t, p, 30*time.Second)
	wg.Wait()
	killedAt, err := os.ReadFile(h.marker)
	if err != nil {
		t.Fatalf("the hook left no marker: %v", err)
	}
	first := h.effectLines(t)

	_, c2 := h.start(t, "")
	results := map[string]crashyOut{}
	for i := range runs {
		id := fmt.Sprint("load-", i)
		if _, _, err := c2.StartRun(context.Background(), "crashy", id, in); err != nil {
			t.Fatal(err)
		}
		_, out := completed(t, c2, "crashy", id)
		if len(out.Steps) != in.Before {
			t.Fatalf("run %s: steps %v", id, out.Steps)
		}
		results[id] = out
	}
	reruns := checkEffects(t, first, h.effectLines(t)[len(first):], results)
	if !slices.Contains(slices.Collect(maps.Values(reruns)), string(killedAt)) {
		t.Fatalf("the step killed in flight (%s) did not run again; re-runs %v", killedAt, reruns)
	}
	t.Logf("%d steps ran before the kill, %d runs re-ran the step they were in", len(first), len(reruns))
}

// TestWorkflowCrashInSleep kills the process in the middle of a 3s sleep,
// waiting in memory (crashy) or parked with its actor asleep
// (crashyparked), with the signal go sent during the sleep, before the
// wait that takes it. After the restart the sleep ends at its journaled
// deadline (not 3s after the restart), the wait takes the signal sent
// before the crash, and no step ran twice.
func TestWorkflowCrashInSleep(t *testing.T) {
	t.Parallel()
	const d = 3 * time.Second
	for _, tc := range []struct{ wf, status string }{{"crashy", client.RunRunning}, {"crashyparked", client.RunSleeping}} {
		t.Run(tc.wf, func(t *testing.T) {
			t.Parallel()
			h := newCrashyHarness(t)
			p, c := h.start(t, "")
			if _, _, err := c.StartRun(context.Background(), tc.wf, "r1", crashyIn{Before: 2, SleepMs: int(d / time.Millisecond), Wait: true, After: 1}); err != nil {
				t.Fatal(err)
			}
			r := pollRun(t, c, tc.wf, "r1", "the run sleeps", func(r *client.WorkflowRun) bool {
				return r.Current == "nap" && r.Status == tc.status
			})
			signalGo(t, p.addr, tc.wf, "r1", 7)
			// Kill halfway through the sleep (the entry's write set
			// UpdatedAt): the point of the test, not a settling wait.
			time.Sleep(time.Until(r.UpdatedAt.Add(d / 2)))
			kill(t, p)
			first := h.effectLines(t)

			restartedAt := time.Now()
			_, c2 := h.start(t, "")
			readyAt := time.Now()
			r, out := completed(t, c2, tc.wf, "r1")
			slept, late := r.EndedAt.Sub(r.CreatedAt), r.EndedAt.Sub(restartedAt)
			t.Logf("run took %v; ended %v after the restart (ready after %v)", slept, late, readyAt.Sub(restartedAt))
			if slept < d {
				t.Fatalf("the run took %v, shorter than its %v sleep", slept, d)
			}
			// A sleep started again from zero by the restarted process ends
			// d after the restart at the earliest; the journaled deadline is
			// d/2 after it. A restart that itself took nearly d cannot tell.
			if late >= d && readyAt.Sub(restartedAt) < d-300*time.Millisecond {
				t.Fatalf("the run ended %v after the restart: the sleep started again from zero", late)
			}
			if n := signalN(t, out); n != 7 {
				t.Fatalf("the wait took payload n=%d, want the 7 sent before the crash", n)
			}
			if reruns := checkEffects(t, first, h.effectLines(t)[len(first):], map[string]crashyOut{"r1": out}); len(first) != 2 || len(reruns) != 0 {
				t.Fatalf("the killed process ran %v; re-runs %v, want none", first, reruns)
			}
		})
	}
}

// TestWorkflowCrashInWait kills the process while a run waits for the
// signal go, in memory (crashy) or parked (crashyparked); the signal is
// sent after the restart: the run completes with its payload and no step
// ran twice.
func TestWorkflowCrashInWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ wf, status string }{{"crashy", client.RunRunning}, {"crashyparked", client.RunWaiting}} {
		t.Run(tc.wf, func(t *testing.T) {
			t.Parallel()
			h := newCrashyHarness(t)
			p, c := h.start(t, "")
			if _, _, err := c.StartRun(context.Background(), tc.wf, "r1", crashyIn{Before: 2, Wait: true, After: 2}); err != nil {
				t.Fatal(err)
			}
			pollRun(t, c, tc.wf, "r1", "the run waits", func(r *client.WorkflowRun) bool {
				return r.Current == "wait" && r.Status == tc.status
			})
			kill(t, p)
			first := h.effectLines(t)

			p2, c2 := h.start(t, "")
			signalGo(t, p2.addr, tc.wf, "r1", 11)
			_, out := completed(t, c2, tc.wf, "r1")
			if n := signalN(t, out); n != 11 {
				t.Fatalf("the wait took payload n=%d, want 11", n)
			}
			if reruns := checkEffects(t, first, h.effectLines(t)[len(first):], map[string]crashyOut{"r1": out}); len(first) != 2 || len(reruns) != 0 {
				t.Fatalf("the killed process ran %v; re-runs %v, want none", first, reruns)
			}
		})
	}
}

// TestWorkflowCrashAfterSignal sends the signal go to a waiting run and
// kills the process as soon as the 202 arrives, before the run can go far
// with it: after the restart the run completes with that payload, and at
// most the step running at the kill ran twice.
func TestWorkflowCrashAfterSignal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ wf, status string }{{"crashy", client.RunRunning}, {"crashyparked", client.RunWaiting}} {
		t.Run(tc.wf, func(t *testing.T) {
			t.Parallel()
			h := newCrashyHarness(t)
			p, c := h.start(t, "")
			if _, _, err := c.StartRun(context.Background(), tc.wf, "r1", crashyIn{Before: 1, Wait: true, After: 2}); err != nil {
				t.Fatal(err)
			}
			pollRun(t, c, tc.wf, "r1", "the run waits", func(r *client.WorkflowRun) bool {
				return r.Current == "wait" && r.Status == tc.status
			})
			signalGo(t, p.addr, tc.wf, "r1", 23)
			kill(t, p)
			first := h.effectLines(t)

			_, c2 := h.start(t, "")
			_, out := completed(t, c2, tc.wf, "r1")
			if n := signalN(t, out); n != 23 {
				t.Fatalf("the wait took payload n=%d, want the 23 acknowledged before the crash", n)
			}
			reruns := checkEffects(t, first, h.effectLines(t)[len(first):], map[string]crashyOut{"r1": out})
			t.Logf("the killed process ran %d of 3 steps; re-runs %v", len(first), reruns)
		})
	}
}
