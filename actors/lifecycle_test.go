package actors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/internal/startstop/startstoptest"
)

// The runtime keeps the common lifecycle contract under concurrent and
// repeated starts and stops.
func TestRuntimeStartStopStress(t *testing.T) {
	t.Parallel()
	b := setup(t, builtin.Registry())
	startstoptest.Stress(context.Background(), t, b.rt)
}

// A stopped runtime refuses calls and takes them again after a restart, with
// the actor's state intact (it slept at Stop, so it wakes from its snapshot).
func TestRuntimeRestartsAfterStop(t *testing.T) {
	t.Parallel()
	b := setup(t, builtin.Registry())
	ctx := context.Background()
	h, _, err := b.rt.Client().GetOrCreate(ctx, "counter", []string{"restart"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[int64](ctx, h, "increment", 2); err != nil {
		t.Fatal(err)
	}
	if err := b.rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[int64](ctx, h, "increment", 1); !errors.Is(err, actors.ErrStopping) {
		t.Fatalf("call on a stopped runtime: %v, want stopping", err)
	}
	if err := b.rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-b.rt.Started()
	if n, err := actors.Call[int64](ctx, h, "increment", 1); err != nil || n != 3 {
		t.Fatalf("after restart: %d, %v, want 3", n, err)
	}
}
