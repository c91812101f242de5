package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/rivet-flow/rivet-flow/client"
)

// reporter prints a command's errors: for a person (what went wrong, then
// what to do next), or with --json as one JSON object on stderr.
type reporter struct {
	name   string // the command as typed: "actors call"
	stderr io.Writer
	json   bool
	types  typeSource // the actor types hints name; nil: no names
	// actorType is the type of the actor the command addressed, when known.
	actorType string
	// hint is a command's own advice for a server error (schedules, queues,
	// workflows), asked before the usual hints but after a user error's;
	// "" leaves it to them.
	hint func(r reporter, e *client.Error) string
}

// typeSource lists the actor types of the server (or registry) a command
// works with, for hints.
type typeSource func(ctx context.Context) ([]client.ActorType, error)

// jsonError is an error as --json prints it.
type jsonError struct {
	Code    string               `json:"code"`              // the server's error code, or usage, unreachable, interrupted, error
	Message string               `json:"message"`           // what went wrong
	Hint    string               `json:"hint,omitempty"`    // what to do next
	Status  int                  `json:"status,omitempty"`  // the HTTP status, for the server's errors
	Details []client.ErrorDetail `json:"details,omitempty"` // the server's details, per field
}

// usageError prints a usage problem and returns exit code 2.
func (r reporter) usageError(err error) int {
	if r.json {
		_ = writeJSON(r.stderr, jsonError{Code: "usage", Message: err.Error(), Hint: "see " + strings.TrimSpace("rivet-flow "+r.name+" --help")})
		return 2
	}
	fmt.Fprintf(r.stderr, "%s: %v\n", strings.TrimSpace("rivet-flow "+r.name), err)
	return 2
}

// fail prints err, from the server at addr, and returns exit code 1.
func (r reporter) fail(addr string, err error) int {
	e := r.describe(addr, err)
	if r.json {
		_ = writeJSON(r.stderr, e)
		return 1
	}
	switch e.Code {
	case "error", "interrupted", "unreachable", "stream_closed":
		fmt.Fprintf(r.stderr, "rivet-flow %s: %s\n", r.name, e.Message)
	default:
		fmt.Fprintf(r.stderr, "rivet-flow %s: %s (%d): %s\n", r.name, e.Code, e.Status, e.Message)
		for _, d := range e.Details {
			fmt.Fprintf(r.stderr, "  %s %s\n", d.Location, d.Message)
		}
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) && len(apiErr.Metadata) > 0 {
		fmt.Fprintf(r.stderr, "  metadata: %s\n", apiErr.Metadata)
	}
	if e.Hint != "" {
		fmt.Fprintf(r.stderr, "  %s\n", e.Hint)
	}
	return 1
}

// streamClosed is a followed stream the server ended (it is stopping, say),
// with the command that resumes it where it stopped ("" when none can).
type streamClosed struct{ resume string }

func (streamClosed) Error() string { return "the server closed the stream (is it stopping?)" }

// describe sorts err into a code, a message and a hint.
func (r reporter) describe(addr string, err error) jsonError {
	var apiErr *client.Error
	var sc streamClosed
	switch {
	case errors.As(err, &apiErr):
		return jsonError{Code: apiErr.Code, Message: apiErr.Message, Status: apiErr.Status, Details: apiErr.Details, Hint: r.hintFor(apiErr)}
	case errors.As(err, &sc):
		e := jsonError{Code: "stream_closed", Message: sc.Error()}
		if sc.resume != "" {
			e.Hint = "resume with: " + sc.resume
		}
		return e
	case errors.Is(err, context.Canceled):
		return jsonError{Code: "interrupted", Message: "interrupted"}
	case isNetError(err):
		return jsonError{Code: "unreachable", Message: fmt.Sprintf("cannot reach the server at %s: %v", addr, unwrapNet(err)),
			Hint: "is the server running? start it with: rivet-flow serve (or point --addr / " + clientEnv["addr"] + " at it)"}
	}
	return jsonError{Code: "error", Message: err.Error()}
}

