package api

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// GET /gateway/{actor}/inspector/traces?startMs&endMs&limit: the actor's
// events in the window, from its log, as OTLP/JSON spans (the
// ExportTraceServiceRequest shape RivetKit's @rivetkit/traces answers).
// Each event is one span: its name is the action (or the system event,
// "$create", "$wake", ...), it starts at the event's time (when the call
// began) and ends when the log stored it. The earliest limit spans of the
// window are answered; clamped says more were left out (or limit was over
// inspMaxTraceLimit, RivetKit's read limit).

const inspMaxTraceLimit = 10_000

type otlpAnyValue struct {
	StringValue *string `json:"stringValue,omitempty"`
	IntValue    *string `json:"intValue,omitempty"`
}

type otlpKeyValue struct {
	Key   string       `json:"key"`
	Value otlpAnyValue `json:"value"`
}

func otlpString(k, v string) otlpKeyValue {
	return otlpKeyValue{Key: k, Value: otlpAnyValue{StringValue: &v}}
}

func otlpInt(k string, v int64) otlpKeyValue {
	s := strconv.FormatInt(v, 10)
	return otlpKeyValue{Key: k, Value: otlpAnyValue{IntValue: &s}}
}

type otlpSpan struct {
	TraceID           string         `json:"traceId"`
	SpanID            string         `json:"spanId"`
	Name              string         `json:"name"`
	Kind              int            `json:"kind"`
	StartTimeUnixNano string         `json:"startTimeUnixNano"`
	EndTimeUnixNano   string         `json:"endTimeUnixNano"`
	Attributes        []otlpKeyValue `json:"attributes,omitempty"`
	Status            map[string]int `json:"status"`
}

type otlpScopeSpans struct {
	Scope map[string]string `json:"scope"`
	Spans []otlpSpan        `json:"spans"`
}

type otlpResourceSpans struct {
	Resource   map[string][]otlpKeyValue `json:"resource"`
	ScopeSpans []otlpScopeSpans          `json:"scopeSpans"`
}

type otlpExport struct {
	ResourceSpans []otlpResourceSpans `json:"resourceSpans"`
}

// OTLP span kinds.
const (
	otlpKindInternal = 1
	otlpKindServer   = 2
)

func (s *Server) inspTraces(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	startMs := queryInt(r, "startMs", 0)
	endMs := queryInt(r, "endMs", time.Now().UnixMilli())
	limit := queryInt(r, "limit", 1000)
	clamped := limit > inspMaxTraceLimit
	limit = min(limit, inspMaxTraceLimit)
	subject, err := eventlog.ActorRef{Type: h.Type(), Key: h.Key()}.Subject()
	if err != nil {
		writeGatewayError(w, fromActors(actors.ErrInvalidID))
		return
	}
	var spans []otlpSpan
	if limit > 0 && endMs > startMs {
		var more bool
		spans, more, err = s.traceSpans(r.Context(), h, subject, time.UnixMilli(startMs), time.UnixMilli(endMs), int(limit))
		if err != nil {
			s.lg.Error("inspector traces: read the log", "actor", h.ID, "err", err)
			writeGatewayError(w, fromActors(err))
			return
		}
		clamped = clamped || more
	}
	if spans == nil {
		spans = []otlpSpan{}
	}
	_, key := actors.SplitNamespace(h.Key())
	resource := map[string][]otlpKeyValue{"attributes": {
		otlpString("service.name", "rivet-flow"),
		otlpString("rivet.actor.id", h.ID),
		otlpString("rivet.actor.name", h.Type()),
		otlpString("rivet.actor.key", serializeKey(key)),
	}}
	writeJSONStatus(w, http.StatusOK, map[string]any{
		"otlp": otlpExport{ResourceSpans: []otlpResourceSpans{{Resource: resource,
			ScopeSpans: []otlpScopeSpans{{Scope: map[string]string{"name": "rivet-flow.actor-log"}, Spans: spans}}}}},
		"clamped": clamped,
	})
}

