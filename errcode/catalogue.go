package errcode

// Entry is one catalogued code.
type Entry struct {
	// Code is the code itself.
	Code Code
	// HTTPStatus is the status of a response with this code, or 0 for a code
	// sent only inside a stream (a WebSocket message or close reason, a
	// Server-Sent Event).
	HTTPStatus int
	// Group is who raises it: GroupActor, GroupAPI or GroupUser.
	Group string
	// Meaning is one line on what happened and what to do.
	Meaning string
}

// catalogue is every code rivet-flow returns, the runtime's first, then the
// HTTP layer's, then those raised as user errors.
var catalogue = []Entry{
	{ActorNotFound, 404, GroupActor, "No live actor has this ID, or this type and key (it was never created, or it was destroyed)."},
	{ActorTypeNotFound, 404, GroupActor, "The server serves no actor type of this name."},
	{ActionNotFound, 404, GroupActor, "The actor's type has no action of this name."},
	{NoRequestHandler, 404, GroupActor, "The actor's type has no raw HTTP or WebSocket handler (onRequest, onWebSocket)."},
	{ActorExists, 409, GroupActor, "A create found the actor already there; use get-or-create to accept an existing one."},
	{ActorConflict, 409, GroupActor, "Another writer appended to the actor first; retry."},
	{DuplicateKey, 409, GroupActor, "The RivetKit gateway's name for actor_exists."},
	{InvalidArgs, 400, GroupActor, "The arguments do not fit the action's parameters."},
	{InvalidKey, 400, GroupActor, "The key cannot name an actor."},
	{InvalidActorID, 400, GroupActor, "The string is not an actor ID (they look like counter.kAWE)."},
	{ArgsTooLarge, 413, GroupActor, "The arguments or create input exceed the server's limit."},
	{StateTooLarge, 422, GroupActor, "The action would grow the actor's state, or its event, beyond the server's limit; the action failed."},
	{Overloaded, 429, GroupActor, "The actor's mailbox is full, or --max-awake-actors are in memory and none can sleep; retry after Retry-After."},
	{TooManyConnections, 429, GroupActor, "The actor has as many realtime connections as allowed; retry after Retry-After."},
	{ConnectionClosed, 410, GroupActor, "The realtime connection is closed."},
	{Stopping, 503, GroupActor, "The server is shutting down; retry after Retry-After, on this server once it is back or on another."},
	{ActionTimeout, 504, GroupActor, "The action ran longer than the server allows."},
	{CallCycle, 409, GroupActor, "An actor called, synchronously, an actor already waiting in its call chain (A -> B -> A), which would wait for itself; call back with a one-way send."},
	{IdempotencyKeyReused, 422, GroupActor, "The Idempotency-Key was first used for another action or other arguments on this actor; use a new key per distinct call."},
	{UnknownOutcome, 503, GroupActor, "The event log did not confirm whether the action was stored (it stayed unreachable); retry after Retry-After, with the same Idempotency-Key to make the retry safe."},
	{StateDecodeFailed, 500, GroupActor, "The actor's stored state no longer decodes into its state type (a code change?), or the type's Migrate hook failed to upgrade it; nothing runs or is appended until a Migrate hook or a fix; the message names the actor, sequence and decode or migration error."},
	{TooManyAlarms, 422, GroupActor, "The actor has as many pending alarms (its crons' next fires included) as the server allows (1,000 by default); cancel some first; nothing was scheduled."},
	{InvalidCron, 400, GroupActor, "A cron spec does not parse (5 fields, an optional 6th for seconds first, or a descriptor such as @daily or @every 10s); the message has the parser's reason."},
	{InvalidTimezone, 400, GroupActor, "A cron spec's CRON_TZ= (or TZ=) names a time zone this server does not know (use an IANA name such as America/New_York)."},
	{InternalError, 500, GroupActor, "The server failed; its log has the details (also in group api when the HTTP layer failed)."},
	{Nondeterminism, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: the workflow's code diverged from the run's journal (a call added, removed, renamed or reordered without GetVersion); the message names both sides."},
	{StepFailed, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: a step failed (retries exhausted, or a non-retryable error) with an error that carries no code of its own; the message is the step's error."},
	{WorkflowFailed, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: the workflow function returned an error that carries no code of its own."},
	{EntryTooLarge, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: a step result, message or loop state exceeded the journal's per-entry limit; the step failed without retries."},
	{JournalTooLarge, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: the run's journal outgrew its share of the run actor's state limit; use Loop or ContinueAsNew."},
	{Cancelled, 0, GroupActor, "Run error code of a cancelled run (status cancelled), carried in its error and in its actor's event stream, never as a response status: the message has the cancel's reason and any compensation that failed."},
	{ChildFailed, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: a child run the workflow waited for (Child) failed or was cancelled; the message names the child and its error."},
	{UnsupportedVersion, 0, GroupActor, "Run error code, carried in a failed run's error (GET /v1/workflows/{name}/runs/{runId}) and in its actor's event stream, never as a response status: GetVersion found a version recorded by older code below the minimum the current code supports; keep the old branch or let such runs finish first."},
	{MessageTimeout, 0, GroupActor, "Error code a workflow's queue wait (Queue().Next with a timeout) returns to the workflow code, never a response status; it reaches the run's event stream only if the workflow fails with it: no message came in time."},
	{JoinFailed, 0, GroupActor, "Error code an actor workflow's Join (workflows/actorwf) returns to the workflow code, never a response status; it reaches the actor's event stream only if the workflow fails with it: one or more branches failed, the message names them."},
	{SlowClient, 0, GroupActor, "WebSocket close reason: the client did not read its messages fast enough."},
	{HeartbeatTimeout, 0, GroupActor, "WebSocket close reason: the client did not answer a ping in time."},
	{Closed, 0, GroupActor, "WebSocket close reason: the actor ended the connection."},

	{NotFound, 404, GroupAPI, "No route matches the path (see /docs); the RivetKit gateway also sends it, in group actor, for actor_not_found."},
	{MethodNotAllowed, 405, GroupAPI, "The route exists, but not for this method; the Allow header lists those it takes."},
	{Unauthorized, 401, GroupAPI, "The API token is missing or wrong; send it as a bearer token."},
	{OriginNotAllowed, 403, GroupAPI, "A browser sent the request from a web page whose origin is neither the server's own nor in --cors-origins; nothing was done; add the page's origin to --cors-origins to allow it (clients that send no Origin header, such as curl, are not affected)."},
	{MalformedRequest, 400, GroupAPI, "The request cannot be read (a broken body or parameter)."},
	{MalformedJSON, 400, GroupAPI, "A request body, parameter or WebSocket message is not valid JSON."},
	{InvalidRequest, 422, GroupAPI, "A parameter or field is invalid (an unknown body field, a wrong type, a value out of range); message and errors say which and where (400 for the log tail's type parameter)."},
	{InvalidCursor, 400, GroupAPI, "A paging cursor (after, cursor) is malformed or comes from another listing; pass the value the previous page returned (nextAfter, nextCursor) with the same filters, or start again without it."},
	{InvalidInput, 400, GroupAPI, "A create input sent to the RivetKit gateway is not base64-encoded CBOR; also the error code of a workflow run whose input does not decode into the workflow's input type."},
	{InvalidMethod, 400, GroupAPI, "The RivetKit gateway's rvt-method is not get, getOrCreate or create."},
	{BodyTooLarge, 413, GroupAPI, "The request body exceeds the server's limit."},
	{UnsupportedMediaType, 415, GroupAPI, "The request body is not JSON; send it as application/json."},
	{RequestTimeout, 408, GroupAPI, "The request body did not arrive in time."},
	{ClientClosed, 499, GroupAPI, "The client went away before the answer (only the server's logs and metrics see it)."},
	{LogUnavailable, 503, GroupAPI, "The event log cannot be read right now; retry."},
	{TooManyTails, 429, GroupAPI, "As many event log tails (GET /v1/events/tail) are open as the server allows (--max-tails); retry after Retry-After."},
	{ProjectionNotFound, 404, GroupAPI, "The server runs no projection (read model) of this name; GET /v1/projections lists them."},
	{QueueNotFound, 404, GroupAPI, "No queue has this name; GET /v1/queues lists them, PUT /v1/queues/{name} creates one."},
	{QueueFull, 429, GroupAPI, "The queue holds as many messages (maxMessages) or bytes (maxBytes) as allowed and its overflow is reject; nothing was enqueued; retry after Retry-After, or raise the limit with PATCH."},
	{MessageTooLarge, 413, GroupAPI, "The message body exceeds its queue's maxMessageBytes; nothing was enqueued."},
	{InvalidReceipt, 400, GroupAPI, "A receipt is malformed, belongs to another queue, or names a message no longer in the queue (acknowledged, dead-lettered or deleted); nothing was settled."},
	{WorkflowNotFound, 404, GroupAPI, "The server runs no workflow of this name."},
	{RunNotFound, 404, GroupAPI, "The workflow has no run of this ID; POST /v1/workflows/{name}/runs starts one."},
	{RunFinished, 409, GroupAPI, "The run is completed, failed or cancelled: it takes no more signals or commands."},
	{InboxFull, 429, GroupAPI, "The run's inbox holds as many signals not yet taken as its workflow allows (MaxInbox, 1,000 by default); nothing was sent; retry after Retry-After."},
	{InvalidRunID, 400, GroupAPI, "A run ID is not 1 to 128 of A-Z a-z 0-9 . _ -."},
	{QueueNotSupported, 400, GroupActor, "A queue message for a workflow's run reached an actor that is not one of this server's workflow runs (its type changed under it); nothing was sent. Sends to other actor types go to their own queues (Options.Queues)."},
	{ActorQueueFull, 429, GroupActor, "The actor's queue holds as many messages as its type allows (MaxQueueSize, 1,000 by default); nothing was sent; retry after Retry-After, once the actor has taken some."},
	{ActorQueueMessageTooLarge, 413, GroupActor, "The queue message (its name and JSON body) exceeds the actor type's MaxQueueMessageBytes (64 KiB by default); nothing was sent."},
	{ActorQueueNotFound, 404, GroupActor, "The actor's type declares no queue of this name (Options.Queues); nothing was sent."},
	{QueueMessageNotCompleted, 409, GroupActor, "Actor code asked for its next queue message while holding a completable one it has not completed; complete it first."},
	{QueueMessageAlreadyCompleted, 409, GroupActor, "Actor code completed a queue message that was already completed."},
	{ActorAborted, 503, GroupActor, "The actor stopped (sleep, destroy, shutdown), or the wait's own context ended, while its code waited for a queue message."},
	{RunInFlight, 409, GroupActor, "The actor's workflow is running (a step, a wait that keeps it awake), so it cannot be replayed from the beginning now; retry once it waits or has finished."},
	{RunNotReplayable, 400, GroupActor, "The actor's type has no workflow (workflows/actorwf) to show or replay."},
	{MalformedMessage, 0, GroupAPI, "A RivetKit WebSocket frame cannot be decoded."},
	{UnknownMessage, 0, GroupAPI, "A WebSocket message has an unknown type."},
	{BinaryUnsupported, 0, GroupAPI, "A binary WebSocket frame came where JSON text was expected."},
	{TailFailed, 0, GroupAPI, "The event log tail failed mid-stream (an error event in the stream; the Go client names it so)."},

	{InvalidBroadcast, 400, GroupUser, "An action broadcast arguments that do not encode as JSON; the action failed."},
	{Forbidden, 400, GroupUser, "The actor's CanSubscribe refused a connection's subscription to an event, or the connection asked for every event of a type that checks each (subscribe by name); nothing was subscribed. Sent in group auth, as RivetKit does."},
}

// index finds an entry by code.
var index = func() map[Code]int {
	m := make(map[Code]int, len(catalogue))
	for i, e := range catalogue {
		m[e.Code] = i
	}
	return m
}()

// All returns every catalogued code: the runtime's (GroupActor) first, then
// the HTTP layer's (GroupAPI), then those raised as user errors. The slice is
// a copy.
func All() []Entry {
	out := make([]Entry, len(catalogue))
	copy(out, catalogue)
	return out
}

// Lookup returns the code's entry, and false if the code is not catalogued
// (a user error's own code, say).
func Lookup(code Code) (Entry, bool) {
	i, ok := index[code]
	if !ok {
		return Entry{}, false
	}
	return catalogue[i], true
}

// Status returns the code's HTTP status: 0 for a code sent only inside a
// stream, and 500 for a code that is not catalogued.
func Status(code Code) int {
	e, ok := Lookup(code)
	if !ok {
		return 500
	}
	return e.HTTPStatus
}
