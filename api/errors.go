package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Error is every error the API returns: RFC 9457 problem details with a
// stable code, a human message and optional metadata.
type Error struct {
	Type     string `json:"type,omitempty" doc:"Problem type URI" example:"about:blank"`
	Title    string `json:"title" doc:"HTTP status text" example:"Not Found"`
	Status   int    `json:"status" doc:"HTTP status code" example:"404"`
	Code     string `json:"code" doc:"Stable machine-readable error code" example:"actor_not_found"`
	Message  string `json:"message" doc:"Human-readable message" example:"actor counter.kAWE does not exist"`
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

func newError(status int, group, code, msg string, meta any) *Error {
	return &Error{Type: "about:blank", Title: http.StatusText(status), Status: status, Group: group, Code: code,
		Message: msg, Detail: msg, Metadata: meta}
}

// statusOf maps the runtime's error codes to HTTP statuses.
var statusOf = map[string]int{
	"actor_not_found":      http.StatusNotFound,
	"actor_type_not_found": http.StatusNotFound,
	"action_not_found":     http.StatusNotFound,
	"no_request_handler":   http.StatusNotFound,
	"actor_exists":         http.StatusConflict,
	"actor_conflict":       http.StatusConflict,
	"invalid_args":         http.StatusBadRequest,
	"invalid_key":          http.StatusBadRequest,
	"invalid_actor_id":     http.StatusBadRequest,
	"args_too_large":       http.StatusRequestEntityTooLarge,
	"state_too_large":      http.StatusUnprocessableEntity,
	"overloaded":           http.StatusTooManyRequests,
	"too_many_connections": http.StatusTooManyRequests,
	"action_timeout":       http.StatusGatewayTimeout,
	"stopping":             http.StatusServiceUnavailable,
	"connection_closed":    http.StatusGone,
	"internal_error":       http.StatusInternalServerError,
}

// fromActors turns a runtime error into an API error; anything unexpected is
// an internal error with no detail (the runtime logged it).
func fromActors(err error) *Error {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return newError(http.StatusBadRequest, "user", ue.Code, ue.Message, ue.Metadata)
	}
	var re *actors.Error
	if errors.As(err, &re) {
		status, ok := statusOf[re.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		e := newError(status, "actor", re.Code, re.Message, nil)
		e.retryAfter = re.RetryAfter
		if status == http.StatusInternalServerError {
			e.Message, e.Detail = "internal error", "internal error"
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return newError(499, "api", "client_closed", "the client went away", nil)
	}
	return newError(http.StatusInternalServerError, "actor", "internal_error", "internal error", nil)
}

// codeForStatus names Huma's own errors (validation, parsing, size).
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "malformed_request"
	case http.StatusUnprocessableEntity:
		return "invalid_request"
	case http.StatusRequestEntityTooLarge:
		return "body_too_large"
	case http.StatusNotFound:
		return "not_found"
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusRequestTimeout:
		return "request_timeout"
	}
	return "internal_error"
}

func init() {
	// Huma's own errors (parsing, validation, size limits) take our shape.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		for _, err := range errs {
			var e *Error
			if errors.As(err, &e) {
				return e
			}
		}
		e := newError(status, "api", codeForStatus(status), msg, nil)
		for _, err := range errs {
			if err == nil {
				continue
			}
			if d, ok := err.(huma.ErrorDetailer); ok {
				e.Errors = append(e.Errors, d.ErrorDetail())
			} else {
				e.Errors = append(e.Errors, &huma.ErrorDetail{Message: err.Error()})
			}
		}
		if status == http.StatusBadRequest && len(e.Errors) > 0 {
			e.Code = "malformed_json"
		}
		return e
	}
}
