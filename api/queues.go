package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/queues"
)

// Durable queues (/v1/queues): producers enqueue JSON messages, workers claim
// them under a lease and settle them by receipt; a message delivered
// maxDeliveries times without an ack becomes a dead letter.

// QueueDeliverTo binds a queue to an actor action.
type QueueDeliverTo struct {
	Type    string `json:"type" doc:"The actor type" example:"order"`
	KeyFrom string `json:"keyFrom,omitempty" doc:"A JSON pointer into the message body to the actor's key: a string (a one-part key) or an array of strings" example:"/orderId"`
	Action  string `json:"action" doc:"The action called with the body as its one argument" example:"process"`
}

// QueueConfig is a queue's configuration as the API shows it (defaults filled in).
type QueueConfig struct {
	MaxMessages     int64           `json:"maxMessages" doc:"Most messages the queue holds, waiting and in flight; an enqueue beyond it gets 429 queue_full" example:"10000"`
	MaxBytes        int64           `json:"maxBytes" doc:"Most bytes the queue holds; an enqueue beyond it gets 429 queue_full" example:"1073741824"`
	MaxMessageBytes int32           `json:"maxMessageBytes" doc:"Largest message body; a larger one gets 413 message_too_large" example:"262144"`
	Overflow        string          `json:"overflow" enum:"reject,block" doc:"What an enqueue into a full queue gets: reject (429 queue_full with Retry-After at once) or block (it waits up to blockMs for room, then 429)" example:"reject"`
	BlockMs         int64           `json:"blockMs" doc:"Under overflow block, how long an enqueue into a full queue waits for room" example:"5000"`
	AckWaitMs       int64           `json:"ackWaitMs" doc:"The lease of a claim: a message not acked, nacked or extended within it is delivered again" example:"30000"`
	MaxDeliveries   int             `json:"maxDeliveries" doc:"Deliveries before a message becomes a dead letter" example:"5"`
	BackoffMs       []int64         `json:"backoffMs" doc:"Delay before redelivery after a nack without delayMs: the attempt-th entry, the last for later attempts; empty: at once" example:"[1000,5000]"`
	BackoffJitter   float64         `json:"backoffJitter" doc:"Each backoff delay is drawn from [delay×(1−j), delay×(1+j)]; 0: exact" example:"0.2"`
	DedupWindowMs   int64           `json:"dedupWindowMs" doc:"How long a dedupId is remembered, whether or not its message is still queued" example:"120000"`
	Concurrency     int             `json:"concurrency" doc:"Most messages ready or in flight at once, across every consumer and node; 0: no bound" example:"8"`
	RatePerSecond   float64         `json:"ratePerSecond" doc:"Most messages made ready for consumers per second, across every node; 0: no bound" example:"50"`
	DeliverTo       *QueueDeliverTo `json:"deliverTo,omitempty" doc:"When set, every message is delivered to this actor action instead of waiting for claims"`
}

// QueueConfigInput is the body of PUT (absent fields take their defaults)
// and PATCH (absent fields keep their value) /v1/queues/{name}. The bounds
// are those of queues.Config's validation.
type QueueConfigInput struct {
	MaxMessages     *int64          `json:"maxMessages,omitempty" minimum:"1" doc:"Most messages the queue holds, waiting and in flight. Defaults to 100000"`
	MaxBytes        *int64          `json:"maxBytes,omitempty" minimum:"1" doc:"Most bytes the queue holds. Defaults to 1073741824 (1 GiB)"`
	MaxMessageBytes *int32          `json:"maxMessageBytes,omitempty" minimum:"1" maximum:"1040384" doc:"Largest message body (at most maxBytes). Defaults to 262144 (256 KiB)"`
	Overflow        *string         `json:"overflow,omitempty" enum:"reject,block" doc:"What an enqueue into a full queue gets: reject (429 queue_full with Retry-After at once) or block (the enqueue waits up to blockMs for room, then 429 queue_full). Defaults to reject"`
	BlockMs         *int64          `json:"blockMs,omitempty" minimum:"1" maximum:"30000" doc:"Under overflow block, how long an enqueue into a full queue waits for room. Defaults to 5000"`
	AckWaitMs       *int64          `json:"ackWaitMs,omitempty" minimum:"100" maximum:"43200000" doc:"The lease of a claim, renewed by extend. Defaults to 30000"`
	MaxDeliveries   *int            `json:"maxDeliveries,omitempty" minimum:"1" maximum:"1000" doc:"Deliveries before a message becomes a dead letter. Defaults to 5"`
	BackoffMs       *[]int64        `json:"backoffMs,omitempty" maxItems:"32" doc:"Delay before redelivery after a nack without delayMs, per attempt (the last entry for later attempts), each 0 to 43200000; list growing steps for exponential backoff, e.g. [1000,2000,4000,8000]. Defaults to none: at once"`
	BackoffJitter   *float64        `json:"backoffJitter,omitempty" minimum:"0" maximum:"1" doc:"Spread each backoff delay at random over [delay×(1−j), delay×(1+j)] so messages that failed together do not retry together, e.g. 0.2. Defaults to 0: exact delays"`
	DedupWindowMs   *int64          `json:"dedupWindowMs,omitempty" minimum:"1" maximum:"604800000" doc:"How long a dedupId is remembered. Defaults to 120000 (2 minutes)"`
	Concurrency     *int            `json:"concurrency,omitempty" minimum:"0" maximum:"100000" doc:"Most messages ready or in flight at once, across every consumer and node. Defaults to 0: no bound"`
	RatePerSecond   *float64        `json:"ratePerSecond,omitempty" minimum:"0" maximum:"1000000" doc:"Most messages made ready for consumers per second, across every node (fractions allowed: 0.5 is one every 2 s). Defaults to 0: no bound"`
	DeliverTo       deliverToChange `json:"deliverTo,omitempty" doc:"Deliver every message to this actor action instead of waiting for claims. In PATCH, null removes the binding (absent keeps it). Defaults to none"`
}

