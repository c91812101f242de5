package eventlog

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Scan delivers every event with a sequence from from (1 = the start) up to the
// stream's last sequence when the scan began, in log order, then returns that
// last sequence. It reads the stream sequentially in large batches, which is how
// every snapshot is rebuilt in one pass: per-actor reads of scattered history
// would load a whole 8 MiB block per event.
//
// Each event is freshly decoded and belongs to fn. An error from fn stops the
// scan and is returned.
func (l *Log) Scan(ctx context.Context, from uint64, fn func(ev *Event) error) (uint64, error) {
	last, err := l.LastSeq(ctx)
	if err != nil {
		return 0, err
	}
	if from == 0 {
		from = 1
	}
	if last < from {
		return last, nil
	}
	err = l.consume(ctx, nil, from, jetstream.PullMaxMessages(4096), func(ev *Event) (bool, error) {
		if err := fn(ev); err != nil {
			return false, err
		}
		return ev.Seq < last, nil
	})
	return last, err
}

// Tail delivers events matching the subject filters (none = every actor; see
// ActorRef.Subject and TypeFilter) from sequence from onwards (0 = only new
// events) and keeps following the log until ctx ends or fn fails. It returns
// nil when ctx ends. It reads ahead at most Config.TailBufferBytes: a slow fn
// slows the tail, it never buffers without bound.
func (l *Log) Tail(ctx context.Context, filters []string, from uint64, fn func(ev *Event) error) error {
	err := l.consume(ctx, filters, from, jetstream.PullMaxBytes(l.cfg.TailBufferBytes), func(ev *Event) (bool, error) { return true, fn(ev) })
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// consume runs an ordered consumer and calls fn per event until fn says stop,
// fn fails or ctx ends.
func (l *Log) consume(ctx context.Context, filters []string, from uint64, buffer jetstream.PullMessagesOpt, fn func(ev *Event) (more bool, err error)) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: filters, DeliverPolicy: jetstream.DeliverNewPolicy}
	if from > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, err := l.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("read the event log: %w", err)
	}
	iter, err := cons.Messages(buffer)
	if err != nil {
		return fmt.Errorf("read the event log: %w", err)
	}
	stop := context.AfterFunc(ctx, iter.Stop)
	defer stop()
	defer iter.Stop()
	for {
		msg, err := iter.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read the event log: %w", err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("read the event log: %w", err)
		}
		ev := &Event{Seq: meta.Sequence.Stream, Subject: msg.Subject(), Stored: meta.Timestamp}
		if err := UnmarshalEvent(msg.Data(), ev); err != nil {
			return fmt.Errorf("event %d on %s: %w", ev.Seq, ev.Subject, err)
		}
		l.metrics.scannedEvent.Inc()
		more, err := fn(ev)
		if err != nil || !more {
			return err
		}
	}
}
