package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of one call.
const (
	// MaxClaim is the most messages one claim returns.
	MaxClaim = 1000
	// MaxClaimWait bounds a claim's long poll.
	MaxClaimWait = 30 * time.Second
	// MaxDedupIDBytes bounds a dedup ID.
	MaxDedupIDBytes = 256
	// MaxReceipts bounds the receipts one settle call takes.
	MaxReceipts = 1000
)

// EnqueueOptions are the optional parts of an enqueue.
type EnqueueOptions struct {
	// DedupID, when set, makes a second enqueue with the same ID within the
	// queue's dedupWindowMs return the first message's ID instead of adding
	// a message (Enqueued.Duplicate). At most MaxDedupIDBytes, no spaces.
	DedupID string
}

// Enqueued is the outcome of an enqueue.
type Enqueued struct {
	// ID is the message's ID (its stream sequence), or the first message's
	// for a duplicate.
	ID string
	// Duplicate is set when the dedup ID was seen within the window and
	// nothing was added.
	Duplicate bool
}

// Enqueue adds a message whose body is a JSON value. It fails with ErrFull
// when the queue holds maxMessages or maxBytes (nothing is stored), and
// with ErrTooLarge when the body exceeds maxMessageBytes.
func (m *Manager) Enqueue(ctx context.Context, name string, body json.RawMessage, opts EnqueueOptions) (Enqueued, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return Enqueued{}, err
	}
	if len(body) == 0 || !json.Valid(body) {
		return Enqueued{}, fmt.Errorf("%w: the body must be a JSON value", ErrInvalid)
	}
	if len(body) > int(q.cfg.MaxMessageBytes) {
		return Enqueued{}, fmt.Errorf("%w: body of %d bytes exceeds the queue's maxMessageBytes %d", ErrTooLarge, len(body), q.cfg.MaxMessageBytes)
	}
	if id := opts.DedupID; len(id) > MaxDedupIDBytes || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return Enqueued{}, fmt.Errorf("%w: dedupId: at most %d bytes, no spaces or control characters", ErrInvalid, MaxDedupIDBytes)
	}
	popts := []jetstream.PublishOpt{jetstream.WithExpectStream(streamName(name))}
	if opts.DedupID != "" {
		popts = append(popts, jetstream.WithMsgID(opts.DedupID))
	}
	ack, err := m.js.Publish(ctx, subject(name), body, popts...)
	if err != nil {
		return Enqueued{}, m.publishError(name, err)
	}
	return Enqueued{ID: strconv.FormatUint(ack.Sequence, 10), Duplicate: ack.Duplicate}, nil
}

// publishError names JetStream's refusals of a publish.
func (m *Manager) publishError(name string, err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch {
		case strings.Contains(apiErr.Description, "maximum messages") || strings.Contains(apiErr.Description, "maximum bytes"):
			return fmt.Errorf("%w: %s: %s", ErrFull, name, apiErr.Description)
		case strings.Contains(apiErr.Description, "message size exceeds"):
			return fmt.Errorf("%w: %s", ErrTooLarge, apiErr.Description)
		}
	}
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		m.forget(name)
		return fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return fmt.Errorf("enqueue into %s: %w", name, err)
}

// ClaimOptions are the optional parts of a claim.
type ClaimOptions struct {
	// Max is the most messages to return, 1 to MaxClaim. Defaults to 1.
	Max int
	// Wait is how long to wait for a first message when none is ready
	// (long poll), up to MaxClaimWait. Defaults to 0: answer at once.
	Wait time.Duration
}

// Message is a claimed message.
type Message struct {
	// ID is the message's ID (its stream sequence).
	ID string
	// Body is the JSON value enqueued (or the redriven body).
	Body json.RawMessage
	// Attempt counts this message's deliveries, this one included; it
	// survives restarts.
	Attempt int
	// Receipt settles this delivery (Ack, Nack, Extend).
	Receipt string
	// EnqueuedAt is when the message entered the queue.
	EnqueuedAt time.Time
}

// Claim leases up to opts.Max messages for the queue's ackWaitMs. A message
// met here past maxDeliveries moves to the dead letters instead of being
// returned. An empty result is not an error.
func (m *Manager) Claim(ctx context.Context, name string, opts ClaimOptions) ([]Message, error) {
	if opts.Max == 0 {
		opts.Max = 1
	}
	if opts.Max < 1 || opts.Max > MaxClaim {
		return nil, fmt.Errorf("%w: max %d: must be 1 to %d", ErrInvalid, opts.Max, MaxClaim)
	}
	if opts.Wait < 0 || opts.Wait > MaxClaimWait {
		return nil, fmt.Errorf("%w: waitMs %d: must be 0 to %d", ErrInvalid, opts.Wait.Milliseconds(), MaxClaimWait.Milliseconds())
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(opts.Wait)
	for {
		// What is ready; a round that met only dead letters goes again at once.
		out, moved, err := m.pull(ctx, q, opts.Max, 0)
		if err != nil || len(out) > 0 {
			return out, err
		}
		if moved > 0 {
			continue
		}
		wait := time.Until(deadline)
		if wait <= 0 || ctx.Err() != nil {
			return out, nil
		}
		// Wait for one message (a pull for Max would wait for all of them
		// until the wait ends), then take what else is ready.
		if out, _, err = m.pull(ctx, q, 1, wait); err != nil || len(out) == 0 || opts.Max == 1 {
			if err != nil || len(out) > 0 {
				return out, err
			}
			continue
		}
		more, _, err := m.pull(ctx, q, opts.Max-1, 0)
		if err != nil {
			m.lg.Warn("claim: a second pull failed; answering with the first", "queue", q.name, "err", err)
		}
		return append(out, more...), nil
	}
}

// pull fetches up to n messages, for at most wait (0: what is ready), and
// moves those past maxDeliveries to the dead letters (moved counts them).
func (m *Manager) pull(ctx context.Context, q *queue, n int, wait time.Duration) (out []Message, moved int, err error) {
	var batch jetstream.MessageBatch
	if wait <= 0 {
		batch, err = q.cons.FetchNoWait(n)
	} else {
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		batch, err = q.cons.Fetch(n, jetstream.FetchContext(fctx))
	}
	if err != nil {
		return nil, 0, m.notFound(q.name, err)
	}
	out = []Message{}
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil { // not a JetStream delivery: cannot happen on a pull consumer
			m.lg.Error("claim: a message without metadata", "queue", q.name, "subject", msg.Subject(), "err", err)
			continue
		}
		if int(md.NumDelivered) > q.cfg.MaxDeliveries {
			m.deadLetter(ctx, q, msg, md)
			moved++
			continue
		}
		out = append(out, Message{ID: strconv.FormatUint(md.Sequence.Stream, 10), Body: json.RawMessage(msg.Data()),
			Attempt: int(md.NumDelivered), Receipt: encodeReceipt(msg.Reply()), EnqueuedAt: md.Timestamp})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		if len(out) > 0 {
			// The messages are leased to this claim: return them; the next
			// claim sees the error again if it lasts.
			m.lg.Warn("claim ended early", "queue", q.name, "err", err)
			return out, moved, nil
		}
		if errors.Is(err, context.Canceled) {
			return out, moved, err
		}
		return out, moved, m.notFound(q.name, err)
	}
	return out, moved, nil
}
