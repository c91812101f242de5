package api

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
)

// CodeVersion is one code version of an actor type or workflow and how many
// of its actors or runs are still open with it.
type CodeVersion struct {
	Type        string `json:"type" doc:"Actor type, or workflow name" example:"counter"`
	CodeVersion string `json:"codeVersion" doc:"The code version (actors.Options.CodeVersion, workflows.Options.CodeVersion) recorded in the last event of these actors or runs" example:"1"`
	Kind        string `json:"kind" enum:"actor,workflow" doc:"actor: open from its create to its destroy; workflow: a run, open until it completes, fails or is cancelled (a ContinueAsNew keeps it open)" example:"actor"`
	Open        uint64 `json:"open" doc:"Actors or runs open with this version. 0 (listed with all=true): none is, the version can be retired" example:"12"`
}

type versionsInput struct {
	Type string `query:"type" doc:"Only this actor type or workflow (a name the log has never seen lists nothing)" example:"counter"`
	All  bool   `query:"all" doc:"Also list the versions no open actor or run has any more (open 0): those that can be retired"`
}

type versionsOutput struct {
	Body struct {
		Versions []CodeVersion `json:"versions"`
	}
}

// registerVersions serves GET /v1/versions (issue 19: code versions in use).
func (s *Server) registerVersions() {
	huma.Register(s.api, huma.Operation{
		OperationID: "listCodeVersions", Method: http.MethodGet, Path: "/v1/versions", Tags: []string{"projections"},
		Summary: "List the code versions in use",
		Description: "Which code versions still have open actors and workflow runs, per actor type or workflow, sorted by type then version " +
			"(numbers compare as numbers: 2 before 10). An actor's version is the one its last event recorded: a `$migrate` moves it to the new one. " +
			"An actor is open from its create to its destroy; a workflow run until it completes, fails or is cancelled. " +
			"A version whose `open` has dropped to 0 (listed with `all=true`) is no longer needed by any actor or run: its code can be retired. " +
			"Read from the built-in `versions` projection (GET /v1/projections/versions shows its lag); the answer includes the caller's own earlier writes.",
	}, s.listVersions)
}

func (s *Server) listVersions(ctx context.Context, in *versionsInput) (*versionsOutput, error) {
	if in.Type != "" {
		if err := eventlog.ValidateType(in.Type); err != nil {
			return nil, errorOf(errcode.MalformedRequest, "type: "+err.Error(), nil)
		}
	}
	s.awaitProjection(ctx, projections.VersionsName)
	list, err := s.projs.Versions().List(projections.VersionsQuery{Type: in.Type, All: in.All})
	if err != nil {
		return nil, s.fromProjections(err)
	}
	out := &versionsOutput{}
	out.Body.Versions = make([]CodeVersion, len(list))
	for i, v := range list {
		out.Body.Versions[i] = CodeVersion{Type: v.Type, CodeVersion: v.CodeVersion, Kind: string(v.Kind), Open: v.Open}
	}
	return out, nil
}

// awaitProjection waits, at most ListWait, until the projection has folded
// the log up to its head as of now (read-your-writes), as awaitDirectory
// does for the directory; past the bound it answers from what it holds.
func (s *Server) awaitProjection(ctx context.Context, name string) {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		s.lg.Warn("cannot read the log's head; answering from the projection as it is", "projection", name, "err", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, s.opts.ListWait)
	defer cancel()
	if err := s.projs.Wait(wctx, name, last); err != nil && ctx.Err() == nil {
		s.lg.Warn("the projection is behind the log; answering from what it holds", "projection", name, "err", err)
	}
}
