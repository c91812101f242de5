package eventlog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A shared consumer reads the event stream through a durable JetStream pull
// consumer that every node on the cluster binds to under one name: each
// event is delivered to one node at a time, leased to it until it
// acknowledges the event, gives it back (Nak) or lets AckWait pass; then
// JetStream delivers it again, possibly to another node. So a node that dies
// holding events delays them by at most AckWait, and loses none.
//
// Within a node, events are handed over one at a time, in the order the node
// receives them: stream order, except for events delivered again.

// ConsumerConfig configures Log.Consumer. Zero fields take the defaults
// noted; every node sharing a consumer should pass the same values.
type ConsumerConfig struct {
	// Name is the durable consumer's name, shared by the nodes that consume
	// under it (no whitespace, '.', '*', '>', '/' or '\'). Required.
	Name string
	// Description is stored with the consumer on the server.
	Description string
	// AckWait is how long an event stays leased to the node it was delivered
	// to without an Ack, InProgress or Nak; then it is delivered again. It is
	// also how long the events a dead node held wait. Defaults to 30s.
	AckWait time.Duration
	// MaxAckPending bounds the events delivered and not yet acknowledged,
	// over every node. Defaults to 1000.
	MaxAckPending int
	// MaxAge: when the consumer is first created, it starts with the events
	// stored at most MaxAge ago, so that turning it on over an old log does
	// not deliver its ancient history. An existing consumer keeps its place.
	// Defaults to 24h; negative: from the first event.
	MaxAge time.Duration
	// Batch is the most events one node fetches at a time; it holds them (and
	// keeps their leases: Lease.InProgress) until it has handed each one
	// over. Defaults to 100, and at most MaxAckPending.
	Batch int
	// FetchWait bounds one fetch, a pull request that waits for events. A
	// stop (the end of Consume's context) waits for the fetch in flight to
	// expire, giving back what reaches it, so that a graceful stop strands
	// no event until AckWait. Defaults to 1s.
	FetchWait time.Duration
	// OnError, if set, is told of each error Consume meets and retries
	// (fetch failures, a lost connection, a deleted consumer re-created).
	OnError func(error)
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 1000
	}
	if c.MaxAge == 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.Batch == 0 {
		c.Batch = min(100, c.MaxAckPending)
	}
	if c.FetchWait == 0 {
		c.FetchWait = time.Second
	}
	return c
}

// Validate reports what is wrong with c (after defaults), as Log.Consumer
// would.
func (c ConsumerConfig) Validate() error { return c.withDefaults().validate() }

func (c ConsumerConfig) validate() error {
	var errs []error
	if c.Name == "" || strings.ContainsAny(c.Name, " \t\r\n.*>/\\") {
		errs = append(errs, fmt.Errorf("consumer name %q: want a non-empty name without whitespace, '.', '*', '>', '/' or '\\'", c.Name))
	}
	if c.AckWait < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("consumer %s: ack wait %s is under 10ms", c.Name, c.AckWait))
	}
	if c.MaxAckPending < 1 || c.Batch < 1 || c.Batch > c.MaxAckPending {
		errs = append(errs, fmt.Errorf("consumer %s: want 1 <= batch (%d) <= max ack pending (%d)", c.Name, c.Batch, c.MaxAckPending))
	}
	if c.FetchWait < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("consumer %s: fetch wait %s is under 10ms", c.Name, c.FetchWait))
	}
	return errors.Join(errs...)
}

// Consumer is a durable consumer of the event stream shared by every node
// that binds to its name (Log.Consumer). Consume runs one at a time.
type Consumer struct {
	l   *Log
	cfg ConsumerConfig

	mu   sync.Mutex
	cons jetstream.Consumer
}

