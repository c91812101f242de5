package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Error codes of the durable queues (/v1/queues).
const (
	// CodeQueueNotFound (404): no queue has this name.
	CodeQueueNotFound = string(errcode.QueueNotFound)
	// CodeQueueFull (429): the queue holds as many messages or bytes as
	// allowed; nothing was enqueued. Retry after Error.RetryAfter.
	CodeQueueFull = string(errcode.QueueFull)
	// CodeMessageTooLarge (413): the body exceeds the queue's maxMessageBytes.
	CodeMessageTooLarge = string(errcode.MessageTooLarge)
	// CodeInvalidReceipt (400): a receipt is malformed, of another queue, or
	// names a message no longer in the queue; nothing was settled.
	CodeInvalidReceipt = string(errcode.InvalidReceipt)
)

// Overflow policies (QueueSpec.Overflow).
const (
	// OverflowReject answers an enqueue into a full queue with CodeQueueFull at once.
	OverflowReject = "reject"
	// OverflowBlock makes an enqueue into a full queue wait up to BlockMs for
	// room, then answer CodeQueueFull.
	OverflowBlock = "block"
)

// QueueDeliverTo binds a queue to an actor action: the server delivers each
// message to the action of the actor whose key the message names, one at a
// time per actor, instead of waiting for claims.
type QueueDeliverTo struct {
	// Type is the actor type.
	Type string `json:"type"`
	// KeyFrom is a JSON pointer into the body to the actor's key (a string,
	// or an array of strings), such as "/orderId".
	KeyFrom string `json:"keyFrom,omitempty"`
	// Action is called with the body as its one argument.
	Action string `json:"action"`
}

// QueueSpec is a queue's configuration for PutQueue: a zero field takes the
// server's default.
type QueueSpec struct {
	// MaxMessages bounds the messages held, waiting and in flight (default 100000).
	MaxMessages int64 `json:"maxMessages,omitempty"`
	// MaxBytes bounds the bytes held (default 1 GiB).
	MaxBytes int64 `json:"maxBytes,omitempty"`
	// MaxMessageBytes bounds one body (default 256 KiB).
	MaxMessageBytes int32 `json:"maxMessageBytes,omitempty"`
	// Overflow is what an enqueue into a full queue gets: OverflowReject
	// (the default) or OverflowBlock.
	Overflow string `json:"overflow,omitempty"`
	// BlockMs bounds an enqueue's wait for room under OverflowBlock, 1 to
	// 30000 (default 5000).
	BlockMs int64 `json:"blockMs,omitempty"`
	// AckWaitMs is the lease of a claim (default 30000).
	AckWaitMs int64 `json:"ackWaitMs,omitempty"`
	// MaxDeliveries: deliveries before a message becomes a dead letter (default 5).
	MaxDeliveries int `json:"maxDeliveries,omitempty"`
	// BackoffMs is the redelivery delay after a nack without a delay, per
	// attempt (the last entry for later ones). Default: none, at once.
	BackoffMs []int64 `json:"backoffMs,omitempty"`
	// BackoffJitter spreads each backoff delay over [d×(1−j), d×(1+j)]
	// (0 to 1; default 0: exact).
	BackoffJitter float64 `json:"backoffJitter,omitempty"`
	// DedupWindowMs is how long a dedup ID is remembered (default 120000).
	DedupWindowMs int64 `json:"dedupWindowMs,omitempty"`
	// Concurrency bounds the messages ready or in flight at once, across
	// every consumer (default 0: no bound).
	Concurrency int `json:"concurrency,omitempty"`
	// RatePerSecond bounds the messages made ready per second (default 0:
	// no bound).
	RatePerSecond float64 `json:"ratePerSecond,omitempty"`
	// DeliverTo, when set, delivers every message to an actor action.
	DeliverTo *QueueDeliverTo `json:"deliverTo,omitempty"`
}

