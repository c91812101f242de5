package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// ForkRequest says where to fork an actor and what to call the copy.
type ForkRequest struct {
	AtSeq uint64   `json:"atSeq" doc:"The log sequence of one of the actor's events (its seq in GET /v1/actors/{id}/events): the fork is the actor as of that event" example:"42"`
	Key   keyParts `json:"key" nullable:"false" doc:"The fork's key: a new actor of the same type; an array of strings ([] for the empty key; null is refused), UTF-8 text" example:"[\"my-counter-copy\"]"`
}

type forkInput struct {
	ID   string `path:"id" doc:"The actor to fork (a workflow run's actorId forks the run)" example:"counter.kCm15LWNvdW50ZXI"`
	Body ForkRequest
}

// registerFork serves POST /v1/actors/{id}/fork (issue 19: fork).
func (s *Server) registerFork() {
	huma.Register(s.api, huma.Operation{
		OperationID: "forkActor", Method: http.MethodPost, Path: "/v1/actors/{id}/fork", Tags: []string{"actors"},
		DefaultStatus: http.StatusCreated, MaxBodyBytes: s.opts.MaxBodyBytes + 1,
		Summary: "Fork an actor at one of its events",
		Description: "Creates a new actor of the same type with `key` whose state, KV, and pending alarms and crons are the actor's as of event `atSeq`, " +
			"folded from the log (no action code runs). Its first event is a create recording `{\"from\": id, \"atSeq\": N}`; alarms and crons are re-armed on it (one already due fires at once); then it wakes as after a create. " +
			"The original is untouched. Forking a workflow run by its `actorId` (GET /v1/workflows/{name}/runs/{runId}) branches the run: `key` is `[newRunId]`, and the fork resumes with the steps journaled up to `atSeq` reused, not re-run. " +
			"400 `invalid_args` when `atSeq` is not an event of the actor (the message names the valid range) or the actor did not exist at it (destroyed); 404 `actor_not_found` when the actor has no events; 409 `actor_exists` when the key names an existing actor; 400 `invalid_key` when a key part is not text (invalid UTF-8 or an unpaired surrogate escape). Nothing is appended on any error.",
	}, func(ctx context.Context, in *forkInput) (*ActorResult, error) {
		if err := in.Body.Key.check(); err != nil {
			return nil, fromActors(err)
		}
		h, err := s.client(ctx).Fork(ctx, in.ID, in.Body.AtSeq, in.Body.Key)
		if err != nil {
			return nil, fromActors(err)
		}
		out := &ActorResult{}
		out.Body.Actor, out.Body.Created = actorOf(h), true
		return out, nil
	})
}
