// Package errcode is the catalogue of the stable error codes rivet-flow
// returns: one constant per code, and a table that gives each code its HTTP
// status, its group and what it means.
//
// Every error a remote caller sees carries a code, a human message and
// optional metadata. The runtime (package actors), the HTTP API (package
// api), the Go client (package client) and the documentation (docs/errors.md)
// all take their codes from here, so a code is spelled once.
//
// Groups say who raised an error:
//
//   - "actor": the runtime, about an actor or a call (actor_not_found);
//   - "api": the HTTP layer, about the request itself (malformed_json);
//   - "user": an actor's own code, on purpose (actors.NewUserError). User
//     errors carry the code the actor chose, so almost none are catalogued.
//
// A few codes are never an HTTP response: they travel inside a stream (a
// WebSocket message or close reason, a Server-Sent Event) and have no status
// (Entry.HTTPStatus is 0).
//
// The package is a leaf: it imports nothing, so any package may use it.
package errcode

// Code is a stable, machine-readable error code, such as "actor_not_found".
// The constants below are the catalogued codes; a user error's code is any
// string the actor chose.
type Code string

// Groups: who raised an error.
const (
	// GroupActor is for errors the runtime raises about an actor or a call.
	GroupActor = "actor"
	// GroupAPI is for errors the HTTP layer raises about the request itself.
	GroupAPI = "api"
	// GroupUser is for errors an actor's code returns on purpose.
	GroupUser = "user"
)

// Codes of the runtime (GroupActor).
const (
	// ActorNotFound (404): no live actor has this ID, or this type and key.
	ActorNotFound Code = "actor_not_found"
	// ActorTypeNotFound (404): the server serves no actor type of this name.
	ActorTypeNotFound Code = "actor_type_not_found"
	// ActionNotFound (404): the actor's type has no action of this name.
	ActionNotFound Code = "action_not_found"
	// NoRequestHandler (404): the actor's type has no raw HTTP or WebSocket handler.
	NoRequestHandler Code = "no_request_handler"
	// ActorExists (409): a create found the actor already there.
	ActorExists Code = "actor_exists"
	// ActorConflict (409): another writer appended to the actor first.
	ActorConflict Code = "actor_conflict"
	// DuplicateKey (409): the RivetKit gateway's name for ActorExists.
	DuplicateKey Code = "duplicate_key"
	// InvalidArgs (400): the arguments do not fit the action's parameters.
	InvalidArgs Code = "invalid_args"
	// InvalidKey (400): the key cannot name an actor.
	InvalidKey Code = "invalid_key"
	// InvalidActorID (400): the string is not an actor ID.
	InvalidActorID Code = "invalid_actor_id"
	// ArgsTooLarge (413): the arguments or create input exceed the server's limit.
	ArgsTooLarge Code = "args_too_large"
	// StateTooLarge (422): the action would grow the state beyond the server's limit.
	StateTooLarge Code = "state_too_large"
	// Overloaded (429): the actor's mailbox is full.
	Overloaded Code = "overloaded"
	// TooManyConnections (429): the actor has as many realtime connections as allowed.
	TooManyConnections Code = "too_many_connections"
	// ConnectionClosed (410): the realtime connection is closed.
	ConnectionClosed Code = "connection_closed"
	// Stopping (503): the server is shutting down.
	Stopping Code = "stopping"
	// ActionTimeout (504): the action ran longer than the server allows.
	ActionTimeout Code = "action_timeout"
	// InternalError (500): the server failed; its log has the details.
	InternalError Code = "internal_error"
	// CallCycle (409): a synchronous call back into its own call chain.
	CallCycle Code = "call_cycle"
	// IdempotencyKeyReused (422): the idempotency key was first used for
	// another action or other arguments.
	IdempotencyKeyReused Code = "idempotency_key_reused"
	// UnknownOutcome (503): the log did not confirm whether the action was
	// stored; retrying with the same idempotency key is safe.
	UnknownOutcome Code = "unknown_outcome"
	// StateDecodeFailed (500): the actor's stored state no longer decodes
	// into its type, or its Migrate hook failed; nothing runs or is appended
	// until a migration or a fix.
	StateDecodeFailed Code = "state_decode_failed"
	// TooManyAlarms (422): the actor has as many pending alarms (crons'
	// included) as allowed.
	TooManyAlarms Code = "too_many_alarms"
	// InvalidCron (400): a cron spec does not parse.
	InvalidCron Code = "invalid_cron"
	// InvalidTimezone (400): a cron spec's CRON_TZ names no known time zone.
	InvalidTimezone Code = "invalid_timezone"
	// SlowClient (stream only): a WebSocket closed because its client did
	// not read its messages fast enough.
	SlowClient Code = "slow_client"
	// HeartbeatTimeout (stream only): a WebSocket closed because its client
	// did not answer a ping.
	HeartbeatTimeout Code = "heartbeat_timeout"
	// Closed (stream only): a WebSocket closed because the actor ended the
	// connection.
	Closed Code = "closed"
)

