package eventlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ErrOutcomeUnknown reports an append whose outcome Resolve could not learn:
// the log did not answer. The event may or may not be stored; the writer must
// not append to the actor again until it has reloaded it from the log.
var ErrOutcomeUnknown = errors.New("append outcome unknown")

// Unknown reports whether err from Append or Wait leaves the outcome unknown:
// not a conflict, not a refusal before publishing (too large, closed, full),
// so the event may be stored. Resolve settles it.
func Unknown(err error) bool {
	return err != nil && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrEventTooLarge) &&
		!errors.Is(err, ErrClosed) && !errors.Is(err, ErrLogFull)
}

// Resolve settles an append of ev after expected whose outcome is unknown (a
// lost acknowledgement, a dropped connection): it looks in the log for the
// first event of subject after expected and compares it with ev, byte for
// byte. Ours: it returns its sequence. Another event: a *ConflictError (ours
// can never land behind it, the fence forbids it). Nothing yet: it publishes
// ev again, fenced at expected, so at most one copy can ever be stored, and
// reads again if that is refused. When the log does not answer within ctx (or
// the append timeout, at least 5s) it returns ErrOutcomeUnknown.
//
// The republish is idempotent through the fence and the comparison, not a
// Nats-Msg-Id: a deduplication window would hold every append's ID in the
// server's memory (millions at these rates).
func (l *Log) Resolve(ctx context.Context, subject string, expected uint64, ev *Event) (uint64, error) {
	data := MarshalEvent(ev)
	// At least a few seconds: the ack that timed out may have been short.
	ctx, cancel := context.WithTimeout(ctx, max(l.cfg.AckTimeout, 5*time.Second))
	defer cancel()
	seq, found, err := l.findAfter(ctx, subject, expected, data)
	if err != nil || found {
		return seq, err
	}
	msg := &nats.Msg{Subject: subject, Data: data,
		Header: nats.Header{jetstream.ExpectedLastSubjSeqHeader: []string{strconv.FormatUint(expected, 10)}}}
	ack, perr := l.shared.PublishMsg(ctx, msg)
	if perr == nil {
		return ack.Sequence, nil
	}
	if !errors.Is(classifyAppendErr(subject, expected, perr), ErrConflict) {
		return 0, fmt.Errorf("%w: republish to %s: %v", ErrOutcomeUnknown, subject, perr)
	}
	// Refused by the fence: the slot is taken, by the first copy or by another.
	seq, found, err = l.findAfter(ctx, subject, expected, data)
	if err != nil || found {
		return seq, err
	}
	return 0, fmt.Errorf("%w: %s moved past %d but holds no event after it", ErrOutcomeUnknown, subject, expected)
}

// EventAt reads the event at stream sequence seq, which must belong to
// subject (ErrConflict-free: a mismatch is an error).
func (l *Log) EventAt(ctx context.Context, subject string, seq uint64) (*Event, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	msg, err := l.stream.GetMsg(ctx, seq)
	if err != nil {
		return nil, fmt.Errorf("read event %d: %w", seq, err)
	}
	if msg.Subject != subject {
		return nil, fmt.Errorf("event %d belongs to %s, not %s", seq, msg.Subject, subject)
	}
	ev := &Event{Seq: msg.Sequence, Subject: msg.Subject, Stored: msg.Time}
	if err := UnmarshalEvent(msg.Data, ev); err != nil {
		return nil, fmt.Errorf("event %d on %s: %w", seq, subject, err)
	}
	return ev, nil
}

// findAfter reads the first event of subject after expected: found with its
// sequence if it is data, a *ConflictError if it is another event, neither
// when there is none.
func (l *Log) findAfter(ctx context.Context, subject string, expected uint64, data []byte) (uint64, bool, error) {
	for attempt := 0; ; attempt++ {
		msg, err := l.stream.GetMsg(ctx, expected+1, jetstream.WithGetMsgSubject(subject))
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return 0, false, nil
		case err == nil && msg.Subject == subject:
			if bytes.Equal(msg.Data, data) {
				return msg.Sequence, true, nil
			}
			return 0, true, &ConflictError{Subject: subject, Expected: expected, Actual: msg.Sequence}
		case err == nil:
			return 0, false, fmt.Errorf("%w: read after %d on %s returned %s", ErrOutcomeUnknown, expected, subject, msg.Subject)
		}
		if ctx.Err() != nil {
			return 0, false, fmt.Errorf("%w: read %s after %d: %v", ErrOutcomeUnknown, subject, expected, err)
		}
		select { // the log is briefly unreachable: retry until ctx ends
		case <-ctx.Done():
		case <-time.After(time.Duration(min(attempt+1, 10)) * 20 * time.Millisecond):
		}
	}
}
