package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actors"
)

// EnqueueEffect performs an actor's enqueue (actors.Context.Enqueue) for the
// runtime's fast path and the outbox: Enqueue with dedupID as the dedup ID,
// a repeat within the queue's dedupWindowMs adding nothing, and the key,
// priority and delay of opts (at most one). It satisfies actors.Enqueuer:
// an unknown queue is actors.ErrQueueNotFound and a body or options the
// queue refuses actors.ErrMessageTooLarge or actors.ErrInvalidArgs (dead
// letters); a full queue and other errors are returned as they are, to be
// retried.
func (m *Manager) EnqueueEffect(ctx context.Context, queue string, body json.RawMessage, dedupID string, opts ...actors.EnqueueOptions) error {
	if len(opts) > 1 {
		return fmt.Errorf("%w: %d EnqueueOptions given, at most 1", actors.ErrInvalidArgs, len(opts))
	}
	eo := EnqueueOptions{DedupID: dedupID}
	if len(opts) == 1 {
		eo.Key, eo.Priority, eo.Delay = opts[0].Key, opts[0].Priority, opts[0].Delay
	}
	_, err := m.Enqueue(ctx, queue, body, eo)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", actors.ErrQueueNotFound, err)
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%w: %w", actors.ErrMessageTooLarge, err)
	case errors.Is(err, ErrInvalid):
		return fmt.Errorf("%w: %w", actors.ErrInvalidArgs, err)
	}
	return err
}

var _ actors.Enqueuer = (*Manager)(nil)
