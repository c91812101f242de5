package actors_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

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

// Inbox is the queue example's state.
type Inbox struct {
	Done []string `json:"done"`
}

// An actor with a queue of its own: a send waits for the actor's Run
// handler to complete its message, and gets the completion's response.
func ExampleHandle_SendQueue() {
	worker := actors.NewType("worker", actors.Options[Inbox]{
		Queues: map[string]actors.QueueSpec[Inbox]{"jobs": {}},
		Run: func(rc *actors.RunContext[Inbox]) error {
			for {
				m, err := rc.Queue().Next(actors.NextOptions{Names: []string{"jobs"}, Completable: true})
				if err != nil {
					return err // the actor is going to sleep or being destroyed
				}
				var job string
				_ = m.Decode(&job)
				if err := rc.Do(func(c *actors.Context[Inbox]) error {
					c.State.Done = append(c.State.Done, job)
					return nil
				}); err != nil {
					return err
				}
				if err := m.Complete("done: " + job); err != nil {
					return err
				}
			}
		},
	})
	reg, err := actors.NewRegistry(worker)
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

	h, _, _ := n.Runtime().Client().GetOrCreate(ctx, "worker", []string{"w1"}, nil)
	res, err := h.SendQueue(ctx, "jobs", []byte(`"resize image"`), actors.QueueSendOptions{Wait: true, Timeout: 10 * time.Second})
	fmt.Println(res.Status, string(res.Response), err)
	_, err = h.SendQueue(ctx, "nope", []byte(`1`), actors.QueueSendOptions{})
	fmt.Println(err)
	// Output:
	// completed "done: resize image" <nil>
	// actor type worker has no queue "nope"
}
