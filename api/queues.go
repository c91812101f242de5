package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/queues"
)

// Durable queues (/v1/queues): producers enqueue JSON messages, workers claim
// them under a lease and settle them by receipt; a message delivered
// maxDeliveries times without an ack becomes a dead letter.

// QueueConfig is a queue's configuration as the API shows it (defaults filled in).
type QueueConfig struct {
	MaxMessages     int64   `json:"maxMessages" doc:"Most messages the queue holds, waiting and in flight; an enqueue beyond it gets 429 queue_full"`
	MaxBytes        int64   `json:"maxBytes" doc:"Most bytes the queue holds; an enqueue beyond it gets 429 queue_full"`
	MaxMessageBytes int32   `json:"maxMessageBytes" doc:"Largest message body; a larger one gets 413 message_too_large"`
	Overflow        string  `json:"overflow" enum:"reject" doc:"What an enqueue into a full queue gets: reject (429 queue_full with Retry-After)"`
	AckWaitMs       int64   `json:"ackWaitMs" doc:"The lease of a claim: a message not acked, nacked or extended within it is delivered again"`
	MaxDeliveries   int     `json:"maxDeliveries" doc:"Deliveries before a message becomes a dead letter"`
	BackoffMs       []int64 `json:"backoffMs" doc:"Delay before redelivery after a nack without delayMs: the attempt-th entry, the last for later attempts; empty: at once"`
	DedupWindowMs   int64   `json:"dedupWindowMs" doc:"How long a dedupId is remembered, whether or not its message is still queued"`
}

// QueueConfigInput is the body of PUT (absent fields take their defaults)
// and PATCH (absent fields keep their value) /v1/queues/{name}.
type QueueConfigInput struct {
	MaxMessages     *int64   `json:"maxMessages,omitempty" minimum:"1" doc:"Most messages the queue holds, waiting and in flight. Defaults to 100000"`
	MaxBytes        *int64   `json:"maxBytes,omitempty" minimum:"1" doc:"Most bytes the queue holds. Defaults to 1073741824 (1 GiB)"`
	MaxMessageBytes *int32   `json:"maxMessageBytes,omitempty" minimum:"1" maximum:"1040384" doc:"Largest message body. Defaults to 262144 (256 KiB)"`
	Overflow        *string  `json:"overflow,omitempty" enum:"reject" doc:"What an enqueue into a full queue gets: reject (429 queue_full). Defaults to reject (block is not supported yet)"`
	AckWaitMs       *int64   `json:"ackWaitMs,omitempty" minimum:"100" maximum:"43200000" doc:"The lease of a claim, renewed by extend. Defaults to 30000"`
	MaxDeliveries   *int     `json:"maxDeliveries,omitempty" minimum:"1" maximum:"1000" doc:"Deliveries before a message becomes a dead letter. Defaults to 5"`
	BackoffMs       *[]int64 `json:"backoffMs,omitempty" maxItems:"32" doc:"Delay before redelivery after a nack without delayMs, per attempt (the last entry for later attempts). Defaults to none: at once"`
	DedupWindowMs   *int64   `json:"dedupWindowMs,omitempty" minimum:"1" maximum:"604800000" doc:"How long a dedupId is remembered. Defaults to 120000 (2 minutes)"`
}

func (in *QueueConfigInput) patch() queues.Patch {
	if in == nil {
		return queues.Patch{}
	}
	return queues.Patch{MaxMessages: in.MaxMessages, MaxBytes: in.MaxBytes, MaxMessageBytes: in.MaxMessageBytes, Overflow: in.Overflow,
		AckWaitMs: in.AckWaitMs, MaxDeliveries: in.MaxDeliveries, BackoffMs: in.BackoffMs, DedupWindowMs: in.DedupWindowMs}
}

