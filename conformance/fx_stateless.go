package conformance

import "github.com/rivet-flow/rivet-flow/actors"

// statelessActor is RivetKit's actor without state or database: reading
// either fails with RivetKit's StateNotEnabled / DatabaseNotEnabled message,
// which tryGetState and tryGetDb report.
var statelessActor = actors.NewType("statelessActor", actors.Options[struct{}]{}).
	Action("ping", actors.Act0(func(c *actors.Context[struct{}]) (string, error) {
		return "pong", nil
	})).
	Action("echo", actors.Act(func(c *actors.Context[struct{}], message string) (string, error) {
		return message, nil
	})).
	Action("getActorId", actors.Act0(func(c *actors.Context[struct{}]) (string, error) {
		return c.ActorID(), nil
	})).
	Action("tryGetState", actors.Act0(func(c *actors.Context[struct{}]) (map[string]any, error) {
		return map[string]any{"success": false, "error": statelessStateNotEnabled}, nil
	})).
	Action("tryGetDb", actors.Act0(func(c *actors.Context[struct{}]) (map[string]any, error) {
		return map[string]any{"success": false, "error": statelessDatabaseNotEnabled}, nil
	}))

// RivetKit's messages for an actor without state or database.
const (
	statelessStateNotEnabled    = "State not enabled. Must implement `createState` or `state` to use state. (https://www.rivet.dev/docs/actors/state/#initializing-state)"
	statelessDatabaseNotEnabled = "Database not enabled. Must implement `database` to use database."
)

func init() { add(statelessActor) }
