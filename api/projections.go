package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/projections"
)

// Projection is a projection's progress: how far it has folded the log.
type Projection struct {
	Name   string `json:"name" doc:"The projection's name; the built-in actor directory is actors" example:"actors"`
	Status string `json:"status" enum:"stopped,catching_up,rebuilding,live,retrying,failed" doc:"What it is doing: catching_up (scanning from its checkpoint), live (following the log), rebuilding (catching up after a rebuild; reads see partial rows), retrying (reading the log failed; error says why), failed (its fold failed at failedSeq; it stays stopped until a rebuild or a restart), stopped" example:"live"`
	// Checkpoint and Head are log sequences.
	Checkpoint uint64    `json:"checkpoint" doc:"The last log sequence folded and committed (0: none yet)" example:"1042"`
	Head       uint64    `json:"head" doc:"The log's last sequence" example:"1042"`
	Lag        uint64    `json:"lag" doc:"head minus checkpoint: the events not yet folded" example:"0"`
	Rows       int64     `json:"rows" doc:"The rows the projection holds" example:"17"`
	Applied    uint64    `json:"applied" doc:"Events folded (those its filter selects) since the server started" example:"1042"`
	FailedSeq  uint64    `json:"failedSeq,omitempty" doc:"The sequence of the event its fold failed on" example:"1043"`
	Error      string    `json:"error,omitempty" doc:"Why it failed (status failed) or the last read error (retrying)" example:"fold event 1043: invalid character 'x' looking for beginning of value"`
	FailedAt   time.Time `json:"failedAt,omitzero" doc:"When it failed" example:"2026-12-03T11:20:05.118274301Z"`
}

// projectionOf is a runner's status as the API shows it, with lag measured
// against the log's head when the caller read it (last; 0 if unknown).
func projectionOf(st projections.Status, last uint64) Projection {
	p := Projection{Name: st.Name, Status: string(st.State), Checkpoint: st.Checkpoint, Head: max(st.Head, last),
		Rows: st.Rows, Applied: st.Applied, FailedSeq: st.FailedSeq, Error: st.Error, FailedAt: st.FailedAt}
	if p.Head > p.Checkpoint {
		p.Lag = p.Head - p.Checkpoint
	}
	return p
}

type projectionName struct {
	Name string `path:"name" doc:"Projection name" example:"actors"`
}

type projectionList struct {
	Body struct {
		Projections []Projection `json:"projections"`
	}
}

type projectionOutput struct {
	Body Projection
}

type rowsInput struct {
	Name   string `path:"name" doc:"Projection name" example:"actors"`
	Prefix string `query:"prefix" doc:"Only rows whose key starts with this"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size"`
	Cursor string `query:"cursor" doc:"Continue after the previous page: pass its nextCursor"`
}

// ProjectionRow is one row of a projection: its key and its JSON value.
type ProjectionRow struct {
	Key   string          `json:"key" doc:"The row's key" example:"counter.kCm15LWNvdW50ZXI"`
	Value json.RawMessage `json:"value" doc:"The row, as the projection wrote it" example:"{\"id\":\"counter.kCm15LWNvdW50ZXI\",\"type\":\"counter\",\"key\":[\"my-counter\"],\"generation\":1,\"status\":\"active\",\"createdAt\":\"2026-12-03T11:14:56.989502928Z\",\"lastEventAt\":\"2026-12-03T11:14:57.012518099Z\",\"events\":2,\"lastSeq\":2}"`
}

type rowsOutput struct {
	Body struct {
		Rows       []ProjectionRow `json:"rows"`
		NextCursor string          `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last" example:"YWN0b3JzL2NvdW50ZXIua0NtMTVMV052ZFc1MFpYSQ"`
	}
}

// rebuildAnswerWithin bounds how long POST .../rebuild waits for the rebuild
// to begin (the projection cleared) before it answers 202 anyway.
const rebuildAnswerWithin = 5 * time.Second

func (s *Server) registerProjections() {
	tags := []string{"projections"}
	huma.Register(s.api, huma.Operation{
		OperationID: "listProjections", Method: http.MethodGet, Path: "/v1/projections", Tags: tags,
		Summary:     "List projections",
		Description: "Every read model the server folds from the event log (the built-in actor directory `actors` first, then the user projections), with its checkpoint, lag behind the log's head, status, row count and error, if any.",
	}, func(ctx context.Context, _ *struct{}) (*projectionList, error) {
		last := s.lastSeq(ctx)
		out := &projectionList{}
		sts := s.projs.List()
		out.Body.Projections = make([]Projection, len(sts))
		for i, st := range sts {
			out.Body.Projections[i] = projectionOf(st, last)
		}
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "getProjection", Method: http.MethodGet, Path: "/v1/projections/{name}", Tags: tags,
		Summary: "Get a projection's status", Description: "Poll it to follow a rebuild: status turns from `rebuilding` to `live` once it has caught up.",
	}, func(ctx context.Context, in *projectionName) (*projectionOutput, error) {
		st, err := s.projs.Status(in.Name)
		if err != nil {
			return nil, s.fromProjections(err)
		}
		return &projectionOutput{Body: projectionOf(st, s.lastSeq(ctx))}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "projectionRows", Method: http.MethodGet, Path: "/v1/projections/{name}/rows", Tags: tags,
		Summary:     "Read a projection's rows",
		Description: "The rows the projection has committed, in key order, `limit` at a time: each a key and the JSON value the projection wrote (the actor directory's rows are keyed by actor ID). Reads trail the log by the projection's lag.",
	}, func(ctx context.Context, in *rowsInput) (*rowsOutput, error) {
		page, err := s.projs.Rows(in.Name, in.Prefix, in.Limit, in.Cursor)
		if err != nil {
			return nil, s.fromProjections(err)
		}
		out := &rowsOutput{}
		out.Body.Rows = make([]ProjectionRow, len(page.Rows))
		for i, r := range page.Rows {
			out.Body.Rows[i] = ProjectionRow{Key: r.Key, Value: r.Value}
		}
		out.Body.NextCursor = page.NextCursor
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "rebuildProjection", Method: http.MethodPost, Path: "/v1/projections/{name}/rebuild", Tags: tags,
		DefaultStatus: http.StatusAccepted,
		Summary:       "Rebuild a projection from the log",
		Description: "Clears the projection's rows and checkpoint and folds the whole event log again, in the background. " +
			"Answers 202 with the projection's status as soon as the rebuild has begun (status `rebuilding`, or already `live` for a short log); " +
			"poll GET /v1/projections/{name} for progress (checkpoint against head) until status is `live`. " +
			"Reads during a rebuild see partial rows. A POST while a rebuild started here is running answers with its status and starts nothing.",
	}, s.rebuildProjection)
}

