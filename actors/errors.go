package actors

import (
	"errors"
	"fmt"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// UserError is an error an action returns on purpose. Callers receive it as
// is: its Code, Message and Metadata travel to HTTP and RivetKit clients.
type UserError struct {
	Code     string
	Message  string
	Metadata any
	// Group, when set, replaces the group clients see ("user" by default),
	// as a RivetKit ActorError thrown with a group of its own.
	Group string
}

// Error returns the code and message.
func (e *UserError) Error() string { return e.Code + ": " + e.Message }

// NewUserError returns a *UserError.
func NewUserError(code, message string, metadata any) *UserError {
	return &UserError{Code: code, Message: message, Metadata: metadata}
}

// Error is a runtime error with a stable code (one of package errcode's).
// errors.Is matches by code, so errors.Is(err, actors.ErrNotFound) holds for
// any "actor_not_found".
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

// Runtime errors. Compare with errors.Is. Their codes, statuses and meanings
// are catalogued in package errcode.
var (
	ErrNotFound          = newError(errcode.ActorNotFound, "actor not found", 0)
	ErrExists            = newError(errcode.ActorExists, "actor already exists", 0)
	ErrUnknownType       = newError(errcode.ActorTypeNotFound, "unknown actor type", 0)
	ErrActionNotFound    = newError(errcode.ActionNotFound, "unknown action", 0)
	ErrInvalidArgs       = newError(errcode.InvalidArgs, "invalid arguments", 0)
	ErrInvalidKey        = newError(errcode.InvalidKey, "invalid actor key", 0)
	ErrInvalidID         = newError(errcode.InvalidActorID, "invalid actor ID", 0)
	ErrArgsTooLarge      = newError(errcode.ArgsTooLarge, "arguments too large", 0)
	ErrStateTooLarge     = newError(errcode.StateTooLarge, "actor state too large", 0)
	ErrOverloaded        = newError(errcode.Overloaded, "actor mailbox is full", 1)
	ErrActionTimeout     = newError(errcode.ActionTimeout, "action timed out", 0)
	ErrConflict          = newError(errcode.ActorConflict, "another writer appended to this actor; retry", 0)
	ErrStopping          = newError(errcode.Stopping, "runtime is shutting down", 1)
	ErrInternal          = newError(errcode.InternalError, "internal error", 0)
	ErrTooManyConns      = newError(errcode.TooManyConnections, "too many connections to this actor", 1)
	ErrConnClosed        = newError(errcode.ConnectionClosed, "connection closed", 0)
	ErrNoRequestHandler  = newError(errcode.NoRequestHandler, "actor type has no request handler", 0)
	ErrStateDecodeFailed = newError(errcode.StateDecodeFailed, "actor state does not decode", 0)
	ErrUnknownOutcome    = newError(errcode.UnknownOutcome, "the log did not confirm the action; retry", 1)
	ErrCallCycle         = newError(errcode.CallCycle, "call cycle", 0)
	// ErrTooManyAlarms: RuntimeOptions.MaxAlarms alarms are pending.
	ErrTooManyAlarms = newError(errcode.TooManyAlarms, "too many pending alarms", 0)
	// ErrInvalidCron: a cron spec does not parse; the message says why.
	ErrInvalidCron = newError(errcode.InvalidCron, "invalid cron spec", 0)
	// ErrInvalidTimezone: a cron spec's CRON_TZ names no known zone.
	ErrInvalidTimezone = newError(errcode.InvalidTimezone, "unknown time zone", 0)
	// ErrQueueFull: the actor's queue holds MaxQueueSize messages.
	ErrQueueFull = newError(errcode.ActorQueueFull, "actor queue is full", 1)
	// ErrQueueMessageTooLarge: a message exceeds MaxQueueMessageBytes.
	ErrQueueMessageTooLarge = newError(errcode.ActorQueueMessageTooLarge, "queue message too large", 0)
	// ErrUnknownQueue: the actor's type declares no queue of this name.
	ErrUnknownQueue = newError(errcode.ActorQueueNotFound, "unknown queue", 0)
	// ErrMessageNotCompleted: Next while a completable message is held.
	ErrMessageNotCompleted = newError(errcode.QueueMessageNotCompleted, "previous queue message not completed", 0)
	// ErrMessageAlreadyCompleted: Complete called twice.
	ErrMessageAlreadyCompleted = newError(errcode.QueueMessageAlreadyCompleted, "queue message already completed", 0)
	// ErrAborted: the actor stopped, or the wait's context ended, during a
	// queue wait.
	ErrAborted = newError(errcode.ActorAborted, "actor aborted", 0)
	// ErrRunInFlight: Handle.RestartRun while the Run handler runs.
	ErrRunInFlight = newError(errcode.RunInFlight, "workflow in flight", 0)
	// ErrNoRunInspector: the type's Run handler has no RunInspector.
	ErrNoRunInspector = newError(errcode.RunNotReplayable, "workflow not enabled", 0)
	// ErrIdempotencyKeyReused: the key was first used for another call.
	ErrIdempotencyKeyReused = newError(errcode.IdempotencyKeyReused, "idempotency key reused with other arguments", 0)
)

// newError returns a runtime error with a catalogued code.
func newError(code errcode.Code, message string, retryAfter float64) *Error {
	return &Error{Code: string(code), Message: message, RetryAfter: retryAfter}
}

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
