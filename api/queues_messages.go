package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/queues"
)

// The message routes of a queue: enqueue (one or a batch), claim, settle
// (ack, nack, extend), purge, and its dead letters.

type enqueueInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Body      json.RawMessage `json:"body" doc:"The message: any JSON value" example:"{\"to\":\"ada@example.com\"}"`
		Key       string          `json:"key,omitempty" maxLength:"256" doc:"Orders the message after every earlier message of the same key: one message per key is ready or in flight at a time, and keys take turns. At most 256 bytes of text" example:"customer-7"`
		Priority  int             `json:"priority,omitempty" minimum:"0" maximum:"5" doc:"1 (most urgent) to 5; 0 or absent: 3. Bands take weighted turns (16, 8, 4, 2, 1), so none starves" example:"3"`
		DelayMs   int64           `json:"delayMs,omitempty" minimum:"0" maximum:"31536000000" doc:"Hold the message back for this long before it can be claimed"`
		DeliverAt *time.Time      `json:"deliverAt,omitempty" doc:"Hold the message back until then (RFC 3339; with delayMs, the later wins); at most 365 days ahead"`
		DedupID   string          `json:"dedupId,omitempty" maxLength:"256" doc:"A second enqueue with this ID within the queue's dedupWindowMs returns the first message's ID with duplicate true and adds nothing"`
	}
}

func (in *enqueueInput) options() queues.EnqueueOptions {
	b := in.Body
	o := queues.EnqueueOptions{DedupID: b.DedupID, Key: b.Key, Priority: b.Priority, Delay: time.Duration(b.DelayMs) * time.Millisecond}
	if b.DeliverAt != nil {
		o.DeliverAt = *b.DeliverAt
	}
	return o
}

type enqueueOutput struct {
	Body struct {
		ID        string `json:"id" doc:"The message's ID (or the first one's, for a duplicate)" example:"42"`
		Duplicate bool   `json:"duplicate,omitempty" doc:"The dedupId was seen within the window: nothing was added" example:"true"`
	}
}

// QueueBatchMessage is one message of a batch enqueue. Its fields are those
// of a single enqueue, checked item by item (so their bounds are not in the
// schema: an item out of them fails alone, with invalid_request).
type QueueBatchMessage struct {
	Body      json.RawMessage `json:"body" doc:"The message: any JSON value"`
	Key       string          `json:"key,omitempty" doc:"Per-key FIFO order, as for one enqueue (at most 256 bytes)"`
	Priority  int             `json:"priority,omitempty" doc:"1 (most urgent) to 5; 0 or absent: 3"`
	DelayMs   int64           `json:"delayMs,omitempty" doc:"Hold the message back for this long (0 to 31536000000)"`
	DeliverAt *time.Time      `json:"deliverAt,omitempty" doc:"Hold the message back until then (RFC 3339)"`
	DedupID   string          `json:"dedupId,omitempty" doc:"Deduplication ID, as for one enqueue (at most 256 bytes, no spaces)"`
}

type enqueueBatchInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Messages []QueueBatchMessage `json:"messages" minItems:"1" maxItems:"1000" doc:"The messages, 1 to 1000 (and within the server's request body limit)"`
	}
}

// QueueItemError is why one item of a batch failed.
type QueueItemError struct {
	Code    string `json:"code" doc:"The code a single enqueue of this item would have got: queue_full, message_too_large, invalid_request..." example:"queue_full"`
	Message string `json:"message" doc:"What was wrong" example:"queue full: emails: maximum messages exceeded"`
}

// QueueBatchResult is the outcome of one item of a batch: id (and
// duplicate), or error.
type QueueBatchResult struct {
	ID        string          `json:"id,omitempty" doc:"The message's ID (or the first one's, for a duplicate); absent when the item failed" example:"42"`
	Duplicate bool            `json:"duplicate,omitempty" doc:"The dedupId was seen within the window: nothing was added" example:"true"`
	Error     *QueueItemError `json:"error,omitempty" doc:"Why this item was not enqueued; the other items are not affected"`
}

type enqueueBatchOutput struct {
	Body struct {
		Results []QueueBatchResult `json:"results" doc:"One per message, in the order sent"`
	}
}

type claimInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Max     int   `json:"max,omitempty" minimum:"0" maximum:"1000" doc:"Most messages to return. Defaults to 1"`
		WaitMs  int64 `json:"waitMs,omitempty" minimum:"0" maximum:"30000" doc:"How long to wait for a first message when none is ready (long poll). Defaults to 0: answer at once"`
		LeaseMs int64 `json:"leaseMs,omitempty" minimum:"0" maximum:"43200000" doc:"This claim's lease instead of the queue's ackWaitMs (a shorter one redelivers sooner). Defaults to 0: ackWaitMs"`
	}
}

