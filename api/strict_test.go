package api_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// actorSeq is the log sequence of an actor's last event.
func (b *bundle) actorSeq(t *testing.T, id string) uint64 {
	t.Helper()
	evs := b.history(t, id)
	if len(evs) == 0 {
		t.Fatalf("%s has no events", id)
	}
	return evs[len(evs)-1].Seq
}

// wantUserTerms fails on a message that speaks Go instead of the caller's terms.
func wantUserTerms(t *testing.T, msg string) {
	t.Helper()
	for _, goTerm := range []string{"int64", "json:", "Go value", "unmarshal", "struct {"} {
		if strings.Contains(msg, goTerm) {
			t.Errorf("message %q speaks Go (%q)", msg, goTerm)
		}
	}
	if msg == "validation failed" {
		t.Errorf("message %q says nothing of what or where", msg)
	}
}

// A typo in the body, no arguments, null or extra arguments are refused
// with a message naming the argument, and nothing is appended.
func TestStrictActionInputs(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	counter := b.actor(t, "counter", "strict")
	room := b.actor(t, "chatRoom", "strict")
	b.action(t, counter.ID, "increment", 2)
	path := "/v1/actors/" + counter.ID + "/actions/increment"
	tests := []struct {
		name, body string
		status     int
		code, want string
	}{
		{"typo in the field name", `{"arg":[5]}`, 422, "invalid_request", "body.arg: unexpected property"},
		{"empty object", `{}`, 400, "invalid_args", "argument 1 (amount) is missing"},
		{"empty body", ``, 400, "invalid_args", "argument 1 (amount) is missing"},
		{"args null", `{"args":null}`, 400, "invalid_args", "argument 1 (amount) is missing"},
		{"null argument", `{"args":[null]}`, 400, "invalid_args", "argument 1 (amount): expected an integer, got null"},
		{"a bare array", `[null]`, 422, "invalid_request", "the body must be an object"},
		{"extra argument", `{"args":[1,2]}`, 400, "invalid_args", "expected at most 1 argument, got 2"},
		{"string for a number", `{"args":["5"]}`, 400, "invalid_args", "argument 1 (amount): expected an integer, got a string"},
		{"args not an array", `{"args":5}`, 422, "invalid_request", "body.args"},
	}
	before := b.actorSeq(t, counter.ID)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := b.do(t, http.MethodPost, path, tc.body)
			p := wantProblem(t, resp, data, tc.status, tc.code)
			if !strings.Contains(p.Message, tc.want) {
				t.Errorf("message %q, want %q in it", p.Message, tc.want)
			}
			wantUserTerms(t, p.Message)
			if _, ok := errcode.Lookup(errcode.Code(p.Code)); !ok {
				t.Errorf("code %s is not in the catalogue", p.Code)
			}
			if after := b.actorSeq(t, counter.ID); after != before {
				t.Errorf("the refused call moved the actor's log from %d to %d", before, after)
			}
		})
	}
	if out := b.action(t, counter.ID, "getCount"); string(out) != "2" {
		t.Errorf("count %s after refused calls, want 2", out)
	}
	// An optional argument (sendMessage's second) may still be left out.
	if out := b.action(t, room.ID, "sendMessage", "solo"); !strings.Contains(string(out), `"sender":"anonymous"`) {
		t.Errorf("sendMessage(text): %s", out)
	}
	resp, data := b.do(t, http.MethodPost, "/v1/actors/"+room.ID+"/actions/sendMessage", `{"args":[]}`)
	if p := wantProblem(t, resp, data, 400, "invalid_args"); !strings.Contains(p.Message, "argument 1 (senderOrText) is missing") {
		t.Errorf("message %q", p.Message)
	}
}

// Keys: null is refused, [] names the empty key, and text that is not UTF-8
// is refused rather than replaced (two byte strings never become one key).
func TestStrictKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	resp, data := b.do(t, http.MethodPut, "/v1/actors", `{"type":"counter","key":null}`)
	if p := wantProblem(t, resp, data, 422, "invalid_request"); !strings.Contains(p.Message, "body.key") {
		t.Errorf("message %q, want it to name body.key", p.Message)
	}
	var empty struct {
		Actor api.Actor `json:"actor"`
	}
	b.call(t, http.MethodPut, "/v1/actors", `{"type":"counter","key":[]}`, http.StatusOK, &empty)
	if a := empty.Actor; a.ID != mustID(t, "counter") || len(a.Key) != 0 {
		t.Errorf("empty key: %+v", a)
	}
	for _, body := range [][]byte{
		[]byte("{\"type\":\"counter\",\"key\":[\"a\xff\"]}"),
		[]byte("{\"type\":\"counter\",\"key\":[\"a\xfe\"]}"),
		[]byte(`{"type":"counter","key":["a\ud800"]}`),
		[]byte(`{"type":"counter","key":["a\udc00\ud800"]}`),
	} {
		for _, method := range []string{http.MethodPut, http.MethodPost} {
			resp, data := b.do(t, method, "/v1/actors", body)
			p := wantProblem(t, resp, data, 400, "invalid_key")
			if !strings.Contains(p.Message, "not text") {
				t.Errorf("%s %q: message %q", method, body, p.Message)
			}
		}
	}
	// A valid pair of surrogate escapes is text.
	if a := b.actor(t, "counter", "\U0001F600"); len(a.Key) != 1 || a.Key[0] != "\U0001F600" {
		t.Errorf("emoji key: %+v", a)
	}
	resp, data = b.do(t, http.MethodPut, "/v1/actors", []byte(`{"type":"counter","key":["\ud83d\ude00"]}`))
	if resp.StatusCode != http.StatusOK || !bytes.Contains(data, []byte(`"created":false`)) {
		t.Errorf("escaped emoji key: %d %s, want the same actor", resp.StatusCode, data)
	}
	resp, data = b.do(t, http.MethodGet, "/v1/actors?type=counter&key=%FF", nil)
	wantProblem(t, resp, data, 400, "invalid_key")
}

