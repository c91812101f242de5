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
// The tree reads top-down as the flow of a call: cmd/rivet-flow -> this
// package (Node, Start, Config) -> api/ -> the feature packages -> actors/ ->
// internal/snapshot -> eventlog/. See examples/embed for a runnable program.
package rivetflow