// deliverToChange is the deliverTo of a PUT or PATCH body: absent, null
// (PATCH: remove the binding) or a binding. Huma skips null in validation
// for an optional field, and encoding/json calls UnmarshalJSON for null on a
// non-pointer field, which is how absent and null are told apart.
type deliverToChange struct {
	set   bool // present in the body, as null or a binding
	value *QueueDeliverTo
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *deliverToChange) UnmarshalJSON(b []byte) error {
	d.set, d.value = true, nil
	if string(b) == "null" {
		return nil
	}
	var v QueueDeliverTo
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.value = &v
	return nil
}

// Schema implements huma.SchemaProvider: the binding's schema (null is
// accepted too, as for every optional field).
func (deliverToChange) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[QueueDeliverTo](), true, "QueueDeliverTo")
}

func (in *QueueConfigInput) patch() queues.Patch {
	if in == nil {
		return queues.Patch{}
	}
	p := queues.Patch{MaxMessages: in.MaxMessages, MaxBytes: in.MaxBytes, MaxMessageBytes: in.MaxMessageBytes, Overflow: in.Overflow,
		BlockMs: in.BlockMs, AckWaitMs: in.AckWaitMs, MaxDeliveries: in.MaxDeliveries, BackoffMs: in.BackoffMs, DedupWindowMs: in.DedupWindowMs,
		Concurrency: in.Concurrency, RatePerSecond: in.RatePerSecond, BackoffJitter: in.BackoffJitter}
	switch {
	case in.DeliverTo.value != nil:
		d := queues.DeliverTo(*in.DeliverTo.value)
		p.DeliverTo = &d
	case in.DeliverTo.set:
		p.ClearDeliverTo = true
	}
	return p
}

// QueueStats are a queue's counts as of the read. Its fields are those of
// queues.Stats, in order (queueOf converts one into the other).
type QueueStats struct {
	Depth          int64   `json:"depth" doc:"Messages waiting to be claimed (including those waiting for a redelivery or held back by delayMs or deliverAt)" example:"2"`
	InFlight       int64   `json:"inFlight" doc:"Messages claimed and not yet settled" example:"2"`
	DeadLetters    int64   `json:"deadLetters" doc:"Messages in the queue's dead letters" example:"1"`
	OldestAgeMs    int64   `json:"oldestAgeMs" doc:"Age of the oldest message in the queue (0: empty)" example:"135"`
	Delayed        int64   `json:"delayed" doc:"Waiting messages held back by delayMs or deliverAt (part of depth)" example:"1"`
	EnqueuedPerSec float64 `json:"enqueuedPerSec" doc:"Messages enqueued per second over about the last minute, across every node" example:"0.07"`
	AckedPerSec    float64 `json:"ackedPerSec" doc:"Messages acknowledged per second over about the last minute, across every node" example:"0.03"`
}

// Queue is a queue with its configuration and counts.
type Queue struct {
	Name   string      `json:"name" example:"emails"`
	Config QueueConfig `json:"config"`
	Stats  *QueueStats `json:"stats,omitempty" doc:"Counts (GET only)"`
}

