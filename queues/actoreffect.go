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
		return coded{actors.ErrQueueNotFound, err}
	case errors.Is(err, ErrTooLarge):
		return coded{actors.ErrMessageTooLarge, err}
	case errors.Is(err, ErrInvalid):
		return coded{actors.ErrInvalidArgs, err}
	}
	return err
}

// coded is a queue error with the runtime's error of the same meaning (for
// its code): errors.Is and As find both, and its message is the queue's
// alone, which already says what was wrong ("queue not found: reports", not
// that twice over).
type coded struct{ code, err error }

func (c coded) Error() string   { return c.err.Error() }
func (c coded) Unwrap() []error { return []error{c.code, c.err} }

var _ actors.Enqueuer = (*Manager)(nil)
