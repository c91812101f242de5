package api

import (
	"encoding/json"
	"net/http"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// ExportEvent is one event of an actor's history with everything a replay
// needs: the fields of GET /v1/actors/{id}/events plus the event's seed,
// call and idempotency IDs, KV writes, recorded steps and effects.
type ExportEvent struct {
	Event
	Seed           uint64         `json:"seed"`
	CallID         string         `json:"callId,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	KV             []ExportKV     `json:"kv,omitempty"`
	Steps          []ExportRecord `json:"steps,omitempty"`
	Effects        []ExportRecord `json:"effects,omitempty"`
}

// ExportKV is a KV write of an event. Key and value are JSON text when
// they are valid UTF-8 (a value: valid JSON), else base64 in keyBase64 or
// valueBase64.
type ExportKV struct {
	Key         string          `json:"key,omitempty"`
	KeyBase64   []byte          `json:"keyBase64,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 []byte          `json:"valueBase64,omitempty"`
	Delete      bool            `json:"delete,omitempty"`
}

// ExportRecord is a recorded step (a call's result, now, rand) or an
// effect (a send, a schedule) of an event: its name or type, and its data
// (JSON, else base64 in dataBase64).
type ExportRecord struct {
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 []byte          `json:"dataBase64,omitempty"`
}

// exportOf is the export form of an event.
func exportOf(ev *eventlog.Event) ExportEvent {
	out := ExportEvent{Event: eventOf(ev), Seed: ev.Seed, CallID: ev.CallID, IdempotencyKey: ev.IdempotencyKey}
	for _, kv := range ev.KV {
		x := ExportKV{Delete: kv.Delete}
		if utf8.Valid(kv.Key) {
			x.Key = string(kv.Key)
		} else {
			x.KeyBase64 = kv.Key
		}
		if !kv.Delete {
			if json.Valid(kv.Value) {
				x.Value = kv.Value
			} else {
				x.ValueBase64 = kv.Value
			}
		}
		out.KV = append(out.KV, x)
	}
	for _, st := range ev.Steps {
		out.Steps = append(out.Steps, record(st.Name, st.Data))
	}
	for _, ef := range ev.Effects {
		out.Effects = append(out.Effects, record(ef.Type, ef.Data))
	}
	return out
}

func record(name string, data []byte) ExportRecord {
	if len(data) == 0 || json.Valid(data) {
		return ExportRecord{Name: name, Data: data}
	}
	return ExportRecord{Name: name, DataBase64: data}
}

func (s *Server) registerExport() {
	s.mux.HandleFunc("GET /v1/actors/{id}/export", s.export)
	s.api.OpenAPI().AddOperation(&huma.Operation{OperationID: "exportActorHistory", Method: http.MethodGet, Path: "/v1/actors/{id}/export",
		Tags: []string{"actors"}, Summary: "Export an actor's whole history (JSON Lines)",
		Description: "Every event of the actor, oldest first, one `ExportEvent` JSON object per line (`application/x-ndjson`): " +
			"the fields of GET /v1/actors/{id}/events plus what a replay needs (seed, call and idempotency IDs, KV writes, recorded steps, effects). " +
			"A workflow run's history is its run actor's (`actorId` in GET /v1/workflows/{name}/runs/{runId}). The CLI: `rivet-flow history export ID > h.jsonl`.",
		Parameters: []*huma.Param{{Name: "id", In: "path", Required: true, Schema: &huma.Schema{Type: "string"}}},
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
			if err := enc.Encode(exportOf(ev)); err != nil {
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
