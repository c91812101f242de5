package actors

import (
	"errors"
	"fmt"
)

// UserError is an error an action returns on purpose. Callers receive it as
// is: its Code, Message and Metadata travel to HTTP and RivetKit clients.
type UserError struct {
	Code     string
	Message  string
	Metadata any
}

// Error returns the code and message.
func (e *UserError) Error() string { return e.Code + ": " + e.Message }

// NewUserError returns a *UserError.
func NewUserError(code, message string, metadata any) *UserError {
	return &UserError{Code: code, Message: message, Metadata: metadata}
}

// Error is a runtime error with a stable code. errors.Is matches by code, so
// errors.Is(err, actors.ErrNotFound) holds for any "actor_not_found".
type Error struct {
	Code    string
	Message string
	// RetryAfter, when set, says when a retry may succeed (overload).
	RetryAfter float64
	cause      error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause, if any.
func (e *Error) Unwrap() error { return e.cause }

// Is matches runtime errors by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Runtime errors. Compare with errors.Is.
var (
	ErrNotFound         = &Error{Code: "actor_not_found", Message: "actor not found"}
	ErrExists           = &Error{Code: "actor_exists", Message: "actor already exists"}
	ErrUnknownType      = &Error{Code: "actor_type_not_found", Message: "unknown actor type"}
	ErrActionNotFound   = &Error{Code: "action_not_found", Message: "unknown action"}
	ErrInvalidArgs      = &Error{Code: "invalid_args", Message: "invalid arguments"}
	ErrInvalidKey       = &Error{Code: "invalid_key", Message: "invalid actor key"}
	ErrInvalidID        = &Error{Code: "invalid_actor_id", Message: "invalid actor ID"}
	ErrArgsTooLarge     = &Error{Code: "args_too_large", Message: "arguments too large"}
	ErrStateTooLarge    = &Error{Code: "state_too_large", Message: "actor state too large"}
	ErrOverloaded       = &Error{Code: "overloaded", Message: "actor mailbox is full", RetryAfter: 1}
	ErrActionTimeout    = &Error{Code: "action_timeout", Message: "action timed out"}
	ErrConflict         = &Error{Code: "actor_conflict", Message: "another writer appended to this actor; retry"}
	ErrStopping         = &Error{Code: "stopping", Message: "runtime is shutting down", RetryAfter: 1}
	ErrInternal         = &Error{Code: "internal_error", Message: "internal error"}
	ErrTooManyConns     = &Error{Code: "too_many_connections", Message: "too many connections to this actor", RetryAfter: 1}
	ErrConnClosed       = &Error{Code: "connection_closed", Message: "connection closed"}
	ErrNoRequestHandler = &Error{Code: "no_request_handler", Message: "actor type has no request handler"}
)

// errorf returns a copy of base with a more specific message.
func errorf(base *Error, format string, args ...any) *Error {
	e := *base
	e.Message = fmt.Sprintf(format, args...)
	return &e
}

// withCause returns a copy of base that wraps cause (logged, never shown).
func withCause(base *Error, cause error) *Error {
	e := *base
	e.cause = cause
	return &e
}

// PublicError turns any error from this package into what a remote caller may
// see: a *UserError or *Error as is, anything else as internal_error.
func PublicError(err error) error {
	var ue *UserError
	if errors.As(err, &ue) {
		return ue
	}
	var re *Error
	if errors.As(err, &re) {
		out := *re
		out.cause = nil
		return &out
	}
	return ErrInternal
}
