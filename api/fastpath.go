package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// fastAction serves POST /v1/actors/{id}/actions/{action}, the hot route,
// without Huma's per-request reflection; Huma still documents it (same
// request, response and errors), and the tests run against this path.
func (s *Server) fastAction(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/actors/")
	if !ok {
		return false
	}
	id, action, ok := strings.Cut(rest, "/actions/")
	if !ok || id == "" || action == "" || strings.Contains(id, "/") || strings.Contains(action, "/") {
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, unsupportedMediaType(ct))
			return true
		}
	}
	body, err := s.readBody(w, r)
	if err != nil {
		if bodyTimedOut(err) {
			writeError(w, s.bodyTimeoutError())
			return true
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, bodyTooLarge(mbe.Limit))
			return true
		}
		writeError(w, errorOf(errcode.MalformedRequest, "cannot read the request body", nil))
		return true
	}
	args, apiErr := actionArgs(body)
	if apiErr != nil {
		writeError(w, apiErr)
		return true
	}
	params, apiErr := connParams(r)
	if apiErr != nil {
		writeError(w, apiErr)
		return true
	}
	h, err := s.client(r.Context()).Ref(id)
	if err != nil {
		writeError(w, fromActors(err))
		return true
	}
	ctx := actors.WithRequest(r.Context(), r)
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		ctx = actors.WithIdempotencyKey(ctx, key)
	}
	out, err := h.StatelessAction(ctx, params, action, args)
	if err != nil {
		writeError(w, fromActors(err))
		return true
	}
	w.Header().Set("Content-Type", "application/json")
	buf := make([]byte, 0, len(out)+12)
	buf = append(buf, `{"output":`...)
	buf = append(buf, out...)
	buf = append(buf, "}\n"...)
	_, _ = w.Write(buf)
	return true
}

// actionArgs reads an action's body, {"args": [...]}, as strictly as Huma
// reads the documented route: an empty body or no args is no arguments; a
// body that is not JSON is malformed_json; anything but an object, a field
// other than args or args that is not an array is invalid_request (422),
// naming what to send instead.
func actionArgs(body []byte) (json.RawMessage, *Error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return json.RawMessage("[]"), nil
	}
	if !json.Valid(body) {
		return nil, malformedJSON(json.Unmarshal(body, new(any)))
	}
	var in struct {
		Args json.RawMessage `json:"args"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, invalidBody("body", "the body must be an object such as {\"args\": [1]}")
		}
		field, _ := strings.CutPrefix(err.Error(), "json: unknown field ")
		return nil, invalidBody("body."+strings.Trim(field, `"`), "unexpected property: the body takes only args, such as {\"args\": [1]}")
	}
	trimmed := bytes.TrimSpace(in.Args)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("[]"), nil
	}
	if trimmed[0] != '[' {
		return nil, invalidBody("body.args", "expected an array of arguments, such as [1]")
	}
	return trimmed, nil
}
