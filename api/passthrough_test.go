package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

func TestRawRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "raw")
	tests := []struct {
		method, path, want string
	}{
		{"POST", "/some/path", "POST /some/path"},
		{"GET", "/other?x=1", "GET /other"},
		{"DELETE", "/a/b/c", "DELETE /a/b/c"},
	}
	for i, tc := range tests {
		resp, data := b.do(t, tc.method, "/v1/actors/"+a.ID+"/request"+tc.path, nil)
		var out struct {
			Path     string `json:"path"`
			Requests int    `json:"requests"`
		}
		if err := json.Unmarshal(data, &out); err != nil || resp.StatusCode != http.StatusAccepted ||
			resp.Header.Get("Content-Type") != "application/json" || out.Requests != i+1 ||
			out.Path != strings.Fields(tc.want)[1] {
			t.Fatalf("%s %s: %d %q %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), data)
		}
	}
	// Each request's state change is an event in the history.
	var seen []string
	for _, ev := range b.history(t, a.ID) {
		if ev.Action != "$request" {
			continue
		}
		var st countState
		if err := json.Unmarshal(ev.State, &st); err != nil || !ev.StateChanged {
			t.Fatalf("request event without its state: %+v", ev)
		}
		seen = append(seen, st.Requests[len(st.Requests)-1])
	}
	want := []string{tests[0].want, tests[1].want, tests[2].want}
	if !slices.Equal(seen, want) {
		t.Errorf("request events %v, want %v", seen, want)
	}

	counter := b.actor(t, "counter", "plain")
	resp, data := b.do(t, http.MethodPost, "/v1/actors/"+counter.ID+"/request/x", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "no_request_handler")
	resp, data = b.do(t, http.MethodGet, "/v1/actors/"+mustID(t, "tester", "none")+"/request/x", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	_, resp, _ = b.dial(t, "/v1/actors/"+counter.ID+"/websocket/x", nil)
	if resp == nil {
		t.Fatal("no response to a raw WebSocket on a type without OnWebSocket")
	}
	data = readAll(t, resp)
	wantProblem(t, resp, data, http.StatusNotFound, "no_request_handler")
}

func TestRawWebSocket(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "echo")
	ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/websocket/chat", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for i, msg := range []string{"hi", "there"} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := ws.Read(ctx)
		if want := "echo " + strconv.Itoa(i+1) + ": " + msg; err != nil || typ != websocket.MessageText || string(data) != want {
			t.Fatalf("read %v %q %v, want %q", typ, data, err, want)
		}
	}
	if err := ws.Write(ctx, websocket.MessageBinary, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if typ, data, err := ws.Read(ctx); err != nil || typ != websocket.MessageBinary || string(data) != "echo 3: \x01\x02" {
		t.Fatalf("binary echo: %v %q %v", typ, data, err)
	}
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Logf("close: %v", err)
	}
	// s.Do recorded every state change.
	echoes := 0
	for _, ev := range b.history(t, a.ID) {
		if ev.Action == "$websocket" && ev.StateChanged {
			echoes++
		}
	}
	if echoes != 3 {
		t.Errorf("%d $websocket events with a state change, want 3", echoes)
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "tail")
	b.action(t, a.ID, "increment", 2)
	room := b.actor(t, "chatRoom", "tail")

	type logEvent struct {
		ActorID string `json:"actorId"`
		Seq     uint64 `json:"seq"`
		Kind    string `json:"kind"`
		Action  string `json:"action"`
		Output  json.RawMessage
	}
	decode := func(t *testing.T, ev sseEvent) logEvent {
		t.Helper()
		var le logEvent
		if err := json.Unmarshal([]byte(ev.Data), &le); err != nil || ev.Event != "event" || ev.ID != strconv.FormatUint(le.Seq, 10) {
			t.Fatalf("tail event %+v: %v", ev, err)
		}
		return le
	}
	_, all := b.stream(t, "/v1/events/tail?after=0")
	_, rooms := b.stream(t, "/v1/events/tail?after=0&type=chatRoom")
	want := []logEvent{{ActorID: a.ID, Kind: "create", Action: "$create"}, {ActorID: a.ID, Kind: "action", Action: "increment"}, {ActorID: room.ID, Kind: "create", Action: "$create"}}
	for _, w := range want {
		if le := decode(t, next(t, all)); le.ActorID != w.ActorID || le.Kind != w.Kind || le.Action != w.Action {
			t.Errorf("existing event %+v, want %+v", le, w)
		}
	}
	if le := decode(t, next(t, rooms)); le.ActorID != room.ID || le.Kind != "create" {
		t.Errorf("filtered tail: %+v, want the room's create", le)
	}
	// New events follow.
	b.action(t, room.ID, "sendMessage", "bob", "hello")
	for name, events := range map[string]<-chan sseEvent{"all": all, "rooms": rooms} {
		if le := decode(t, next(t, events)); le.ActorID != room.ID || le.Action != "sendMessage" || !strings.Contains(string(le.Output), "hello") {
			t.Errorf("%s: new event %+v, want the message", name, le)
		}
	}
	// The same mistakes as on the other routes, with the same answers.
	resp, data := b.do(t, http.MethodGet, "/v1/events/tail?after=x", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_cursor")
	resp, data = b.do(t, http.MethodGet, "/v1/events/tail?type=not.a.type", nil)
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_request")
}
