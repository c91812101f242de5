package api

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Introspection: what a client (the CLI's hints, `rivet-flow types`,
// `rivet-flow actors state`) reads to learn about a server without changing
// it. Both routes are reads: they run no user code and append nothing.

// systemTypePrefix starts the names of the actor types the node registers
// for itself (schedules, dead letters): listed, but marked system.
const systemTypePrefix = "rf_"

// ActorType is one registered actor type and the actions it defines.
type ActorType struct {
	Name    string   `json:"name" doc:"The type's name, as in an actor ID (name.key)" example:"counter"`
	Actions []string `json:"actions" doc:"Its actions, sorted" example:"[\"add\",\"getCount\",\"getKey\",\"increment\",\"setCount\"]"`
	System  bool     `json:"system,omitempty" doc:"A type the server registers for itself (schedules, dead letters); not for users to create" example:"false"`
}

type typesOutput struct {
	Body struct {
		Types []ActorType `json:"types" doc:"Every registered actor type, sorted by name"`
	}
}

// ActorState is an actor's current state as the log holds it.
type ActorState struct {
	ID         string          `json:"id" doc:"Actor ID" example:"counter.kCm15LWNvdW50ZXI"`
	Type       string          `json:"type" doc:"Actor type" example:"counter"`
	Key        []string        `json:"key" doc:"Actor key" example:"[\"my-counter\"]"`
	Generation uint64          `json:"generation" doc:"1 for the first create, +1 after each destroy and create" example:"1"`
	State      json.RawMessage `json:"state" doc:"The committed state, JSON (null for a type without state)" example:"{\"count\":5}"`
}

type stateOutput struct {
	Body ActorState
}

// registerIntrospection registers GET /v1/types and GET /v1/actors/{id}/state.
func (s *Server) registerIntrospection() {
	huma.Register(s.api, huma.Operation{
		OperationID: "listActorTypes", Method: http.MethodGet, Path: "/v1/types", Tags: []string{"actors"},
		Summary: "List the actor types and their actions",
		Description: "Every actor type this server runs, sorted by name, with its actions (sorted). " +
			"The types the server registers for itself (names starting with `rf_`) are marked `system`. " +
			"Clients use it to name the valid types and actions in their hints.",
	}, func(context.Context, *struct{}) (*typesOutput, error) {
		reg := s.rt.Registry()
		out := &typesOutput{}
		out.Body.Types = []ActorType{}
		for _, name := range reg.Types() {
			acts, _ := reg.CallableActions(name)
			if acts == nil {
				acts = []string{}
			}
			out.Body.Types = append(out.Body.Types, ActorType{Name: name, Actions: acts, System: strings.HasPrefix(name, systemTypePrefix)})
		}
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "getActorState", Method: http.MethodGet, Path: "/v1/actors/{id}/state", Tags: []string{"actors"},
		Summary: "Read an actor's current state",
		Description: "The actor's committed state, folded from its snapshot and the log events after it. " +
			"Read-only: it does not wake the actor, runs none of its code and appends nothing. " +
			"Every action is in the log before it is answered, so this is the state the last answered call left. " +
			"A destroyed actor, or one never created, is 404 `actor_not_found`.",
	}, func(ctx context.Context, in *idParam) (*stateOutput, error) {
		typ, key, err := actors.ParseID(in.ID)
		if err != nil {
			return nil, fromActors(err)
		}
		im, err := s.rt.ImageAt(ctx, in.ID, math.MaxUint64)
		if err != nil {
			return nil, fromActors(err)
		}
		if !im.Exists {
			return nil, fromActors(actors.ErrNotFound)
		}
		st := json.RawMessage(im.CurrentState())
		if len(st) == 0 {
			st = json.RawMessage("null")
		}
		if key == nil {
			key = []string{}
		}
		return &stateOutput{Body: ActorState{ID: in.ID, Type: typ, Key: key, Generation: im.Generation, State: st}}, nil
	})
}
