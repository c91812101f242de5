package watermillq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/queues"
)

// SubscriberConfig configures a Subscriber. The zero value takes defaults.
type SubscriberConfig struct {
	// MaxInFlight bounds the messages of one subscription claimed and not
	// yet settled. Defaults to 64.
	MaxInFlight int
	// ClaimBatch is the most messages one claim asks for, at most
	// MaxInFlight and queues.MaxClaim. Defaults to MaxInFlight (capped).
	ClaimBatch int
	// ClaimWait is a claim's long poll when the queue is empty, at most
	// queues.MaxClaimWait. Defaults to 5s.
	ClaimWait time.Duration
	// HeartbeatInterval is how often an in-flight message's lease is
	// renewed. Defaults to a third of the queue's ackWaitMs, read when
	// Subscribe is called.
	HeartbeatInterval time.Duration
	// NackDelay, when set, is the redelivery delay of a nacked message;
	// by default the queue's backoffMs applies (at once without one).
	NackDelay *time.Duration
	// ErrorDelay is the pause after a failed claim before the next one.
	// Defaults to 1s.
	ErrorDelay time.Duration
	// Envelope unwraps bodies written by a Publisher with Envelope set,
	// restoring their UUID and metadata; other bodies pass unchanged.
	Envelope bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Subscriber consumes rivet-flow queues as Watermill subscriptions: the
// topic is the queue name. It is safe for concurrent use; one Subscriber
// may serve several subscriptions, and several Subscribers (or processes)
// may consume one queue, each message going to one of them.
type Subscriber struct {
	m   *queues.Manager
	cfg SubscriberConfig
	lg  *slog.Logger

	mu      sync.Mutex
	closed  bool
	closing chan struct{}
	wg      sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// ErrClosed is Subscribe's error on a closed Subscriber.
var ErrClosed = errors.New("watermillq: subscriber closed")

// NewSubscriber returns a Subscriber over m.
func NewSubscriber(m *queues.Manager, cfg SubscriberConfig) (*Subscriber, error) {
	if m == nil {
		return nil, errors.New("watermillq: a queues.Manager is required")
	}
	switch {
	case cfg.MaxInFlight < 0 || cfg.ClaimBatch < 0 || cfg.ClaimWait < 0 || cfg.HeartbeatInterval < 0 || cfg.ErrorDelay < 0:
		return nil, errors.New("watermillq: negative subscriber configuration")
	case cfg.ClaimWait > queues.MaxClaimWait:
		return nil, fmt.Errorf("watermillq: ClaimWait %v exceeds %v", cfg.ClaimWait, queues.MaxClaimWait)
	case cfg.NackDelay != nil && *cfg.NackDelay < 0:
		return nil, errors.New("watermillq: negative NackDelay")
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.ClaimBatch == 0 || cfg.ClaimBatch > cfg.MaxInFlight {
		cfg.ClaimBatch = cfg.MaxInFlight
	}
	cfg.ClaimBatch = min(cfg.ClaimBatch, queues.MaxClaim)
	if cfg.ClaimWait == 0 {
		cfg.ClaimWait = 5 * time.Second
	}
	if cfg.ErrorDelay == 0 {
		cfg.ErrorDelay = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Subscriber{m: m, cfg: cfg, lg: cfg.Logger.With("component", "watermillq"), closing: make(chan struct{})}, nil
}

// Subscribe starts consuming the queue named topic, which must exist. The
// channel is closed when ctx is cancelled or the Subscriber is closed, once
// every message of the subscription has been settled (unsettled ones are
// nacked). Messages are delivered concurrently, up to MaxInFlight at once.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	info, err := s.m.Get(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("watermillq: subscribe to %s: %w", topic, err)
	}
	hb := s.cfg.HeartbeatInterval
	if hb == 0 {
		hb = time.Duration(info.Config.AckWaitMs) * time.Millisecond / 3
	}
	hb = max(hb, 10*time.Millisecond)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	out := make(chan *message.Message)
	sctx, cancel := context.WithCancel(ctx)
	s.wg.Add(1)
	go s.run(sctx, cancel, topic, hb, out)
	return out, nil
}

// Close stops every subscription, nacks their unsettled messages, waits for
// them and closes their channels. It never closes the NATS connection.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.closing)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// run claims for one subscription until ctx ends.
func (s *Subscriber) run(ctx context.Context, cancel context.CancelFunc, topic string, hb time.Duration, out chan *message.Message) {
	// Unsettled messages are nacked only once claiming has stopped, so that
	// a claim still running cannot take them back only to nack them again.
	var msgs sync.WaitGroup
	stopped := make(chan struct{})
	acks := newAcker(s.m, topic)
	defer s.wg.Done()
	defer close(out)
	defer acks.close()
	defer msgs.Wait()
	defer close(stopped)
	defer cancel()

	msgs.Add(1)
	go func() {
		defer msgs.Done()
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()

	slots := make(chan struct{}, s.cfg.MaxInFlight)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		n := 1
	more:
		for n < s.cfg.ClaimBatch {
			select {
			case slots <- struct{}{}:
				n++
			default:
				break more
			}
		}
		batch, err := s.m.Claim(ctx, topic, queues.ClaimOptions{Max: n, Wait: s.cfg.ClaimWait})
		for range n - len(batch) {
			<-slots
		}
		for _, qm := range batch {
			msgs.Add(1)
			go func() {
				defer msgs.Done()
				defer func() { <-slots }()
				s.deliver(ctx, stopped, topic, hb, qm, out, acks)
			}()
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.lg.Warn("claim failed", "queue", topic, "err", err)
			t := time.NewTimer(s.cfg.ErrorDelay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
	}
}

// deliver hands one claimed message to the subscription, renews its lease
// until it is settled, and settles it on the queue (a nack once stopped is
// closed, unless it was acked).
func (s *Subscriber) deliver(ctx context.Context, stopped <-chan struct{}, topic string, hb time.Duration, qm queues.Message, out chan<- *message.Message, acks *acker) {
	msg := s.toMessage(topic, qm)
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	msg.SetContext(mctx)

	tick := time.NewTicker(hb)
	defer tick.Stop()
	send := out
	for {
		if ctx.Err() != nil {
			send = nil // closing: hand out nothing more
		}
		select {
		case send <- msg:
			send = nil
		case <-tick.C:
			ectx, cancel := context.WithTimeout(ctx, hb)
			if _, err := s.m.Extend(ectx, topic, []string{qm.Receipt}, 0); err != nil && ctx.Err() == nil {
				s.lg.Warn("extend lease failed", "queue", topic, "id", qm.ID, "err", err)
			}
			cancel()
		case <-msg.Acked():
			s.settle(ctx, topic, qm, true, acks)
			return
		case <-msg.Nacked():
			s.settle(ctx, topic, qm, false, acks)
			return
		case <-stopped:
			select { // an ack that raced the close still counts
			case <-msg.Acked():
				s.settle(ctx, topic, qm, true, acks)
			default:
				s.settle(ctx, topic, qm, false, acks)
			}
			return
		}
	}
}

// settle acks or nacks a delivery, even after ctx ends.
func (s *Subscriber) settle(ctx context.Context, topic string, qm queues.Message, ack bool, acks *acker) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var err error
	if ack {
		err = acks.ack(qm.Receipt)
	} else {
		_, err = s.m.Nack(sctx, topic, []string{qm.Receipt}, s.cfg.NackDelay)
	}
	if err != nil {
		// The lease runs out and the queue redelivers: nothing is lost.
		s.lg.Warn("settle failed; the message is redelivered after its lease", "queue", topic, "id", qm.ID, "ack", ack, "err", err)
	}
}

// toMessage converts a claimed message.
func (s *Subscriber) toMessage(topic string, qm queues.Message) *message.Message {
	// Unique across queues: a Publisher turns the UUID into a dedup ID, so a
	// message forwarded to another queue (a poison queue, say) must not be
	// mistaken for another queue's message of the same ID.
	uuid, payload := topic+"/"+qm.ID, []byte(qm.Body)
	md := message.Metadata{}
	if s.cfg.Envelope {
		if env, p, ok := unwrap(qm.Body); ok {
			payload = p
			if env.UUID != "" {
				uuid = env.UUID
			}
			for k, v := range env.Metadata {
				md[k] = v
			}
		}
	}
	msg := message.NewMessage(uuid, payload)
	msg.Metadata = md
	md.Set(MetadataAttempt, strconv.Itoa(qm.Attempt))
	md.Set(MetadataMessageID, qm.ID)
	md.Set(MetadataQueue, topic)
	return msg
}