// Consumer creates the durable consumer cfg.Name on the event stream, or
// binds to it when it exists (another node, an earlier run), and returns it.
// Every event of every actor (subjects SubjectPrefix.>) goes through it,
// acknowledged one by one, redelivered without limit. A bound consumer keeps
// its place in the log; its AckWait and MaxAckPending are updated to cfg's.
func (l *Log) Consumer(ctx context.Context, cfg ConsumerConfig) (*Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Consumer{l: l, cfg: cfg}
	if err := c.ensure(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Name returns the consumer's name.
func (c *Consumer) Name() string { return c.cfg.Name }

// AckWait returns the lease of a delivered event: call Lease.InProgress
// more often than this while an event takes long.
func (c *Consumer) AckWait() time.Duration { return c.cfg.AckWait }

// ensure creates the consumer or binds to it.
func (c *Consumer) ensure(ctx context.Context) error {
	ctx, cancel := withDefaultTimeout(ctx, 30*time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		cons, err := c.l.stream.Consumer(ctx, c.cfg.Name)
		if err == nil {
			cons, err = c.update(ctx, cons)
			if err != nil {
				return fmt.Errorf("update consumer %s: %w", c.cfg.Name, err)
			}
			c.set(cons)
			return nil
		}
		if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("consumer %s: %w", c.cfg.Name, err)
		}
		cons, err = c.l.stream.CreateConsumer(ctx, c.newConfig())
		if err == nil {
			c.set(cons)
			return nil
		}
		// Another node created it first (with another start time): bind.
		if !errors.Is(err, jetstream.ErrConsumerExists) || attempt > 0 {
			return fmt.Errorf("create consumer %s: %w", c.cfg.Name, err)
		}
	}
}

func (c *Consumer) newConfig() jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       c.cfg.Name,
		Description:   c.cfg.Description,
		FilterSubject: SubjectPrefix + ".>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       c.cfg.AckWait,
		MaxAckPending: c.cfg.MaxAckPending,
		MaxDeliver:    -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
	if c.cfg.MaxAge > 0 {
		start := time.Now().Add(-c.cfg.MaxAge)
		cc.DeliverPolicy, cc.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	return cc
}

// update brings an existing consumer's lease settings to cfg's.
func (c *Consumer) update(ctx context.Context, cons jetstream.Consumer) (jetstream.Consumer, error) {
	info := cons.CachedInfo()
	if info == nil {
		return cons, nil
	}
	cc := info.Config
	if cc.AckWait == c.cfg.AckWait && cc.MaxAckPending == c.cfg.MaxAckPending {
		return cons, nil
	}
	cc.AckWait, cc.MaxAckPending = c.cfg.AckWait, c.cfg.MaxAckPending
	return c.l.stream.UpdateConsumer(ctx, cc)
}

func (c *Consumer) set(cons jetstream.Consumer) {
	c.mu.Lock()
	c.cons = cons
	c.mu.Unlock()
}

func (c *Consumer) get() jetstream.Consumer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cons
}

// Pending returns the events not yet acknowledged by any node: those not
// delivered yet plus those delivered and awaiting their acknowledgement.
func (c *Consumer) Pending(ctx context.Context) (uint64, error) {
	ctx, cancel := withDefaultTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := c.get().Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", c.cfg.Name, err)
	}
	return info.NumPending + uint64(max(info.NumAckPending, 0)), nil
}

// Consume fetches events and calls fn with each, one at a time, in the
// order this node receives them, until ctx ends; it then gives back (Nak)
// the events it holds that fn has not seen, waits for the fetch in flight
// to expire (at most FetchWait) giving back what reaches it, and returns
// nil. fn owns its Lease: it must Ack it, or Nak it to have it delivered
// again; a lease fn returns unsettled is given back. Errors are retried
// with backoff (and told to ConsumerConfig.OnError); a deleted consumer is
// created again.
func (c *Consumer) Consume(ctx context.Context, fn func(ctx context.Context, l *Lease)) error {
	const maxBackoff = 5 * time.Second
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := c.fetch(ctx, fn)
		if err == nil {
			backoff = 50 * time.Millisecond
			continue
		}
		if ctx.Err() != nil {
			break
		}
		if c.cfg.OnError != nil {
			c.cfg.OnError(err)
		}
		c.l.log.Warn("event consumer: fetch failed; retrying", "consumer", c.cfg.Name, "in", backoff, "err", err)
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			if err := c.ensure(ctx); err != nil && ctx.Err() == nil && c.cfg.OnError != nil {
				c.cfg.OnError(err)
			}
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, maxBackoff)
	}
	return nil
}

// fetch runs one pull request and hands its events to fn. The request is
// not cut short when ctx ends: until it expires the server may still send
// events to it, which are given back rather than dropped (a dropped one
// would wait AckWait).
func (c *Consumer) fetch(ctx context.Context, fn func(context.Context, *Lease)) error {
	expires := time.Now().Add(c.cfg.FetchWait)
	batch, err := c.get().Fetch(c.cfg.Batch, jetstream.FetchMaxWait(c.cfg.FetchWait))
	if err != nil {
		return err
	}
	b := &heldBatch{avail: make(chan struct{}, 1)}
	// One reader moves the fetched messages into held, in arrival order, so
	// that InProgress can reach every message this node holds.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for m := range batch.Messages() {
			b.mu.Lock()
			b.held = append(b.held, m)
			b.mu.Unlock()
			select {
			case b.avail <- struct{}{}:
			default:
			}
		}
	}()
	for {
		m, ok := b.pop()
		if !ok {
			select {
			case <-b.avail:
				continue
			case <-readerDone:
			}
			if m, ok = b.pop(); !ok {
				break
			}
		}
		if ctx.Err() != nil {
			// Stopping: give it back, to be delivered once this request has
			// expired (not to it again), maybe to another node.
			_ = m.NakWithDelay(max(time.Until(expires), 0) + giveBackMargin)
			continue
		}
		lease := newLease(m, b)
		fn(ctx, lease)
		if !lease.settled.Load() {
			_ = lease.Nak(0)
		}
	}
	return batch.Error()
}

