package actors_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
)

func TestCounterSmoke(t *testing.T) {
	b := setup(t, builtin.Registry())
	ctx := context.Background()
	cl := b.rt.Client()
	h, created, err := cl.GetOrCreate(ctx, "counter", []string{"a"}, nil)
	if err != nil || !created {
		t.Fatalf("getOrCreate: %v %v", created, err)
	}
	for i := 1; i <= 3; i++ {
		n, err := actors.Call[int](ctx, h, "increment", 2)
		if err != nil || n != 2*i {
			t.Fatalf("increment: %d %v", n, err)
		}
	}
	if _, err := cl.Create(ctx, "counter", []string{"a"}, nil); !errors.Is(err, actors.ErrExists) {
		t.Fatalf("create existing: %v", err)
	}
	b.restart(t)
	h, err = b.rt.Client().Get(ctx, "counter", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := actors.Call[int](ctx, h, "getCount")
	if err != nil || n != 6 {
		t.Fatalf("after restart: %d %v", n, err)
	}
}
