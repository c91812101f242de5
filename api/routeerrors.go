package api

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// routeError is an error code a route can answer, with the status it
// answers it at: the catalogue's, or the route's own (a schedule's unknown
// target action is 400, not the catalogue's 404 for a missing resource).
type routeError struct {
	code   errcode.Code
	status int
}

// routeErrors are the errors one route can answer, beyond those every route
// can (errorsOfEveryRoute).
type routeErrors struct {
	errs []routeError
	// user: the route runs the actor's own code, whose user errors (400,
	// group "user") carry any code the actor chose.
	user bool
}

// errs declares codes at their catalogued statuses.
func errs(codes ...errcode.Code) routeErrors {
	out := routeErrors{errs: make([]routeError, len(codes))}
	for i, c := range codes {
		out.errs[i] = routeError{code: c, status: errcode.Status(c)}
	}
	return out
}

// with adds the codes of more.
func (r routeErrors) with(more ...routeErrors) routeErrors {
	out := routeErrors{errs: slices.Clone(r.errs), user: r.user}
	for _, m := range more {
		out.errs = append(out.errs, m.errs...)
		out.user = out.user || m.user
	}
	return out
}

// at declares code at a status of the route's own.
func (r routeErrors) at(code errcode.Code, status int) routeErrors {
	return r.with(routeErrors{errs: []routeError{{code: code, status: status}}})
}

// The codes routes share.
var (
	// errorsOfEveryRoute: a page on a foreign origin, a server failure, and
	// (with --api-token) a missing token; added to every route below.
	errorsOfEveryRoute = errs(errcode.OriginNotAllowed, errcode.InternalError)
	// A JSON body Huma reads: missing, not JSON, not an object of the
	// route's fields, too large, too slow, not sent as JSON.
	bodyErrors = errs(errcode.MalformedRequest, errcode.MalformedJSON, errcode.InvalidRequest, errcode.BodyTooLarge,
		errcode.UnsupportedMediaType, errcode.RequestTimeout)
	// Path and query parameters outside their schema.
	paramErrors = errs(errcode.InvalidRequest)
	// Looking up an actor by its ID (which may load it).
	actorLookup = errs(errcode.InvalidActorID, errcode.ActorNotFound, errcode.ActorTypeNotFound, errcode.Overloaded,
		errcode.Stopping, errcode.StateDecodeFailed)
	// Reading an actor from the log without waking it.
	actorRead = errs(errcode.InvalidActorID, errcode.ActorNotFound, errcode.ActorTypeNotFound, errcode.Stopping,
		errcode.StateDecodeFailed)
	// Running the actor's own code (an action, a lifecycle or connection
	// hook): the runtime's codes, any runtime error that code passes on
	// (a call to another actor), and its user errors.
	actorCode = func() routeErrors {
		var out routeErrors
		for _, e := range errcode.All() {
			if e.Group == errcode.GroupActor && e.HTTPStatus != 0 && e.Code != errcode.DuplicateKey {
				out.errs = append(out.errs, routeError{code: e.Code, status: e.HTTPStatus})
			}
		}
		out.user = true
		return out
	}()
	// A call on an actor the server runs for itself (a schedule): its code
	// is the server's, so no user errors, but the mailbox's limits hold.
	systemActorCall = errs(errcode.Overloaded, errcode.Stopping, errcode.ActorConflict, errcode.ActionTimeout,
		errcode.UnknownOutcome, errcode.StateDecodeFailed, errcode.StateTooLarge)
	cursorErrors   = errs(errcode.InvalidCursor)
	queueErrors    = errs(errcode.QueueNotFound)
	receiptErrors  = errs(errcode.QueueNotFound, errcode.InvalidReceipt)
	scheduleErrors = errs(errcode.ActorNotFound).with(paramErrors, systemActorCall)
	runErrors      = errs(errcode.WorkflowNotFound, errcode.RunNotFound, errcode.InvalidRunID, errcode.Stopping)
)

