package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

// directGetRequest is JetStream's direct get request (server 2.11+ batches).
type directGetRequest struct {
	Seq      uint64 `json:"seq"`
	NextFor  string `json:"next_by_subj"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes,omitempty"`
}

// ReadActor returns up to limit events of subject with sequences after after, in
// order, with one batched direct-get request: the wake path (snapshot, then the
// events after it). limit is capped at Config.MaxReadBatch, and one read
// returns at most 8 MiB of events; page with the last returned Seq until it
// returns none (or use ReadActorPage, which says whether more remain).
func (l *Log) ReadActor(ctx context.Context, subject string, after uint64, limit int) ([]*Event, error) {
	evs, _, err := l.ReadActorPage(ctx, subject, after, limit)
	return evs, err
}

// maxReadBytes bounds one direct-get batch: the server would otherwise push a
// large history at once and cut the shared connection off as a slow consumer.
const maxReadBytes = 8 << 20

// ReadActorPage is ReadActor that also reports whether events remain after
// the ones returned.
func (l *Log) ReadActorPage(ctx context.Context, subject string, after uint64, limit int) (events []*Event, more bool, err error) {
	if limit <= 0 || limit > l.cfg.MaxReadBatch {
		limit = l.cfg.MaxReadBatch
	}
	ctx, cancel := withDefaultTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := json.Marshal(directGetRequest{Seq: after + 1, NextFor: subject, Batch: limit, MaxBytes: maxReadBytes})
	if err != nil {
		return nil, false, err
	}
	inbox := l.nc.NewRespInbox()
	// A channel sized to the reply (the batch plus its end marker), not
	// SubscribeSync's 64k-slot default: every wake reads through here.
	replies := make(chan *nats.Msg, limit+2)
	sub, err := l.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", subject, err)
	}
	defer sub.Unsubscribe()
	if err := l.nc.PublishRequest("$JS.API.DIRECT.GET."+l.cfg.Stream, inbox, req); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", subject, err)
	}
	for {
		var msg *nats.Msg
		select {
		case msg = <-replies:
		case <-ctx.Done():
			return nil, false, fmt.Errorf("read %s after %d: %w", subject, after, ctx.Err())
		}
		if status := msg.Header.Get("Status"); status != "" {
			switch status {
			case "204": // end of batch: Nats-Num-Pending counts what is left
				l.metrics.readEvents.Add(float64(len(events)))
				pending, _ := strconv.ParseUint(msg.Header.Get("Nats-Num-Pending"), 10, 64)
				return events, pending > 0, nil
			case "404": // no (more) messages
				l.metrics.readEvents.Add(float64(len(events)))
				return events, false, nil
			default:
				return nil, false, fmt.Errorf("read %s after %d: JetStream status %s %s", subject, after, status, msg.Header.Get("Description"))
			}
		}
		ev, err := decodeDirect(msg)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", subject, err)
		}
		events = append(events, ev)
	}
}

// decodeDirect decodes a direct-get reply: headers carry the stored metadata.
func decodeDirect(msg *nats.Msg) (*Event, error) {
	seq, err := strconv.ParseUint(msg.Header.Get("Nats-Sequence"), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%w: direct get reply without a sequence", ErrCorruptEvent)
	}
	ev := &Event{Seq: seq, Subject: msg.Header.Get("Nats-Subject")}
	if ts, err := time.Parse(time.RFC3339Nano, msg.Header.Get("Nats-Time-Stamp")); err == nil {
		ev.Stored = ts
	}
	if err := UnmarshalEvent(msg.Data, ev); err != nil {
		return nil, fmt.Errorf("event %d on %s: %w", seq, ev.Subject, err)
	}
	return ev, nil
}
