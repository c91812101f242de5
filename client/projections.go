package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeProjectionNotFound (404): the server runs no projection of this name.
const CodeProjectionNotFound = string(errcode.ProjectionNotFound)

// DirectoryProjection is the name of the built-in actor directory projection.
const DirectoryProjection = "actors"

// Projection states (Projection.Status).
const (
	ProjectionStopped    = "stopped"
	ProjectionCatchingUp = "catching_up"
	ProjectionRebuilding = "rebuilding"
	ProjectionLive       = "live"
	ProjectionRetrying   = "retrying"
	ProjectionFailed     = "failed"
)

// Projection is a read model's progress over the server's event log.
type Projection struct {
	// Name is the projection's name ("actors" for the actor directory).
	Name string `json:"name"`
	// Status is what it is doing: one of the Projection* states.
	Status string `json:"status"`
	// Checkpoint is the last log sequence folded and committed.
	Checkpoint uint64 `json:"checkpoint"`
	// Head is the log's last sequence.
	Head uint64 `json:"head"`
	// Lag is Head minus Checkpoint.
	Lag uint64 `json:"lag"`
	// Rows is the number of rows it holds.
	Rows int64 `json:"rows"`
	// Applied counts the events folded since the server started.
	Applied uint64 `json:"applied"`
	// FailedSeq is the sequence of the event its fold failed on.
	FailedSeq uint64 `json:"failedSeq,omitempty"`
	// Error says why it failed (or, retrying, the last read error).
	Error string `json:"error,omitempty"`
	// FailedAt is when it failed.
	FailedAt time.Time `json:"failedAt,omitzero"`
}

// Projections lists the server's projections, the actor directory first.
func (c *Client) Projections(ctx context.Context) ([]Projection, error) {
	var res struct {
		Projections []Projection `json:"projections"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/projections", nil, nil, &res); err != nil {
		return nil, err
	}
	return res.Projections, nil
}

// Projection returns one projection's status; CodeProjectionNotFound if the
// server runs none of this name.
func (c *Client) Projection(ctx context.Context, name string) (*Projection, error) {
	if name == "" {
		return nil, errMissing("projection name")
	}
	var p Projection
	if err := c.do(ctx, http.MethodGet, "/v1/projections/"+escape(name), nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// RebuildProjection starts a rebuild of the projection from the log and
// returns its status once the rebuild has begun; it does not wait for the
// rebuild to finish: poll Projection until Status is ProjectionLive.
func (c *Client) RebuildProjection(ctx context.Context, name string) (*Projection, error) {
	if name == "" {
		return nil, errMissing("projection name")
	}
	var p Projection
	if err := c.do(ctx, http.MethodPost, "/v1/projections/"+escape(name)+"/rebuild", nil, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ProjectionRow is one row of a projection.
type ProjectionRow struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// RowsOptions selects a page of ProjectionRows.
type RowsOptions struct {
	// Prefix keeps the rows whose key starts with it.
	Prefix string
	// Limit is the page size (the server caps it at 1000); 0: the server's default (100).
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// RowsPage is a page of a projection's rows, in key order.
type RowsPage struct {
	Rows []ProjectionRow `json:"rows"`
	// NextCursor is the RowsOptions.Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// ProjectionRows returns a page of the projection's committed rows. opts
// may be nil.
func (c *Client) ProjectionRows(ctx context.Context, name string, opts *RowsOptions) (*RowsPage, error) {
	if name == "" {
		return nil, errMissing("projection name")
	}
	q := url.Values{}
	if opts != nil {
		if opts.Prefix != "" {
			q.Set("prefix", opts.Prefix)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Cursor != "" {
			q.Set("cursor", opts.Cursor)
		}
	}
	var page RowsPage
	if err := c.do(ctx, http.MethodGet, "/v1/projections/"+escape(name)+"/rows", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// ActorInfo is an actor as the server's actor directory lists it.
type ActorInfo struct {
	Actor
	// Status is "active" or "destroyed".
	Status string `json:"status"`
	// CreatedAt is when the current generation was created.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// DestroyedAt is when it was destroyed (Status "destroyed").
	DestroyedAt time.Time `json:"destroyedAt,omitzero"`
	// LastEventAt is the time of its last event.
	LastEventAt time.Time `json:"lastEventAt,omitzero"`
	// Events counts its events in the log, every generation.
	Events uint64 `json:"events"`
	// Awake reports whether the actor was in memory on the node that
	// answered, when it answered.
	Awake bool `json:"awake"`
}

// ActorQuery selects a page of ListActors. The zero value lists the active
// actors of every type.
type ActorQuery struct {
	// Type restricts the listing to one type.
	Type string
	// Prefix keeps the actors whose key starts with these whole parts.
	Prefix []string
	// Status is "active" (the default), "destroyed" or "all".
	Status string
	// Awake, if set, keeps only the actors in memory on the node (true) or
	// only those asleep (false). A filtered page looks at a bounded number
	// of actors, so it can be short (even empty) with a NextCursor: keep
	// paging until NextCursor is empty.
	Awake *bool
	// Limit is the page size; the server caps it (100 by default).
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// ActorInfoPage is a page of ListActors.
type ActorInfoPage struct {
	// Actors are in type, then key order.
	Actors []ActorInfo `json:"actors"`
	// NextCursor is the ActorQuery.Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// ListActors returns a page of the server's actor directory: across types or
// one, by key prefix and status. The listing includes the caller's own
// earlier creates and destroys. q may be nil.
func (c *Client) ListActors(ctx context.Context, q *ActorQuery) (*ActorInfoPage, error) {
	v := url.Values{}
	if q != nil {
		if q.Type != "" {
			v.Set("type", q.Type)
		}
		if len(q.Prefix) > 0 {
			v["prefix"] = q.Prefix
		}
		if q.Status != "" {
			v.Set("status", q.Status)
		}
		if q.Awake != nil {
			v.Set("awake", strconv.FormatBool(*q.Awake))
		}
		if q.Limit > 0 {
			v.Set("limit", strconv.Itoa(q.Limit))
		}
		if q.Cursor != "" {
			v.Set("cursor", q.Cursor)
		}
	}
	var page ActorInfoPage
	if err := c.do(ctx, http.MethodGet, "/v1/actors", v, nil, &page); err != nil {
		return nil, err
	}
	for i := range page.Actors {
		page.Actors[i].normal()
	}
	return &page, nil
}
