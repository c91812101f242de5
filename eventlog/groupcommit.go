package eventlog

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// Group commit for --fsync always: the server syncs every write before it
// acknowledges, so one append at a time is bounded by the disk. Appends that
// arrive while a batch is being synced go out together as one atomic batch
// (one sync), each message keeping its own expected-last-subject-sequence
// fence. A batch with a stale fence is rejected whole; its appends are then
// retried one by one so that only the stale one fails.

// maxBatch is JetStream's limit on messages in one atomic batch.
const maxBatch = 1000

type batchItem struct {
	msg *nats.Msg
	p   *PendingAppend
}

// batchAck is the server's answer to a batch commit.
type batchAck struct {
	Error     *jetstream.APIError `json:"error,omitempty"`
	Sequence  uint64              `json:"seq"`
	BatchSize int                 `json:"count"`
}

// runBatches publishes queued appends in atomic batches until the log closes.
func (l *Log) runBatches() {
	defer close(l.batchesDone)
	var batch []batchItem
	for {
		select {
		case it := <-l.batches:
			batch = append(batch[:0], it)
		case <-l.stopBatches:
			l.drainBatches()
			return
		}
	fill: // take whatever else is waiting now: no added delay
		for len(batch) < maxBatch {
			select {
			case it := <-l.batches:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		l.publishBatch(batch)
	}
}

// drainBatches fails appends queued when the log closed.
func (l *Log) drainBatches() {
	for {
		select {
		case it := <-l.batches:
			l.finish(it.p, 0, ErrClosed)
		default:
			return
		}
	}
}

func (l *Log) publishBatch(batch []batchItem) {
	if len(batch) == 1 {
		l.publishOne(batch[0])
		return
	}
	id := nuid.Next()
	for i, it := range batch {
		h := nats.Header{}
		h.Set(jetstream.ExpectedLastSubjSeqHeader, strconv.FormatUint(it.p.expected, 10))
		h.Set("Nats-Batch-Id", id)
		h.Set("Nats-Batch-Sequence", strconv.Itoa(i+1))
		it.msg.Header = h
		if i < len(batch)-1 {
			if err := l.nc.PublishMsg(it.msg); err != nil {
				l.failBatch(batch, err)
				return
			}
		}
	}
	last := batch[len(batch)-1].msg
	last.Header.Set("Nats-Batch-Commit", "1")
	ctx, cancel := context.WithTimeout(l.batchCtx, l.cfg.AckTimeout)
	defer cancel()
	reply, err := l.nc.RequestMsgWithContext(ctx, last)
	if err != nil {
		l.failBatch(batch, err) // outcome unknown: callers reload from the log
		return
	}
	var ack batchAck
	if err := json.Unmarshal(reply.Data, &ack); err != nil {
		l.failBatch(batch, err)
		return
	}
	if ack.Error != nil {
		// Rejected whole (a stale fence, most likely): nothing was stored, so
		// each append is retried alone and only the stale ones fail.
		for _, it := range batch {
			it.msg.Header = nil
			l.publishOne(it)
		}
		return
	}
	first := ack.Sequence - uint64(ack.BatchSize) + 1
	for i, it := range batch {
		l.finish(it.p, first+uint64(i), nil)
	}
}

// publishOne appends one message with its fence and waits for the ack.
func (l *Log) publishOne(it batchItem) {
	ctx, cancel := context.WithTimeout(l.batchCtx, l.cfg.AckTimeout)
	defer cancel()
	ack, err := l.shared.PublishMsg(ctx, it.msg, jetstream.WithExpectLastSequencePerSubject(it.p.expected))
	if err != nil {
		l.finish(it.p, 0, err)
		return
	}
	l.finish(it.p, ack.Sequence, nil)
}

func (l *Log) failBatch(batch []batchItem, err error) {
	for _, it := range batch {
		l.finish(it.p, 0, err)
	}
}
