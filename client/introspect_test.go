package client_test

import (
	"slices"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// Types lists the node's registry; State reads an actor's state without
// appending; both answer the usual error codes.
func TestTypesAndState(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	types, err := c.Types(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(types, func(at client.ActorType) bool { return at.Name == "counter" })
	if i < 0 || !slices.Contains(types[i].Actions, "increment") || types[i].System {
		t.Fatalf("types: %+v, want counter with increment", types)
	}
	if !slices.ContainsFunc(types, func(at client.ActorType) bool { return at.System }) {
		t.Errorf("no internal type listed: %+v", types)
	}

	a, _, err := c.GetOrCreate(ctx, "counter", []string{"st"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, a.ID, "increment", 4); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx, a.ID)
	if err != nil || st.ID != a.ID || st.Type != "counter" || string(st.State) != `{"count":4}` || st.Generation != 1 {
		t.Fatalf("State = %+v, %v", st, err)
	}
	page, err := c.Events(ctx, a.ID, nil)
	if err != nil || len(page.Events) != 2 {
		t.Fatalf("events after State: %d, %v; want the create and the increment only", len(page.Events), err)
	}
	if err := c.Destroy(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.State(ctx, a.ID); client.ErrorCode(err) != client.CodeActorNotFound {
		t.Errorf("State of a destroyed actor: %v, want actor_not_found", err)
	}
	if _, err := c.State(ctx, "not-an-id"); client.ErrorCode(err) != client.CodeInvalidActorID {
		t.Errorf("State of a bad ID: %v, want invalid_actor_id", err)
	}
}