// Codes of the HTTP layer (GroupAPI).
const (
	// NotFound (404): no route matches the path. The RivetKit gateway also
	// uses it, in GroupActor, for ActorNotFound.
	NotFound Code = "not_found"
	// MethodNotAllowed (405): the route exists, but not for this method.
	MethodNotAllowed Code = "method_not_allowed"
	// Unauthorized (401): the API token is missing or wrong.
	Unauthorized Code = "unauthorized"
	// OriginNotAllowed (403): a browser request came from an origin that is
	// neither the server's own nor in its CORS origins.
	OriginNotAllowed Code = "origin_not_allowed"
	// MalformedRequest (400): the request cannot be read.
	MalformedRequest Code = "malformed_request"
	// MalformedJSON (400): a body, parameter or message is not valid JSON.
	MalformedJSON Code = "malformed_json"
	// InvalidRequest (422): a parameter or field is invalid.
	InvalidRequest Code = "invalid_request"
	// InvalidCursor (400): a paging cursor (after, cursor) is malformed or
	// comes from another listing.
	InvalidCursor Code = "invalid_cursor"
	// InvalidInput (400): a create input sent to the RivetKit gateway is not base64 CBOR.
	InvalidInput Code = "invalid_input"
	// InvalidMethod (400): the RivetKit gateway's rvt-method is unknown.
	InvalidMethod Code = "invalid_method"
	// BodyTooLarge (413): the request body exceeds the server's limit.
	BodyTooLarge Code = "body_too_large"
	// UnsupportedMediaType (415): the request body is not JSON.
	UnsupportedMediaType Code = "unsupported_media_type"
	// RequestTimeout (408): the request body did not arrive in time.
	RequestTimeout Code = "request_timeout"
	// ClientClosed (499): the client went away before the answer.
	ClientClosed Code = "client_closed"
	// LogUnavailable (503): the event log cannot be read.
	LogUnavailable Code = "log_unavailable"
	// TooManyTails (429): as many event log tails are open as allowed.
	TooManyTails Code = "too_many_tails"
	// ProjectionNotFound (404): the server runs no projection of this name.
	ProjectionNotFound Code = "projection_not_found"
	// QueueNotFound (404): no queue has this name.
	QueueNotFound Code = "queue_not_found"
	// QueueFull (429): the queue holds as many messages or bytes as allowed.
	QueueFull Code = "queue_full"
	// MessageTooLarge (413): a queue message exceeds its queue's maxMessageBytes.
	MessageTooLarge Code = "message_too_large"
	// InvalidReceipt (400): a receipt is malformed, of another queue, or
	// names a message no longer in the queue.
	InvalidReceipt Code = "invalid_receipt"
	// WorkflowNotFound (404): the server runs no workflow of this name.
	WorkflowNotFound Code = "workflow_not_found"
	// RunNotFound (404): the workflow has no run of this ID.
	RunNotFound Code = "run_not_found"
	// RunFinished (409): the run is completed, failed or cancelled, so it
	// takes no more signals or commands.
	RunFinished Code = "run_finished"
	// InboxFull (429): the run's inbox holds as many signals not yet taken
	// as allowed.
	InboxFull Code = "inbox_full"
	// InvalidRunID (400): a run ID is not 1 to 128 of [A-Za-z0-9._-].
	InvalidRunID Code = "invalid_run_id"
	// QueueNotSupported (400): a queue message sent through the RivetKit
	// gateway to an actor that is not a workflow run.
	QueueNotSupported Code = "queue_not_supported"
	// ActorQueueFull (429): the actor's queue holds as many messages as its
	// type allows (MaxQueueSize).
	ActorQueueFull Code = "actor_queue_full"
	// ActorQueueMessageTooLarge (413): a message exceeds its actor type's
	// MaxQueueMessageBytes.
	ActorQueueMessageTooLarge Code = "actor_queue_message_too_large"
	// ActorQueueNotFound (404): the actor's type declares no queue of this name.
	ActorQueueNotFound Code = "actor_queue_not_found"
	// QueueMessageNotCompleted (409): actor code asked for the next message
	// before completing the completable one it holds.
	QueueMessageNotCompleted Code = "queue_message_not_completed"
	// QueueMessageAlreadyCompleted (409): actor code completed a message twice.
	QueueMessageAlreadyCompleted Code = "queue_message_already_completed"
	// ActorAborted (503): the actor is stopping (sleep, destroy, shutdown),
	// or the caller's signal ended, while its code waited.
	ActorAborted Code = "actor_aborted"
	// RunInFlight (409): the actor's Run handler (a workflow) is running, so
	// it cannot be replayed from the beginning now.
	RunInFlight Code = "run_in_flight"
	// RunNotReplayable (400): the actor's Run handler is not a workflow.
	RunNotReplayable Code = "workflow_not_enabled"
	// MalformedMessage (stream only): a RivetKit WebSocket frame cannot be decoded.
	MalformedMessage Code = "malformed_message"
	// UnknownMessage (stream only): a WebSocket message has an unknown type.
	UnknownMessage Code = "unknown_message"
	// BinaryUnsupported (stream only): a binary WebSocket frame came where
	// JSON text was expected.
	BinaryUnsupported Code = "binary_unsupported"
	// TailFailed (stream only): the event log tail failed mid-stream.
	TailFailed Code = "tail_failed"
)

