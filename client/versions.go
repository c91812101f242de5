package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeMalformedRequest (400): the request cannot be read, for example a
// Versions type that is not a valid type name.
const CodeMalformedRequest = string(errcode.MalformedRequest)

// Kinds of a CodeVersion.
const (
	// VersionKindActor: actors, open from their create to their destroy.
	VersionKindActor = "actor"
	// VersionKindWorkflow: workflow runs, open until they complete, fail or
	// are cancelled.
	VersionKindWorkflow = "workflow"
)

// CodeVersion is one code version of an actor type or workflow and how many
// of its actors or runs are open with it.
type CodeVersion struct {
	// Type is the actor type or workflow name.
	Type string `json:"type"`
	// CodeVersion is the version the last event of these actors or runs recorded.
	CodeVersion string `json:"codeVersion"`
	// Kind is VersionKindActor or VersionKindWorkflow.
	Kind string `json:"kind"`
	// Open counts the actors or runs open with this version; 0 (with
	// VersionsQuery.All) means the version can be retired.
	Open uint64 `json:"open"`
}

// VersionsQuery selects what Versions lists. The zero value lists every
// type's versions that have open actors or runs.
type VersionsQuery struct {
	// Type restricts the listing to one actor type or workflow.
	Type string
	// All also lists the versions no open actor or run has any more (Open 0).
	All bool
}

// Versions lists the code versions in use, sorted by type then version, so
// that an old version can be retired once no actor or run is open with it.
// q may be nil. A Type the server's log has never seen lists nothing; an
// invalid one is CodeMalformedRequest.
func (c *Client) Versions(ctx context.Context, q *VersionsQuery) ([]CodeVersion, error) {
	v := url.Values{}
	if q != nil {
		if q.Type != "" {
			v.Set("type", q.Type)
		}
		if q.All {
			v.Set("all", "true")
		}
	}
	var res struct {
		Versions []CodeVersion `json:"versions"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/versions", v, nil, &res); err != nil {
		return nil, err
	}
	return res.Versions, nil
}
