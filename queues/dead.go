package queues

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Headers of a dead letter.
const (
	hdrReason     = "Rf-Dl-Reason"
	hdrAttempts   = "Rf-Dl-Attempts"
	hdrOrigID     = "Rf-Dl-Message-Id"
	hdrEnqueuedAt = "Rf-Dl-Enqueued-At"
	hdrError      = "Rf-Dl-Error"
)

// ReasonMaxDeliveries is the reason of a message delivered maxDeliveries
// times without an ack.
const ReasonMaxDeliveries = "max_deliveries"

// MaxDeadLetterPage bounds one page of ListDeadLetters.
const MaxDeadLetterPage = 1000

// DeadLetter is a message moved out of its queue.
type DeadLetter struct {
	// ID names the dead letter (its sequence in the dead-letter stream).
	ID string
	// MessageID is the message's ID in the queue.
	MessageID string
	// Body is the message's body.
	Body json.RawMessage
	// Reason says why it moved: ReasonMaxDeliveries, ReasonNoActorKey or
	// ReasonRejected.
	Reason string
	// Attempts counts its deliveries to workers.
	Attempts int
	// EnqueuedAt is when it entered the queue; DeadAt when it left it.
	EnqueuedAt time.Time
	DeadAt     time.Time
	// Error is what refused it, when one error did (ReasonNoActorKey,
	// ReasonRejected); "" after maxDeliveries.
	Error string
}

// deadLetter moves a message past maxDeliveries to the dead letters: a
// publish (deduplicated by the message's sequence and enqueue time, so a
// crash between the two steps stores it once) and then an ack that removes
// it from the queue. If either fails the message stays in the queue and the
// next claim after its lease tries again.
func (m *Manager) deadLetter(ctx context.Context, q *queue, msg jetstream.Msg, md *jetstream.MsgMetadata) {
	dl := nats.NewMsg(deadSubject(q.name))
	dl.Data = msg.Data()
	dl.Header.Set(hdrReason, ReasonMaxDeliveries)
	dl.Header.Set(hdrAttempts, strconv.FormatUint(md.NumDelivered-1, 10))
	id, at := readyIdentity(msg.Headers(), md)
	dl.Header.Set(hdrOrigID, id)
	dl.Header.Set(hdrEnqueuedAt, at.UTC().Format(time.RFC3339Nano))
	for _, h := range []string{hdrKey, hdrPriority} {
		if v := msg.Headers().Get(h); v != "" {
			dl.Header.Set(h, v)
		}
	}
	dedup := fmt.Sprintf("dl-%d-%d", md.Sequence.Stream, md.Timestamp.UnixNano())
	if _, err := m.js.PublishMsg(ctx, dl, jetstream.WithMsgID(dedup), jetstream.WithExpectStream(deadStream(q.name))); err != nil {
		m.lg.Error("dead-letter a message: publish failed; it stays in the queue", "queue", q.name, "message", md.Sequence.Stream, "err", err)
		return
	}
	if n, err := strconv.ParseUint(id, 10, 64); err == nil {
		if err := m.removeFromInbox(ctx, q, receipt{id: n, inboxAck: msg.Headers().Get(hdrInboxAck)}); err != nil {
			m.lg.Error("dead-letter a message: stored, but removing it from the inbox failed; the next claim moves it again (deduplicated)", "queue", q.name, "message", id, "err", err)
			return
		}
	}
	m.notify(q.name, change{dead: 1})
	if err := msg.DoubleAck(ctx); err != nil {
		m.lg.Error("dead-letter a message: stored, but the ack failed; the next claim moves it again (deduplicated)", "queue", q.name, "message", md.Sequence.Stream, "err", err)
	}
}

// DeadLetterPage is one page of a queue's dead letters.
type DeadLetterPage struct {
	Items []DeadLetter
	// NextCursor continues after this page; empty on the last.
	NextCursor string
}

// ListDeadLetters returns up to limit dead letters, oldest first, from the
// cursor of a previous page ("" for the first).
func (m *Manager) ListDeadLetters(ctx context.Context, name string, limit int, cursor string) (DeadLetterPage, error) {
	if limit < 1 || limit > MaxDeadLetterPage {
		return DeadLetterPage{}, fmt.Errorf("%w: limit %d: must be 1 to %d", ErrInvalid, limit, MaxDeadLetterPage)
	}
	from := uint64(1)
	if cursor != "" {
		c, err := strconv.ParseUint(cursor, 10, 64)
		if err != nil || c == 0 {
			return DeadLetterPage{}, fmt.Errorf("%w %q", ErrInvalidCursor, cursor)
		}
		from = c
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return DeadLetterPage{}, err
	}
	si, err := q.dead.Info(ctx)
	if err != nil {
		return DeadLetterPage{}, m.notFound(name, err)
	}
	page := DeadLetterPage{Items: []DeadLetter{}}
	for seq := max(from, si.State.FirstSeq); seq <= si.State.LastSeq && len(page.Items) < limit; {
		raw, err := q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(deadSubject(name)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return DeadLetterPage{}, m.notFound(name, err)
		}
		page.Items = append(page.Items, deadLetterOf(raw))
		seq = raw.Sequence + 1
		if len(page.Items) == limit && raw.Sequence < si.State.LastSeq {
			page.NextCursor = strconv.FormatUint(seq, 10)
		}
	}
	return page, nil
}

