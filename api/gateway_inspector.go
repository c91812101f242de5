package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// RivetKit's actor inspector over HTTP: /gateway/{actor}/inspector/...,
// answered from the running actor (its mailbox, its log), in the shapes of
// RivetKit's own router (src/actor/router.ts, src/inspector/actor-inspector.ts).
// The bodies are plain JSON, not the client's encoding: the inspector is
// called with fetch. Auth: Options.InspectorToken (see inspectorAuth).
//
// Not served: the SQLite routes (database/*; rivet-flow actors have no SQL
// database) answer database/not_enabled. Workflow history is null and replay
// workflow_not_enabled for every type here: workflow-backed types are not
// inspected yet.

func (s *Server) registerInspector() {
	for _, r := range []struct {
		route string
		h     func(w http.ResponseWriter, r *http.Request, h *actors.Handle)
	}{
		{"GET /inspector/state", s.inspState},
		{"PATCH /inspector/state", s.inspSetState},
		{"GET /inspector/connections", s.inspConnections},
		{"GET /inspector/rpcs", s.inspRPCs},
		{"POST /inspector/action/{name}", s.inspAction},
		{"GET /inspector/queue", s.inspQueue},
		{"GET /inspector/traces", s.inspTraces},
		{"GET /inspector/workflow-history", s.inspWorkflowHistory},
		{"POST /inspector/workflow/replay", s.inspWorkflowReplay},
		{"GET /inspector/summary", s.inspSummary},
		{"GET /inspector/metrics", s.inspMetrics},
		{"GET /inspector/database/schema", s.inspNoDatabase},
		{"GET /inspector/database/rows", s.inspNoDatabase},
		{"POST /inspector/database/execute", s.inspNoDatabase},
	} {
		method, path, _ := strings.Cut(r.route, " ")
		s.handleGateway(method+" /gateway/{target}"+path, s.inspector(r.h))
	}
}

// inspector checks the inspector's auth, then resolves the target (an
// unauthorized request creates nothing) and runs h.
func (s *Server) inspector(h func(w http.ResponseWriter, r *http.Request, h *actors.Handle)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if e := s.inspectorAuth(r); e != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rivet-flow inspector"`)
			writeGatewayError(w, e)
			return
		}
		handle, e := s.gwTarget(r)
		if e != nil {
			writeGatewayError(w, e)
			return
		}
		h(w, r, handle)
	}
}

// inspectorAuth admits Authorization: Bearer <inspector token>, or the API
// token (however the gateway accepts it). With neither token configured the
// inspector is open only on a loopback-only server (RivetKit's dev mode).
func (s *Server) inspectorAuth(r *http.Request) *Error {
	it, api := s.opts.InspectorToken, s.opts.Token
	if it == "" && api == "" {
		if s.opts.InspectorLoopback {
			return nil
		}
		return errorOf(errcode.Unauthorized, "the inspector is closed: the server listens beyond loopback and no inspector token is set; set --inspector-token (RIVETFLOW_INSPECTOR_TOKEN) and send it as Authorization: Bearer <token>", nil)
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if it != "" && ok && subtle.ConstantTimeCompare([]byte(bearer), []byte(it)) == 1 {
		return nil
	}
	if api != "" && s.tokenOK(r) {
		return nil
	}
	return errorOf(errcode.Unauthorized, "missing or wrong inspector token: send Authorization: Bearer <inspector token> (or the API token)", nil)
}

// inspError writes an inspector error in RivetKit's body with its status.
func inspError(w http.ResponseWriter, status int, group, code, message string) {
	writeJSONStatus(w, status, gwError{Group: group, Code: code, Message: message})
}

func (s *Server) inspState(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	in, err := h.Inspect(r.Context())
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"state": in.State, "isStateEnabled": true})
}

func (s *Server) inspSetState(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	var body struct {
		State json.RawMessage `json:"state"`
	}
	data, err := s.readBody(w, r)
	if bodyTimedOut(err) {
		writeGatewayError(w, s.bodyTimeoutError())
		return
	}
	if err == nil {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		writeGatewayError(w, bodyError(err))
		return
	}
	if len(body.State) == 0 {
		writeGatewayError(w, errorOf(errcode.InvalidArgs, `the body must be {"state": <the new state>}`, nil))
		return
	}
	if err := h.ReplaceState(r.Context(), body.State); err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"ok": true})
}

// inspConn is a connection in RivetKit's inspector shape.
type inspConn struct {
	Type    string         `json:"type,omitempty"`
	ID      string         `json:"id"`
	Details inspConnDetail `json:"details"`
}

