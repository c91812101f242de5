package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// ActorType is one actor type a server runs, with its actions.
type ActorType struct {
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
	// System is true for the types the server registers for itself
	// (schedules, dead letters): listed, but not for users to create.
	System bool `json:"system,omitempty"`
}

// Types lists the server's actor types, sorted by name (GET /v1/types).
func (c *Client) Types(ctx context.Context) ([]ActorType, error) {
	var out struct {
		Types []ActorType `json:"types"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/types", nil, nil, &out); err != nil {
		return nil, err
	}
	return out.Types, nil
}

// ActorState is an actor's current, committed state.
type ActorState struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Key        []string        `json:"key"`
	Generation uint64          `json:"generation"`
	State      json.RawMessage `json:"state"`
}

// State reads the actor's current state (GET /v1/actors/{id}/state). It is a
// read: the actor is not woken and nothing is appended. CodeActorNotFound if
// the actor does not exist (or was destroyed).
func (c *Client) State(ctx context.Context, id string) (*ActorState, error) {
	if id == "" {
		return nil, errMissing("actor ID")
	}
	var st ActorState
	if err := c.do(ctx, http.MethodGet, "/v1/actors/"+escape(id)+"/state", nil, nil, &st); err != nil {
		return nil, err
	}
	return &st, nil
}