// giveBackMargin is added to the delay of an event given back while a
// stopping node's pull request is still open: the server's expiry of the
// request lags the client's by the trip there.
const giveBackMargin = 50 * time.Millisecond

// heldBatch is the messages of one fetch that this node holds and has not
// handed over yet.
type heldBatch struct {
	mu    sync.Mutex
	held  []jetstream.Msg
	avail chan struct{}
}

func (b *heldBatch) pop() (jetstream.Msg, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.held) == 0 {
		return nil, false
	}
	m := b.held[0]
	b.held[0] = nil
	b.held = b.held[1:]
	return m, true
}

// extend renews the lease of every held message.
func (b *heldBatch) extend() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for _, m := range b.held {
		if err := m.InProgress(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Lease is one event a shared Consumer delivered to this node. It is this
// node's until it is acknowledged or given back, or until the consumer's
// AckWait passes without InProgress. Its methods are safe for concurrent
// use; settling it twice is an error (jetstream.ErrMsgAlreadyAckd).
type Lease struct {
	// Event is the event, decoded as the log's other readers decode it (Seq,
	// Subject and Stored set), or nil if it does not decode (see Err).
	Event *Event
	// Err says why Event is nil: the message does not decode. Such an event
	// can never be read; Term it so it is not delivered again.
	Err error
	// Delivered counts the deliveries of this event, 1 the first time: above
	// 1, a node (maybe this one) held it before and did not acknowledge it.
	Delivered uint64
	// Pending is how many events the consumer had not delivered yet when it
	// delivered this one.
	Pending uint64

	msg     jetstream.Msg
	batch   *heldBatch
	settled atomic.Bool
}

func newLease(m jetstream.Msg, b *heldBatch) *Lease {
	l := &Lease{msg: m, batch: b}
	meta, err := m.Metadata()
	if err != nil {
		l.Err = fmt.Errorf("%w: message metadata: %v", ErrCorruptEvent, err)
		return l
	}
	l.Delivered, l.Pending = meta.NumDelivered, meta.NumPending
	ev := &Event{Seq: meta.Sequence.Stream, Subject: m.Subject(), Stored: meta.Timestamp}
	if err := UnmarshalEvent(m.Data(), ev); err != nil {
		l.Err = fmt.Errorf("event %d on %s: %w", ev.Seq, ev.Subject, err)
		return l
	}
	l.Event = ev
	return l
}

// Seq returns the event's stream sequence, also when it does not decode (0
// if even the metadata does not).
func (l *Lease) Seq() uint64 {
	if l.Event != nil {
		return l.Event.Seq
	}
	if meta, err := l.msg.Metadata(); err == nil {
		return meta.Sequence.Stream
	}
	return 0
}

// Ack acknowledges the event without waiting for the server: cheap, but a
// lost acknowledgement has it delivered again after AckWait.
func (l *Lease) Ack() error {
	l.settled.Store(true)
	return l.msg.Ack()
}

// AckSync acknowledges the event and waits for the server to confirm it:
// once it returns nil, no node gets the event again.
func (l *Lease) AckSync(ctx context.Context) error {
	l.settled.Store(true)
	return l.msg.DoubleAck(ctx)
}

// InProgress renews the lease (for another AckWait), and those of the
// events fetched with it that wait behind it on this node: call it more
// often than AckWait while an event takes long.
func (l *Lease) InProgress() error {
	return errors.Join(l.msg.InProgress(), l.batch.extend())
}

// Nak gives the event back: it is delivered again after delay (at once if
// 0), to this node or another.
func (l *Lease) Nak(delay time.Duration) error {
	l.settled.Store(true)
	if delay > 0 {
		return l.msg.NakWithDelay(delay)
	}
	return l.msg.Nak()
}

// Term acknowledges an event that can never be handled (one that does not
// decode): it is not delivered again. reason goes to JetStream's advisory.
func (l *Lease) Term(reason string) error {
	l.settled.Store(true)
	return l.msg.TermWithReason(reason)
}
