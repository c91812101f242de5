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
// a repeat within the queue's dedupWindowMs adding nothing. It satisfies
// actors.Enqueuer: an unknown queue is actors.ErrQueueNotFound and a body
// the queue refuses actors.ErrMessageTooLarge or actors.ErrInvalidArgs
// (dead letters); a full queue and other errors are returned as they are,
// to be retried.
func (m *Manager) EnqueueEffect(ctx context.Context, queue string, body json.RawMessage, dedupID string) error {
	_, err := m.Enqueue(ctx, queue, body, EnqueueOptions{DedupID: dedupID})
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
