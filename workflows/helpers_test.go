package workflows_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/scheduler"
	"github.com/rivet-flow/rivet-flow/workflows"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is an engine over a runtime over a real embedded log and a real
// Pebble snapshot store, in a fresh data dir; restart keeps the dir.
type env struct {
	dir   string
	defs  []workflows.Definition
	log   *eventlog.Log
	snaps *snapshot.Store
	rt    *actors.Runtime
	eng   *workflows.Engine
	// scheduled: a projection runner and a scheduler run too (alarms fire).
	scheduled bool
	proj      *projections.Runner
	sched     *scheduler.Scheduler
}

// newScheduledEnv is newEnv with a scheduler, so that the alarms of
// sleeps and wait timeouts fire (on the wall clock).
func newScheduledEnv(t *testing.T, defs ...workflows.Definition) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), scheduled: true}
	e.start(t, defs...)
	t.Cleanup(func() { e.stop(t) })
	return e
}

func newEnv(t *testing.T, defs ...workflows.Definition) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.start(t, defs...)
	t.Cleanup(func() { e.stop(t) })
	return e
}

// start opens the stores and starts a runtime and an engine of defs.
func (e *env) start(t *testing.T, defs ...workflows.Definition) {
	t.Helper()
	e.defs = defs
	reg, err := actors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if err := workflows.Register(reg, defs...); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if e.log, err = eventlog.Open(ctx, eventlog.Config{DataDir: e.dir, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if e.snaps, err = snapshot.Open(filepath.Join(e.dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if e.rt, err = actors.NewRuntime(e.log, e.snaps, reg, actors.RuntimeOptions{Logger: quietLogger(), SweepInterval: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if e.scheduled {
		if e.proj, err = projections.Open(filepath.Join(e.dir, "projections"), e.log,
			&projections.Options{Logger: quietLogger(), HeadInterval: time.Hour}); err != nil {
			t.Fatal(err)
		}
		if e.sched, err = scheduler.New(e.rt, e.proj, &scheduler.Options{Logger: quietLogger(),
			RetryBackoff: 20 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if e.scheduled {
		if err := e.proj.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.sched.Start(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-e.sched.Started():
		case <-time.After(20 * time.Second):
			t.Fatal("the scheduler did not start")
		}
	}
	if e.eng, err = workflows.NewEngine(e.rt, defs, &workflows.EngineOptions{Logger: quietLogger(), Log: e.log}); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// stop stops the runtime (ending every runner) and closes the stores.
func (e *env) stop(t *testing.T) {
	t.Helper()
	if e.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.eng.Stop(ctx); err != nil {
		t.Errorf("stop engine: %v", err)
	}
	if e.scheduled {
		if err := e.sched.Close(); err != nil {
			t.Errorf("stop scheduler: %v", err)
		}
		if err := e.proj.Stop(ctx); err != nil {
			t.Errorf("stop projections: %v", err)
		}
	}
	if err := e.rt.Stop(ctx); err != nil {
		t.Errorf("stop runtime: %v", err)
	}
	if e.scheduled {
		if err := e.proj.Close(); err != nil {
			t.Errorf("close projections: %v", err)
		}
	}
	if err := e.snaps.Close(); err != nil {
		t.Errorf("close snapshots: %v", err)
	}
	if err := e.log.Close(ctx); err != nil {
		t.Errorf("close log: %v", err)
	}
	e.rt = nil
}

// restart stops everything and starts again over the same data dir with
// defs (the same definitions when none are given).
func (e *env) restart(t *testing.T, defs ...workflows.Definition) {
	t.Helper()
	if len(defs) == 0 {
		defs = e.defs
	}
	e.stop(t)
	e.start(t, defs...)
}

// wait polls run runID of name until it is finished, and returns it.
func (e *env) wait(t *testing.T, name, runID string) workflows.Run {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		run, err := e.eng.Get(context.Background(), name, runID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status.Finished() {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s of %s still %s (current %q)", runID, name, run.Status, run.Current)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
