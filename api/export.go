package api

import (
	"encoding/json"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// ExportEvent is one event of an actor's history with everything a replay
// needs (history.ExportEvent).
type ExportEvent = history.ExportEvent

// ExportKV is a KV write of an exported event.
type ExportKV = history.ExportKV

// ExportRecord is a recorded step or an effect of an exported event.
type ExportRecord = history.ExportRecord

func (s *Server) registerExport() {
	s.mux.HandleFunc("GET /v1/actors/{id}/export", s.export)
	s.api.OpenAPI().AddOperation(&huma.Operation{OperationID: "exportActorHistory", Method: http.MethodGet, Path: "/v1/actors/{id}/export",
		Tags: []string{"actors"}, Summary: "Export an actor's whole history (JSON Lines)",
		Description: "Every event of the actor, oldest first, one `ExportEvent` JSON object per line (`application/x-ndjson`): " +
			"the fields of GET /v1/actors/{id}/events plus the actor's ID (`actorId`) and what a replay needs (seed, call and idempotency IDs, KV writes, recorded steps, effects). " +
			"A workflow run's history is its run actor's (`actorId` in GET /v1/workflows/{name}/runs/{runId}). The CLI: `rivet-flow history export ID > h.jsonl`; replay it with `rivet-flow replay --history h.jsonl`.",
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Example: "counter.kCm15LWNvdW50ZXI", Schema: &huma.Schema{Type: "string"}}},
		Responses: map[string]*huma.Response{"200": {Description: "application/x-ndjson: one ExportEvent per line"},
			"400": {Description: "invalid_id: the ID is not an actor ID"}, "404": {Description: "actor_not_found: no events for this ID"}},
	})
}

// export streams an actor's history as JSON Lines, a page of the log at a
// time, flushing after each page.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	typ, key, err := actors.ParseID(id)
	if err != nil {
		writeError(w, fromActors(err))
		return
	}
	subject, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		writeError(w, fromActors(actors.ErrInvalidID))
		return
	}
	ctx := r.Context()
	var after uint64
	started := false
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<" stays "<": KV values read back as written
	for {
		evs, more, err := s.log.ReadActorPage(ctx, subject, after, s.opts.MaxHistory)
		if err != nil {
			s.lg.Error("export history", "actor", id, "err", err)
			if !started {
				writeError(w, fromActors(err))
			}
			return // mid-stream: the client sees a short export (no final newline check)
		}
		if !started {
			if len(evs) == 0 {
				writeError(w, fromActors(actors.ErrNotFound))
				return
			}
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		for _, ev := range evs {
			if err := enc.Encode(history.Export(id, ev)); err != nil {
				return // the client went away
			}
		}
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if !more || len(evs) == 0 {
			return
		}
		after = evs[len(evs)-1].Seq
	}
}