// QueueMessage is a claimed message.
type QueueMessage struct {
	ID         string          `json:"id" doc:"The message's ID" example:"42"`
	Body       json.RawMessage `json:"body" doc:"The message" example:"{\"to\":\"ada@example.com\"}"`
	Key        string          `json:"key,omitempty" doc:"The message's key, as enqueued; absent for a message without one" example:"customer-7"`
	Attempt    int             `json:"attempt" doc:"This delivery's number, 1 for the first; survives restarts" example:"1"`
	Receipt    string          `json:"receipt" doc:"Settles this delivery: pass it to ack, nack or extend" example:"JEpTLkFDSy5SRl9RUl9lbWFpbHMucmYtd29ya2Vycy4xLjEuMS4xNzk2Mjk2NTEyMDk0MzIxOTIxLjI"`
	EnqueuedAt time.Time       `json:"enqueuedAt" doc:"When the message entered the queue" example:"2026-12-03T11:15:12.093549654Z"`
	Priority   int             `json:"priority" doc:"The message's priority, 1 (most urgent) to 5" example:"3"`
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

type extendInput struct {
	Name string `path:"name" doc:"Queue name" example:"emails"`
	Body struct {
		Receipts []string `json:"receipts" minItems:"1" maxItems:"1000" doc:"Receipts from claims"`
		LeaseMs  int64    `json:"leaseMs,omitempty" minimum:"0" maximum:"43200000" doc:"Each lease is good for this long from now. Defaults to 0: the queue's ackWaitMs"`
	}
}

type settledOutput struct {
	Body struct {
		Settled int `json:"settled" doc:"Deliveries settled" example:"1"`
	}
}

type purgeOutput struct {
	Body struct {
		Purged uint64 `json:"purged" doc:"Messages deleted" example:"2"`
	}
}

func ms(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func (s *Server) registerQueueMessages(q *queues.Manager, reg func(huma.Operation) huma.Operation) {
	huma.Register(s.api, reg(huma.Operation{OperationID: "enqueueMessage", Method: http.MethodPost, Path: "/v1/queues/{name}/messages",
		DefaultStatus: http.StatusAccepted, Summary: "Enqueue a message",
		Description: "Stores the message before answering 202 with its ID. A full queue answers 429 queue_full with Retry-After and stores nothing " +
			"(under overflow block, after waiting up to blockMs for room). A message is claimable a moment after its enqueue (or after its delayMs or deliverAt)."}),
		func(ctx context.Context, in *enqueueInput) (*enqueueOutput, error) {
			res, err := q.Enqueue(ctx, in.Name, in.Body.Body, in.options())
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &enqueueOutput{}
			out.Body.ID, out.Body.Duplicate = res.ID, res.Duplicate
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "enqueueMessages", Method: http.MethodPost, Path: "/v1/queues/{name}/messages/batch",
		DefaultStatus: http.StatusAccepted, Summary: "Enqueue messages in bulk",
		Description: "Stores up to 1000 messages in one call and answers 202 with one result per message, in order: its id (and duplicate), or its error " +
			"with the code a single enqueue of it would have got (queue_full, message_too_large, invalid_request). Each message succeeds or fails on its own, " +
			"so a batch can be partly stored: resend the failed ones (with a dedupId, resending is safe). Only a problem of the whole call fails it: " +
			"an unknown queue (404), no or more than 1000 messages (422), a body over the server's limit (413)."}),
		func(ctx context.Context, in *enqueueBatchInput) (*enqueueBatchOutput, error) {
			items := make([]queues.BatchItem, len(in.Body.Messages))
			for i, m := range in.Body.Messages {
				o := queues.EnqueueOptions{DedupID: m.DedupID, Key: m.Key, Priority: m.Priority, Delay: ms(m.DelayMs)}
				if m.DeliverAt != nil {
					o.DeliverAt = *m.DeliverAt
				}
				items[i] = queues.BatchItem{Body: m.Body, Options: o}
			}
			res, err := q.EnqueueBatch(ctx, in.Name, items)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &enqueueBatchOutput{}
			out.Body.Results = make([]QueueBatchResult, len(res))
			for i, r := range res {
				if r.Err != nil {
					e := s.fromQueues(r.Err)
					out.Body.Results[i].Error = &QueueItemError{Code: e.Code, Message: e.Message}
					continue
				}
				out.Body.Results[i].ID, out.Body.Results[i].Duplicate = r.ID, r.Duplicate
			}
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "purgeMessages", Method: http.MethodDelete, Path: "/v1/queues/{name}/messages",
		Summary: "Purge a queue's messages",
		Description: "Deletes every message of the queue that is waiting, delayed or in flight (their receipts stop working) and answers how many; " +
			"the dead letters stay (DELETE /v1/queues/{name}/dead-letters). A message being enqueued at that moment can survive it."}),
		func(ctx context.Context, in *queueName) (*purgeOutput, error) {
			n, err := q.Purge(ctx, in.Name)
			if err != nil {
				return nil, s.fromQueues(err)
			}
			out := &purgeOutput{}
			out.Body.Purged = n
			return out, nil
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "claimMessages", Method: http.MethodPost, Path: "/v1/queues/{name}/claim",
		Summary: "Claim messages",
		Description: "Leases up to max messages for leaseMs (default the queue's ackWaitMs), waiting up to waitMs for a first one. Settle each by its receipt (ack, nack, extend); " +
			"an unsettled message is delivered again when its lease ends. A message past maxDeliveries becomes a dead letter instead of being returned."}),
		func(ctx context.Context, in *claimInput) (*claimOutput, error) {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			defer context.AfterFunc(s.streams, cancel)() // a long poll ends with the server
			msgs, err := q.Claim(ctx, in.Name, queues.ClaimOptions{Max: in.Body.Max, Wait: ms(in.Body.WaitMs), Lease: ms(in.Body.LeaseMs)})
			if err != nil && len(msgs) == 0 && s.streams.Err() != nil && errors.Is(err, context.Canceled) {
				err = nil // the server is stopping: the long poll ends as if it timed out, with what it has (nothing)
			}
			if err != nil && len(msgs) == 0 {
				return nil, s.fromQueues(err)
			}
			out := &claimOutput{}
			out.Body.Messages = make([]QueueMessage, len(msgs))
			for i, m := range msgs {
				out.Body.Messages[i] = QueueMessage{ID: m.ID, Body: m.Body, Key: m.Key, Attempt: m.Attempt, Receipt: m.Receipt,
					EnqueuedAt: m.EnqueuedAt, Priority: m.Priority}
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
				d := ms(*in.Body.DelayMs)
				delay = &d
			}
			return settled(q.Nack(ctx, in.Name, in.Body.Receipts, delay))
		})
	huma.Register(s.api, reg(huma.Operation{OperationID: "extendLeases", Method: http.MethodPost, Path: "/v1/queues/{name}/extend",
		Summary:     "Extend leases",
		Description: "Each lease is good for another leaseMs (default the queue's ackWaitMs) from now. One bad receipt (400 invalid_receipt) settles none."}),
		func(ctx context.Context, in *extendInput) (*settledOutput, error) {
			return settled(q.Extend(ctx, in.Name, in.Body.Receipts, ms(in.Body.LeaseMs)))
		})
	s.registerDeadLetters(q, reg)
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
	Body       json.RawMessage `json:"body" doc:"The message" example:"{\"to\":\"ada@example.com\"}"`
	Reason     string          `json:"reason" doc:"Why it moved: max_deliveries; for a queue with deliverTo also no_actor_key (no key at keyFrom) or rejected (the action refused the body as its arguments)" example:"max_deliveries"`
	Attempts   int             `json:"attempts" doc:"Its deliveries to workers" example:"5"`
	EnqueuedAt time.Time       `json:"enqueuedAt" doc:"When it entered the queue" example:"2026-12-03T11:15:22.071761514Z"`
	DeadAt     time.Time       `json:"deadAt" doc:"When it became a dead letter" example:"2026-12-03T11:15:23.431162433Z"`
	Error      string          `json:"error,omitempty" doc:"What refused it, for no_actor_key and rejected; absent after max_deliveries" example:"argument 1 (amount): expected an integer, got a string"`
}

type deadLettersOutput struct {
	Body struct {
		DeadLetters []QueueDeadLetter `json:"deadLetters"`
		NextCursor  string            `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last" example:"8"`
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
		Redriven int      `json:"redriven" doc:"Messages put back into the queue, each with a new ID and attempt 1" example:"1"`
		Missing  []string `json:"missing,omitempty" doc:"IDs asked for that are not dead letters" example:"[\"9\"]"`
	}
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
