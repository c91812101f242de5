package queues

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
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
	maxBlockMs           = int64(MaxClaimWait / time.Millisecond)
	maxConcurrency       = 100_000
	maxRatePerSecond     = 1_000_000
)

// Overflow policies.
const (
	// OverflowReject refuses an enqueue into a full queue with ErrFull.
	OverflowReject = "reject"
	// OverflowBlock makes an enqueue into a full queue wait up to blockMs
	// for room, then fail with ErrFull.
	OverflowBlock = "block"
)

// Priorities: 1 is the most urgent, 5 the least; 0 in an enqueue means
// DefaultPriority. Waiting messages are admitted by weighted turns (16, 8,
// 4, 2, 1 for priorities 1 to 5), so a busy urgent band slows the others
// down but never stops them.
const (
	HighestPriority = 1
	DefaultPriority = 3
	LowestPriority  = 5
)

// DeliverTo binds a queue to an actor action: the node delivers each
// message to the action of the actor whose key the message names, one at a
// time per actor, and acks it once the actor's event is committed.
type DeliverTo struct {
	// Type is the actor type.
	Type string `json:"type"`
	// KeyFrom is a JSON pointer into the message body to the actor's key: a
	// string (a one-part key) or an array of strings.
	KeyFrom string `json:"keyFrom"`
	// Action is the action called with the body as its one argument.
	Action string `json:"action"`
}

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
	// Overflow is what an enqueue into a full queue does: "reject" (ErrFull
	// at once) or "block" (wait up to BlockMs for room, then ErrFull).
	// Defaults to "reject".
	Overflow string `json:"overflow,omitempty"`
	// BlockMs bounds an enqueue's wait for room under overflow "block".
	// Defaults to 5,000.
	BlockMs int64 `json:"blockMs,omitempty"`
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
	// BackoffJitter spreads each backoff delay at random over
	// [delay×(1−j), delay×(1+j)], so retries of many messages that failed
	// together do not all come back at once (0 to 1; 0: exact delays).
	BackoffJitter float64 `json:"backoffJitter,omitempty"`
	// DedupWindowMs is how long a dedup ID is remembered, whether or not its
	// message is still queued. Defaults to 120,000 (2 minutes).
	DedupWindowMs int64 `json:"dedupWindowMs,omitempty"`
	// Concurrency bounds the messages ready or in flight at once, across
	// every consumer and node (0: no bound but the ready window).
	Concurrency int `json:"concurrency,omitempty"`
	// RatePerSecond bounds how many messages per second are made ready for
	// consumers, across every node (0: no bound).
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	// DeliverTo, when set, delivers every message to an actor action
	// instead of waiting for claims.
	DeliverTo *DeliverTo `json:"deliverTo,omitempty"`
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
	BackoffJitter   *float64
	DedupWindowMs   *int64
	BlockMs         *int64
	Concurrency     *int
	RatePerSecond   *float64
	// DeliverTo sets the actor binding; ClearDeliverTo removes it.
	DeliverTo      *DeliverTo
	ClearDeliverTo bool
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
	if p.BackoffJitter != nil {
		c.BackoffJitter = *p.BackoffJitter
	}
	set(&c.BlockMs, p.BlockMs)
	if p.Concurrency != nil {
		c.Concurrency = *p.Concurrency
	}
	if p.RatePerSecond != nil {
		c.RatePerSecond = *p.RatePerSecond
	}
	switch {
	case p.ClearDeliverTo:
		c.DeliverTo = nil
	case p.DeliverTo != nil:
		d := *p.DeliverTo
		c.DeliverTo = &d
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
	if c.BlockMs == 0 {
		c.BlockMs = 5_000
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
	case c.Overflow != OverflowReject && c.Overflow != OverflowBlock:
		return fmt.Errorf("%w: overflow %q: must be %q or %q", ErrInvalid, c.Overflow, OverflowReject, OverflowBlock)
	case c.BlockMs < 1 || c.BlockMs > maxBlockMs:
		return fmt.Errorf("%w: blockMs %d: must be 1 to %d", ErrInvalid, c.BlockMs, maxBlockMs)
	case c.Concurrency < 0 || c.Concurrency > maxConcurrency:
		return fmt.Errorf("%w: concurrency %d: must be 0 (no bound) to %d", ErrInvalid, c.Concurrency, maxConcurrency)
	case c.RatePerSecond < 0 || c.RatePerSecond > maxRatePerSecond || c.RatePerSecond != c.RatePerSecond:
		return fmt.Errorf("%w: ratePerSecond %v: must be 0 (no bound) to %d", ErrInvalid, c.RatePerSecond, maxRatePerSecond)
	case c.AckWaitMs < 100 || c.AckWaitMs > maxAckWaitMs:
		return fmt.Errorf("%w: ackWaitMs %d: must be 100 to %d", ErrInvalid, c.AckWaitMs, maxAckWaitMs)
	case c.MaxDeliveries < 1 || c.MaxDeliveries > maxDeliveriesLimit:
		return fmt.Errorf("%w: maxDeliveries %d: must be 1 to %d", ErrInvalid, c.MaxDeliveries, maxDeliveriesLimit)
	case !(c.BackoffJitter >= 0 && c.BackoffJitter <= 1):
		return fmt.Errorf("%w: backoffJitter %v: must be 0 to 1", ErrInvalid, c.BackoffJitter)
	case len(c.BackoffMs) > maxBackoffSteps:
		return fmt.Errorf("%w: backoffMs: at most %d steps", ErrInvalid, maxBackoffSteps)
	case c.DedupWindowMs < 1 || c.DedupWindowMs > maxDedupWindowMs:
		return fmt.Errorf("%w: dedupWindowMs %d: must be 1 to %d", ErrInvalid, c.DedupWindowMs, maxDedupWindowMs)
	}
	if err := c.DeliverTo.validate(); err != nil {
		return err
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
	readyPrefix    = "RF_QR_"
	consumerName   = "rf-workers"
	dispatcherName = "rf-dispatch"
	metadataConfig = "rivet-flow.queue.config"
)

func streamName(q string) string   { return streamPrefix + q }
func deadStream(q string) string   { return deadPrefix + q }
func readyStream(q string) string  { return readyPrefix + q }
func inboxSubject(q string) string { return "rf.q." + q + ".in" }
func readyFilter(q string) string  { return "rf.qr." + q + ".>" }

// readySubject is where a message waits for a claim once the dispatcher made
// it ready: the key is in the subject so the stream's per-subject counts say
// which keys have a message ready or in flight.
func readySubject(q, key string) string {
	if key == "" {
		return "rf.qr." + q + "._"
	}
	return "rf.qr." + q + ".k" + base64.RawURLEncoding.EncodeToString([]byte(key))
}

// keyOfReadySubject inverts readySubject ("" for an unkeyed message).
func keyOfReadySubject(q, subj string) (string, bool) {
	tok, ok := strings.CutPrefix(subj, "rf.qr."+q+".k")
	if !ok {
		return "", false
	}
	k, err := base64.RawURLEncoding.DecodeString(tok)
	return string(k), err == nil
}
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

// maxInFlight bounds a queue's deliveries claimed and not settled.
const maxInFlight = 10_000

// readyConfig is the stream of messages made ready for claims and in
// flight: its size is bounded by the ready window and maxInFlight, so its
// limits are only a safety net (the queue's limits apply to what waits).
func readyConfig(name string, c Config, window int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        readyStream(name),
		Description: "rivet-flow queue " + name + ": ready and in flight",
		Subjects:    []string{readyFilter(name)},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.WorkQueuePolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     int64(2 * (window + maxInFlight)),
		MaxMsgSize:  c.MaxMessageBytes + 4<<10,
		// The dispatcher's publishes carry "adm-<id>": one retried after a
		// failure is stored once.
		Duplicates:  2 * time.Minute,
		AllowDirect: true,
	}
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
		FilterSubject: readyFilter(name),
		MaxAckPending: maxInFlight,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}