// flagWants says why flag f cannot take value, from the error its Set
// returned: what it expects for pflag's types, whose errors are Go's parse
// errors (strconv.ParseInt: parsing "x": invalid syntax); the error itself
// (without the value, which the caller names) for this package's types,
// which say what they want already.
func flagWants(f *pflag.Flag, value string, err error) string {
	var num *strconv.NumError
	if errors.As(err, &num) && errors.Is(num.Err, strconv.ErrRange) {
		return "out of range"
	}
	switch f.Value.Type() {
	case "int", "int8", "int16", "int32", "int64":
		return "expected an integer"
	case "uint", "uint8", "uint16", "uint32", "uint64":
		return "expected an integer, 0 or more"
	case "float32", "float64":
		return "expected a number"
	case "bool":
		return "expected true or false"
	case "duration":
		return "expected a duration such as 500ms, 30s, 5m or 1h30m"
	}
	return strings.TrimPrefix(err.Error(), strconv.Quote(value)+": ")
}

func isNetError(err error) bool {
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// unwrapNet returns the innermost *net.OpError (its text names the address
// and the reason), else err.
func unwrapNet(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	return err
}

// hintFor says what to do about an error from the server. The hints that
// name actor types or actions ask r.types (the server's GET /v1/types).
func (r reporter) hintFor(e *client.Error) string {
	if e.Group == "user" {
		return "the actor's code rejected the call (a user error): check the arguments against what the action expects"
	}
	if r.hint != nil {
		if h := r.hint(r, e); h != "" {
			return h
		}
	}
	switch e.Code {
	case client.CodeUnauthorized:
		return "the server requires an API token: pass --token (or --token-file) or set " + clientEnv["token"]
	case client.CodeActorNotFound:
		return "find live actors with: rivet-flow actors list --type TYPE"
	case client.CodeInvalidActorID:
		return "actor IDs look like TYPE.KEY (e.g. counter.kAWE): find them with: rivet-flow actors list --type TYPE"
	case client.CodeActorTypeNotFound:
		if names := r.typeNames(); names != "" {
			return "check the type name: this server's types are " + names
		}
		return "check the type name: list this server's types with: rivet-flow types"
	case client.CodeActionNotFound:
		if typ, actions := r.actionsOf(); typ != "" {
			return fmt.Sprintf("check the action name: a %s has %s", typ, actions)
		}
		return "check the action name: list each type's actions with: rivet-flow types"
	case client.CodeInvalidArgs, client.CodeMalformedJSON, client.CodeInvalidRequest:
		return "pass the arguments as a JSON array in the action's parameter order, e.g. '[5]'"
	case client.CodeArgsTooLarge, client.CodeBodyTooLarge:
		return "send smaller arguments (the server bounds them with --max-args-bytes and --max-body-bytes)"
	case client.CodeOverloaded, client.CodeStopping, client.CodeTooManyConnections:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("the server is busy: retry in %v", e.RetryAfter)
		}
		return "the server is busy: retry shortly"
	case client.CodeActionTimeout:
		return "the action ran longer than the server's --action-timeout"
	case client.CodeInternal:
		return "the server's log has the details"
	}
	if strings.HasPrefix(e.Code, "http_") {
		return "is --addr pointing at a rivet-flow server?"
	}
	return ""
}

// failHinted is the command's fail with its own hints first: hint says
// what to do about a server error, "" leaves it to the usual hints. The
// error goes through the reporter, so --json prints it as one JSON object.
func (cmd *clientCommand) failHinted(err error, hint func(r reporter, e *client.Error) string) int {
	r := cmd.reporter()
	if cmd.c != nil {
		r.types = cmd.c.Types
	}
	r.actorType = cmd.actorType
	r.hint = hint
	return r.fail(cmd.cf.addr, err)
}

// hintTimeout bounds the request a hint makes: a hint must not hold up the
// error it explains.
const hintTimeout = 2 * time.Second

// listTypes asks r.types, bounded by hintTimeout; nil when it cannot.
func (r reporter) listTypes() []client.ActorType {
	if r.types == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), hintTimeout)
	defer cancel()
	types, err := r.types(ctx)
	if err != nil {
		return nil
	}
	return types
}

// typeNames is the server's user-facing actor types, comma-separated.
func (r reporter) typeNames() string {
	var names []string
	for _, t := range r.listTypes() {
		if !t.System {
			names = append(names, t.Name)
		}
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// actionsOf names the type of the actor the command addressed and its
// actions, from r.types; "" when either is unknown.
func (r reporter) actionsOf() (string, string) {
	if r.actorType == "" {
		return "", ""
	}
	for _, t := range r.listTypes() {
		if t.Name != r.actorType {
			continue
		}
		if len(t.Actions) == 0 {
			return t.Name, "no actions"
		}
		return t.Name, "the actions " + strings.Join(t.Actions, ", ")
	}
	return "", ""
}
