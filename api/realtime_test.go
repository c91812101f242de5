package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors"
)

func TestSSE(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "counter", "sse")
	streams := map[string]<-chan sseEvent{}
	for name, query := range map[string]string{"all": "", "newCount": "?event=newCount", "other": "?event=other&event=more"} {
		resp, events := b.stream(t, "/v1/actors/"+a.ID+"/sse"+query)
		if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		streams[name] = events
	}
	b.action(t, a.ID, "increment", 4)
	b.action(t, a.ID, "increment", 3)
	for _, name := range []string{"all", "newCount"} {
		for _, want := range []string{"[4]", "[7]"} {
			if ev := next(t, streams[name]); ev.Event != "newCount" || ev.Data != want {
				t.Errorf("%s: got %+v, want newCount %s", name, ev, want)
			}
		}
	}
	// Destroying the actor ends every stream; the filtered one saw nothing before.
	b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
	for name, events := range streams {
		ev := next(t, events)
		if ev.Event != "close" || !strings.Contains(ev.Data, "reason") {
			t.Errorf("%s: got %+v, want the close event", name, ev)
		}
		select {
		case ev, ok := <-events:
			if ok {
				t.Errorf("%s: %+v after close, want the end of the stream", name, ev)
			}
		case <-time.After(waitFor):
			t.Errorf("%s: the stream did not end after the actor was destroyed", name)
		}
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+a.ID+"/sse", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
}

// wsMsg is the native WebSocket protocol's message.
type wsMsg struct {
	Type         string          `json:"type"`
	ID           *uint64         `json:"id"`
	Name         string          `json:"name"`
	Args         json.RawMessage `json:"args"`
	Output       json.RawMessage `json:"output"`
	ActorID      string          `json:"actorId"`
	ConnectionID string          `json:"connectionId"`
	Code         string          `json:"code"`
	Group        string          `json:"group"`
	Message      string          `json:"message"`
	Metadata     map[string]any  `json:"metadata"`
}

// dial opens a WebSocket, closed when the test ends.
func (b *bundle) dial(t *testing.T, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTPClient = b.http
	if opts.HTTPHeader == nil {
		opts.HTTPHeader = b.header.Clone()
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(b.base, "http")+path, opts)
	if err == nil {
		t.Cleanup(func() { _ = ws.CloseNow() })
	}
	return ws, resp, err
}

func send(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, data); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func recv[T any](t *testing.T, ws *websocket.Conn) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var v T
	_, data, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	return v
}

// readUntilClosed reads until the server closes the socket and returns why.
func readUntilClosed(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("the socket was not closed in time")
			}
			return err
		}
	}
}

func TestWebSocketConnect(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "ws")
	ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect?params="+url.QueryEscape(`{"token":"abc"}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	init := recv[wsMsg](t, ws)
	if init.Type != "init" || init.ActorID != a.ID || init.ConnectionID == "" {
		t.Fatalf("first message %+v, want init with the actor and connection IDs", init)
	}

	send(t, ws, map[string]any{"type": "action", "id": 1, "name": "whoami", "args": []any{}})
	if m := recv[wsMsg](t, ws); m.Type != "actionResponse" || m.ID == nil || *m.ID != 1 || string(m.Output) != `{"user":"user-of-abc"}` {
		t.Fatalf("whoami: %+v, want the conn state CreateConnState built from params", m)
	}

	// Subscribed: an action's reply and its broadcasts arrive, in any order.
	send(t, ws, map[string]any{"type": "subscribe", "event": "tick"})
	send(t, ws, map[string]any{"type": "action", "id": 2, "name": "burst", "args": []any{2}})
	var got []string
	for range 3 {
		m := recv[wsMsg](t, ws)
		switch {
		case m.Type == "actionResponse" && *m.ID == 2 && string(m.Output) == "2":
			got = append(got, "reply")
		case m.Type == "event" && m.Name == "tick":
			got = append(got, string(m.Args))
		default:
			t.Fatalf("unexpected %+v", m)
		}
	}
	if strings.Join(got, " ") != "[1] [2] reply" && strings.Join(got, " ") != "[1] reply [2]" && strings.Join(got, " ") != "reply [1] [2]" {
		t.Errorf("got %v, want events [1] [2] in order and the reply", got)
	}

	// Unsubscribed: burst 3 broadcasts nothing here; after subscribing again
	// the next event is burst 4's.
	send(t, ws, map[string]any{"type": "unsubscribe", "event": "tick"})
	send(t, ws, map[string]any{"type": "action", "id": 3, "name": "burst", "args": []any{1}})
	if m := recv[wsMsg](t, ws); m.Type != "actionResponse" || *m.ID != 3 {
		t.Fatalf("burst 3: %+v", m)
	}
	send(t, ws, map[string]any{"type": "subscribe", "event": "tick"})
	send(t, ws, map[string]any{"type": "action", "id": 4, "name": "burst", "args": []any{1}})
	for seen := 0; seen < 2; {
		m := recv[wsMsg](t, ws)
		if m.Type == "event" && string(m.Args) != "[4]" {
			t.Fatalf("event %s after unsubscribing, want only [4]", m.Args)
		}
		seen++
	}

	errorsWant := []struct {
		action      string
		args        []any
		code, group string
	}{
		{"nope", nil, "action_not_found", "actor"},
		{"get", []any{1, 2}, "invalid_args", "actor"},
		{"fail", []any{9}, "quota_exceeded", "user"},
	}
	for i, tc := range errorsWant {
		send(t, ws, map[string]any{"type": "action", "id": 10 + i, "name": tc.action, "args": tc.args})
		m := recv[wsMsg](t, ws)
		if m.Type != "error" || m.ID == nil || *m.ID != uint64(10+i) || m.Code != tc.code || m.Group != tc.group || m.Message == "" {
			t.Errorf("%s: %+v, want error %s/%s with id %d", tc.action, m, tc.group, tc.code, 10+i)
		}
		if tc.group == "user" && m.Metadata["limit"] != float64(9) {
			t.Errorf("user error metadata %v", m.Metadata)
		}
	}
	send(t, ws, map[string]any{"type": "bogus"})
	if m := recv[wsMsg](t, ws); m.Type != "error" || m.Code != "unknown_message" {
		t.Errorf("unknown message type: %+v", m)
	}

	// Destroying the actor closes the socket with a reason.
	b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
	err = readUntilClosed(t, ws)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || !strings.HasPrefix(ce.Reason, "actor.actor_not_found#") {
		t.Errorf("closed with %v, want a close frame with reason actor.actor_not_found#...", err)
	}
}

