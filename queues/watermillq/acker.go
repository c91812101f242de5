package watermillq

import (
	"context"
	"time"

	"github.com/rivet-flow/rivet-flow/queues"
)

// An acker coalesces a subscription's acks: handlers ack one message each,
// and the acks waiting when the acker is free go to the queue in one call
// (its round trips in flight together), so a busy subscription pays one
// call per batch rather than per message. A batch the queue refuses (one
// receipt no longer valid refuses the call) is acked again one by one, so
// each handler learns its own outcome.
type acker struct {
	m     *queues.Manager
	topic string
	reqs  chan ackReq
	done  chan struct{}
}

type ackReq struct {
	receipt string
	result  chan error
}

// maxAckBatch bounds the acks of one call.
const maxAckBatch = 256

func newAcker(m *queues.Manager, topic string) *acker {
	a := &acker{m: m, topic: topic, reqs: make(chan ackReq, maxAckBatch), done: make(chan struct{})}
	go a.run()
	return a
}

// ack acks one receipt and returns the outcome; it works after the
// subscription's context ends (a settle must still go through).
func (a *acker) ack(receipt string) error {
	r := ackReq{receipt: receipt, result: make(chan error, 1)}
	a.reqs <- r
	return <-r.result
}

// close stops the acker once every ack sent has its outcome.
func (a *acker) close() {
	close(a.reqs)
	<-a.done
}

func (a *acker) run() {
	defer close(a.done)
	for first := range a.reqs {
		batch := []ackReq{first}
	more:
		for len(batch) < maxAckBatch {
			select {
			case r, ok := <-a.reqs:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		a.send(batch)
	}
}

func (a *acker) send(batch []ackReq) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receipts := make([]string, len(batch))
	for i, r := range batch {
		receipts[i] = r.receipt
	}
	_, err := a.m.Ack(ctx, a.topic, receipts)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			_, err := a.m.Ack(ctx, a.topic, []string{r.receipt})
			r.result <- err
		}
		return
	}
	for _, r := range batch {
		r.result <- err
	}
}