// QueueStats are a queue's counts as of the read.
type QueueStats struct {
	Depth       int64 `json:"depth" doc:"Messages waiting to be claimed (including those waiting for a redelivery)"`
	InFlight    int64 `json:"inFlight" doc:"Messages claimed and not yet settled"`
	DeadLetters int64 `json:"deadLetters" doc:"Messages in the queue's dead letters"`
	OldestAgeMs int64 `json:"oldestAgeMs" doc:"Age of the oldest message in the queue (0: empty)"`
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
	return QueueConfig{MaxMessages: c.MaxMessages, MaxBytes: c.MaxBytes, MaxMessageBytes: c.MaxMessageBytes, Overflow: c.Overflow,
		AckWaitMs: c.AckWaitMs, MaxDeliveries: c.MaxDeliveries, BackoffMs: b, DedupWindowMs: c.DedupWindowMs}
}

func queueOf(info queues.Info) Queue {
	st := QueueStats{Depth: info.Stats.Depth, InFlight: info.Stats.InFlight, DeadLetters: info.Stats.DeadLetters, OldestAgeMs: info.Stats.OldestAgeMs}
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

type enqueueInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Body    json.RawMessage `json:"body" doc:"The message: any JSON value" example:"{\"to\":\"ada@example.com\"}"`
		DedupID string          `json:"dedupId,omitempty" maxLength:"256" doc:"A second enqueue with this ID within the queue's dedupWindowMs returns the first message's ID with duplicate true and adds nothing"`
	}
}

type enqueueOutput struct {
	Body struct {
		ID        string `json:"id" doc:"The message's ID (or the first one's, for a duplicate)" example:"42"`
		Duplicate bool   `json:"duplicate,omitempty" doc:"The dedupId was seen within the window: nothing was added"`
	}
}

type claimInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Max    int   `json:"max,omitempty" minimum:"0" maximum:"1000" doc:"Most messages to return. Defaults to 1"`
		WaitMs int64 `json:"waitMs,omitempty" minimum:"0" maximum:"30000" doc:"How long to wait for a first message when none is ready (long poll). Defaults to 0: answer at once"`
	}
}

// QueueMessage is a claimed message.
type QueueMessage struct {
	ID         string          `json:"id" doc:"The message's ID" example:"42"`
	Body       json.RawMessage `json:"body" doc:"The message"`
	Attempt    int             `json:"attempt" doc:"This delivery's number, 1 for the first; survives restarts" example:"1"`
	Receipt    string          `json:"receipt" doc:"Settles this delivery: pass it to ack, nack or extend"`
	EnqueuedAt time.Time       `json:"enqueuedAt" doc:"When the message entered the queue"`
}

type claimOutput struct {
	Body struct {
		Messages []QueueMessage `json:"messages"`
	}
}

type receiptsBody struct {
	Receipts []string `json:"receipts" minItems:"1" maxItems:"1000" doc:"Receipts from claims"`
}

type ackInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body receiptsBody
}

type nackInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Receipts []string `json:"receipts" minItems:"1" maxItems:"1000" doc:"Receipts from claims"`
		DelayMs  *int64   `json:"delayMs,omitempty" minimum:"0" maximum:"43200000" doc:"Redeliver after this long. Defaults to the queue's backoffMs for the attempt (at once without one)"`
	}
}

type settledOutput struct {
	Body struct {
		Settled int `json:"settled" doc:"Deliveries settled"`
	}
}

type deadLettersInput struct {
	Name   string `path:"name" doc:"Queue name" example:"emails"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size"`
	Cursor string `query:"cursor" doc:"Continue after the previous page: pass its nextCursor"`
}

// QueueDeadLetter is a message moved out of its queue.
type QueueDeadLetter struct {
	ID         string          `json:"id" doc:"The dead letter's ID (for redrive)" example:"7"`
	MessageID  string          `json:"messageId" doc:"The message's ID in the queue" example:"42"`
	Body       json.RawMessage `json:"body" doc:"The message"`
	Reason     string          `json:"reason" doc:"Why it moved: max_deliveries" example:"max_deliveries"`
	Attempts   int             `json:"attempts" doc:"Its deliveries to workers" example:"5"`
	EnqueuedAt time.Time       `json:"enqueuedAt" doc:"When it entered the queue"`
	DeadAt     time.Time       `json:"deadAt" doc:"When it became a dead letter"`
}

type deadLettersOutput struct {
	Body struct {
		DeadLetters []QueueDeadLetter `json:"deadLetters"`
		NextCursor  string            `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last"`
	}
}

type redriveInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		IDs  []string        `json:"ids,omitempty" maxItems:"1000" doc:"Dead letters to redrive (their id); give ids or all"`
		All  bool            `json:"all,omitempty" doc:"Redrive every dead letter there is when the call starts"`
		Body json.RawMessage `json:"body,omitempty" doc:"A new body for every redriven message; absent: each keeps its own"`
	}
}

type redriveOutput struct {
	Body struct {
		Redriven int      `json:"redriven" doc:"Messages put back into the queue, each with a new ID and attempt 1"`
		Missing  []string `json:"missing,omitempty" doc:"IDs asked for that are not dead letters"`
	}
}

type purgeOutput struct {
	Body struct {
		Purged uint64 `json:"purged" doc:"Dead letters deleted"`
	}
}

var queueErrors = []int{400, 401, 404, 413, 422, 429, 500}

func (s *Server) registerQueues() {
	q := s.opts.Queues
	if q == nil {
		return
	}
	tags := []string{"queues"}
	reg := func(op huma.Operation) huma.Operation {
		op.Tags, op.Errors = tags, queueErrors
		return op
	}
	huma.Register(s.api, reg(huma.Operation{OperationID: "putQueue", Method: http.MethodPut, Path: "/v1/queues/{name}",
		Summary:     "Create or replace a queue",
		Description: "Creates the queue (201) or replaces its whole configuration (200): absent fields take their defaults. Changes take effect at once."}),
		func(ctx context.Context, in *queuePutInput) (*queueOutput, error) {
			cfg := in.Body.patch().Apply(queues.Config{})
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
		Summary: "Change some of a queue's limits", Description: "Changes only the fields given; they take effect at once."}),
		func(ctx context.Context, in *queuePutInput) (*queueOutput, error) {
			got, err := q.Update(ctx, in.Name, in.Body.patch())
			if err != nil {
				return nil, s.fromQueues(err)
			}
			return &queueOutput{Status: http.StatusOK, Body: Queue{Name: in.Name, Config: queueConfigOf(got)}}, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "getQueue", Method: http.MethodGet, Path: "/v1/queues/{name}",
		Summary: "Get a queue", Description: "Its configuration and counts: depth, inFlight, deadLetters, oldestAgeMs."}),
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
	s.registerQueueMessages(q, reg)
}

func (s *Server) registerQueueMessages(q *queues.Manager, reg func(huma.Operation) huma.Operation) {
	huma.Register(s.api, reg(huma.Operation{OperationID: "enqueueMessage", Method: http.MethodPost, Path: "/v1/queues/{name}/messages",
		DefaultStatus: http.StatusAccepted, Summary: "Enqueue a message",
		Description: "Stores the message before answering 202 with its ID. A full queue answers 429 queue_full with Retry-After and stores nothing."}),
		func(ctx context.Context, in *enqueueInput) (*enqueueOutput, error) {
			res, err := q.Enqueue(ctx, in.Name, in.Body.Body, queues.EnqueueOptions{DedupID: in.Body.DedupID})
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &enqueueOutput{}
			out.Body.ID, out.Body.Duplicate = res.ID, res.Duplicate
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "claimMessages", Method: http.MethodPost, Path: "/v1/queues/{name}/claim",
		Summary: "Claim messages",
		Description: "Leases up to max messages for the queue's ackWaitMs, waiting up to waitMs for a first one. Settle each by its receipt (ack, nack, extend); " +
			"an unsettled message is delivered again when its lease ends. A message past maxDeliveries becomes a dead letter instead of being returned."}),
		func(ctx context.Context, in *claimInput) (*claimOutput, error) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(s.streams, cancel)() // a long poll ends with the server
			msgs, err := q.Claim(ctx, in.Name, queues.ClaimOptions{Max: in.Body.Max, Wait: time.Duration(in.Body.WaitMs) * time.Millisecond})
			if err != nil && len(msgs) == 0 {
				return nil, s.fromQueues(err)
			}
			out := &claimOutput{}
			out.Body.Messages = make([]QueueMessage, len(msgs))
			for i, m := range msgs {
				out.Body.Messages[i] = QueueMessage{ID: m.ID, Body: m.Body, Attempt: m.Attempt, Receipt: m.Receipt, EnqueuedAt: m.EnqueuedAt}
			}
			return out, nil
		})
	settled := func(n int, err error) (*settledOutput, error) {
		if err != nil {
			return nil, s.fromQueues(err)
		}
		out := &settledOutput{}
		out.Body.Settled = n
		return out, nil
	}
	huma.Register(s.api, reg(huma.Operation{OperationID: "ackMessages", Method: http.MethodPost, Path: "/v1/queues/{name}/ack",
		Summary: "Acknowledge messages", Description: "Their messages leave the queue. One bad receipt (400 invalid_receipt) settles none."}),
		func(ctx context.Context, in *ackInput) (*settledOutput, error) {
			return settled(q.Ack(ctx, in.Name, in.Body.Receipts))
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "nackMessages", Method: http.MethodPost, Path: "/v1/queues/{name}/nack",
		Summary: "Release messages for redelivery", Description: "After delayMs, or the queue's backoff for the attempt. One bad receipt (400 invalid_receipt) settles none."}),
		func(ctx context.Context, in *nackInput) (*settledOutput, error) {
			var delay *time.Duration
			if in.Body.DelayMs != nil {
				d := time.Duration(*in.Body.DelayMs) * time.Millisecond
				delay = &d
			}
			return settled(q.Nack(ctx, in.Name, in.Body.Receipts, delay))
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "extendLeases", Method: http.MethodPost, Path: "/v1/queues/{name}/extend",
		Summary: "Extend leases", Description: "Each lease is good for another ackWaitMs from now. One bad receipt (400 invalid_receipt) settles none."}),
		func(ctx context.Context, in *ackInput) (*settledOutput, error) {
			return settled(q.Extend(ctx, in.Name, in.Body.Receipts, 0))
		})
	s.registerDeadLetters(q, reg)
}

