package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/client"
)

// Start a node (here in-process, on a free loopback port), then create a
// counter, call its actions and read its history over HTTP.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "rivet-flow-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	node, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer node.Stop(ctx)

	c, err := client.New("http://"+node.Addr(), nil)
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()

	counter, created, err := c.GetOrCreate(ctx, "counter", []string{"example"}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("created:", created, "type:", counter.Type, "key:", counter.Key)

	if _, err := c.Call(ctx, counter.ID, "increment", 5); err != nil {
		panic(err)
	}
	count, err := client.CallAs[int64](ctx, c, counter.ID, "increment", 2)
	if err != nil {
		panic(err)
	}
	fmt.Println("count:", count)

	history, err := c.Events(ctx, counter.ID, nil)
	if err != nil {
		panic(err)
	}
	for _, ev := range history.Events {
		line := fmt.Sprintf("%s %s%s", ev.Kind, ev.Action, ev.Args)
		if ev.Output != nil {
			line += fmt.Sprintf(" -> %s", ev.Output)
		}
		fmt.Println(line)
	}

	// Errors carry the server's stable code.
	_, err = c.Call(ctx, counter.ID, "decrement", 1)
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		fmt.Println("error:", apiErr.Status, apiErr.Code)
	}
	// Output:
	// created: true type: counter key: [example]
	// count: 7
	// create $create
	// action increment[5] -> 5
	// action increment[2] -> 7
	// error: 404 action_not_found
}
