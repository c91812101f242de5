package queues

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// ReasonNoActorKey is the dead-letter reason of a message of an
// actor-bound queue (DeliverTo) whose body names no valid actor key at
// DeliverTo.KeyFrom: no value there, a value that is neither a string nor
// an array of strings, text that is not UTF-8 (or an unpaired surrogate
// escape), or a key the actor runtime refuses. No retry can
// deliver it, so it moves to the dead letters at once (redrive it with an
// edited body).
const ReasonNoActorKey = "no_actor_key"

// ReasonRejected is the dead-letter reason of a message of an actor-bound
// queue whose action refused its body as arguments (invalid_args,
// args_too_large): no retry can deliver it, so it moves at once, with the
// error, instead of after maxDeliveries.
const ReasonRejected = "rejected"

// actorKeyFrom reads the actor key at the JSON pointer ptr (RFC 6901; ""
// is the whole body) in body: a string is a one-part key, an array of
// strings the key's parts. Text encoding/json would change (bytes that are
// not UTF-8, an unpaired surrogate escape: both become U+FFFD) is refused,
// so that two different bodies never name one actor.
func actorKeyFrom(body json.RawMessage, ptr string) ([]string, error) {
	v, err := jsonPointer(body, ptr)
	if err != nil {
		return nil, err
	}
	v = bytes.TrimSpace(v)
	if len(v) > 0 && (v[0] == '"' || v[0] == '[') {
		if err := jsonterms.CheckText(v); err != nil {
			return nil, fmt.Errorf("the key at %q is not text: %w; send keys as UTF-8 text", ptr, err)
		}
	}
	if len(v) > 0 && v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("the value at %q is not a string: %w", ptr, err)
		}
		return []string{s}, nil
	}
	if len(v) > 0 && v[0] == '[' {
		var parts []string
		if err := json.Unmarshal(v, &parts); err != nil {
			return nil, fmt.Errorf("the value at %q is not an array of strings", ptr)
		}
		return parts, nil
	}
	return nil, fmt.Errorf("the value at %q is %s, want a string or an array of strings", ptr, truncate(v, 40))
}