// QueuePatch changes some of a queue's configuration (UpdateQueue): nil
// fields keep their value. ClearDeliverTo removes the actor binding (it
// sends "deliverTo": null); it cannot go with DeliverTo.
type QueuePatch struct {
	MaxMessages     *int64          `json:"maxMessages,omitempty"`
	MaxBytes        *int64          `json:"maxBytes,omitempty"`
	MaxMessageBytes *int32          `json:"maxMessageBytes,omitempty"`
	Overflow        *string         `json:"overflow,omitempty"`
	BlockMs         *int64          `json:"blockMs,omitempty"`
	AckWaitMs       *int64          `json:"ackWaitMs,omitempty"`
	MaxDeliveries   *int            `json:"maxDeliveries,omitempty"`
	BackoffMs       *[]int64        `json:"backoffMs,omitempty"`
	BackoffJitter   *float64        `json:"backoffJitter,omitempty"`
	DedupWindowMs   *int64          `json:"dedupWindowMs,omitempty"`
	Concurrency     *int            `json:"concurrency,omitempty"`
	RatePerSecond   *float64        `json:"ratePerSecond,omitempty"`
	DeliverTo       *QueueDeliverTo `json:"deliverTo,omitempty"`
	ClearDeliverTo  bool            `json:"-"`
}

// MarshalJSON implements json.Marshaler: the set fields, and
// "deliverTo": null for ClearDeliverTo.
func (p QueuePatch) MarshalJSON() ([]byte, error) {
	type fields QueuePatch // without this method
	b, err := json.Marshal(fields(p))
	if err != nil || !p.ClearDeliverTo {
		return b, err
	}
	if p.DeliverTo != nil {
		return nil, errors.New("client: QueuePatch: DeliverTo and ClearDeliverTo are both set")
	}
	if string(b) == "{}" {
		return []byte(`{"deliverTo":null}`), nil
	}
	return append([]byte(`{"deliverTo":null,`), b[1:]...), nil
}

// QueueConfig is a queue's configuration as the server shows it, defaults
// filled in.
type QueueConfig struct {
	MaxMessages     int64           `json:"maxMessages"`
	MaxBytes        int64           `json:"maxBytes"`
	MaxMessageBytes int32           `json:"maxMessageBytes"`
	Overflow        string          `json:"overflow"`
	BlockMs         int64           `json:"blockMs"`
	AckWaitMs       int64           `json:"ackWaitMs"`
	MaxDeliveries   int             `json:"maxDeliveries"`
	BackoffMs       []int64         `json:"backoffMs"`
	BackoffJitter   float64         `json:"backoffJitter"`
	DedupWindowMs   int64           `json:"dedupWindowMs"`
	Concurrency     int             `json:"concurrency"`
	RatePerSecond   float64         `json:"ratePerSecond"`
	DeliverTo       *QueueDeliverTo `json:"deliverTo,omitempty"`
}

// QueueStats are a queue's counts as of the read.
type QueueStats struct {
	// Depth counts the messages waiting to be claimed (delayed ones included).
	Depth int64 `json:"depth"`
	// InFlight counts the messages claimed and not yet settled.
	InFlight int64 `json:"inFlight"`
	// DeadLetters counts the queue's dead letters.
	DeadLetters int64 `json:"deadLetters"`
	// OldestAgeMs is the age of the oldest message (0: empty).
	OldestAgeMs int64 `json:"oldestAgeMs"`
	// Delayed counts the waiting messages held back by a delay (part of Depth).
	Delayed int64 `json:"delayed"`
	// EnqueuedPerSec and AckedPerSec are rates over about the last minute.
	EnqueuedPerSec float64 `json:"enqueuedPerSec"`
	AckedPerSec    float64 `json:"ackedPerSec"`
}

// Queue is a durable queue: its configuration and, from Queue and Queues,
// its counts.
type Queue struct {
	Name   string      `json:"name"`
	Config QueueConfig `json:"config"`
	Stats  *QueueStats `json:"stats,omitempty"`
}

