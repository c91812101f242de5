package queues

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Limits on configuration values.
const (
	// MaxMessageBytesLimit is the largest maxMessageBytes: NATS's default
	// max payload (1 MiB) less room for headers.
	MaxMessageBytesLimit = 1<<20 - 8<<10
	maxAckWaitMs         = int64(12 * time.Hour / time.Millisecond)
	maxDedupWindowMs     = int64(7 * 24 * time.Hour / time.Millisecond)
	maxBackoffSteps      = 32
	maxDeliveriesLimit   = 1000
)

// Overflow policies.
const (
	// OverflowReject refuses an enqueue into a full queue with ErrFull.
	OverflowReject = "reject"
)

// Config is a queue's configuration. A zero field takes its default.
type Config struct {
	// MaxMessages bounds the messages the queue holds (waiting and in
	// flight); an enqueue beyond it fails with ErrFull. Defaults to 100,000.
	MaxMessages int64 `json:"maxMessages,omitempty"`
	// MaxBytes bounds the bytes the queue holds; an enqueue beyond it fails
	// with ErrFull. Defaults to 1 GiB.
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// MaxMessageBytes bounds one message's body; a larger one fails with
	// ErrTooLarge. At most MaxMessageBytesLimit. Defaults to 256 KiB.
	MaxMessageBytes int32 `json:"maxMessageBytes,omitempty"`
	// Overflow is what an enqueue into a full queue does: only "reject"
	// (ErrFull at once) is supported. Defaults to "reject".
	Overflow string `json:"overflow,omitempty"`
	// AckWaitMs is the lease of a claim: a message neither acknowledged,
	// released nor extended within it is delivered again. Extend renews it
	// for another AckWaitMs. Defaults to 30,000 (30 s).
	AckWaitMs int64 `json:"ackWaitMs,omitempty"`
	// MaxDeliveries is how many times a message is delivered; a message
	// claimed once more moves to the dead letters instead. Defaults to 5.
	MaxDeliveries int `json:"maxDeliveries,omitempty"`
	// BackoffMs is the delay before redelivery after a nack that names no
	// delay: the attempt-th entry (the last one for later attempts).
	// Defaults to none: redelivery at once.
	BackoffMs []int64 `json:"backoffMs,omitempty"`
	// DedupWindowMs is how long a dedup ID is remembered, whether or not its
	// message is still queued. Defaults to 120,000 (2 minutes).
	DedupWindowMs int64 `json:"dedupWindowMs,omitempty"`
}

// Patch changes some fields of a queue's configuration: only those set.
type Patch struct {
	MaxMessages     *int64
	MaxBytes        *int64
	MaxMessageBytes *int32
	Overflow        *string
	AckWaitMs       *int64
	MaxDeliveries   *int
	BackoffMs       *[]int64
	DedupWindowMs   *int64
}

// Apply returns c with the patch's fields set.
func (p Patch) Apply(c Config) Config {
	set := func(dst *int64, src *int64) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.MaxMessages, p.MaxMessages)
	set(&c.MaxBytes, p.MaxBytes)
	set(&c.AckWaitMs, p.AckWaitMs)
	set(&c.DedupWindowMs, p.DedupWindowMs)
	if p.MaxMessageBytes != nil {
		c.MaxMessageBytes = *p.MaxMessageBytes
	}
	if p.Overflow != nil {
		c.Overflow = *p.Overflow
	}
	if p.MaxDeliveries != nil {
		c.MaxDeliveries = *p.MaxDeliveries
	}
	if p.BackoffMs != nil {
		c.BackoffMs = append([]int64(nil), (*p.BackoffMs)...)
	}
	return c
}

// WithDefaults returns c with every zero field at its default.
func (c Config) WithDefaults() Config {
	if c.MaxMessages == 0 {
		c.MaxMessages = 100_000
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 1 << 30
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 256 << 10
	}
	if c.Overflow == "" {
		c.Overflow = OverflowReject
	}
	if c.AckWaitMs == 0 {
		c.AckWaitMs = 30_000
	}
	if c.MaxDeliveries == 0 {
		c.MaxDeliveries = 5
	}
	if c.DedupWindowMs == 0 {
		c.DedupWindowMs = 120_000
	}
	return c
}

