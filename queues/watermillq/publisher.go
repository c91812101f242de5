package watermillq

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/rivet-flow/rivet-flow/queues"
)

// Metadata keys set on every subscribed message.
const (
	// MetadataAttempt is the delivery's attempt, 1 for the first.
	MetadataAttempt = "rivetflow_attempt"
	// MetadataMessageID is the queue's ID of the message (its stream
	// sequence), the same on every delivery.
	MetadataMessageID = "rivetflow_message_id"
	// MetadataQueue is the queue the message was claimed from.
	MetadataQueue = "rivetflow_queue"
)

// PublisherConfig configures a Publisher. The zero value is usable.
type PublisherConfig struct {
	// DedupID returns the dedup ID of a message's enqueue ("" for none).
	// Defaults to the message UUID, so publishing the same message twice
	// within the queue's dedupWindowMs enqueues it once.
	DedupID func(*message.Message) string
	// Envelope wraps payload, UUID and metadata in a JSON envelope (see the
	// package documentation) instead of enqueueing the payload unchanged.
	Envelope bool
}

// Publisher enqueues Watermill messages into rivet-flow queues: the topic
// is the queue name. It is safe for concurrent use.
type Publisher struct {
	m   *queues.Manager
	cfg PublisherConfig
}

var _ message.Publisher = (*Publisher)(nil)

// NewPublisher returns a Publisher over m.
func NewPublisher(m *queues.Manager, cfg PublisherConfig) (*Publisher, error) {
	if m == nil {
		return nil, errors.New("watermillq: a queues.Manager is required")
	}
	if cfg.DedupID == nil {
		cfg.DedupID = func(msg *message.Message) string { return msg.UUID }
	}
	return &Publisher{m: m, cfg: cfg}, nil
}

// Publish enqueues the messages into the queue named topic, in order, each
// under its own context; it stops at the first failure.
func (p *Publisher) Publish(topic string, messages ...*message.Message) error {
	for _, msg := range messages {
		body := []byte(msg.Payload)
		if p.cfg.Envelope {
			var err error
			if body, err = wrap(msg); err != nil {
				return err
			}
		}
		if _, err := p.m.Enqueue(msg.Context(), topic, body, queues.EnqueueOptions{DedupID: p.cfg.DedupID(msg)}); err != nil {
			return fmt.Errorf("watermillq: publish message %s to %s: %w", msg.UUID, topic, err)
		}
	}
	return nil
}

// Close does nothing: the Publisher owns no connection.
func (p *Publisher) Close() error { return nil }

// envelope is a body carrying a message's UUID and metadata.
type envelope struct {
	Version       int               `json:"rivetflow_envelope"`
	UUID          string            `json:"uuid,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	Payload       json.RawMessage   `json:"payload,omitempty"`
	PayloadBase64 string            `json:"payloadBase64,omitempty"`
}

func wrap(msg *message.Message) ([]byte, error) {
	env := envelope{Version: 1, UUID: msg.UUID, Metadata: msg.Metadata}
	if len(msg.Payload) > 0 && json.Valid(msg.Payload) {
		env.Payload = json.RawMessage(msg.Payload)
	} else if len(msg.Payload) > 0 {
		env.PayloadBase64 = base64.StdEncoding.EncodeToString(msg.Payload)
	}
	return json.Marshal(env)
}

// unwrap decodes an envelope; ok is false for a body that is not one.
func unwrap(body []byte) (env envelope, payload []byte, ok bool) {
	if len(body) == 0 || body[0] != '{' {
		return env, nil, false
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Version != 1 {
		return env, nil, false
	}
	if env.PayloadBase64 != "" {
		p, err := base64.StdEncoding.DecodeString(env.PayloadBase64)
		if err != nil {
			return env, nil, false
		}
		return env, p, true
	}
	return env, []byte(env.Payload), true
}
