package actorwf_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows/actorwf"
)

// An actor whose Run handler is a durable workflow serving its queue: each
// message is taken, applied to the state in a step (state change and
// journal entry are one event), and completed with a response the sender
// waits for.
func Example() {
	type State struct {
		Total int `json:"total"`
	}
	adder := actors.NewType("adder", actorwf.With(actors.Options[State]{
		Queues: map[string]actors.QueueSpec[State]{"add": {}},
	}, func(w *actorwf.W[State]) error {
		return actorwf.Forever(w, "serve", func(w *actorwf.W[State]) error {
			m, err := w.Queue().Next("take", actors.NextOptions{Names: []string{"add"}, Completable: true})
			if err != nil {
				return err
			}
			var n int
			if err := m.Decode(&n); err != nil {
				return err
			}
			total, err := actorwf.Step(w, "apply", func(c *actors.Context[State]) (int, error) {
				c.State.Total += n
				return c.State.Total, nil
			})
			if err != nil {
				return err
			}
			return m.Complete(map[string]int{"total": total})
		})
	}))
	reg, err := actors.NewRegistry(adder)
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "actorwf-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer node.Stop(context.Background())

	h, _, err := node.Runtime().Client().GetOrCreate(ctx, "adder", []string{"a"}, nil)
	if err != nil {
		panic(err)
	}
	for _, n := range []string{"2", "3"} {
		res, err := h.SendQueue(ctx, "add", json.RawMessage(n), actors.QueueSendOptions{Wait: true, Timeout: 10 * time.Second})
		if err != nil {
			panic(err)
		}
		fmt.Println(res.Status, string(res.Response))
	}
	// Output:
	// completed {"total":2}
	// completed {"total":5}
}