func deadLetterOf(raw *jetstream.RawStreamMsg) DeadLetter {
	d := DeadLetter{ID: strconv.FormatUint(raw.Sequence, 10), Body: json.RawMessage(raw.Data), DeadAt: raw.Time,
		Reason: raw.Header.Get(hdrReason), MessageID: raw.Header.Get(hdrOrigID), Error: raw.Header.Get(hdrError)}
	d.Attempts, _ = strconv.Atoi(raw.Header.Get(hdrAttempts))
	d.EnqueuedAt, _ = time.Parse(time.RFC3339Nano, raw.Header.Get(hdrEnqueuedAt))
	return d
}

// RedriveOptions choose the dead letters to put back and what body they get.
type RedriveOptions struct {
	// IDs are the dead letters to redrive (DeadLetter.ID); unknown ones are
	// skipped and counted in Redriven.Missing.
	IDs []string
	// All redrives every dead letter there is when the call starts.
	All bool
	// Body, when set, replaces each redriven message's body.
	Body json.RawMessage
}

// Redriven counts a redrive's outcome.
type Redriven struct {
	// Redriven is how many messages went back into the queue.
	Redriven int
	// Missing lists the IDs asked for that are not dead letters.
	Missing []string
}

// Redrive puts dead letters back into their queue as new messages (with a
// new ID and attempt 1) and removes them from the dead letters. Each one is
// published with a dedup ID, so a redrive retried after a failure does not
// enqueue a message twice within the queue's dedup window. A full queue
// stops the redrive with ErrFull; those not yet redriven stay dead letters.
func (m *Manager) Redrive(ctx context.Context, name string, opts RedriveOptions) (Redriven, error) {
	if opts.All == (len(opts.IDs) > 0) {
		return Redriven{}, fmt.Errorf("%w: give either ids or all", ErrInvalid)
	}
	if len(opts.IDs) > MaxDeadLetterPage {
		return Redriven{}, fmt.Errorf("%w: at most %d ids", ErrInvalid, MaxDeadLetterPage)
	}
	q, err := m.load(ctx, name, false)
	if err != nil {
		return Redriven{}, err
	}
	if opts.Body != nil {
		if !json.Valid(opts.Body) {
			return Redriven{}, fmt.Errorf("%w: the body must be a JSON value", ErrInvalid)
		}
		if len(opts.Body) > int(q.cfg.MaxMessageBytes) {
			return Redriven{}, fmt.Errorf("%w: body of %d bytes exceeds the queue's maxMessageBytes %d", ErrTooLarge, len(opts.Body), q.cfg.MaxMessageBytes)
		}
	}
	seqs := make([]uint64, 0, len(opts.IDs))
	for _, id := range opts.IDs {
		s, err := strconv.ParseUint(id, 10, 64)
		if err != nil || s == 0 {
			return Redriven{}, fmt.Errorf("%w: id %q is not a dead letter ID", ErrInvalid, id)
		}
		seqs = append(seqs, s)
	}
	var out Redriven
	redrive := func(raw *jetstream.RawStreamMsg) error {
		body := raw.Data
		if opts.Body != nil {
			body = opts.Body
		}
		msg := nats.NewMsg(inboxSubject(name))
		msg.Data = body
		for _, h := range []string{hdrKey, hdrPriority} {
			if v := raw.Header.Get(h); v != "" {
				msg.Header.Set(h, v)
			}
		}
		id := fmt.Sprintf("redrive-%d-%d", raw.Sequence, raw.Time.UnixNano())
		if _, err := m.js.PublishMsg(ctx, msg, jetstream.WithMsgID(id), jetstream.WithExpectStream(streamName(name))); err != nil {
			return m.publishError(name, err)
		}
		if err := q.dead.DeleteMsg(ctx, raw.Sequence); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("queue %s: remove dead letter %d: %w", name, raw.Sequence, err)
		}
		out.Redriven++
		return nil
	}
	if opts.All {
		si, err := q.dead.Info(ctx)
		if err != nil {
			return out, m.notFound(name, err)
		}
		for seq := si.State.FirstSeq; seq <= si.State.LastSeq && seq > 0; {
			raw, err := q.dead.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(deadSubject(name)))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return out, m.notFound(name, err)
			}
			if raw.Sequence > si.State.LastSeq {
				break
			}
			if err := redrive(raw); err != nil {
				return out, err
			}
			seq = raw.Sequence + 1
		}
		return out, nil
	}
	for i, seq := range seqs {
		raw, err := q.dead.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			out.Missing = append(out.Missing, opts.IDs[i])
			continue
		}
		if err != nil {
			return out, m.notFound(name, err)
		}
		if err := redrive(raw); err != nil {
			return out, err
		}
	}
	return out, nil
}

// PurgeDeadLetters deletes every dead letter of a queue and returns how many.
func (m *Manager) PurgeDeadLetters(ctx context.Context, name string) (uint64, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	si, err := q.dead.Info(ctx)
	if err != nil {
		return 0, m.notFound(name, err)
	}
	if err := q.dead.Purge(ctx, jetstream.WithPurgeSequence(si.State.LastSeq+1)); err != nil {
		return 0, m.notFound(name, err)
	}
	return si.State.Msgs, nil
}