// errorsByRoute lists, by operation ID, the errors each documented route can
// answer (TestEveryRouteDeclaresItsErrors checks every route is here; the
// API tests check every error they meet is declared for its route).
var errorsByRoute = map[string]routeErrors{
	// actors
	"getOrCreateActor":   bodyErrors.with(actorCode),
	"createActor":        bodyErrors.with(actorCode),
	"listActors":         paramErrors.with(cursorErrors, errs(errcode.ActorTypeNotFound, errcode.InvalidKey, errcode.Stopping, errcode.ActorNotFound)),
	"getActor":           paramErrors.with(actorLookup),
	"destroyActor":       paramErrors.with(actorCode),
	"callAction":         bodyErrors.with(actorCode, errs(errcode.MalformedRequest)),
	"actorEvents":        paramErrors.with(cursorErrors, actorRead),
	"getActorState":      paramErrors.with(actorRead),
	"exportActorHistory": errs(errcode.InvalidActorID, errcode.ActorNotFound, errcode.Stopping),
	"forkActor": bodyErrors.with(actorLookup, errs(errcode.ActorExists, errcode.InvalidKey, errcode.InvalidArgs, errcode.ActorTypeNotFound, errcode.ActorConflict, errcode.UnknownOutcome,
		errcode.InvalidRunID)),
	"listActorTypes": {},
	// realtime
	"actorSSE":          actorCode.with(errs(errcode.MalformedJSON)),
	"actorConnect":      actorCode.with(errs(errcode.MalformedJSON)),
	"actorRawRequest":   actorCode.with(errs(errcode.MalformedJSON, errcode.MalformedRequest, errcode.BodyTooLarge, errcode.RequestTimeout)),
	"actorRawWebSocket": actorCode.with(errs(errcode.MalformedJSON)),
	"tailEvents":        cursorErrors.with(errs(errcode.LogUnavailable, errcode.TooManyTails)).at(errcode.InvalidRequest, http.StatusBadRequest),
	// queues
	"putQueue":           bodyErrors.with(paramErrors).at(errcode.ActorTypeNotFound, http.StatusBadRequest).at(errcode.ActionNotFound, http.StatusBadRequest),
	"patchQueue":         bodyErrors.with(queueErrors).at(errcode.ActorTypeNotFound, http.StatusBadRequest).at(errcode.ActionNotFound, http.StatusBadRequest),
	"getQueue":           paramErrors.with(queueErrors),
	"listQueues":         {},
	"deleteQueue":        paramErrors.with(queueErrors),
	"getQueueHistory":    paramErrors,
	"enqueueMessage":     bodyErrors.with(queueErrors, errs(errcode.QueueFull, errcode.MessageTooLarge)),
	"enqueueMessages":    bodyErrors.with(queueErrors),
	"purgeMessages":      paramErrors.with(queueErrors),
	"claimMessages":      bodyErrors.with(queueErrors),
	"ackMessages":        bodyErrors.with(receiptErrors),
	"nackMessages":       bodyErrors.with(receiptErrors),
	"extendLeases":       bodyErrors.with(receiptErrors),
	"listDeadLetters":    paramErrors.with(queueErrors, cursorErrors),
	"redriveDeadLetters": bodyErrors.with(queueErrors, errs(errcode.QueueFull, errcode.MessageTooLarge)),
	"purgeDeadLetters":   paramErrors.with(queueErrors),
	// schedules
	"setSchedule": bodyErrors.with(systemActorCall, errs(errcode.InvalidCron, errcode.InvalidTimezone, errcode.InvalidKey)).
		at(errcode.ActorTypeNotFound, http.StatusBadRequest).at(errcode.ActionNotFound, http.StatusBadRequest).
		at(errcode.QueueNotFound, http.StatusBadRequest).at(errcode.InvalidRequest, http.StatusBadRequest),
	"listSchedules":   paramErrors.with(cursorErrors, errs(errcode.Stopping)),
	"getSchedule":     scheduleErrors,
	"deleteSchedule":  scheduleErrors,
	"pauseSchedule":   scheduleErrors,
	"resumeSchedule":  scheduleErrors,
	"triggerSchedule": scheduleErrors,
	"previewSchedule": scheduleErrors.with(errs(errcode.InvalidCron, errcode.InvalidTimezone)),
	"scheduleHistory": scheduleErrors.with(cursorErrors),
	// workflows
	"startWorkflowRun":  bodyErrors.with(runErrors, systemActorCall, errs(errcode.InvalidInput, errcode.ArgsTooLarge)),
	"listWorkflowRuns":  paramErrors.with(runErrors, cursorErrors),
	"getWorkflowRun":    paramErrors.with(runErrors),
	"signalWorkflowRun": bodyErrors.with(runErrors, systemActorCall, errs(errcode.RunFinished, errcode.InboxFull)),
	"workflowRunEvents": paramErrors.with(runErrors, cursorErrors, actorRead),
	"workflowRunSSE":    runErrors.with(actorLookup, errs(errcode.TooManyConnections, errcode.MalformedJSON)),
	"cancelWorkflowRun": bodyErrors.with(runErrors, systemActorCall, errs(errcode.RunFinished)),
	"pauseWorkflowRun":  paramErrors.with(runErrors, systemActorCall, errs(errcode.RunFinished)),
	"resumeWorkflowRun": paramErrors.with(runErrors, systemActorCall, errs(errcode.RunFinished)),
	// projections
	"listProjections":   {},
	"getProjection":     paramErrors.with(errs(errcode.ProjectionNotFound, errcode.Stopping)),
	"projectionRows":    paramErrors.with(cursorErrors, errs(errcode.ProjectionNotFound, errcode.Stopping)),
	"rebuildProjection": paramErrors.with(errs(errcode.ProjectionNotFound, errcode.Stopping)),
	"listCodeVersions":  paramErrors.with(errs(errcode.MalformedRequest, errcode.Stopping)),
	// operations
	"metrics": {},
}