// Codes a failed workflow run carries in its error (run error codes, in
// GroupActor): never a response's status, they are in the run as GET
// /v1/workflows/{name}/runs/{runId} shows it and in its actor's events.
// Package workflows raises them with these spellings; InvalidInput also
// serves as one (a run's input that does not decode).
const (
	// Nondeterminism (run error): the workflow's code diverged from the
	// run's journal.
	Nondeterminism Code = "nondeterminism"
	// StepFailed (run error): a step failed with an error that carries no
	// code of its own.
	StepFailed Code = "step_failed"
	// WorkflowFailed (run error): the workflow function returned an error
	// that carries no code of its own.
	WorkflowFailed Code = "workflow_failed"
	// EntryTooLarge (run error): a journal entry exceeded its limit.
	EntryTooLarge Code = "entry_too_large"
	// JournalTooLarge (run error): the run's journal exceeded its limit.
	JournalTooLarge Code = "journal_too_large"
	// Cancelled (run error): the run was cancelled; the message has the
	// reason.
	Cancelled Code = "cancelled"
	// ChildFailed (run error): a child run the workflow waited for failed
	// or was cancelled.
	ChildFailed Code = "child_failed"
	// UnsupportedVersion (run error): GetVersion found a recorded version
	// below the code's minimum supported.
	UnsupportedVersion Code = "unsupported_version"
	// MessageTimeout (workflow code): a queue wait (Queue().Next) timed out;
	// the workflow sees it as an error it may handle.
	MessageTimeout Code = "message_timeout"
	// JoinFailed (workflow code): branches of an actor workflow's Join
	// failed; the workflow sees it as an error it may handle.
	JoinFailed Code = "join_failed"
)

// Codes raised inside an action as user errors (GroupUser).
const (
	// InvalidBroadcast (400): an action broadcast arguments that do not
	// encode as JSON.
	InvalidBroadcast Code = "invalid_broadcast"
	// Forbidden (400, group "auth", as RivetKit sends it): the actor's
	// CanSubscribe refused a subscription.
	Forbidden Code = "forbidden"
)