func (s *Server) registerDeadLetters(q *queues.Manager, reg func(huma.Operation) huma.Operation) {
	huma.Register(s.api, reg(huma.Operation{OperationID: "listDeadLetters", Method: http.MethodGet, Path: "/v1/queues/{name}/dead-letters",
		Summary: "List dead letters", Description: "Oldest first, limit at a time, each with its reason and attempts."}),
		func(ctx context.Context, in *deadLettersInput) (*deadLettersOutput, error) {
			page, err := q.ListDeadLetters(ctx, in.Name, in.Limit, in.Cursor)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &deadLettersOutput{}
			out.Body.DeadLetters = make([]QueueDeadLetter, len(page.Items))
			for i, d := range page.Items {
				out.Body.DeadLetters[i] = QueueDeadLetter(d)
			}
			out.Body.NextCursor = page.NextCursor
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "redriveDeadLetters", Method: http.MethodPost, Path: "/v1/queues/{name}/dead-letters/redrive",
		Summary:     "Redrive dead letters",
		Description: "Puts the dead letters named by ids, or all of them, back into the queue as new messages (attempt 1), optionally with a new body. A full queue stops it with 429 queue_full; those not yet redriven stay."}),
		func(ctx context.Context, in *redriveInput) (*redriveOutput, error) {
			res, err := q.Redrive(ctx, in.Name, queues.RedriveOptions{IDs: in.Body.IDs, All: in.Body.All, Body: in.Body.Body})
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &redriveOutput{}
			out.Body.Redriven, out.Body.Missing = res.Redriven, res.Missing
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "purgeDeadLetters", Method: http.MethodDelete, Path: "/v1/queues/{name}/dead-letters",
		Summary: "Purge dead letters", Description: "Deletes every dead letter of the queue."}),
		func(ctx context.Context, in *queueName) (*purgeOutput, error) {
			n, err := q.PurgeDeadLetters(ctx, in.Name)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &purgeOutput{}
			out.Body.Purged = n
			return out, nil
		})
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
	case errors.Is(err, queues.ErrInvalid):
		return errorOf(errcode.InvalidRequest, err.Error(), nil)
	case errors.Is(err, context.Canceled):
		return errorOf(errcode.ClientClosed, "the client went away", nil)
	}
	s.lg.Error("queues", "err", err)
	return errorOf(errcode.InternalError, "internal error", nil)
}
