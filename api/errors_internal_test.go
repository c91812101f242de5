package api

import (
	"cmp"
	"errors"
	"net/http"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// The statuses of the runtime's codes, as the API answered them before the
// catalogue: the catalogue must keep them.
func TestRuntimeStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		"actor_not_found": 404, "actor_type_not_found": 404, "action_not_found": 404, "no_request_handler": 404,
		"actor_exists": 409, "actor_conflict": 409, "invalid_args": 400, "invalid_key": 400, "invalid_actor_id": 400,
		"args_too_large": 413, "state_too_large": 422, "overloaded": 429, "too_many_connections": 429,
		"action_timeout": 504, "stopping": 503, "connection_closed": 410, "internal_error": 500,
		// Not the runtime's: internal.
		"not_found": 500, "unauthorized": 500, "closed": 500, "slow_client": 500, "no_such_code": 500, "": 500,
	} {
		if got := runtimeStatus(code); got != want {
			t.Errorf("runtimeStatus(%q) = %d, want %d", code, got, want)
		}
	}
	for _, err := range []*actors.Error{actors.ErrNotFound, actors.ErrExists, actors.ErrUnknownType, actors.ErrActionNotFound,
		actors.ErrInvalidArgs, actors.ErrInvalidKey, actors.ErrInvalidID, actors.ErrArgsTooLarge, actors.ErrStateTooLarge,
		actors.ErrOverloaded, actors.ErrActionTimeout, actors.ErrConflict, actors.ErrStopping, actors.ErrInternal,
		actors.ErrTooManyConns, actors.ErrConnClosed, actors.ErrNoRequestHandler} {
		e, ok := errcode.Lookup(errcode.Code(err.Code))
		if !ok || e.Group != errcode.GroupActor {
			t.Errorf("%s: not a catalogued code of group actor", err.Code)
		}
		if got := fromActors(err); got.Status != e.HTTPStatus || got.Group != errcode.GroupActor || got.Code != err.Code {
			t.Errorf("fromActors(%s) = %d %s %s", err.Code, got.Status, got.Group, got.Code)
		}
	}
}

// Huma's own errors are named by status, as before the catalogue.
func TestCodeForStatus(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]errcode.Code{
		400: "malformed_request", 422: "invalid_request", 413: "body_too_large", 404: "not_found",
		401: "unauthorized", 405: "method_not_allowed", 415: "unsupported_media_type", 408: "request_timeout",
		500: "internal_error", 406: "internal_error", 503: "internal_error", 429: "internal_error",
	} {
		if got := codeForStatus(status); got != want {
			t.Errorf("codeForStatus(%d) = %s, want %s", status, got, want)
		}
	}
}

func TestFromHuma(t *testing.T) {
	t.Parallel()
	detail := &huma.ErrorDetail{Message: "unexpected end of JSON input", Location: "body"}
	for _, tc := range []struct {
		name       string
		in         huma.StatusError
		wantCode   string
		wantErrors int
		wantMsg    string // "" = the Huma error's detail
	}{
		{"400 with details is malformed JSON", huma.NewError(400, "validation failed", detail), "malformed_json", 1,
			"request body is not valid JSON: unexpected end of JSON input"},
		{"400 without details", huma.NewError(400, "bad"), "malformed_request", 0, ""},
		{"nil errors are dropped", huma.NewError(400, "bad", nil, nil), "malformed_request", 0, ""},
		{"plain errors become details", huma.NewError(422, "validation failed", errors.New("no"), nil), "invalid_request", 1, "invalid request: no"},
		{"size", huma.NewError(413, "too large"), "body_too_large", 0, ""},
		{"other", huma.NewError(500, "boom"), "internal_error", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := errorTransformer(nil, "", tc.in)
			if err != nil {
				t.Fatal(err)
			}
			e, ok := out.(*Error)
			if !ok {
				t.Fatalf("transformed to %T", out)
			}
			m := tc.in.(*huma.ErrorModel)
			wantMsg := cmp.Or(tc.wantMsg, m.Detail)
			if e.Code != tc.wantCode || e.Status != m.Status || e.Group != "api" || e.Message != wantMsg ||
				e.Detail != wantMsg || e.Title != http.StatusText(m.Status) || e.Type != "about:blank" || len(e.Errors) != tc.wantErrors {
				t.Errorf("got %+v", e)
			}
		})
	}
	ours := errorOf(errcode.Overloaded, "full", nil)
	if out, _ := errorTransformer(nil, "", ours); out != ours {
		t.Error("our own error was rewritten")
	}
	body := map[string]int{"n": 1}
	if out, _ := errorTransformer(nil, "", body); out == nil {
		t.Error("a success body was dropped")
	}
}