// jsonPointer returns the value at ptr in doc (RFC 6901).
func jsonPointer(doc json.RawMessage, ptr string) (json.RawMessage, error) {
	if ptr == "" {
		return doc, nil
	}
	if ptr[0] != '/' {
		return nil, fmt.Errorf("JSON pointer %q does not start with /", ptr)
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		cur = bytes.TrimSpace(cur)
		switch {
		case len(cur) > 0 && cur[0] == '{':
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(cur, &obj); err != nil {
				return nil, fmt.Errorf("at %q: %w", ptr, err)
			}
			v, ok := obj[tok]
			if !ok {
				return nil, fmt.Errorf("no member %q on the way to %q", tok, ptr)
			}
			cur = v
		case len(cur) > 0 && cur[0] == '[':
			var arr []json.RawMessage
			if err := json.Unmarshal(cur, &arr); err != nil {
				return nil, fmt.Errorf("at %q: %w", ptr, err)
			}
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(arr) || (len(tok) > 1 && tok[0] == '0') {
				return nil, fmt.Errorf("no element %q (of %d) on the way to %q", tok, len(arr), ptr)
			}
			cur = arr[i]
		default:
			return nil, fmt.Errorf("%s has no member %q on the way to %q", truncate(cur, 40), tok, ptr)
		}
	}
	return cur, nil
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// deliveryKey is the idempotency key under which an actor-bound queue
// delivers message id: the queue's name and incarnation (its stream's
// creation time, so that a queue deleted and created again, whose IDs start
// over, never meets the keys of the old one) and the message's ID. Every
// delivery of a message carries the same key, so the actor applies it once.
func deliveryKey(name string, created int64, id string) string {
	return "queue:" + name + ":" + strconv.FormatInt(created, 36) + ":" + id
}

// incarnation is the creation time of a queue's stream, in unix
// nanoseconds.
func (m *Manager) incarnation(ctx context.Context, name string) (int64, error) {
	q, err := m.load(ctx, name, false)
	if err != nil {
		return 0, err
	}
	return q.stream.CachedInfo().Created.UnixNano(), nil
}

// DeliveryIdempotencyKey returns the idempotency key (see
// actors.WithIdempotencyKey) under which an actor-bound queue's Deliverer
// calls the actor for the message of this ID:
// "queue:<name>:<incarnation>:<id>", the incarnation telling apart a queue
// deleted and created again under the same name.
func (m *Manager) DeliveryIdempotencyKey(ctx context.Context, name, messageID string) (string, error) {
	created, err := m.incarnation(ctx, name)
	if err != nil {
		return "", err
	}
	return deliveryKey(name, created, messageID), nil
}

// deadLetterNow moves a claimed message no retry can deliver to the
// queue's dead letters with reason: the publish carries the dedup ID a move
// past maxDeliveries would (dead.go), so a message moved twice (an ack
// lost, then a claim past maxDeliveries) is stored once; then it is acked.
// If either step fails the message stays in the queue and is delivered
// again after its lease.
func (m *Manager) deadLetterNow(ctx context.Context, name string, msg Message, reason string, why error) error {
	rc, err := decodeReceipt(name, msg.Receipt)
	if err != nil {
		return err
	}
	ts, err := receiptTimestamp(rc.subject)
	if err != nil {
		return err
	}
	dl := nats.NewMsg(deadSubject(name))
	dl.Data = msg.Body
	dl.Header.Set(hdrReason, reason)
	if why != nil {
		dl.Header.Set(hdrError, truncateError(why.Error()))
	}
	dl.Header.Set(hdrAttempts, strconv.Itoa(msg.Attempt))
	dl.Header.Set(hdrOrigID, msg.ID)
	dl.Header.Set(hdrEnqueuedAt, msg.EnqueuedAt.UTC().Format(time.RFC3339Nano))
	if msg.Key != "" {
		dl.Header.Set(hdrKey, msg.Key)
	}
	if msg.Priority != 0 && msg.Priority != DefaultPriority {
		dl.Header.Set(hdrPriority, strconv.Itoa(msg.Priority))
	}
	dedup := fmt.Sprintf("dl-%d-%d", rc.seq, ts)
	if _, err := m.js.PublishMsg(ctx, dl, jetstream.WithMsgID(dedup), jetstream.WithExpectStream(deadStream(name))); err != nil {
		return m.notFound(name, err)
	}
	if _, err := m.Ack(ctx, name, []string{msg.Receipt}); err != nil && !errors.Is(err, ErrInvalidReceipt) {
		return fmt.Errorf("stored as a dead letter, but the ack failed (the next move is deduplicated): %w", err)
	}
	return nil
}

// maxErrorBytes bounds the error a dead letter keeps (a header).
const maxErrorBytes = 512

// truncateError cuts an error message to maxErrorBytes, on a rune boundary.
func truncateError(s string) string {
	if len(s) <= maxErrorBytes {
		return s
	}
	cut := maxErrorBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// receiptTimestamp is the message timestamp (unix nanoseconds) in a
// delivery's ack subject: the token after the consumer sequence.
func receiptTimestamp(subject string) (int64, error) {
	toks := strings.Split(subject, ".")
	if len(toks) > 9 {
		toks = append(toks[:2:2], toks[4:]...)
	}
	if len(toks) < 9 {
		return 0, fmt.Errorf("%w: not a receipt", ErrInvalidReceipt)
	}
	ts, err := strconv.ParseInt(toks[7], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: not a receipt", ErrInvalidReceipt)
	}
	return ts, nil
}

// callErrorDelay classifies an actor call's error for a delivery: the
// release delay to ask for (nil: the queue's backoffMs), and whether the
// binding itself is wrong (an unknown type or action).
func callErrorDelay(err error) (delay *time.Duration, misconfigured bool) {
	if errors.Is(err, actors.ErrUnknownType) || errors.Is(err, actors.ErrActionNotFound) {
		return nil, true
	}
	var ae *actors.Error
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		d := time.Duration(ae.RetryAfter * float64(time.Second))
		return &d, false
	}
	return nil, false
}