func (s *Server) rebuildProjection(ctx context.Context, in *projectionName) (*projectionOutput, error) {
	before, err := s.projs.Status(in.Name)
	if err != nil {
		return nil, s.fromProjections(err)
	}
	s.rebuildMu.Lock()
	running := s.rebuilds[in.Name]
	s.rebuilds[in.Name] = true
	s.rebuildMu.Unlock()
	if !running {
		done := make(chan error, 1)
		go s.runRebuild(in.Name, done)
		s.awaitRebuildBegun(ctx, in.Name, before.Checkpoint, done)
	}
	st, err := s.projs.Status(in.Name)
	if err != nil {
		return nil, s.fromProjections(err)
	}
	return &projectionOutput{Body: projectionOf(st, s.lastSeq(ctx))}, nil
}

// runRebuild rebuilds a projection until it has caught up, the server stops
// (CloseStreams; the runner resumes the rebuild from its checkpoint at its
// next start) or it fails (its status says why), then reports on done.
func (s *Server) runRebuild(name string, done chan<- error) {
	ctx, cancel := context.WithCancel(s.streams)
	defer cancel()
	start := time.Now()
	err := s.projs.Rebuild(ctx, name, nil)
	s.rebuildMu.Lock()
	delete(s.rebuilds, name)
	s.rebuildMu.Unlock()
	switch {
	case err == nil:
		s.lg.Info("projection rebuilt", "projection", name, "took", time.Since(start).Round(time.Millisecond).String())
	case ctx.Err() == nil:
		s.lg.Warn("projection rebuild failed", "projection", name, "err", err)
	}
	done <- err
}

// awaitRebuildBegun returns once the rebuild has cleared the projection (so
// that a GET after the answer sees it rebuilding or rebuilt), it has ended,
// the client went away, or rebuildAnswerWithin passed.
func (s *Server) awaitRebuildBegun(ctx context.Context, name string, before uint64, done <-chan error) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	limit := time.NewTimer(rebuildAnswerWithin)
	defer limit.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-limit.C:
			return
		case <-tick.C:
			st, err := s.projs.Status(name)
			if err != nil || st.State == projections.StateRebuilding || st.Checkpoint < before {
				return
			}
		}
	}
}

// lastSeq is the log's last sequence, or 0 if the log cannot say.
func (s *Server) lastSeq(ctx context.Context) uint64 {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		return 0
	}
	return last
}

// awaitDirectory waits, at most ListWait, until the actor directory has
// folded the log up to its head as of now, so that a listing sees the
// actors its caller just created or destroyed (read-your-writes). Past the
// bound, or if the directory failed, the listing answers from what the
// directory holds.
func (s *Server) awaitDirectory(ctx context.Context) {
	last, err := s.log.LastSeq(ctx)
	if err != nil {
		s.lg.Warn("list actors: cannot read the log's head; listing the directory as it is", "err", err)
		return
	}
	wctx, cancel := context.WithTimeout(ctx, s.opts.ListWait)
	defer cancel()
	if err := s.projs.Wait(wctx, projections.DirectoryName, last); err != nil && ctx.Err() == nil {
		s.lg.Warn("list actors: the actor directory is behind the log; listing what it holds", "err", err)
	}
}

// fromProjections turns a runner error into an API error.
func (s *Server) fromProjections(err error) *Error {
	switch {
	case errors.Is(err, projections.ErrNotFound):
		return errorOf(errcode.ProjectionNotFound, err.Error(), nil)
	case errors.Is(err, projections.ErrInvalid) && strings.Contains(err.Error(), ": cursor "):
		// projections says "invalid projection argument: cursor %q" for a
		// cursor that does not decode (it exports no error of its own).
		return invalidCursor("cursor", "cursor "+strings.TrimPrefix(err.Error(), projections.ErrInvalid.Error()+": cursor ")+" is not a cursor of this listing")
	case errors.Is(err, projections.ErrInvalid):
		return errorOf(errcode.InvalidRequest, err.Error(), nil)
	case errors.Is(err, projections.ErrClosed):
		e := errorOf(errcode.Stopping, "the server is shutting down", nil)
		e.retryAfter = 1
		return e
	case errors.Is(err, context.Canceled):
		return errorOf(errcode.ClientClosed, "the client went away", nil)
	}
	s.lg.Error("projections", "err", err)
	return errorOf(errcode.InternalError, "internal error", nil)
}
