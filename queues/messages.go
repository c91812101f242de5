package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
	// MaxKeyBytes bounds a message key.
	MaxKeyBytes = 256
	// MaxDelay bounds how far ahead a message can be held back.
	MaxDelay = 365 * 24 * time.Hour
	// MaxBatch bounds the messages of one EnqueueBatch.
	MaxBatch = 1000
	// MaxLease bounds a claim's or an extend's lease.
	MaxLease = 12 * time.Hour
)

// EnqueueOptions are the optional parts of an enqueue.
type EnqueueOptions struct {
	// DedupID, when set, makes a second enqueue with the same ID within the
	// queue's dedupWindowMs return the first message's ID instead of adding
	// a message (Enqueued.Duplicate). At most MaxDedupIDBytes, no spaces.
	DedupID string
	// Key, when set, orders the message after every earlier message of the
	// same key: one message per key is ready or in flight at a time, and
	// keys take turns (fair dispatch). At most MaxKeyBytes.
	Key string
	// Priority is 1 (most urgent) to 5; 0 means DefaultPriority (3).
	Priority int
	// Delay holds the message back for this long; DeliverAt until then
	// (the later of the two wins). At most MaxDelay ahead.
	Delay     time.Duration
	DeliverAt time.Time
}

// BatchItem is one message of EnqueueBatch.
type BatchItem struct {
	Body    json.RawMessage
	Options EnqueueOptions
}

// BatchResult is the outcome of one BatchItem: Err is nil when it was
// enqueued (or was a duplicate).
type BatchResult struct {
	Enqueued
	Err error
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

// Message headers.
const (
	hdrKey       = "Rf-Key"
	hdrPriority  = "Rf-Priority"
	hdrDeliverAt = "Rf-Deliver-At" // unix milliseconds
	hdrID        = "Rf-Id"         // on a ready message: its ID
	hdrEnqAt     = "Rf-Enqueued-At"
	hdrInboxAck  = "Rf-Inbox-Ack" // on a ready message: how to remove it from the inbox
)

// Enqueue adds a message whose body is a JSON value. It fails with ErrFull
// when the queue holds maxMessages or maxBytes (nothing is stored; under
// overflow "block" only after waiting blockMs for room), and with
// ErrTooLarge when the body exceeds maxMessageBytes.
func (m *Manager) Enqueue(ctx context.Context, name string, body json.RawMessage, opts EnqueueOptions) (Enqueued, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return Enqueued{}, err
	}
	msg, err := m.enqueueMsg(q, body, opts)
	if err != nil {
		return Enqueued{}, err
	}
	return m.publishBlocking(ctx, q, msg, opts.DedupID)
}

// enqueueMsg checks a message and builds its publish to the queue's inbox.
func (m *Manager) enqueueMsg(q *queue, body json.RawMessage, opts EnqueueOptions) (*nats.Msg, error) {
	if len(body) == 0 || !json.Valid(body) {
		return nil, fmt.Errorf("%w: the body must be a JSON value", ErrInvalid)
	}
	if len(body) > int(q.cfg.MaxMessageBytes) {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds the queue's maxMessageBytes %d", ErrTooLarge, len(body), q.cfg.MaxMessageBytes)
	}
	if id := opts.DedupID; len(id) > MaxDedupIDBytes || strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("%w: dedupId: at most %d bytes, no spaces or control characters", ErrInvalid, MaxDedupIDBytes)
	}
	if len(opts.Key) > MaxKeyBytes || !utf8.ValidString(opts.Key) || strings.ContainsFunc(opts.Key, unicode.IsControl) {
		return nil, fmt.Errorf("%w: key: at most %d bytes of UTF-8 text without control characters", ErrInvalid, MaxKeyBytes)
	}
	if opts.Priority != 0 && (opts.Priority < HighestPriority || opts.Priority > LowestPriority) {
		return nil, fmt.Errorf("%w: priority %d: must be %d (most urgent) to %d; 0 means %d", ErrInvalid, opts.Priority, HighestPriority, LowestPriority, DefaultPriority)
	}
	if opts.Delay < 0 || opts.Delay > MaxDelay {
		return nil, fmt.Errorf("%w: delayMs %d: must be 0 to %d", ErrInvalid, opts.Delay.Milliseconds(), MaxDelay.Milliseconds())
	}
	now := time.Now()
	due := opts.DeliverAt
	if d := now.Add(opts.Delay); opts.Delay > 0 && d.After(due) {
		due = d
	}
	if due.After(now.Add(MaxDelay)) {
		return nil, fmt.Errorf("%w: deliverAt %s: at most %s ahead", ErrInvalid, due.UTC().Format(time.RFC3339), MaxDelay)
	}
	msg := nats.NewMsg(inboxSubject(q.name))
	msg.Data = body
	if opts.Key != "" {
		msg.Header.Set(hdrKey, opts.Key)
	}
	if opts.Priority != 0 && opts.Priority != DefaultPriority {
		msg.Header.Set(hdrPriority, strconv.Itoa(opts.Priority))
	}
	if due.After(now) {
		msg.Header.Set(hdrDeliverAt, strconv.FormatInt(due.UnixMilli(), 10))
	}
	if opts.DedupID != "" {
		msg.Header.Set(jetstream.MsgIDHeader, opts.DedupID)
	}
	msg.Header.Set(jetstream.ExpectedStreamHeader, streamName(q.name))
	return msg, nil
}

