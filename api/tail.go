package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// LogEvent is an event of any actor, as the log tail streams it.
type LogEvent struct {
	ActorID string `json:"actorId"`
	Event
}

func (s *Server) registerTail() {
	s.mux.HandleFunc("GET /v1/events/tail", s.tail)
	s.api.OpenAPI().AddOperation(&huma.Operation{OperationID: "tailEvents", Method: http.MethodGet, Path: "/v1/events/tail",
		Tags: []string{"realtime"}, Summary: "Stream the event log (Server-Sent Events)",
		Description: "Every event appended to the log, as `event: event` with a JSON `LogEvent`, from sequence `after`+1 (default: only new events), optionally only actors of `type`. Follows the log until the client disconnects; a slow reader slows the stream, nothing is buffered without bound.",
		Parameters: []*huma.Param{
			{Name: "after", In: "query", Schema: &huma.Schema{Type: "integer"}},
			{Name: "type", In: "query", Schema: &huma.Schema{Type: "string"}},
		},
		Responses: map[string]*huma.Response{"200": {Description: "text/event-stream"}, "400": {Description: "Bad parameter"},
			"429": {Description: "too_many_tails: as many tails are open as the server allows (Retry-After)"}},
	})
}

func (s *Server) tail(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, newError(http.StatusInternalServerError, errcode.GroupAPI, errcode.InternalError, "streaming unsupported", nil))
		return
	}
	q := r.URL.Query()
	var from uint64
	if a := q.Get("after"); a != "" {
		n, err := strconv.ParseUint(a, 10, 64)
		if err != nil {
			writeError(w, invalidCursor("after", "after "+strconv.Quote(a)+" is not a log sequence number"))
			return
		}
		from = n + 1
	}
	if from == 0 {
		// "Only new events" starts right after the log's end as of now, so
		// nothing appended while the stream opens is missed.
		last, err := s.log.LastSeq(r.Context())
		if err != nil {
			s.lg.Error("tail the log", "err", err)
			writeError(w, errorOf(errcode.LogUnavailable, "the event log is not available; retry", nil))
			return
		}
		from = last + 1
	}
	var filters []string
	if t := q.Get("type"); t != "" {
		f, err := eventlog.TypeFilter(t)
		if err != nil {
			// 400, not Huma's 422: the status this route always had (clients test it).
			e := invalidParam("type", err.Error())
			e.Status, e.Title = http.StatusBadRequest, http.StatusText(http.StatusBadRequest)
			writeError(w, e)
			return
		}
		filters = []string{f}
	}
	select {
	case s.tails <- struct{}{}:
		defer func() { <-s.tails }()
	default:
		e := errorOf(errcode.TooManyTails, fmt.Sprintf("%d event log tails are open, the server's limit; retry later", s.opts.MaxTails), nil)
		e.retryAfter = 1
		writeError(w, e)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, ": tailing the event log\n\n")
	flusher.Flush()
	ctx, cancel := s.streamContext(r)
	defer cancel()
	beat := time.NewTicker(s.opts.Heartbeat)
	defer beat.Stop()
	events := make(chan *eventlog.Event)
	done := make(chan error, 1)
	go func() {
		done <- s.log.Tail(ctx, filters, from, func(ev *eventlog.Event) error {
			select {
			case events <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			return
		case err := <-done:
			if err != nil {
				s.lg.Error("tail the log", "err", err)
				fmt.Fprintf(w, "event: error\ndata: %s\n\n", mustJSON(map[string]string{"message": "the log tail failed"}))
				flusher.Flush()
			}
			return
		case <-beat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
			flusher.Flush()
		case ev := <-events:
			le := LogEvent{ActorID: ev.Subject[len(eventlog.SubjectPrefix)+1:], Event: eventOf(ev)}
			fmt.Fprintf(w, "id: %d\nevent: event\ndata: %s\n\n", ev.Seq, mustJSON(le))
			flusher.Flush()
		}
	}
}
