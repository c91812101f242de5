package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Append appends ev to subject if the subject's last sequence is expected (0 for
// a subject with no events yet) and returns the event's stream sequence once
// JetStream has acknowledged it. A stale expectation fails with a *ConflictError
// and appends nothing.
//
// Appends to different subjects from different goroutines are pipelined on one
// connection. If ctx ends before the acknowledgement, the outcome is unknown:
// the event may or may not be in the log, and the caller must reload from it.
func (l *Log) Append(ctx context.Context, subject string, expected uint64, ev *Event) (uint64, error) {
	p, err := l.AppendAsync(ctx, subject, expected, ev)
	if err != nil {
		return 0, err
	}
	return p.Wait(ctx)
}

// PendingAppend is an append published and awaiting its acknowledgement.
type PendingAppend struct {
	l        *Log
	subject  string
	expected uint64
	start    time.Time
	done     chan struct{} // closed by the ack or error handler
	seq      uint64
	err      error

	// The published message and its fence header's value, allocated with
	// the append rather than on their own.
	msg   nats.Msg
	fence [1]string
}

// AppendAsync publishes ev like Append but returns without waiting for the
// acknowledgement; Wait gets the outcome. It blocks (bounded by ctx) only when
// Config.MaxInflight appends are already awaiting acknowledgement.
func (l *Log) AppendAsync(ctx context.Context, subject string, expected uint64, ev *Event) (*PendingAppend, error) {
	l.gate.RLock()
	defer l.gate.RUnlock()
	select {
	case <-l.closed:
		return nil, ErrClosed
	default:
	}
	data := MarshalEvent(ev)
	if len(data) > l.cfg.MaxEventBytes {
		return nil, fmt.Errorf("append to %s: %w: %d bytes, limit %d", subject, ErrEventTooLarge, len(data), l.cfg.MaxEventBytes)
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("append to %s: waiting for an append slot: %w", subject, ctx.Err())
	case <-l.closed:
		return nil, ErrClosed
	}
	l.metrics.inflight.Inc()
	p := &PendingAppend{l: l, subject: subject, expected: expected, start: time.Now(), done: make(chan struct{})}
	msg := &p.msg
	msg.Subject, msg.Data = subject, data
	if l.batches != nil {
		l.batches <- batchItem{msg: msg, p: p} // never blocks: one slot per item
		return p, nil
	}
	// The fence, set here rather than with WithExpectLastSequencePerSubject:
	// the same header, without the options the client builds per publish.
	p.fence[0] = strconv.FormatUint(expected, 10)
	msg.Header = nats.Header{jetstream.ExpectedLastSubjSeqHeader: p.fence[:]}
	// Registered before publishing: the ack can arrive before PublishMsgAsync returns.
	l.pending.Store(msg, p)
	if _, err := l.js.PublishMsgAsync(msg); err != nil {
		if _, mine := l.pending.LoadAndDelete(msg); mine {
			<-l.slots
			l.metrics.inflight.Dec()
		}
		l.metrics.appendErr.Inc()
		return nil, fmt.Errorf("append to %s: %w", subject, err)
	}
	return p, nil
}

// complete records an append's outcome; JetStream calls it once per publish.
func (l *Log) complete(msg *nats.Msg, seq uint64, err error) {
	v, ok := l.pending.LoadAndDelete(msg)
	if !ok {
		return
	}
	l.finish(v.(*PendingAppend), seq, err)
}

// finish records an append's outcome and frees its slot.
func (l *Log) finish(p *PendingAppend, seq uint64, err error) {
	<-l.slots
	l.metrics.inflight.Dec()
	if err != nil {
		p.err = classifyAppendErr(p.subject, p.expected, err)
		if errors.Is(p.err, ErrConflict) {
			l.metrics.appendConfl.Inc()
		} else {
			l.metrics.appendErr.Inc()
		}
	} else {
		p.seq = seq
		l.metrics.appendTime.Observe(time.Since(p.start).Seconds())
		l.metrics.appendOK.Inc()
	}
	close(p.done)
}

// Wait returns the appended event's stream sequence once acknowledged, or the
// append's error. If ctx ends first the outcome is unknown.
func (p *PendingAppend) Wait(ctx context.Context) (uint64, error) {
	select {
	case <-p.done:
		return p.seq, p.err
	case <-ctx.Done():
		return 0, fmt.Errorf("append to %s: outcome unknown: %w", p.subject, ctx.Err())
	}
}
