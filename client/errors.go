package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Error is an error the server answered with: its problem JSON, decoded. Match
// it with errors.As, or read its code with ErrorCode.
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == client.CodeActorNotFound { ... }
type Error struct {
	// Status is the HTTP status (0 for an error sent inside a Tail stream).
	Status int
	// Code is the server's stable, machine-readable code, such as
	// "actor_not_found" (see the Code constants). A response that is not the
	// server's problem JSON (from a proxy, say) gets "http_<status>".
	Code string
	// Message is the human-readable message.
	Message string
	// Metadata holds structured details as JSON, when the error has any (user
	// errors returned by actor code carry their own).
	Metadata json.RawMessage
	// Group is "user" for an error the actor's code returned on purpose,
	// "actor" for one of the runtime's, "api" for one about the request itself.
	Group string
	// RetryAfter is the server's Retry-After (429 and 503): how long to wait
	// before a retry may succeed. Zero when the server sent none.
	RetryAfter time.Duration
	// Details lists what failed validation, for malformed requests.
	Details []ErrorDetail
}

// ErrorDetail is one validation failure of a malformed request.
type ErrorDetail struct {
	// Message says what is wrong.
	Message string `json:"message"`
	// Location says where, such as "body.args".
	Location string `json:"location,omitempty"`
}

// Error returns "code: message", with validation details if any.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	b.WriteString(": ")
	b.WriteString(e.Message)
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString("; ")
		}
		if d.Location != "" {
			b.WriteString(d.Location + ": ")
		}
		b.WriteString(d.Message)
		if i == len(e.Details)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Temporary reports whether retrying the same request later may succeed
// (the server was overloaded or stopping).
func (e *Error) Temporary() bool { return retryable(e.Status) }

// Codes the server returns (Error.Code), from the catalogue in package
// errcode (see docs/errors.md for all of them). User errors carry codes of
// their own.
const (
	// CodeActorNotFound (404): no live actor has this ID, type and key.
	CodeActorNotFound = string(errcode.ActorNotFound)
	// CodeActorTypeNotFound (404): the server serves no actor type of this name.
	CodeActorTypeNotFound = string(errcode.ActorTypeNotFound)
	// CodeActionNotFound (404): the actor's type has no action of this name.
	CodeActionNotFound = string(errcode.ActionNotFound)
	// CodeActorExists (409): Create found the actor already there.
	CodeActorExists = string(errcode.ActorExists)
	// CodeActorConflict (409): another writer appended to the actor; retry.
	CodeActorConflict = string(errcode.ActorConflict)
	// CodeInvalidArgs (400): the arguments do not fit the action's parameters.
	CodeInvalidArgs = string(errcode.InvalidArgs)
	// CodeInvalidKey (400): the key cannot name an actor.
	CodeInvalidKey = string(errcode.InvalidKey)
	// CodeInvalidActorID (400): the string is not an actor ID.
	CodeInvalidActorID = string(errcode.InvalidActorID)
	// CodeArgsTooLarge (413): the arguments or create input exceed the server's limit.
	CodeArgsTooLarge = string(errcode.ArgsTooLarge)
	// CodeStateTooLarge (422): the action would grow the state beyond the server's limit.
	CodeStateTooLarge = string(errcode.StateTooLarge)
	// CodeOverloaded (429): the actor's mailbox is full; see Error.RetryAfter.
	CodeOverloaded = string(errcode.Overloaded)
	// CodeActionTimeout (504): the action ran longer than the server allows.
	CodeActionTimeout = string(errcode.ActionTimeout)
	// CodeStopping (503): the server is shutting down.
	CodeStopping = string(errcode.Stopping)
	// CodeUnauthorized (401): the API token is missing or wrong (Options.Token).
	CodeUnauthorized = string(errcode.Unauthorized)
	// CodeOriginNotAllowed (403): a browser page's origin is not allowed
	// (the server's --cors-origins).
	CodeOriginNotAllowed = string(errcode.OriginNotAllowed)
	// CodeMalformedJSON (400): the request body is not valid JSON.
	CodeMalformedJSON = string(errcode.MalformedJSON)
	// CodeInvalidRequest (400 or 422): a parameter or field is invalid; see Error.Details.
	CodeInvalidRequest = string(errcode.InvalidRequest)
	// CodeBodyTooLarge (413): the request body exceeds the server's limit.
	CodeBodyTooLarge = string(errcode.BodyTooLarge)
	// CodeInvalidCursor (400): a paging cursor that is malformed or from
	// another listing; start the listing again.
	CodeInvalidCursor = string(errcode.InvalidCursor)
	// CodeInvalidInput (400): a workflow run's input does not decode into the
	// workflow's input type; nothing was started.
	CodeInvalidInput = string(errcode.InvalidInput)
	// CodeInternal (500): the server failed; its log has the details.
	CodeInternal = string(errcode.InternalError)
	// CodeTooManyConnections (429): the actor has as many realtime connections as allowed.
	CodeTooManyConnections = string(errcode.TooManyConnections)
	// CodeUnknownOutcome (503): the server's log did not confirm whether the
	// call was stored; safe to retry only with an idempotency key.
	CodeUnknownOutcome = string(errcode.UnknownOutcome)
	// CodeIdempotencyKeyReused (422): the key was first used for another call.
	CodeIdempotencyKeyReused = string(errcode.IdempotencyKeyReused)
	// CodeCallCycle (409): an actor called back into its own call chain.
	CodeCallCycle = string(errcode.CallCycle)
	// CodeStateDecodeFailed (500): the actor's stored state no longer decodes.
	CodeStateDecodeFailed = string(errcode.StateDecodeFailed)
	// CodeTailFailed is sent inside a Tail stream when the server's log tail fails.
	CodeTailFailed = string(errcode.TailFailed)
)

// ErrorCode returns the code of the *Error in err's chain, or "" if there is
// none (a network error, a canceled context).
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// ErrStreamClosed is returned by Tail when the server ends the stream (it is
// stopping); resume with TailOptions.After set to the last sequence seen.
var ErrStreamClosed = errors.New("client: the server closed the event stream")

// problem is the server's problem JSON.
type problem struct {
	Status   int             `json:"status"`
	Title    string          `json:"title"`
	Code     string          `json:"code"`
	Message  string          `json:"message"`
	Detail   string          `json:"detail"`
	Metadata json.RawMessage `json:"metadata"`
	Group    string          `json:"group"`
	Errors   []ErrorDetail   `json:"errors"`
}

// readError turns a non-2xx response into an *Error and closes its body.
func readError(resp *http.Response) *Error {
	defer closeBody(resp.Body)
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	e := &Error{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"))}
	var p problem
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		e.Code, e.Message, e.Group, e.Details = p.Code, p.Message, p.Group, p.Errors
		if e.Message == "" {
			e.Message = p.Detail
		}
		if len(p.Metadata) > 0 && string(p.Metadata) != "null" {
			e.Metadata = p.Metadata
		}
		return e
	}
	e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	e.Message = msg
	return e
}