// publishBlocking publishes an enqueue; into a full queue under overflow
// "block" it tries again until blockMs has passed.
func (m *Manager) publishBlocking(ctx context.Context, q *queue, msg *nats.Msg, dedupID string) (Enqueued, error) {
	var deadline time.Time
	pause := 5 * time.Millisecond
	for {
		ack, err := m.js.PublishMsg(ctx, msg)
		if err == nil {
			return Enqueued{ID: strconv.FormatUint(ack.Sequence, 10), Duplicate: ack.Duplicate}, nil
		}
		err = m.publishError(q.name, err)
		if !errors.Is(err, ErrFull) || q.cfg.Overflow != OverflowBlock {
			return Enqueued{}, err
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(dur(q.cfg.BlockMs))
		}
		if time.Until(deadline) <= 0 {
			return Enqueued{}, fmt.Errorf("%w (waited blockMs %d for room)", err, q.cfg.BlockMs)
		}
		t := time.NewTimer(min(pause, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return Enqueued{}, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

// EnqueueBatch adds many messages in one call, published together (the
// fast way to enqueue in bulk). Each item succeeds or fails on its own:
// the results are in the items' order. The call itself fails only for an
// unknown queue or a batch of 0 or more than MaxBatch items.
func (m *Manager) EnqueueBatch(ctx context.Context, name string, items []BatchItem) ([]BatchResult, error) {
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, fmt.Errorf("%w: messages: 1 to %d", ErrInvalid, MaxBatch)
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return nil, err
	}
	out := make([]BatchResult, len(items))
	futures := make([]jetstream.PubAckFuture, len(items))
	msgs := make([]*nats.Msg, len(items))
	for i, it := range items {
		if msgs[i], out[i].Err = m.enqueueMsg(q, it.Body, it.Options); out[i].Err != nil {
			continue
		}
		if futures[i], out[i].Err = m.js.PublishMsgAsync(msgs[i]); out[i].Err != nil {
			out[i].Err = m.publishError(name, out[i].Err)
		}
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			out[i].Enqueued = Enqueued{ID: strconv.FormatUint(ack.Sequence, 10), Duplicate: ack.Duplicate}
		case err := <-f.Err():
			out[i].Err = m.publishError(name, err)
			if errors.Is(out[i].Err, ErrFull) && q.cfg.Overflow == OverflowBlock {
				out[i].Enqueued, out[i].Err = m.publishBlocking(ctx, q, msgs[i], items[i].Options.DedupID)
			}
		case <-ctx.Done():
			out[i].Err = ctx.Err()
		}
	}
	return out, nil
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
	// Lease, when set, is this claim's lease instead of the queue's
	// ackWaitMs (at most MaxLease); see Extend for how it is kept.
	Lease time.Duration
}

// Message is a claimed message.
type Message struct {
	// ID is the message's ID (its stream sequence).
	ID string
	// Body is the JSON value enqueued (or the redriven body).
	Body json.RawMessage
	// Attempt counts this message's deliveries, this one included; it
	// survives restarts, except that a crash (kill -9, power loss) may
	// forget deliveries made in the last ~100 ms before it (JetStream
	// writes consumer state every 100 ms): those count once less. A clean
	// stop forgets none.
	Attempt int
	// Receipt settles this delivery (Ack, Nack, Extend).
	Receipt string
	// EnqueuedAt is when the message entered the queue.
	EnqueuedAt time.Time
	// Key and Priority are as enqueued (Priority with its default).
	Key      string
	Priority int
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
	if opts.Lease < 0 || opts.Lease > MaxLease {
		return nil, fmt.Errorf("%w: leaseMs %d: must be 0 to %d", ErrInvalid, opts.Lease.Milliseconds(), MaxLease.Milliseconds())
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return nil, err
	}
	out, err := m.claim(ctx, q, opts)
	if len(out) > 0 {
		m.notify(name, change{claimed: len(out)}) // room in the ready window
		if opts.Lease > 0 {
			for _, msg := range out {
				if rc, derr := decodeReceipt(name, msg.Receipt); derr == nil {
					m.keepLease(q, rc, opts.Lease)
				}
			}
		}
	}
	return out, err
}

// claim is Claim after its checks.
func (m *Manager) claim(ctx context.Context, q *queue, opts ClaimOptions) ([]Message, error) {
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
		if err != nil && (fctx.Err() != nil || errors.Is(err, jetstream.ErrInvalidOption)) && ctx.Err() == nil {
			return []Message{}, 0, nil // the wait ended before the pull began
		}
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
		id, at := readyIdentity(msg.Headers(), md)
		prio, _ := strconv.Atoi(msg.Headers().Get(hdrPriority))
		if prio == 0 {
			prio = DefaultPriority
		}
		out = append(out, Message{ID: id, Body: json.RawMessage(msg.Data()), Key: msg.Headers().Get(hdrKey), Priority: prio,
			Attempt: int(md.NumDelivered), Receipt: encodeReceipt(msg.Reply()), EnqueuedAt: at})
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

// readyIdentity is a ready message's ID and enqueue time: those of its
// enqueue, which the dispatcher copied into its headers.
func readyIdentity(h nats.Header, md *jetstream.MsgMetadata) (string, time.Time) {
	id, at := h.Get(hdrID), md.Timestamp
	if id == "" {
		id = strconv.FormatUint(md.Sequence.Stream, 10)
	}
	if t, err := time.Parse(time.RFC3339Nano, h.Get(hdrEnqAt)); err == nil {
		at = t
	}
	return id, at
}