// documentErrors replaces the error responses of every route in errorsByRoute
// with those it can answer: one response per status, whose code is one of
// that status's codes (an enum; any string where user errors come too),
// with an example of each. Call it once every route is registered.
func (s *Server) documentErrors() {
	for _, item := range s.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			re, ok := errorsByRoute[op.OperationID]
			if !ok {
				continue
			}
			for status := range op.Responses {
				if n, _ := strconv.Atoi(status); status == "default" || n >= 400 {
					delete(op.Responses, status)
				}
			}
			for status, codes := range s.byStatus(re) {
				op.Responses[strconv.Itoa(status)] = errorResponse(status, codes, re.user && status == http.StatusBadRequest)
			}
		}
	}
}

// byStatus groups a route's codes, with those of every route, by status.
func (s *Server) byStatus(re routeErrors) map[int][]errcode.Code {
	all := errorsOfEveryRoute.with(re)
	if s.opts.Token != "" {
		all = all.with(errs(errcode.Unauthorized))
	}
	out := map[int][]errcode.Code{}
	for _, e := range all.errs {
		if !slices.Contains(out[e.status], e.code) {
			out[e.status] = append(out[e.status], e.code)
		}
	}
	if re.user && out[http.StatusBadRequest] == nil {
		out[http.StatusBadRequest] = []errcode.Code{}
	}
	for _, codes := range out {
		slices.Sort(codes)
	}
	return out
}

// errorResponse documents one error status of a route: the Error schema with
// code limited to codes (or open, with user errors), and an example of each.
func errorResponse(status int, codes []errcode.Code, user bool) *huma.Response {
	code := &huma.Schema{Type: huma.TypeString}
	desc := http.StatusText(status) + ": "
	if user {
		code.Description = "One of the codes listed, or (group user) a code the actor's own code chose"
		desc += "an error of the actor's own code (group user, its own code)"
		if len(codes) > 0 {
			desc += ", or "
		}
	} else {
		code.Enum = make([]any, len(codes))
		for i, c := range codes {
			code.Enum[i] = string(c)
		}
	}
	examples := map[string]*huma.Example{}
	for i, c := range codes {
		e, _ := errcode.Lookup(c)
		if i > 0 {
			desc += ", "
		}
		desc += "`" + string(c) + "`"
		group := cmp.Or(e.Group, errcode.GroupAPI)
		if group == errcode.GroupUser || e.HTTPStatus != status { // a route's own status is the API's answer
			group = errcode.GroupAPI
		}
		examples[string(c)] = &huma.Example{Summary: e.Meaning, Value: newError(status, group, c, e.Meaning, nil)}
	}
	if user {
		examples["user"] = &huma.Example{Summary: "An error the actor's code returned on purpose",
			Value: newError(status, errcode.GroupUser, "insufficient_funds", "balance 5 is below 10", map[string]any{"balance": 5})}
	}
	return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/problem+json": {
		Schema: &huma.Schema{AllOf: []*huma.Schema{{Ref: "#/components/schemas/Error"},
			{Type: huma.TypeObject, Properties: map[string]*huma.Schema{"code": code}}}},
		Examples: examples}}}
}
