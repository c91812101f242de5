package actors_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

func TestMain(m *testing.M) {
	if childMain() {
		return
	}
	goleak.VerifyTestMain(m)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// bundle is a runtime over a real embedded log and a real Pebble store.
type bundle struct {
	dir   string
	log   *eventlog.Log
	snaps *snapshot.Store
	rt    *actors.Runtime
	reg   *actors.Registry
	opts  actors.RuntimeOptions
	clock *fakeClock
}

// setup starts a runtime over reg in a fresh data dir, stopped at cleanup.
func setup(t testing.TB, reg *actors.Registry, mutate ...func(*actors.RuntimeOptions)) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir(), reg: reg, clock: newFakeClock()}
	b.opts = actors.RuntimeOptions{Logger: quietLogger(), Clock: b.clock, SweepInterval: time.Hour}
	for _, f := range mutate {
		f(&b.opts)
	}
	b.start(t)
	t.Cleanup(func() { b.stop(t) })
	return b
}

func (b *bundle) start(t testing.TB) {
	t.Helper()
	var err error
	if b.log, err = eventlog.Open(context.Background(), eventlog.Config{DataDir: b.dir, Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if b.snaps, err = snapshot.Open(filepath.Join(b.dir, "snapshots"), &snapshot.Options{Logger: quietLogger()}); err != nil {
		t.Fatal(err)
	}
	if b.rt, err = actors.NewRuntime(b.log, b.snaps, b.reg, b.opts); err != nil {
		t.Fatal(err)
	}
	if err := b.rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// stop drains the runtime and closes the stores; restart with start.
func (b *bundle) stop(t testing.TB) {
	t.Helper()
	if b.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := b.rt.Stop(ctx); err != nil {
		t.Errorf("stop runtime: %v", err)
	}
	if err := b.snaps.Close(); err != nil {
		t.Errorf("close snapshots: %v", err)
	}
	if err := b.log.Close(ctx); err != nil {
		t.Errorf("close log: %v", err)
	}
	b.rt = nil
}

func (b *bundle) restart(t testing.TB) {
	t.Helper()
	b.stop(t)
	b.start(t)
}
