package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Actor describes one actor.
type Actor struct {
	// ID is the actor's stable ID, such as "counter.kAWE".
	ID string `json:"id"`
	// Type is the actor's type, such as "counter".
	Type string `json:"type"`
	// Key is the actor's key within its type.
	Key []string `json:"key"`
	// Generation is 1 for the first create, and grows by one with each
	// destroy and create of the same type and key.
	Generation uint64 `json:"generation"`
}

// normal returns a with a non-nil Key (the server sends null for an empty one).
func (a *Actor) normal() *Actor {
	if a.Key == nil {
		a.Key = []string{}
	}
	return a
}

type actorRequest struct {
	Type  string          `json:"type"`
	Key   []string        `json:"key"`
	Input json.RawMessage `json:"input,omitempty"`
}

type actorResult struct {
	Actor   Actor `json:"actor"`
	Created bool  `json:"created"`
}

func newActorRequest(typ string, key []string, input any) (*actorRequest, error) {
	if typ == "" {
		return nil, errMissing("actor type")
	}
	if key == nil {
		key = []string{}
	}
	req := &actorRequest{Type: typ, Key: key}
	if input != nil {
		raw, err := json.Marshal(input)
		if err != nil {
			return nil, fmt.Errorf("client: encode the create input: %w", err)
		}
		req.Input = raw
	}
	return req, nil
}

// GetOrCreate returns the actor of this type and key, creating it with input
// (any JSON-encodable value; nil for none) if it does not exist. created
// reports whether this call created it; creation is atomic in the server's
// log, so of concurrent callers exactly one sees created.
func (c *Client) GetOrCreate(ctx context.Context, typ string, key []string, input any) (a *Actor, created bool, err error) {
	req, err := newActorRequest(typ, key, input)
	if err != nil {
		return nil, false, err
	}
	var res actorResult
	if err := c.do(ctx, http.MethodPut, "/v1/actors", nil, req, &res); err != nil {
		return nil, false, err
	}
	return res.Actor.normal(), res.Created, nil
}

// Create creates the actor of this type and key with input (nil for none). It
// fails with CodeActorExists (409) if the actor exists.
func (c *Client) Create(ctx context.Context, typ string, key []string, input any) (*Actor, error) {
	req, err := newActorRequest(typ, key, input)
	if err != nil {
		return nil, err
	}
	var res actorResult
	if err := c.do(ctx, http.MethodPost, "/v1/actors", nil, req, &res); err != nil {
		return nil, err
	}
	return res.Actor.normal(), nil
}

// Get looks up the live actor of this type and key. If it does not exist (or
// was destroyed), the error is an *Error with CodeActorNotFound and status
// 404, as GetByID returns. The key must have at least one part and no empty
// part (the server's lookup route cannot name those; use GetOrCreate).
func (c *Client) Get(ctx context.Context, typ string, key []string) (*Actor, error) {
	if typ == "" {
		return nil, errMissing("actor type")
	}
	// The lookup route names the key in repeated query parameters, which
	// cannot carry an empty key or an empty part (the server would list the
	// type instead): refuse rather than return another actor.
	if len(key) == 0 || slices.Contains(key, "") {
		return nil, fmt.Errorf("client: Get cannot look up a key that is empty or has an empty part; use GetOrCreate or GetByID")
	}
	q := url.Values{"type": {typ}, "key": key}
	var page ActorPage
	if err := c.do(ctx, http.MethodGet, "/v1/actors", q, nil, &page); err != nil {
		return nil, err
	}
	if len(page.Actors) == 0 || !slices.Equal(page.Actors[0].Key, key) {
		k, _ := json.Marshal(key)
		return nil, &Error{Status: http.StatusNotFound, Code: CodeActorNotFound, Group: errcode.GroupActor,
			Message: fmt.Sprintf("no %s actor with key %s", typ, k)}
	}
	return &page.Actors[0], nil
}

// GetByID returns the live actor with this ID; CodeActorNotFound if there is
// none (or it was destroyed), CodeInvalidActorID if id is not an actor ID.
func (c *Client) GetByID(ctx context.Context, id string) (*Actor, error) {
	if id == "" {
		return nil, errMissing("actor ID")
	}
	var a Actor
	if err := c.do(ctx, http.MethodGet, "/v1/actors/"+escape(id), nil, nil, &a); err != nil {
		return nil, err
	}
	return a.normal(), nil
}

// ListOptions pages through List.
type ListOptions struct {
	// Cursor continues after this actor ID: pass the previous page's
	// NextCursor. Defaults to the start.
	Cursor string
	// Limit is the page size; the server caps it (100 by default). Defaults
	// to the server's default.
	Limit int
}

// ActorPage is one page of List.
type ActorPage struct {
	// Actors are the page's live actors, in type-then-key order.
	Actors []Actor `json:"actors"`
	// NextCursor is the ListOptions.Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// List returns one page of the type's live actors, in type-then-key order. opts may be
// nil. Use All to walk every page.
func (c *Client) List(ctx context.Context, typ string, opts *ListOptions) (*ActorPage, error) {
	if typ == "" {
		return nil, errMissing("actor type")
	}
	q := url.Values{"type": {typ}}
	if opts != nil {
		if opts.Cursor != "" {
			q.Set("cursor", opts.Cursor)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
	}
	var page ActorPage
	if err := c.do(ctx, http.MethodGet, "/v1/actors", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// All iterates over every live actor of the type, one List page at a time.
// It stops after yielding an error.
//
//	for a, err := range c.All(ctx, "counter") { ... }
func (c *Client) All(ctx context.Context, typ string) iter.Seq2[Actor, error] {
	return func(yield func(Actor, error) bool) {
		var cursor string
		for {
			page, err := c.List(ctx, typ, &ListOptions{Cursor: cursor})
			if err != nil {
				yield(Actor{}, err)
				return
			}
			for _, a := range page.Actors {
				if !yield(a, nil) {
					return
				}
			}
			if page.NextCursor == "" || page.NextCursor == cursor {
				return
			}
			cursor = page.NextCursor
		}
	}
}

// Destroy destroys the actor: its onDestroy runs, a tombstone is appended to
// the log and its connections close. A later create with the same type and
// key starts a new generation.
func (c *Client) Destroy(ctx context.Context, id string) error {
	if id == "" {
		return errMissing("actor ID")
	}
	return c.do(ctx, http.MethodDelete, "/v1/actors/"+escape(id), nil, nil, nil)
}
