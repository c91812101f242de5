package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// The RivetKit client's actor queues (handle.send(name, body, {wait,
// timeout})): POST /gateway/{target}/queue/{name} with the JSON body
// {"body","name","wait","timeout"} (timeout in ms), answered
// {"status":"completed"|"timedOut","response"?}. A workflow run's message
// goes to the run's inbox (workflows.Engine.Send) for its run function; any
// other actor's to its own queues (actors.Options.Queues, Handle.SendQueue),
// bounded by its type's MaxQueueSize.

// maxQueueWait bounds the wait of one queue send; the client's timeout
// asks for less.
const maxQueueWait = 10 * time.Minute

// codeQueueNotSupported is the gateway's code for a queue send to an actor
// that has no queues.
const codeQueueNotSupported = errcode.Code(workflows.CodeQueueNotSupported)

// gwQueueRequest is the client's queue send.
type gwQueueRequest struct {
	Body    json.RawMessage `json:"body"`
	Name    string          `json:"name"`
	Wait    bool            `json:"wait"`
	Timeout *float64        `json:"timeout"`
}

func (s *Server) gwQueue(w http.ResponseWriter, r *http.Request) {
	var req gwQueueRequest
	if !s.readGatewayMessage(w, r, &req) { // bounded as RivetKit bounds a queue send
		return
	}
	// Check the type before resolving: getOrCreate must not create an
	// actor of a type that cannot take the message.
	typ, apiErr := gwTargetType(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	eng := s.opts.Workflows
	if eng == nil || !eng.QueueSupported(typ) {
		s.gwActorQueue(w, r, typ, req)
		return
	}
	if apiErr := gwRunKey(r); apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	o := workflows.SendOptions{Wait: req.Wait}
	if req.Timeout != nil && *req.Timeout > 0 {
		o.Timeout = min(time.Duration(*req.Timeout*float64(time.Millisecond)), maxQueueWait)
	}
	body := req.Body
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	res, err := eng.Send(r.Context(), h.ID, r.PathValue("name"), fromRivetJSON(body), o)
	if err != nil {
		if errors.Is(err, workflows.ErrQueueNotSupported) {
			writeGatewayError(w, queueNotSupported(typ))
			return
		}
		writeGatewayError(w, s.fromWorkflows(err))
		return
	}
	out := map[string]any{"status": res.Status}
	if res.Status == workflows.SendCompleted && req.Wait {
		out["response"] = toRivetJSON(res.Response)
	}
	writeGatewayBody(w, r, http.StatusOK, out)
}

// gwActorQueue sends to an actor type's own queues (actors.Options.Queues).
// As RivetKit does, a send to a type without queues, or to a queue its type
// does not declare, is dropped with a warning and answered "completed".
func (s *Server) gwActorQueue(w http.ResponseWriter, r *http.Request, typ string, req gwQueueRequest) {
	name := r.PathValue("name")
	ignored := func() {
		s.lg.Warn("queue message dropped: the actor's type declares no such queue", "type", typ, "queue", name)
		writeGatewayBody(w, r, http.StatusOK, map[string]any{"status": actors.QueueCompleted})
	}
	if _, known := s.rt.Registry().Actions(typ); known && !s.rt.TypeHasQueues(typ) {
		ignored() // before anything is created
		return
	}
	params, apiErr := connParams(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	h, apiErr := s.gwTarget(r)
	if apiErr != nil {
		writeGatewayError(w, apiErr)
		return
	}
	o := actors.QueueSendOptions{Params: params, Wait: req.Wait}
	if req.Wait {
		o.Timeout = maxQueueWait
		if req.Timeout != nil && *req.Timeout > 0 {
			o.Timeout = min(time.Duration(*req.Timeout*float64(time.Millisecond)), maxQueueWait)
		}
	}
	body := req.Body
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	res, err := h.SendQueue(actors.WithRequest(r.Context(), r), name, fromRivetJSON(body), o)
	if errors.Is(err, actors.ErrUnknownQueue) {
		ignored()
		return
	}
	if err != nil {
		writeGatewayError(w, fromActors(err))
		return
	}
	out := map[string]any{"status": res.Status}
	if res.Status == actors.QueueCompleted && req.Wait && res.Response != nil {
		out["response"] = toRivetJSON(res.Response)
	}
	writeGatewayBody(w, r, http.StatusOK, out)
}

// gwTargetType is the actor type /gateway/{target} names: the target
// itself, or an actor ID's type.
func gwTargetType(r *http.Request) (string, *Error) {
	target, _, _ := strings.Cut(r.PathValue("target"), "@")
	if !strings.Contains(target, ".") {
		return target, nil
	}
	typ, _, err := actors.ParseID(target)
	if err != nil {
		return "", fromActors(err)
	}
	return typ, nil
}

// gwRunKey checks, for a target that names a type, that rvt-key is a run
// ID (a run actor's key is [runId]), before getOrCreate can create it.
func gwRunKey(r *http.Request) *Error {
	target, _, _ := strings.Cut(r.PathValue("target"), "@")
	if strings.Contains(target, ".") {
		return nil
	}
	if err := workflows.ValidateRunID(r.URL.Query().Get("rvt-key")); err != nil {
		return errorOf(errcode.InvalidRunID, "rvt-key must be one run ID: "+err.Error(), nil)
	}
	return nil
}

// queueNotSupported is a queue send to an actor of type typ, which has no
// queues.
func queueNotSupported(typ string) *Error {
	return newError(http.StatusBadRequest, errcode.GroupActor, codeQueueNotSupported,
		fmt.Sprintf("actor type %s has no queues: only workflow runs do (send to a workflow's run, or call an action)", typ), nil)
}