type inspConnDetail struct {
	Type           string          `json:"type,omitempty"`
	Params         json.RawMessage `json:"params,omitempty"`
	StateEnabled   bool            `json:"stateEnabled"`
	State          json.RawMessage `json:"state,omitempty"`
	Subscriptions  int             `json:"subscriptions"`
	IsHibernatable bool            `json:"isHibernatable"`
}

func inspConns(in []actors.ConnInfo) []inspConn {
	out := make([]inspConn, 0, len(in))
	for _, c := range in {
		out = append(out, inspConn{Type: c.Transport, ID: c.ID, Details: inspConnDetail{Type: c.Transport, Params: c.Params,
			StateEnabled: c.State != nil, State: c.State, Subscriptions: c.Subscriptions}})
	}
	return out
}

func (s *Server) inspConnections(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	in, err := h.Inspect(r.Context())
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"connections": inspConns(in.Connections)})
}

func (s *Server) inspRPCs(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	writeJSONStatus(w, http.StatusOK, map[string]any{"rpcs": h.ActionNames()})
}

// inspAction runs an action as an HTTP action call does (a stateless
// connection without params: the connection hooks run), with plain JSON
// arguments and output.
func (s *Server) inspAction(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	var body struct {
		Args []json.RawMessage `json:"args"`
	}
	data, err := s.readBody(w, r)
	if bodyTimedOut(err) {
		writeGatewayError(w, s.bodyTimeoutError())
		return
	}
	if err == nil && len(data) > 0 {
		err = json.Unmarshal(data, &body)
	}
	if err != nil {
		writeGatewayError(w, bodyError(err))
		return
	}
	args := []byte("[]")
	if body.Args != nil {
		args, _ = json.Marshal(body.Args)
	}
	out, err := h.StatelessAction(actors.WithRequest(r.Context(), r), nil, r.PathValue("name"), args)
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]json.RawMessage{"output": out})
}

// queryInt reads an integer query parameter, def when absent or malformed
// (RivetKit's parseInt fallbacks).
func queryInt(r *http.Request, name string, def int64) int64 {
	v, err := strconv.ParseInt(r.URL.Query().Get(name), 10, 64)
	if err != nil {
		return def
	}
	return v
}

type inspQueueMessage struct {
	ID          uint64 `json:"id"`
	Name        string `json:"name"`
	CreatedAtMs int64  `json:"createdAtMs"`
}

func (s *Server) inspQueue(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	limit := max(queryInt(r, "limit", 50), 0)
	st, err := h.QueueStatus(r.Context(), int(min(limit, 1<<20)))
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	msgs := make([]inspQueueMessage, 0, len(st.Messages))
	for _, m := range st.Messages {
		msgs = append(msgs, inspQueueMessage{ID: m.ID, Name: m.Name, CreatedAtMs: m.CreatedAt.UnixMilli()})
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"size": st.Size, "maxSize": st.MaxSize, "truncated": st.Truncated, "messages": msgs})
}

// inspWorkflow is the workflow history of the actor (actors.RunInspector):
// null and disabled for a type whose Run handler is not a workflow.
func (s *Server) inspWorkflow(r *http.Request, h *actors.Handle) (history any, enabled bool, err error) {
	raw, enabled, err := h.RunHistory(r.Context())
	if err != nil || !enabled {
		return nil, enabled, err
	}
	return raw, true, nil
}

func (s *Server) inspWorkflowHistory(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	history, enabled, err := s.inspWorkflow(r, h)
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{"history": history, "isWorkflowEnabled": enabled})
}

// inspWorkflowReplay runs the actor's workflow again from the beginning
// (Handle.RestartRun) and answers its history. A workflow in flight is
// RivetKit's answer, 500 internal_error.
func (s *Server) inspWorkflowReplay(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	err := h.RestartRun(r.Context())
	switch {
	case errors.Is(err, actors.ErrNoRunInspector):
		inspError(w, http.StatusBadRequest, errcode.GroupActor, "workflow_not_enabled",
			"Workflow not enabled: actor type "+h.Type()+" is not a workflow, so it has no workflow to replay.")
		return
	case errors.Is(err, actors.ErrRunInFlight):
		inspError(w, http.StatusInternalServerError, errcode.GroupActor, "internal_error",
			"Cannot replay a workflow while it is currently in flight: retry once it waits or has finished.")
		return
	case err != nil:
		writeGatewayError(w, fromActors(err))
		return
	}
	s.inspWorkflowHistory(w, r, h)
}