// validate checks a binding's shape; whether the type and action exist is
// checked by whoever delivers (the node knows its registry).
func (d *DeliverTo) validate() error {
	if d == nil {
		return nil
	}
	switch {
	case eventlog.ValidateType(d.Type) != nil:
		return fmt.Errorf("%w: deliverTo.type %q: not an actor type name", ErrInvalid, d.Type)
	case d.Action == "":
		return fmt.Errorf("%w: deliverTo.action is required", ErrInvalid)
	case d.KeyFrom != "" && d.KeyFrom[0] != '/':
		return fmt.Errorf("%w: deliverTo.keyFrom %q: a JSON pointer starts with /", ErrInvalid, d.KeyFrom)
	}
	return nil
}

// dispatcherConfig is the consumer through which the queue's dispatcher
// reads what was enqueued. It never acks: a message stays in the inbox
// until it is settled (acked or dead-lettered, which delete it there), so
// the queue's limits count every message it holds. A dispatcher taking over
// recreates the consumer and reads the inbox again (skipping what is ready
// already); the long ack wait keeps a dispatcher's own deliveries from
// coming back while it runs.
func dispatcherConfig(name string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       dispatcherName,
		Description:   "rivet-flow dispatcher of queue " + name,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       7 * 24 * time.Hour,
		MaxDeliver:    -1,
		FilterSubject: inboxSubject(name),
		MaxAckPending: -1,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}
}
