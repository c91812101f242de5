package workflows

import "github.com/rivet-flow/rivet-flow/actors"

// registerQueueActions adds the actions of the run's own queues (send).
func registerQueueActions(t *actors.Type[RunState], c *core) {}