// validate checks a configuration with its defaults filled in.
func (c Config) validate() error {
	switch {
	case c.MaxMessages < 1:
		return fmt.Errorf("%w: maxMessages %d: must be at least 1", ErrInvalid, c.MaxMessages)
	case c.MaxBytes < 1:
		return fmt.Errorf("%w: maxBytes %d: must be at least 1", ErrInvalid, c.MaxBytes)
	case c.MaxMessageBytes < 1 || c.MaxMessageBytes > MaxMessageBytesLimit:
		return fmt.Errorf("%w: maxMessageBytes %d: must be 1 to %d", ErrInvalid, c.MaxMessageBytes, MaxMessageBytesLimit)
	case int64(c.MaxMessageBytes) > c.MaxBytes:
		return fmt.Errorf("%w: maxMessageBytes %d exceeds maxBytes %d", ErrInvalid, c.MaxMessageBytes, c.MaxBytes)
	case c.Overflow != OverflowReject:
		return fmt.Errorf("%w: overflow %q: only %q is supported", ErrInvalid, c.Overflow, OverflowReject)
	case c.AckWaitMs < 100 || c.AckWaitMs > maxAckWaitMs:
		return fmt.Errorf("%w: ackWaitMs %d: must be 100 to %d", ErrInvalid, c.AckWaitMs, maxAckWaitMs)
	case c.MaxDeliveries < 1 || c.MaxDeliveries > maxDeliveriesLimit:
		return fmt.Errorf("%w: maxDeliveries %d: must be 1 to %d", ErrInvalid, c.MaxDeliveries, maxDeliveriesLimit)
	case len(c.BackoffMs) > maxBackoffSteps:
		return fmt.Errorf("%w: backoffMs: at most %d steps", ErrInvalid, maxBackoffSteps)
	case c.DedupWindowMs < 1 || c.DedupWindowMs > maxDedupWindowMs:
		return fmt.Errorf("%w: dedupWindowMs %d: must be 1 to %d", ErrInvalid, c.DedupWindowMs, maxDedupWindowMs)
	}
	for i, b := range c.BackoffMs {
		if b < 0 || b > maxAckWaitMs {
			return fmt.Errorf("%w: backoffMs[%d] %d: must be 0 to %d", ErrInvalid, i, b, maxAckWaitMs)
		}
	}
	return nil
}

// ValidateName checks a queue name: the rules of actor type names (1 to 64
// of [A-Za-z0-9_-], starting with a letter).
func ValidateName(name string) error {
	if err := eventlog.ValidateType(name); err != nil {
		return fmt.Errorf("%w: queue name %q: 1 to 64 of [A-Za-z0-9_-], starting with a letter", ErrInvalid, name)
	}
	return nil
}

// Stream, subject and consumer names of a queue.
const (
	streamPrefix   = "RF_Q_"
	deadPrefix     = "RF_QDL_"
	consumerName   = "rf-workers"
	metadataConfig = "rivet-flow.queue.config"
)

func streamName(q string) string  { return streamPrefix + q }
func deadStream(q string) string  { return deadPrefix + q }
func subject(q string) string     { return "rf.q." + q + ".m" }
func deadSubject(q string) string { return "rf.qdl." + q }
func dur(ms int64) time.Duration  { return time.Duration(ms) * time.Millisecond }
func subjects(q string) []string  { return []string{"rf.q." + q + ".>"} }

// streamConfig is the queue stream for a configuration.
func streamConfig(name string, c Config) (jetstream.StreamConfig, error) {
	meta, err := json.Marshal(c)
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	return jetstream.StreamConfig{
		Name:        streamName(name),
		Description: "rivet-flow queue " + name,
		Subjects:    subjects(name),
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     c.MaxMessages,
		MaxBytes:    c.MaxBytes,
		// Headers (dedup ID, dead-letter history) come on top of the body.
		MaxMsgSize:  c.MaxMessageBytes + 4<<10,
		Duplicates:  dur(c.DedupWindowMs),
		AllowDirect: true,
		Metadata:    map[string]string{metadataConfig: string(meta)},
	}, nil
}

// deadConfig is the dead-letter stream: as large as the queue, refusing
// rather than dropping when full.
func deadConfig(name string, c Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        deadStream(name),
		Description: "rivet-flow dead letters of queue " + name,
		Subjects:    []string{deadSubject(name)},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     c.MaxMessages,
		MaxBytes:    c.MaxBytes,
		MaxMsgSize:  c.MaxMessageBytes + 8<<10,
		// A move interrupted between its publish and its ack is retried
		// after the lease: remember its dedup ID for longer than that.
		Duplicates:  max(2*time.Minute, 2*dur(c.AckWaitMs)+time.Minute),
		AllowDirect: true,
	}
}

// consumerConfig is the queue's one durable pull consumer. MaxDeliver is
// unlimited: the Manager moves a message past maxDeliveries to the dead
// letters when a claim meets it (see Manager.Claim), so the server never
// stops redelivering a message that is not yet moved.
func consumerConfig(name string, c Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       consumerName,
		Description:   "rivet-flow workers of queue " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       dur(c.AckWaitMs),
		MaxDeliver:    -1,
		FilterSubject: subject(name),
		MaxAckPending: 10_000,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}
