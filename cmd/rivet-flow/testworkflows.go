package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// Environment of the crash tests' fixtures (cmd/rivet-flow/workflows_crash_test.go).
const (
	// testWorkflowsEnv set to 1 makes serve run the fixtures.
	testWorkflowsEnv = "RIVETFLOW_TEST_WORKFLOWS"
	// testEffectsEnv is the file each fixture step appends "<stepID>\n" to
	// before it returns: the side effects the tests count.
	testEffectsEnv = "RIVETFLOW_TEST_EFFECTS"
	// testCrashEnv is a kill point: in_step:<name> (SIGKILL inside step
	// name, after its effect, before its commit) or after_commit:<name>
	// (SIGKILL once step name is committed, before the next call). It
	// fires once: with RIVETFLOW_TEST_CRASH_MARKER, as actors/crashhooks.go.
	testCrashEnv = "RIVETFLOW_TEST_CRASH_IN_WORKFLOW"
	// testCrashMarkerEnv is the marker file: the kill creates it (holding
	// the ID of the step it killed at) and does nothing once it exists, so
	// a restarted process does not crash again.
	testCrashMarkerEnv = "RIVETFLOW_TEST_CRASH_MARKER"
)

// crashyIn is the input of the fixtures: Before steps before-1..before-N,
// then a sleep nap of SleepMs (if > 0), then a wait for the signal go (if
// Wait), then After steps after-1..after-N.
type crashyIn struct {
	Before  int  `json:"before"`
	SleepMs int  `json:"sleepMs"`
	Wait    bool `json:"wait"`
	After   int  `json:"after"`
}

// crashyOut is a fixture's result: the IDs of its steps (each step's
// journaled result) in order, and the go signal's payload.
type crashyOut struct {
	Steps  []string        `json:"steps"`
	Signal json.RawMessage `json:"signal,omitempty"`
}

// testWorkflows are the crash tests' fixture workflows, served only when
// RIVETFLOW_TEST_WORKFLOWS=1: crashy, whose sleeps and waits under 5s wait
// in memory, and crashyparked, the same function parking after 200ms (the
// run's actor sleeps; an alarm or a signal runs it again).
func testWorkflows() []workflows.Definition {
	if os.Getenv(testWorkflowsEnv) != "1" {
		return nil
	}
	return []workflows.Definition{
		workflows.Define("crashy", crashy),
		workflows.Define("crashyparked", crashy, workflows.Options{ParkAfter: 200 * time.Millisecond}),
	}
}

// crashy is the fixtures' function (crashyIn).
func crashy(w *workflows.W, in crashyIn) (crashyOut, error) {
	var out crashyOut
	steps := func(prefix string, n int) error {
		for i := 1; i <= n; i++ {
			name := prefix + "-" + strconv.Itoa(i)
			id, err := workflows.Step(w, name, func(_ context.Context, s *workflows.StepContext) (string, error) {
				if err := appendEffect(s.ID()); err != nil {
					return "", err
				}
				crashAt("in_step:"+name, s.ID())
				return s.ID(), nil
			})
			if err != nil {
				return err
			}
			crashAt("after_commit:"+name, id)
			out.Steps = append(out.Steps, id)
		}
		return nil
	}
	if err := steps("before", in.Before); err != nil {
		return out, err
	}
	if in.SleepMs > 0 {
		if err := w.Sleep("nap", time.Duration(in.SleepMs)*time.Millisecond); err != nil {
			return out, err
		}
	}
	if in.Wait {
		p, _, err := w.WaitSignal("wait", "go", 0)
		if err != nil {
			return out, err
		}
		out.Signal = p
	}
	return out, steps("after", in.After)
}

// appendEffect appends "<id>\n" to the effects file, synced: the line
// survives the SIGKILL that may follow at once.
func appendEffect(id string) error {
	path := os.Getenv(testEffectsEnv)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("effects file: %w", err)
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("effects file %s: %w", path, err)
	}
	return nil
}

// crashAt SIGKILLs the process if the kill point is point and its marker
// did not exist yet (it creates it first, holding stepID).
func crashAt(point, stepID string) {
	marker := os.Getenv(testCrashMarkerEnv)
	if os.Getenv(testCrashEnv) != point || marker == "" {
		return
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // killed here before (or the marker cannot be made): carry on
	}
	_, _ = f.WriteString(stepID)
	_ = f.Sync()
	_ = f.Close()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