func (s *Server) inspNoDatabase(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	inspError(w, http.StatusBadRequest, "database", "not_enabled",
		"Database not enabled: rivet-flow actors have no SQL database (actor type "+h.Type()+"); their state and KV are in the event log.")
}

func (s *Server) inspSummary(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	in, err := h.Inspect(r.Context())
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	q, err := h.QueueStatus(r.Context(), 0)
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	history, enabled, err := s.inspWorkflow(r, h)
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	writeJSONStatus(w, http.StatusOK, map[string]any{
		"state": in.State, "connections": inspConns(in.Connections), "rpcs": h.ActionNames(), "queueSize": q.Size,
		"isStateEnabled": true, "isDatabaseEnabled": false, "isWorkflowEnabled": enabled, "workflowHistory": history,
	})
}

// inspMetric is one metric of RivetKit's inspector snapshot: a value (a
// gauge) or values (a labeled_timing).
type inspMetric struct {
	Type   string   `json:"type"`
	Help   string   `json:"help"`
	Value  *float64 `json:"value,omitempty"`
	Values any      `json:"values,omitempty"`
}

func gauge(help string, v float64) inspMetric {
	return inspMetric{Type: "gauge", Help: help, Value: &v}
}

func durMs(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// inspMetrics answers the actor's startup metrics, measured when its
// instance last woke (actors.WakeMetrics), in RivetKit's snapshot shape.
// Phases rivet-flow does not have are 0 and say so in their help.
func (s *Server) inspMetrics(w http.ResponseWriter, r *http.Request, h *actors.Handle) {
	in, err := h.Inspect(r.Context())
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	m := in.Wake
	isNew := 0.0
	if m.New {
		isNew = 1
	}
	zero := map[string]int{"calls": 0, "totalMs": 0, "keys": 0}
	writeJSONStatus(w, http.StatusOK, map[string]inspMetric{
		// rivet-flow's KV is part of the actor's image: reads come from
		// memory and writes go in the call's event, so there are no KV
		// round trips to count.
		"kv_operations": {Type: "labeled_timing", Help: "KV round trips by operation type (none in rivet-flow: KV is read from memory and written in the call's event)",
			Values: map[string]any{"get": zero, "getBatch": zero, "put": zero, "putBatch": zero, "deleteBatch": zero}},
		"startup_total_ms":                   gauge("Total actor startup time in milliseconds (load, a new actor's create, the wake hooks and their event)", durMs(m.Total)),
		"startup_kv_round_trips":             gauge("Storage round trips during startup (snapshot read and log reads)", float64(m.Reads)),
		"startup_is_new":                     gauge("1 if new actor, 0 if existing", isNew),
		"startup_internal_load_state_ms":     gauge("Time to read the snapshot and the log after it and decode the state", durMs(m.Load)),
		"startup_internal_log_events_folded": gauge("Log events folded over the snapshot", float64(m.Folded)),
		// rivet-flow keeps no per-actor queue metadata to initialise on wake.
		"startup_internal_init_queue_ms": gauge("Time to initialize queue metadata (rivet-flow has none to load on wake)", 0),
		// The inspector token is the server's (--inspector-token), not per actor.
		"startup_internal_init_inspector_token_ms": gauge("Time to load or generate inspector token (rivet-flow's is the server's, not per actor)", 0),
		// Connections do not survive a sleep in rivet-flow: none to restore.
		"startup_internal_restore_connections_count": gauge("Number of connections restored (connections do not survive a sleep in rivet-flow)", 0),
		"startup_user_create_state_ms":               gauge("Time in user createState callback (new actors)", durMs(m.CreateState)),
		"startup_user_on_create_ms":                  gauge("Time in user onCreate callback (new actors)", durMs(m.OnCreate)),
		"startup_user_create_vars_ms":                gauge("Time in user createVars callback (or copying Vars)", durMs(m.CreateVars)),
		"startup_user_on_wake_ms":                    gauge("Time in user onWake callback", durMs(m.OnWake)),
	})
}

// inspectorPath reports whether path is an inspector route
// (/gateway/{target}/inspector/..., also under /api/rivet).
func inspectorPath(path string) bool {
	path = strings.TrimPrefix(path, "/api/rivet")
	rest, ok := strings.CutPrefix(path, "/gateway/")
	if !ok {
		return false
	}
	_, after, found := strings.Cut(rest, "/")
	return found && strings.HasPrefix(after, "inspector/")
}
