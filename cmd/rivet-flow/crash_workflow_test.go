package main

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// wfCounter is the conformance fixture workflowCounterActor's state: its
// workflow appends runCount to history in a step, once per loop iteration.
type wfCounter struct {
	RunCount int64   `json:"runCount"`
	History  []int64 `json:"history"`
}

// TestServeKill9WorkflowStepsRunOnce kills the real binary with SIGKILL
// while an actor-hosted workflow (workflows/actorwf) loops, restarts it on
// the same data dir and checks that the workflow went on where its journal
// says and that no step's change to the actor happened twice or was lost:
// history must be exactly 1..runCount, since a step's state change and its
// journal entry are one event.
func TestServeKill9WorkflowStepsRunOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir, "--registry", "conformance", "--snapshot-every", "7")
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	a, _, err := c.GetOrCreate(ctx, "workflowCounterActor", []string{"crash"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	state := func(c *client.Client) wfCounter {
		t.Helper()
		st, err := client.CallAs[wfCounter](ctx, c, a.ID, "getState")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	waitFor := func(c *client.Client, atLeast int64) wfCounter {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			st := state(c)
			if st.RunCount >= atLeast {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("the workflow reached %d iterations, want %d", st.RunCount, atLeast)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	before := waitFor(c, 30)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	p2 := startServe(t, dir, "--registry", "conformance")
	c2 := newTestClient(t, p2.addr, "")
	after := waitFor(c2, before.RunCount+20) // the call wakes it: the workflow resumes from its journal
	want := make([]int64, after.RunCount)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(after.History, want) {
		t.Fatalf("history after kill -9 is not 1..%d exactly once: %v", after.RunCount, after.History)
	}
	t.Logf("%d steps before kill -9, %d after restart, each exactly once", before.RunCount, after.RunCount)
}
