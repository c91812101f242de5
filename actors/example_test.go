package actors_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
)

// Tally is the example actor's state.
type Tally struct {
	Votes map[string]int `json:"votes"`
}

// An actor type with a typed action, a user error and a broadcast, served by
// an embedded node, called through the Go client.
func Example() {
	poll := actors.NewType("poll", actors.Options[Tally]{State: Tally{Votes: map[string]int{}}}).
		Action("vote", actors.Act(func(c *actors.Context[Tally], choice string) (int, error) {
			if choice == "" {
				return 0, actors.NewUserError("empty_choice", "vote for something", nil)
			}
			c.State.Votes[choice]++
			c.Broadcast("voted", choice, c.State.Votes[choice])
			return c.State.Votes[choice], nil
		}))
	reg, err := actors.NewRegistry(poll)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "rivet-flow-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer n.Stop(ctx)

	h, created, _ := n.Runtime().Client().GetOrCreate(ctx, "poll", []string{"lunch"}, nil)
	fmt.Println("created:", created, "id:", h.ID)
	events, _ := h.Subscribe(ctx, "voted")
	defer events.Close()
	count, _ := actors.Call[int](ctx, h, "vote", "pizza")
	fmt.Println("pizza:", count)
	b := <-events.Events()
	fmt.Println("broadcast:", b.Name, string(b.Args))
	_, err = actors.Call[int](ctx, h, "vote", "")
	fmt.Println("error:", err)
	// Output:
	// created: true id: poll.kBWx1bmNo
	// pizza: 1
	// broadcast: voted ["pizza",1]
	// error: empty_choice: vote for something
}