// A malformed cursor, or one from another listing, is 400 invalid_cursor on
// every route; malformed JSON is malformed_json with one message everywhere.
func TestOneErrorStyle(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	c := b.actor(t, "counter", "c1")
	b.actor(t, "counter", "c2")
	b.actor(t, "chatRoom", "r1")
	b.actor(t, "chatRoom", "r2")
	var page struct {
		NextCursor string `json:"nextCursor"`
	}
	b.call(t, http.MethodGet, "/v1/actors?type=counter&limit=1", nil, http.StatusOK, &page)
	if page.NextCursor == "" {
		t.Fatal("no nextCursor on a page of one of two counters")
	}
	b.call(t, http.MethodPut, "/v1/queues/q1", map[string]any{}, http.StatusCreated, nil)
	for _, path := range []string{
		"/v1/queues/q1/dead-letters?cursor=zzz",
		"/v1/schedules?cursor=zzz",
		"/v1/actors/" + c.ID + "/events?after=x",
		"/v1/actors/" + c.ID + "/events?after=-1",
		"/v1/events/tail?after=x",
		"/v1/actors?type=counter&cursor=%25",
		"/v1/actors?cursor=%25",
		"/v1/projections/actors/rows?cursor=%25%25",
		"/v1/actors?type=chatRoom&cursor=" + page.NextCursor, // another listing's
	} {
		resp, data := b.do(t, http.MethodGet, path, nil)
		p := wantProblem(t, resp, data, 400, "invalid_cursor")
		wantUserTerms(t, p.Message)
	}
	var msgs []string
	for _, req := range []struct{ method, path, body string }{
		{http.MethodPut, "/v1/actors", `{"type":"counter","key":[1`},
		{http.MethodPost, "/v1/actors/" + c.ID + "/actions/increment", `{"args":[1`},
	} {
		resp, data := b.do(t, req.method, req.path, req.body)
		msgs = append(msgs, wantProblem(t, resp, data, 400, "malformed_json").Message)
	}
	if msgs[0] != msgs[1] || !strings.HasPrefix(msgs[0], "request body is not valid JSON") {
		t.Errorf("malformed JSON: %q on Huma's route, %q on the fast path", msgs[0], msgs[1])
	}
	// A body that is not JSON: one message on Huma's routes and the fast path.
	msgs = msgs[:0]
	for _, path := range []string{"/v1/queues/q1/messages", "/v1/actors/" + c.ID + "/actions/increment"} {
		resp, data := b.do(t, http.MethodPost, path, "hello", "Content-Type", "text/plain")
		msgs = append(msgs, wantProblem(t, resp, data, 415, "unsupported_media_type").Message)
	}
	if msgs[0] != msgs[1] || !strings.Contains(msgs[0], "send it as application/json") {
		t.Errorf("a text/plain body: %q on Huma's route, %q on the fast path", msgs[0], msgs[1])
	}
	resp, data := b.do(t, http.MethodPut, "/v1/actors", `{"type":"counter","key":[],"x":1}`)
	if p := wantProblem(t, resp, data, 422, "invalid_request"); !strings.Contains(p.Message, "body.x: unexpected property") {
		t.Errorf("unknown field: message %q", p.Message)
	}
}

// Valid JSON whose value does not fit the field (an integer past its range, a
// number past float64's) is answered where and what, in JSON's terms, never
// in Go's, on every route; nothing is stored.
func TestOutOfRangeValuesInUserTerms(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	c := b.actor(t, "counter", "range")
	for _, req := range []struct {
		method, path, body string
		status             int
		code, where        string
	}{
		{http.MethodPut, "/v1/queues/q1", `{"maxMessages":9223372036854775808}`, 422, "invalid_request", "body.maxMessages: expected an integer"},
		{http.MethodPut, "/v1/queues/q1", `{"backoffMs":[1e30]}`, 422, "invalid_request", "body.backoffMs: expected an integer"},
		{http.MethodPost, "/v1/actors/" + c.ID + "/fork", `{"atSeq":18446744073709551616,"key":["f"]}`, 422, "invalid_request", "body.atSeq: expected an integer from 0 to 18446744073709551615"},
		{http.MethodPut, "/v1/queues/q1", `{"maxMessages":1e999}`, 400, "malformed_request", "expected a number"},
		{http.MethodPost, "/v1/actors/" + c.ID + "/actions/increment", `{"args":[1e999]}`, 400, "invalid_args", "argument 1 (amount): expected an integer"},
	} {
		resp, data := b.do(t, req.method, req.path, req.body)
		p := wantProblem(t, resp, data, req.status, req.code)
		wantUserTerms(t, p.Message)
		if !strings.Contains(p.Message, req.where) {
			t.Errorf("%s %s %s: message %q, want it to say %q", req.method, req.path, req.body, p.Message, req.where)
		}
	}
	resp, _ := b.do(t, http.MethodGet, "/v1/queues/q1", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET the queue the refused PUTs named: %d, want 404 (nothing stored)", resp.StatusCode)
	}
}