// onBeforeConnect and malformed params refuse the upgrade with problem JSON.
func TestWebSocketRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "refuse")
	tests := []struct {
		name, path  string
		status      int
		code, group string
	}{
		{"onBeforeConnect refuses", "/v1/actors/" + a.ID + "/connect?params=" + url.QueryEscape(`{"token":"bad"}`), 400, "forbidden", "user"},
		{"params not JSON", "/v1/actors/" + a.ID + "/connect?params=%7Bnope", 400, "malformed_json", "api"},
		{"unknown actor", "/v1/actors/" + mustID(t, "tester", "none") + "/connect", 404, "actor_not_found", "actor"},
		{"invalid ID", "/v1/actors/nope/connect", 400, "invalid_actor_id", "actor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, resp, err := b.dial(t, tc.path, nil)
			if err == nil || resp == nil {
				t.Fatalf("dial: err %v, want the upgrade refused", err)
			}
			data, _ := io.ReadAll(resp.Body)
			p := wantProblem(t, resp, data, tc.status, tc.code)
			if p.Group != tc.group {
				t.Errorf("group %q, want %q", p.Group, tc.group)
			}
		})
	}
	// The refused connections left no trace and the actor still connects.
	if ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil); err != nil {
		t.Fatalf("a connection without params: %v", err)
	} else if m := recv[wsMsg](t, ws); m.Type != "init" {
		t.Fatalf("first message %+v", m)
	}
}

// A client that does not keep up is disconnected with a reason; the actor goes
// on serving everyone else.
func TestWebSocketSlowClient(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{Actors: actors.RuntimeOptions{ConnBuffer: 2}})
	a := b.actor(t, "tester", "slow")
	slow, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := recv[wsMsg](t, slow); m.Type != "init" {
		t.Fatalf("first message %+v", m)
	}
	send(t, slow, map[string]any{"type": "subscribe", "event": "tick"})
	send(t, slow, map[string]any{"type": "action", "id": 1, "name": "whoami"})
	if m := recv[wsMsg](t, slow); m.Type != "actionResponse" {
		t.Fatalf("whoami: %+v", m)
	}
	// From here on the slow client reads nothing while others broadcast.
	for i := 0; connections(t, b) > 0; i++ {
		if i == 100 {
			t.Fatal("the slow connection was never dropped")
		}
		b.action(t, a.ID, "burst", 500)
	}
	if out := b.action(t, a.ID, "add", 1); string(out) == "" {
		t.Fatal("the actor stopped serving")
	}
	err = readUntilClosed(t, slow)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code == websocket.StatusNormalClosure ||
		!(strings.HasPrefix(ce.Reason, "actor.connection_closed#") || strings.HasPrefix(ce.Reason, "actor.slow_client#")) {
		t.Errorf("closed with %v, want a close frame with a reason saying it fell behind", err)
	}
}

// connections reads the node's open actor connections from /metrics.
func connections(t *testing.T, b *bundle) int {
	t.Helper()
	_, data := b.do(t, http.MethodGet, "/metrics", nil)
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "rivetflow_actor_connections "); ok {
			if strings.TrimSpace(v) == "0" {
				return 0
			}
			return 1
		}
	}
	t.Fatalf("no rivetflow_actor_connections in /metrics")
	return 0
}

// Every connection learns why it was closed: the close frame with its reason
// must reach the client before the socket is torn down. One connection at a
// time, the way a lone client meets it, many times over.
func TestWebSocketCloseReason(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	const rounds = 100
	lost := 0
	for i := range rounds {
		a := b.actor(t, "counter", "round", strconv.Itoa(i))
		ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
		if err != nil {
			t.Fatal(err)
		}
		if m := recv[wsMsg](t, ws); m.Type != "init" {
			t.Fatalf("first message %+v", m)
		}
		b.call(t, http.MethodDelete, "/v1/actors/"+a.ID, nil, http.StatusNoContent, nil)
		var ce websocket.CloseError
		if err := readUntilClosed(t, ws); !errors.As(err, &ce) || !strings.HasPrefix(ce.Reason, "actor.actor_not_found#") {
			lost++
			t.Logf("round %d: closed with %v", i, err)
		}
		_ = ws.CloseNow()
	}
	if lost > 0 {
		t.Errorf("%d of %d connections closed without the reason actor.actor_not_found#...", lost, rounds)
	}
}
