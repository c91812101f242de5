package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
)

// ActionCalls is a row of the example's read model.
type ActionCalls struct {
	Calls int `json:"calls"`
}

// callsPerAction counts the calls of each action per actor type: a typed
// projection over action events only.
var callsPerAction = projections.Define("action-calls",
	projections.Filter{Kinds: []eventlog.Kind{eventlog.KindAction}},
	func(tx projections.Tx[ActionCalls], ev *eventlog.Event) error {
		ref, err := eventlog.ParseSubject(ev.Subject)
		if err != nil {
			return err
		}
		key := ref.Type + "/" + ev.Action
		row, _, err := tx.Get(key)
		if err != nil {
			return err
		}
		row.Calls++
		return tx.Put(key, row)
	})

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "projections-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	quiet := slog.New(slog.DiscardHandler)
	log, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer log.Close(ctx)

	// Open the runner under <data-dir>/projections, register, start.
	runner, err := projections.Open(filepath.Join(dir, "projections"), log, &projections.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer runner.Close()
	if err := runner.Register(callsPerAction); err != nil {
		panic(err)
	}
	if err := runner.Start(ctx); err != nil {
		panic(err)
	}

	// Some history: a counter created, incremented three times, reset once.
	subject, _ := eventlog.ActorRef{Type: "counter", Key: []string{"org-acme", "visits"}}.Subject()
	seq, _ := log.Append(ctx, subject, 0, &eventlog.Event{Kind: eventlog.KindCreate, Generation: 1})
	for _, action := range []string{"increment", "increment", "increment", "reset"} {
		seq, _ = log.Append(ctx, subject, seq, &eventlog.Event{Kind: eventlog.KindAction, Generation: 1, Action: action})
	}

	// Read models trail the log: wait for the last append, then read.
	for _, name := range []string{callsPerAction.Name(), projections.DirectoryName} {
		if err := runner.Wait(ctx, name, seq); err != nil {
			panic(err)
		}
	}
	rows, _, err := callsPerAction.List(runner, "counter/", 10, "")
	if err != nil {
		panic(err)
	}
	for _, row := range rows {
		fmt.Println(row.Key, row.Value.Calls)
	}
	page, err := runner.Directory().List(projections.ActorQuery{Type: "counter", Prefix: []string{"org-acme"}})
	if err != nil {
		panic(err)
	}
	for _, a := range page.Actors {
		fmt.Println(a.Type, a.Key, a.Status, a.Events)
	}
	st, _ := runner.Status(callsPerAction.Name())
	fmt.Println("checkpoint", st.Checkpoint, "lag", st.Lag, "rows", st.Rows)
	// Output:
	// counter/increment 3
	// counter/reset 1
	// counter [org-acme visits] active 5
	// checkpoint 5 lag 0 rows 2
}
