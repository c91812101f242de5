package client_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/client"
)

// ListActors reports whether each actor is awake on the node, and its Awake
// filter keeps only the awake or only the sleeping ones.
func TestListActorsAwake(t *testing.T) {
	t.Parallel()
	// No sweeper during the test: actors sleep when the test says.
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Actors: actors.RuntimeOptions{IdleTimeout: time.Nanosecond, SweepInterval: time.Hour}})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	c, err := client.New("http://"+n.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	ctx := ctxT(t)
	sleeper, _, err := c.GetOrCreate(ctx, "counter", []string{"sleeper"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); n.Runtime().Awake() > 0; time.Sleep(time.Millisecond) {
		n.Runtime().SleepIdle()
		if time.Now().After(deadline) {
			t.Fatal("the actor does not sleep")
		}
	}
	woken, _, err := c.GetOrCreate(ctx, "counter", []string{"woken"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	page, err := c.ListActors(ctx, &client.ActorQuery{Type: "counter"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Actors) != 2 || page.Actors[0].ID != sleeper.ID || page.Actors[0].Awake ||
		page.Actors[1].ID != woken.ID || !page.Actors[1].Awake {
		t.Fatalf("ListActors = %+v, want %s asleep and %s awake", page.Actors, sleeper.ID, woken.ID)
	}
	for _, want := range []bool{true, false} {
		page, err := c.ListActors(ctx, &client.ActorQuery{Awake: &want})
		if err != nil {
			t.Fatal(err)
		}
		wantID := sleeper.ID
		if want {
			wantID = woken.ID
		}
		if len(page.Actors) != 1 || page.Actors[0].ID != wantID || page.Actors[0].Awake != want {
			t.Fatalf("ListActors(Awake %v) = %+v, want only %s", want, page.Actors, wantID)
		}
	}
}
