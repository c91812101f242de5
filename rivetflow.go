// Package rivetflow runs a rivet-flow node inside your own program: the event
// log, the snapshot store, your actor types and the HTTP endpoints, with the
// same lifecycle as `rivet-flow serve`.
//
//	reg, _ := actors.NewRegistry(myType)
//	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: "./data", Registry: reg})
//	...
//	h, _, _ := n.Runtime().Client().GetOrCreate(ctx, "myType", []string{"k"}, nil)
//	defer n.Stop(context.Background())
//
// See examples/embed for a runnable program.
package rivetflow

import (
	"context"

	"github.com/rivet-flow/rivet-flow/internal/node"
)

// Config configures a node; see the fields' docs. The zero value runs the
// built-in actor types on the embedded default, like `rivet-flow serve`.
type Config = node.Config

// Node is a running rivet-flow node.
type Node = node.Node

// Start opens the data dir, the event log and the snapshots, starts the actor
// runtime and serves HTTP; it returns once the node is ready. Stop it with
// Node.Stop.
func Start(ctx context.Context, cfg Config) (*Node, error) { return node.Start(ctx, cfg) }