// traceSpans reads the actor's events whose time is in [start, end) and
// returns the first limit as spans, and whether more remained. The log is
// read from the first event at or after start (found by bisecting the
// log's sequences: events are in log order, and their times follow it), so
// a window over recent events does not read the whole history.
func (s *Server) traceSpans(ctx context.Context, h *actors.Handle, subject string, start, end time.Time, limit int) ([]otlpSpan, bool, error) {
	after, err := s.firstAtOrAfter(ctx, subject, start)
	if err != nil {
		return nil, false, err
	}
	var spans []otlpSpan
	for {
		evs, more, err := s.log.ReadActorPage(ctx, subject, after, s.opts.MaxHistory)
		if err != nil {
			return nil, false, err
		}
		for _, ev := range evs {
			after = ev.Seq
			if ev.Time.Before(start) {
				continue
			}
			if !ev.Time.Before(end) {
				return spans, false, nil // later events are later still
			}
			if len(spans) == limit {
				return spans, true, nil
			}
			spans = append(spans, eventSpan(subject, ev))
		}
		if !more || len(evs) == 0 {
			return spans, false, nil
		}
	}
}

// firstAtOrAfter returns a log sequence to read the actor's events after so
// that the first one read is the first whose time is at or after start (0:
// from the beginning). It bisects the stream's sequences up to the actor's
// last event, reading one event per step.
func (s *Server) firstAtOrAfter(ctx context.Context, subject string, start time.Time) (uint64, error) {
	first, _, err := s.log.ReadActorPage(ctx, subject, 0, 1)
	if err != nil || len(first) == 0 || !first[0].Time.Before(start) {
		return 0, err
	}
	last, err := s.log.LastSubjectSeq(ctx, subject)
	if err != nil {
		return 0, err
	}
	// Invariant: lo is the sequence of an event before start, and the last
	// such event (the answer) is at lo or later but at hi or earlier.
	lo, hi := first[0].Seq, last
	for lo < hi {
		mid := lo + (hi-lo)/2
		evs, _, err := s.log.ReadActorPage(ctx, subject, mid, 1)
		if err != nil {
			return 0, err
		}
		if len(evs) == 0 || !evs[0].Time.Before(start) {
			hi = mid
		} else {
			lo = evs[0].Seq
		}
	}
	return lo, nil
}

// eventSpan is one event as an OTLP span: trace and span IDs derived from
// the actor and the event's sequence, so a span keeps its IDs across reads.
func eventSpan(subject string, ev *eventlog.Event) otlpSpan {
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], ev.Seq)
	sum := sha256.Sum256(append([]byte(subject+"\x00"), seq[:]...))
	kind := otlpKindInternal
	if ev.Kind == eventlog.KindAction {
		kind = otlpKindServer
	}
	endAt := ev.Stored
	if endAt.Before(ev.Time) {
		endAt = ev.Time
	}
	attrs := []otlpKeyValue{
		otlpInt("rivet.event.seq", int64(ev.Seq)),
		otlpString("rivet.event.kind", eventKindName(ev.Kind)),
		otlpInt("rivet.event.generation", int64(ev.Generation)),
	}
	if ev.Caller != "" {
		attrs = append(attrs, otlpString("rivet.event.caller", ev.Caller))
	}
	if ev.CodeVersion != "" {
		attrs = append(attrs, otlpString("rivet.event.code_version", ev.CodeVersion))
	}
	if ev.HasState || len(ev.Patch) > 0 {
		attrs = append(attrs, otlpString("rivet.event.state_changed", "true"))
	}
	if n := len(ev.Broadcasts); n > 0 {
		names := make([]string, n)
		for i, b := range ev.Broadcasts {
			names[i] = b.Name
		}
		attrs = append(attrs, otlpString("rivet.event.broadcasts", strings.Join(names, ",")))
	}
	if n := len(ev.KV); n > 0 {
		attrs = append(attrs, otlpInt("rivet.event.kv_writes", int64(n)))
	}
	return otlpSpan{
		TraceID: hex.EncodeToString(sum[:16]), SpanID: hex.EncodeToString(seq[:]),
		Name: ev.Action, Kind: kind,
		StartTimeUnixNano: strconv.FormatInt(ev.Time.UnixNano(), 10),
		EndTimeUnixNano:   strconv.FormatInt(endAt.UnixNano(), 10),
		Attributes:        attrs,
		Status:            map[string]int{"code": 1}, // OK: the log holds what succeeded
	}
}

func eventKindName(k eventlog.Kind) string {
	switch k {
	case eventlog.KindCreate:
		return "create"
	case eventlog.KindAction:
		return "action"
	case eventlog.KindDestroy:
		return "destroy"
	case eventlog.KindSystem:
		return "system"
	}
	return strconv.Itoa(int(k))
}