func queueConfigOf(c queues.Config) QueueConfig {
	b := c.BackoffMs
	if b == nil {
		b = []int64{}
	}
	out := QueueConfig{MaxMessages: c.MaxMessages, MaxBytes: c.MaxBytes, MaxMessageBytes: c.MaxMessageBytes, Overflow: c.Overflow,
		BlockMs: c.BlockMs, AckWaitMs: c.AckWaitMs, MaxDeliveries: c.MaxDeliveries, BackoffMs: b, DedupWindowMs: c.DedupWindowMs,
		Concurrency: c.Concurrency, RatePerSecond: c.RatePerSecond, BackoffJitter: c.BackoffJitter}
	if c.DeliverTo != nil {
		d := QueueDeliverTo(*c.DeliverTo)
		out.DeliverTo = &d
	}
	return out
}

func queueOf(info queues.Info) Queue {
	st := QueueStats(info.Stats)
	return Queue{Name: info.Name, Config: queueConfigOf(info.Config), Stats: &st}
}

type queueName struct {
	Name string `path:"name" doc:"Queue name: 1 to 64 of [A-Za-z0-9_-], starting with a letter" example:"emails"`
}

type queuePutInput struct {
	Name string `path:"name" doc:"Queue name: 1 to 64 of [A-Za-z0-9_-], starting with a letter" example:"emails"`
	Body *QueueConfigInput
}

type queueOutput struct {
	Status int
	Body   Queue
}

type queueListOutput struct {
	Body struct {
		Queues []Queue `json:"queues"`
	}
}

// QueueChange is one recorded change of a queue's configuration.
type QueueChange struct {
	At     time.Time   `json:"at" doc:"When it was made" example:"2026-12-03T11:15:12.190543194Z"`
	Kind   string      `json:"kind" enum:"created,replaced,updated,deleted" doc:"created, replaced (PUT of an existing queue), updated (PATCH) or deleted" example:"updated"`
	Fields []string    `json:"fields" doc:"The configuration fields whose value changed (their JSON names); empty for created and deleted" example:"[\"concurrency\",\"ratePerSecond\"]"`
	Config QueueConfig `json:"config" doc:"The configuration after the change (before it, for deleted)"`
}

type queueHistoryInput struct {
	Name  string `path:"name" doc:"Queue name" example:"emails"`
	Limit int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Most changes to return, newest first"`
}

type queueHistoryOutput struct {
	Body struct {
		Changes []QueueChange `json:"changes"`
	}
}

func (s *Server) registerQueues() {
	q := s.opts.Queues
	if q == nil {
		return
	}
	tags := []string{"queues"}
	reg := func(op huma.Operation) huma.Operation {
		op.Tags, op.MaxBodyBytes = tags, s.opts.MaxBodyBytes+1 // +1: Huma refuses a body of exactly MaxBodyBytes
		return op
	}
	huma.Register(s.api, reg(huma.Operation{OperationID: "putQueue", Method: http.MethodPut, Path: "/v1/queues/{name}",
		Summary:     "Create or replace a queue",
		Description: "Creates the queue (201) or replaces its whole configuration (200): absent fields take their defaults. Changes take effect at once."}),
		func(ctx context.Context, in *queuePutInput) (*queueOutput, error) {
			cfg := in.Body.patch().Apply(queues.Config{})
			if err := s.checkDeliverTo(cfg.DeliverTo); err != nil {
				return nil, err
			}
			got, created, err := q.Put(ctx, in.Name, cfg)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &queueOutput{Status: http.StatusOK, Body: Queue{Name: in.Name, Config: queueConfigOf(got)}}
			if created {
				out.Status = http.StatusCreated
			}
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "patchQueue", Method: http.MethodPatch, Path: "/v1/queues/{name}",
		Summary:     "Change some of a queue's limits",
		Description: "Changes only the fields given (deliverTo null removes the actor binding); they take effect at once and are recorded (GET /v1/queues/{name}/history)."}),
		func(ctx context.Context, in *queuePutInput) (*queueOutput, error) {
			p := in.Body.patch()
			if err := s.checkDeliverTo(p.DeliverTo); err != nil {
				return nil, err
			}
			got, err := q.Update(ctx, in.Name, p)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			return &queueOutput{Status: http.StatusOK, Body: Queue{Name: in.Name, Config: queueConfigOf(got)}}, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "getQueue", Method: http.MethodGet, Path: "/v1/queues/{name}",
		Summary: "Get a queue", Description: "Its configuration and counts: depth, inFlight, deadLetters, oldestAgeMs, delayed, enqueuedPerSec, ackedPerSec."}),
		func(ctx context.Context, in *queueName) (*queueOutput, error) {
			info, err := q.Get(ctx, in.Name)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			return &queueOutput{Status: http.StatusOK, Body: queueOf(info)}, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "listQueues", Method: http.MethodGet, Path: "/v1/queues",
		Summary: "List queues", Description: "Every queue, by name, with its configuration and counts."}),
		func(ctx context.Context, _ *struct{}) (*queueListOutput, error) {
			infos, err := q.List(ctx)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &queueListOutput{}
			out.Body.Queues = make([]Queue, len(infos))
			for i, info := range infos {
				out.Body.Queues[i] = queueOf(info)
			}
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "deleteQueue", Method: http.MethodDelete, Path: "/v1/queues/{name}",
		DefaultStatus: http.StatusNoContent, Summary: "Delete a queue", Description: "Deletes the queue, its messages and its dead letters."}),
		func(ctx context.Context, in *queueName) (*struct{}, error) {
			if err := q.Delete(ctx, in.Name); err != nil {
				return nil, s.fromQueues(err)
			}
			return nil, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "getQueueHistory", Method: http.MethodGet, Path: "/v1/queues/{name}/history",
		Summary: "List a queue's configuration changes",
		Description: "Newest first: each create, PUT, PATCH and delete that changed the configuration, with the fields it changed and the configuration after it. " +
			"The last 100 changes per queue are kept, also after the queue is deleted; a queue never created has none (an empty list, not 404)."}),
		func(ctx context.Context, in *queueHistoryInput) (*queueHistoryOutput, error) {
			changes, err := q.History(ctx, in.Name, in.Limit)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &queueHistoryOutput{}
			out.Body.Changes = make([]QueueChange, len(changes))
			for i, c := range changes {
				f := c.Fields
				if f == nil {
					f = []string{}
				}
				out.Body.Changes[i] = QueueChange{At: c.At, Kind: c.Kind, Fields: f, Config: queueConfigOf(c.Config)}
			}
			return out, nil
		})
	s.registerQueueMessages(q, reg)
}

