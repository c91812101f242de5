package workflows

import (
	"context"

	"github.com/rivet-flow/rivet-flow/actors"
)

// CompleteLeftovers runs completeLeftovers in a Do on run actor actorID,
// as the run's finish does, and tells the senders once it is committed.
func (e *Engine) CompleteLeftovers(ctx context.Context, actorID string) error {
	h, err := e.rt.Client().GetByID(ctx, actorID)
	if err != nil {
		return err
	}
	var notify func()
	if err := actors.Do(ctx, h, wfEvent, nil, func(ac *actors.Context[RunState]) error {
		notify = e.completeLeftovers(ac)
		return nil
	}); err != nil {
		return err
	}
	notify()
	return nil
}
