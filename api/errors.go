package api

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// Error is every error the API returns: RFC 9457 problem details with a
// stable code, a human message and optional metadata.
type Error struct {
	Type     string `json:"type,omitempty" doc:"Problem type URI" example:"about:blank"`
	Title    string `json:"title" doc:"HTTP status text" example:"Not Found"`
	Status   int    `json:"status" doc:"HTTP status code" example:"404"`
	Code     string `json:"code" doc:"Stable machine-readable error code: one of the catalogue (docs/errors.md; each response lists those its route answers), or for group user the code the actor chose" example:"actor_not_found"`
	Message  string `json:"message" doc:"Human-readable message" example:"actor counter.kCm15LWNvdW50ZXI does not exist"`
	Detail   string `json:"detail,omitempty" doc:"Same as message, for RFC 9457 clients"`
	Metadata any    `json:"metadata,omitempty" doc:"Structured details (user errors carry their own)"`
	// Group is "user" for errors an actor returned on purpose, else "actor" or "api".
	Group  string              `json:"group" doc:"user (returned by actor code), actor or api" example:"actor"`
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"Validation details"`

	retryAfter float64
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// GetStatus implements huma.StatusError.
func (e *Error) GetStatus() int { return e.Status }

// ContentType implements huma.ContentTypeFilter.
func (e *Error) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

// GetHeaders lets Huma set Retry-After on 429 and 503.
func (e *Error) GetHeaders() http.Header {
	if e.retryAfter <= 0 {
		return nil
	}
	return http.Header{"Retry-After": []string{strconv.Itoa(int(e.retryAfter + 0.999))}}
}

// newError returns an error with an explicit status and group; errorOf takes
// both from the catalogue.
func newError(status int, group string, code errcode.Code, msg string, meta any) *Error {
	return &Error{Type: "about:blank", Title: http.StatusText(status), Status: status, Group: group, Code: string(code),
		Message: msg, Detail: msg, Metadata: meta}
}

// errorOf returns an error with a catalogued code, its status and its group.
func errorOf(code errcode.Code, msg string, meta any) *Error {
	e, _ := errcode.Lookup(code)
	return newError(e.HTTPStatus, e.Group, code, msg, meta)
}

// runtimeStatus is the status of a runtime error's code: the catalogue's, for
// codes in group actor that have one; 500 for anything else.
func runtimeStatus(code string) int {
	e, ok := errcode.Lookup(errcode.Code(code))
	if !ok || e.Group != errcode.GroupActor || e.HTTPStatus == 0 {
		return http.StatusInternalServerError
	}
	return e.HTTPStatus
}

// fromActors turns a runtime error into an API error; anything unexpected is
// an internal error with no detail (the runtime logged it).
func fromActors(err error) *Error {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		group := errcode.GroupUser
		if ue.Group != "" {
			group = ue.Group
		}
		return newError(http.StatusBadRequest, group, errcode.Code(ue.Code), ue.Message, ue.Metadata)
	}
	var re *actors.Error
	if errors.As(err, &re) {
		status := runtimeStatus(re.Code)
		e := newError(status, errcode.GroupActor, errcode.Code(re.Code), re.Message, nil)
		e.retryAfter = re.RetryAfter
		// Internal errors and codes outside the catalogue say nothing more;
		// a catalogued 500 (state_decode_failed) carries its message.
		if _, known := errcode.Lookup(errcode.Code(re.Code)); !known || re.Code == string(errcode.InternalError) {
			e.Code, e.Message, e.Detail = string(errcode.InternalError), "internal error", "internal error"
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return errorOf(errcode.ClientClosed, "the client went away", nil)
	}
	return errorOf(errcode.InternalError, "internal error", nil)
}

// humaCodes name Huma's own errors (parsing, validation, size limits) by
// their status; any other status is internal_error.
var humaCodes = func() map[int]errcode.Code {
	m := map[int]errcode.Code{}
	for _, c := range []errcode.Code{errcode.MalformedRequest, errcode.InvalidRequest, errcode.BodyTooLarge,
		errcode.NotFound, errcode.Unauthorized, errcode.MethodNotAllowed, errcode.UnsupportedMediaType,
		errcode.RequestTimeout} {
		m[errcode.Status(c)] = c
	}
	return m
}()

// codeForStatus names one of Huma's own errors.
func codeForStatus(status int) errcode.Code {
	if c, ok := humaCodes[status]; ok {
		return c
	}
	return errcode.InternalError
}

// fromHuma turns one of Huma's own errors into ours: a 400 with details is
// malformed JSON, any other status is named by codeForStatus.
func fromHuma(m *huma.ErrorModel) *Error {
	e := newError(m.Status, errcode.GroupAPI, codeForStatus(m.Status), m.Detail, nil)
	for _, d := range m.Errors {
		if d != nil { // Huma leaves a nil detail for a nil error
			e.Errors = append(e.Errors, d)
		}
	}
	switch {
	case m.Status == http.StatusRequestEntityTooLarge:
		// Huma says "limit=N bytes" with N one more than the server's
		// limit (routes set MaxBodyBytes+1: Huma refuses a body of exactly N).
		if _, n, ok := strings.Cut(m.Detail, "limit="); ok {
			if limit, err := strconv.ParseInt(strings.TrimSuffix(n, " bytes"), 10, 64); err == nil && limit > 1 {
				return bodyTooLarge(limit - 1)
			}
		}
	case m.Status == http.StatusUnsupportedMediaType && len(e.Errors) > 0:
		return unsupportedMediaType(strings.TrimPrefix(e.Errors[0].Message, "unknown content type: "))
	case m.Status == http.StatusBadRequest && len(e.Errors) > 0 && inUserTerms(e.Errors[0]):
		// Valid JSON with a value Go cannot hold (1e999): readable, not malformed.
		e.Code, e.Message = string(errcode.MalformedRequest), "request body cannot be read: "+strings.TrimPrefix(validationMessage(e.Errors), "invalid request: ")
	case m.Status == http.StatusBadRequest && len(e.Errors) > 0:
		e.Code = string(errcode.MalformedJSON)
		e.Message = "request body is not valid JSON: " + strings.TrimPrefix(e.Errors[0].Message, "json: ")
	case len(e.Errors) > 0:
		for _, d := range e.Errors {
			inUserTerms(d)
		}
		e.Message = validationMessage(e.Errors)
	}
	e.Detail = e.Message
	return e
}

// validationMessage says what is wrong where, in one line: "validation
// failed" alone leaves the user to dig through errors.
func validationMessage(details []*huma.ErrorDetail) string {
	parts := make([]string, 0, len(details))
	for _, d := range details {
		if d.Location != "" {
			parts = append(parts, d.Location+": "+d.Message)
		} else {
			parts = append(parts, d.Message)
		}
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

// unsupportedMediaType is a body sent with a content type other than JSON,
// with the same message on every route (Huma's and the fast path).
func unsupportedMediaType(contentType string) *Error {
	e := errorOf(errcode.UnsupportedMediaType, "the body is sent as "+contentType+": send it as application/json (or with no Content-Type)", nil)
	e.Errors = []*huma.ErrorDetail{{Location: "header.Content-Type", Message: "not JSON: " + contentType}}
	return e
}

// malformedJSON is a request body that does not parse, with the same
// message on every route (Huma's and the fast path).
func malformedJSON(err error) *Error {
	msg := "unexpected end of JSON input"
	if err != nil {
		msg = strings.TrimPrefix(err.Error(), "json: ")
	}
	e := errorOf(errcode.MalformedJSON, "request body is not valid JSON: "+msg, nil)
	e.Errors = []*huma.ErrorDetail{{Location: "body", Message: msg}}
	return e
}

// invalidBody is a body that parses but is not what the route takes, shaped
// as Huma's validation errors are (invalid_request, errors naming where).
func invalidBody(location, msg string) *Error {
	d := []*huma.ErrorDetail{{Location: location, Message: msg}}
	e := errorOf(errcode.InvalidRequest, validationMessage(d), nil)
	e.Errors = d
	return e
}

// errorTransformer is the first of the API's response transformers: it
// gives Huma's own errors (huma.ErrorModel, from huma.NewError) our shape,
// for this API only, so that other Huma APIs in the process keep Huma's.
// Any other huma.StatusError but ours (a program may replace huma.NewError)
// keeps its status and message.
func errorTransformer(_ huma.Context, _ string, v any) (any, error) {
	switch b := v.(type) {
	case *Error:
		return b, nil
	case *huma.ErrorModel:
		return fromHuma(b), nil
	case huma.StatusError:
		return newError(b.GetStatus(), errcode.GroupAPI, codeForStatus(b.GetStatus()), b.Error(), nil), nil
	}
	return v, nil
}

// useErrors makes an API's errors ours: its OpenAPI document describes error
// responses with Error (Huma documents the type huma.NewError returns, so an
// alias maps that type to ours in this API's registry only), and
// errorTransformer rewrites Huma's errors before the other transformers run.
func useErrors(cfg *huma.Config) {
	cfg.Components.Schemas.RegisterTypeAlias(reflect.TypeFor[huma.ErrorModel](), reflect.TypeFor[Error]())
	cfg.Transformers = append([]huma.Transformer{errorTransformer}, cfg.Transformers...)
}

// invalidCursor is a paging cursor (query parameter name) that is malformed
// or from another listing: 400 invalid_cursor on every route.
func invalidCursor(name, msg string) *Error {
	e := errorOf(errcode.InvalidCursor, msg+"; pass the value the previous page returned, or leave "+name+" out to start from the beginning", nil)
	e.Errors = []*huma.ErrorDetail{{Location: "query." + name, Message: msg}}
	return e
}

// invalidParam is a query parameter with a value the route does not take,
// shaped as Huma's own (422 invalid_request).
func invalidParam(name, msg string) *Error {
	return invalidBody("query."+name, msg)
}

// cursorParams is the middleware that answers a malformed integer cursor
// (?after=x on an event history) as the hand-written routes do, 400
// invalid_cursor: Huma's own answer would be 422, and a transformer cannot
// change the status Huma chose.
func cursorParams(ctx huma.Context, next func(huma.Context)) {
	for _, p := range ctx.Operation().Parameters {
		if p.In != "query" || p.Name != "after" || p.Schema == nil || p.Schema.Type != huma.TypeInteger {
			continue
		}
		if v := ctx.Query("after"); v != "" {
			if _, err := strconv.ParseUint(v, 10, 64); err != nil {
				_, w := humago.Unwrap(ctx)
				writeError(w, invalidCursor("after", "after "+strconv.Quote(v)+" is not a log sequence number"))
				return
			}
		}
	}
	next(ctx)
}