// checkDeliverTo answers 400 when a queue's actor binding names a type or an
// action this server does not run (as a schedule's target does): its
// messages would otherwise wait for a delivery that can never succeed.
func (s *Server) checkDeliverTo(d *queues.DeliverTo) error {
	if d == nil || d.Type == "" || d.Action == "" || d.KeyFrom == "" || s.rt == nil {
		return nil // no binding, or an incomplete one: the queue's own check answers 422
	}
	meta := map[string]any{"field": "deliverTo"}
	acts, ok := s.rt.Registry().CallableActions(d.Type)
	if !ok {
		return newError(http.StatusBadRequest, errcode.GroupAPI, errcode.ActorTypeNotFound,
			"deliverTo.type: this server runs no actor type "+strconv.Quote(d.Type)+"; GET /v1/types lists them", meta)
	}
	if !slices.Contains(acts, d.Action) {
		return newError(http.StatusBadRequest, errcode.GroupAPI, errcode.ActionNotFound,
			"deliverTo.action: actor type "+d.Type+" has no action "+strconv.Quote(d.Action)+" (it has: "+strings.Join(acts, ", ")+")", meta)
	}
	return nil
}

// fromQueues turns a queue error into an API error.
func (s *Server) fromQueues(err error) *Error {
	switch {
	case errors.Is(err, queues.ErrNotFound):
		return errorOf(errcode.QueueNotFound, err.Error(), nil)
	case errors.Is(err, queues.ErrFull):
		e := errorOf(errcode.QueueFull, err.Error(), nil)
		e.retryAfter = 1
		return e
	case errors.Is(err, queues.ErrTooLarge):
		return errorOf(errcode.MessageTooLarge, err.Error(), nil)
	case errors.Is(err, queues.ErrInvalidReceipt):
		return errorOf(errcode.InvalidReceipt, err.Error(), nil)
	case errors.Is(err, queues.ErrInvalidCursor):
		return invalidCursor("cursor", strings.TrimPrefix(err.Error(), queues.ErrInvalid.Error()+" ")+" is not a cursor of this listing")
	case errors.Is(err, queues.ErrInvalid):
		return errorOf(errcode.InvalidRequest, strings.TrimPrefix(err.Error(), queues.ErrInvalid.Error()+": "), nil)
	case errors.Is(err, context.Canceled):
		return errorOf(errcode.ClientClosed, "the client went away", nil)
	}
	s.lg.Error("queues", "err", err)
	return errorOf(errcode.InternalError, "internal error", nil)
}