// PutQueue creates the queue name (created true) or replaces its whole
// configuration: zero fields of spec take their defaults. Changes take
// effect at once.
func (c *Client) PutQueue(ctx context.Context, name string, spec QueueSpec) (q *Queue, created bool, err error) {
	if name == "" {
		return nil, false, errMissing("queue name")
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	path := queuePath(name, "")
	resp, err := c.send(ctx, http.MethodPut, path, nil, spec, "application/json")
	if err != nil {
		return nil, false, err
	}
	defer closeBody(resp.Body)
	q = &Queue{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(q); err != nil {
		return nil, false, fmt.Errorf("client: PUT %s: decode the response: %w", path, err)
	}
	return q, resp.StatusCode == http.StatusCreated, nil
}

// UpdateQueue changes the fields of patch that are set; CodeQueueNotFound
// if there is no such queue.
func (c *Client) UpdateQueue(ctx context.Context, name string, patch QueuePatch) (*Queue, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	var q Queue
	if err := c.do(ctx, http.MethodPatch, queuePath(name, ""), nil, patch, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// Queue returns the queue name with its counts; CodeQueueNotFound if there
// is none.
func (c *Client) Queue(ctx context.Context, name string) (*Queue, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	var q Queue
	if err := c.do(ctx, http.MethodGet, queuePath(name, ""), nil, nil, &q); err != nil {
		return nil, err
	}
	return &q, nil
}

// Queues lists every queue, by name, with its counts.
func (c *Client) Queues(ctx context.Context) ([]Queue, error) {
	var out struct {
		Queues []Queue `json:"queues"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/queues", nil, nil, &out); err != nil {
		return nil, err
	}
	if out.Queues == nil {
		out.Queues = []Queue{}
	}
	return out.Queues, nil
}

// DeleteQueue deletes the queue with its messages and dead letters;
// CodeQueueNotFound if there is none.
func (c *Client) DeleteQueue(ctx context.Context, name string) error {
	if name == "" {
		return errMissing("queue name")
	}
	return c.do(ctx, http.MethodDelete, queuePath(name, ""), nil, nil, nil)
}

// EnqueueOptions are Enqueue's options.
type EnqueueOptions struct {
	// DedupID: a second enqueue with it within the queue's dedup window
	// returns the first message's ID with Duplicate set and adds nothing.
	DedupID string
	// Key orders the message after every earlier message of the same key:
	// one message per key is in flight at a time (at most 256 bytes).
	Key string
	// Priority is 1 (most urgent) to 5; 0 means the default, 3.
	Priority int
	// Delay holds the message back for this long (millisecond precision);
	// DeliverAt until then. With both, the later wins.
	Delay     time.Duration
	DeliverAt time.Time
}

// enqueueBody is one message as the server takes it.
type enqueueBody struct {
	Body      json.RawMessage `json:"body"`
	Key       string          `json:"key,omitempty"`
	Priority  int             `json:"priority,omitempty"`
	DelayMs   int64           `json:"delayMs,omitempty"`
	DeliverAt *time.Time      `json:"deliverAt,omitempty"`
	DedupID   string          `json:"dedupId,omitempty"`
}

func enqueueBodyOf(body any, opts *EnqueueOptions) (enqueueBody, error) {
	raw, err := rawJSON(body)
	if err != nil {
		return enqueueBody{}, err
	}
	in := enqueueBody{Body: raw}
	if opts != nil {
		in.DedupID, in.Key, in.Priority, in.DelayMs = opts.DedupID, opts.Key, opts.Priority, opts.Delay.Milliseconds()
		if opts.Delay > 0 && in.DelayMs == 0 {
			in.DelayMs = 1 // a delay under a millisecond still delays
		}
		if !opts.DeliverAt.IsZero() {
			at := opts.DeliverAt
			in.DeliverAt = &at
		}
	}
	return in, nil
}

// EnqueueResult is what Enqueue stored.
type EnqueueResult struct {
	// ID is the message's ID (the first one's, for a duplicate).
	ID string `json:"id"`
	// Duplicate: the dedup ID was seen within the window; nothing was added.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Enqueue stores a message whose body is body encoded as JSON (a
// json.RawMessage goes as is). A full queue answers CodeQueueFull (429,
// with Error.RetryAfter) and stores nothing: retrying is safe, and
// Options.MaxRetries does it. Bad options answer CodeInvalidRequest and
// store nothing. opts may be nil.
func (c *Client) Enqueue(ctx context.Context, name string, body any, opts *EnqueueOptions) (*EnqueueResult, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	in, err := enqueueBodyOf(body, opts)
	if err != nil {
		return nil, err
	}
	var r EnqueueResult
	if err := c.do(ctx, http.MethodPost, queuePath(name, "/messages"), nil, in, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// MaxBatch is the most messages one EnqueueBatch sends.
const MaxBatch = 1000

// BatchMessage is one message of EnqueueBatch.
type BatchMessage struct {
	// Body is encoded as JSON (a json.RawMessage goes as is).
	Body    any
	Options EnqueueOptions
}

// BatchResult is the outcome of one message of EnqueueBatch: Err is nil
// when it was stored (or was a duplicate), else a *Error with the code a
// single Enqueue would have got (CodeQueueFull, CodeMessageTooLarge,
// CodeInvalidRequest...), its Status from the catalogue.
type BatchResult struct {
	EnqueueResult
	Err error
}

// EnqueueBatch stores up to MaxBatch messages in one request (which must
// also fit the server's body limit, 1 MiB by default). Each message
// succeeds or fails on its own: the results are in the messages' order, and
// only a problem of the whole call (an unknown queue, no or too many
// messages, a body over the limit) is returned as the error. A queue full
// part way stores the messages before it: resend the failed ones, safely
// with dedup IDs.
func (c *Client) EnqueueBatch(ctx context.Context, name string, msgs []BatchMessage) ([]BatchResult, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	if len(msgs) == 0 {
		return nil, errMissing("message list")
	}
	if len(msgs) > MaxBatch {
		return nil, fmt.Errorf("client: EnqueueBatch: %d messages, at most %d", len(msgs), MaxBatch)
	}
	in := struct {
		Messages []enqueueBody `json:"messages"`
	}{make([]enqueueBody, len(msgs))}
	for i, m := range msgs {
		b, err := enqueueBodyOf(m.Body, &m.Options)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		in.Messages[i] = b
	}
	var out struct {
		Results []struct {
			EnqueueResult
			Error *struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error,omitempty"`
		} `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, queuePath(name, "/messages/batch"), nil, in, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(msgs) {
		return nil, fmt.Errorf("client: EnqueueBatch: %d results for %d messages", len(out.Results), len(msgs))
	}
	res := make([]BatchResult, len(out.Results))
	for i, r := range out.Results {
		res[i].EnqueueResult = r.EnqueueResult
		if r.Error != nil {
			res[i].Err = &Error{Status: errcode.Status(errcode.Code(r.Error.Code)), Code: r.Error.Code, Message: r.Error.Message, Group: errcode.GroupAPI}
		}
	}
	return res, nil
}

// ClaimOptions are Claim's options.
type ClaimOptions struct {
	// Max is the most messages to return (the server caps it at 1000).
	// Defaults to 1.
	Max int
	// Wait is how long to wait for a first message when none is ready (the
	// server caps it at 30s). Defaults to 0: answer at once.
	Wait time.Duration
	// Lease, when set, is this claim's lease instead of the queue's ack
	// wait (millisecond precision; the server caps it at 12h).
	Lease time.Duration
}

// QueueMessage is a claimed message.
type QueueMessage struct {
	ID   string          `json:"id"`
	Body json.RawMessage `json:"body"`
	// Key is the message's key as enqueued ("" for none).
	Key string `json:"key,omitempty"`
	// Priority is 1 (most urgent) to 5.
	Priority int `json:"priority"`
	// Attempt is this delivery's number, 1 for the first.
	Attempt int `json:"attempt"`
	// Receipt settles this delivery: pass it to Ack, Nack or Extend.
	Receipt    string    `json:"receipt"`
	EnqueuedAt time.Time `json:"enqueuedAt"`
}

// Claim leases up to opts.Max messages for the queue's ack wait (or
// opts.Lease), waiting up to opts.Wait for a first one; it returns none (and
// no error) if none came. A message is claimable a moment after its enqueue:
// claim with a Wait rather than at once.
// Settle each by its Receipt before the lease ends, or it is delivered
// again. opts may be nil.
func (c *Client) Claim(ctx context.Context, name string, opts *ClaimOptions) ([]QueueMessage, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	var in struct {
		Max     int   `json:"max,omitempty"`
		WaitMs  int64 `json:"waitMs,omitempty"`
		LeaseMs int64 `json:"leaseMs,omitempty"`
	}
	if opts != nil {
		in.Max, in.WaitMs, in.LeaseMs = opts.Max, opts.Wait.Milliseconds(), opts.Lease.Milliseconds()
	}
	var out struct {
		Messages []QueueMessage `json:"messages"`
	}
	if err := c.do(ctx, http.MethodPost, queuePath(name, "/claim"), nil, in, &out); err != nil {
		return nil, err
	}
	if out.Messages == nil {
		out.Messages = []QueueMessage{}
	}
	return out.Messages, nil
}

// Ack settles deliveries by their receipts: their messages leave the queue.
// One bad receipt (CodeInvalidReceipt) settles none. It returns how many
// were settled.
func (c *Client) Ack(ctx context.Context, name string, receipts ...string) (int, error) {
	return c.settle(ctx, name, "/ack", receipts, settleOptions{})
}

// NackOptions are Nack's options.
type NackOptions struct {
	// Delay redelivers after this long. Nil: the queue's backoff for the
	// attempt (at once without one).
	Delay *time.Duration
}

// Nack gives deliveries back for redelivery. opts may be nil.
func (c *Client) Nack(ctx context.Context, name string, receipts []string, opts *NackOptions) (int, error) {
	var delay *int64
	if opts != nil && opts.Delay != nil {
		ms := opts.Delay.Milliseconds()
		delay = &ms
	}
	return c.settle(ctx, name, "/nack", receipts, settleOptions{DelayMs: delay})
}

// Extend renews the leases of deliveries for the queue's ack wait.
func (c *Client) Extend(ctx context.Context, name string, receipts ...string) (int, error) {
	return c.settle(ctx, name, "/extend", receipts, settleOptions{})
}

// ExtendLease renews the leases of deliveries for lease from now
// (millisecond precision; 0: the queue's ack wait; the server caps it at
// 12h).
func (c *Client) ExtendLease(ctx context.Context, name string, lease time.Duration, receipts ...string) (int, error) {
	return c.settle(ctx, name, "/extend", receipts, settleOptions{LeaseMs: lease.Milliseconds()})
}

// settleOptions are the optional fields of ack, nack and extend.
type settleOptions struct {
	DelayMs *int64 `json:"delayMs,omitempty"`
	LeaseMs int64  `json:"leaseMs,omitempty"`
}

func (c *Client) settle(ctx context.Context, name, suffix string, receipts []string, opts settleOptions) (int, error) {
	if name == "" {
		return 0, errMissing("queue name")
	}
	if len(receipts) == 0 {
		return 0, errMissing("receipt list")
	}
	in := struct {
		Receipts []string `json:"receipts"`
		settleOptions
	}{receipts, opts}
	var out struct {
		Settled int `json:"settled"`
	}
	if err := c.do(ctx, http.MethodPost, queuePath(name, suffix), nil, in, &out); err != nil {
		return 0, err
	}
	return out.Settled, nil
}

// DeadLetterOptions pages through DeadLetters.
type DeadLetterOptions struct {
	// Limit is the page size (the server caps it at 1000). Defaults to 100.
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// QueueDeadLetter is a message moved out of its queue.
type QueueDeadLetter struct {
	// ID names the dead letter (for Redrive).
	ID string `json:"id"`
	// MessageID was its ID in the queue.
	MessageID string          `json:"messageId"`
	Body      json.RawMessage `json:"body"`
	// Reason says why it moved: "max_deliveries", or for a queue with
	// deliverTo "no_actor_key" or "rejected" (the action refused the body).
	Reason     string    `json:"reason"`
	Attempts   int       `json:"attempts"`
	EnqueuedAt time.Time `json:"enqueuedAt"`
	DeadAt     time.Time `json:"deadAt"`
	// Error is what refused it, for no_actor_key and rejected.
	Error string `json:"error,omitempty"`
}

// DeadLetterPage is a page of dead letters, oldest first.
type DeadLetterPage struct {
	DeadLetters []QueueDeadLetter `json:"deadLetters"`
	// NextCursor is the Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// DeadLetters lists a page of the queue's dead letters. opts may be nil.
func (c *Client) DeadLetters(ctx context.Context, name string, opts *DeadLetterOptions) (*DeadLetterPage, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	q := url.Values{}
	if opts != nil {
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Cursor != "" {
			q.Set("cursor", opts.Cursor)
		}
	}
	var page DeadLetterPage
	if err := c.do(ctx, http.MethodGet, queuePath(name, "/dead-letters"), q, nil, &page); err != nil {
		return nil, err
	}
	if page.DeadLetters == nil {
		page.DeadLetters = []QueueDeadLetter{}
	}
	return &page, nil
}

// RedriveOptions selects the dead letters Redrive puts back: IDs (at most
// 1000) or All.
type RedriveOptions struct {
	IDs []string `json:"ids,omitempty"`
	// All redrives every dead letter there is when the call starts.
	All bool `json:"all,omitempty"`
	// Body, when set, replaces the body of every redriven message.
	Body json.RawMessage `json:"body,omitempty"`
}

// RedriveResult is what Redrive did.
type RedriveResult struct {
	// Redriven counts the messages put back (each with a new ID, attempt 1).
	Redriven int `json:"redriven"`
	// Missing are IDs asked for that are not dead letters.
	Missing []string `json:"missing,omitempty"`
}

// Redrive puts dead letters back into the queue as new messages. A full
// queue stops it with CodeQueueFull; those not yet redriven stay dead
// letters.
func (c *Client) Redrive(ctx context.Context, name string, opts RedriveOptions) (*RedriveResult, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	if len(opts.IDs) == 0 && !opts.All {
		return nil, errMissing("redrive selection (IDs or All)")
	}
	var r RedriveResult
	if err := c.do(ctx, http.MethodPost, queuePath(name, "/dead-letters/redrive"), nil, opts, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PurgeDeadLetters deletes every dead letter of the queue and returns how
// many.
func (c *Client) PurgeDeadLetters(ctx context.Context, name string) (uint64, error) {
	if name == "" {
		return 0, errMissing("queue name")
	}
	var out struct {
		Purged uint64 `json:"purged"`
	}
	if err := c.do(ctx, http.MethodDelete, queuePath(name, "/dead-letters"), nil, nil, &out); err != nil {
		return 0, err
	}
	return out.Purged, nil
}

// PurgeQueue deletes every message of the queue that is waiting, delayed or
// in flight (their receipts stop working) and returns how many; the dead
// letters stay (PurgeDeadLetters).
func (c *Client) PurgeQueue(ctx context.Context, name string) (uint64, error) {
	if name == "" {
		return 0, errMissing("queue name")
	}
	var out struct {
		Purged uint64 `json:"purged"`
	}
	if err := c.do(ctx, http.MethodDelete, queuePath(name, "/messages"), nil, nil, &out); err != nil {
		return 0, err
	}
	return out.Purged, nil
}

// QueueChange is one recorded change of a queue's configuration.
type QueueChange struct {
	At time.Time `json:"at"`
	// Kind is "created", "replaced" (PutQueue of an existing queue),
	// "updated" (UpdateQueue) or "deleted".
	Kind string `json:"kind"`
	// Fields names the configuration fields that changed (JSON names).
	Fields []string `json:"fields"`
	// Config is the configuration after the change (before it, for deleted).
	Config QueueConfig `json:"config"`
}

// QueueHistory returns the queue's last limit configuration changes (0: the
// server's default, 20; at most 100), newest first. A deleted queue keeps
// its history; a queue never created has none.
func (c *Client) QueueHistory(ctx context.Context, name string, limit int) ([]QueueChange, error) {
	if name == "" {
		return nil, errMissing("queue name")
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Changes []QueueChange `json:"changes"`
	}
	if err := c.do(ctx, http.MethodGet, queuePath(name, "/history"), q, nil, &out); err != nil {
		return nil, err
	}
	if out.Changes == nil {
		out.Changes = []QueueChange{}
	}
	return out.Changes, nil
}

func queuePath(name, suffix string) string { return "/v1/queues/" + escape(name) + suffix }

// rawJSON encodes v, passing a json.RawMessage as is (checked to be JSON).
func rawJSON(v any) (json.RawMessage, error) {
	switch b := v.(type) {
	case json.RawMessage:
		if !json.Valid(b) {
			return nil, fmt.Errorf("client: the message body is not valid JSON")
		}
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("client: encode the message body: %w", err)
	}
	return b, nil
}
