package client

import (
	"context"
	"net/http"
)

type forkRequest struct {
	AtSeq uint64   `json:"atSeq"`
	Key   []string `json:"key"`
}

// Fork creates a new actor of id's type with key whose state, KV, and
// pending alarms and crons are id's as of atSeq, the sequence of one of its
// events (Event.Seq from Events), folded by the server without running any
// action (POST /v1/actors/{id}/fork). The original is untouched. A workflow
// run forks by its ActorID with key [newRunId]: the fork resumes with the
// steps journaled up to atSeq reused. Errors: CodeInvalidArgs (400) when
// atSeq is not one of id's events or id did not exist at it (the message
// names the valid range), CodeActorNotFound when id has no events,
// CodeActorExists when key names an existing actor; nothing is changed.
func (c *Client) Fork(ctx context.Context, id string, atSeq uint64, key []string) (*Actor, error) {
	if id == "" {
		return nil, errMissing("actor ID")
	}
	if key == nil {
		key = []string{}
	}
	var res actorResult
	if err := c.do(ctx, http.MethodPost, "/v1/actors/"+escape(id)+"/fork", nil, forkRequest{AtSeq: atSeq, Key: key}, &res); err != nil {
		return nil, err
	}
	return res.Actor.normal(), nil
}
