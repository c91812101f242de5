package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fxamacker/cbor/v2"
)

// cborInput encodes a create input the way the RivetKit client does.
func cborInput(t *testing.T, enc *base64.Encoding, v any) string {
	t.Helper()
	data, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return enc.EncodeToString(data)
}

// gwError is the RivetKit error body.
type gwError struct {
	Group    string         `json:"group"`
	Code     string         `json:"code"`
	Message  string         `json:"message"`
	Metadata map[string]any `json:"metadata"`
}

// gwAction posts an action the way the RivetKit client does: a chunked JSON
// body and the rvt-* query parameters.
func (b *bundle) gwAction(t *testing.T, target, action, query, args string) (int, []byte) {
	t.Helper()
	req := b.request(t, http.MethodPost, "/gateway/"+target+"/action/"+action+"?"+query, nil)
	req.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"args":`), strings.NewReader(args+`}`)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-rivet-encoding", "json")
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func TestGatewayActions(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var meta struct {
		ActorNames map[string]any `json:"actorNames"`
	}
	b.call(t, http.MethodGet, "/metadata?namespace=default", nil, http.StatusOK, &meta)
	for _, name := range []string{"counter", "chatRoom", "tester", "blocker"} {
		if _, ok := meta.ActorNames[name]; !ok {
			t.Errorf("/metadata lacks %s: %+v", name, meta)
		}
	}
	getOrCreate := "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-crash-policy=sleep&rvt-key="
	input := cborInput(t, base64.RawURLEncoding, map[string]any{"start": 40})
	tests := []struct {
		name, target, action, query, args string
		status                            int
		output                            string
		err                               *gwError
	}{
		{"getOrCreate with a two-part key", "counter", "increment", getOrCreate + "a,b", "[5]", 200, "5", nil},
		{"the same actor again", "counter", "increment", getOrCreate + "a,b", "[1]", 200, "6", nil},
		{"get", "counter", "getCount", "rvt-method=get&rvt-key=a,b", "[]", 200, "6", nil},
		{"by actor ID", mustID(t, "counter", "a", "b"), "getCount", "", "[]", 200, "6", nil},
		{"create input from rvt-input", "tester", "get", getOrCreate + "in&rvt-input=" + input, "[]", 200, "40", nil},
		{"input only on create", "tester", "add", getOrCreate + "in&rvt-input=" + cborInput(t, base64.RawURLEncoding, map[string]any{"start": 1}), "[2]", 200, "42", nil},
		{"get of a missing actor", "counter", "getCount", "rvt-method=get&rvt-key=missing", "[]", 404, "", &gwError{Group: "actor", Code: "not_found"}},
		{"missing actor by ID", mustID(t, "counter", "missing"), "getCount", "", "[]", 404, "", &gwError{Group: "actor", Code: "not_found"}},
		{"unknown action", "counter", "nope", getOrCreate + "a,b", "[]", 404, "", &gwError{Group: "actor", Code: "action_not_found"}},
		{"user error", "tester", "fail", getOrCreate + "in", "[1]", 400, "", &gwError{Group: "user", Code: "quota_exceeded", Metadata: map[string]any{"limit": float64(1)}}},
		{"wrong argument type", "counter", "increment", getOrCreate + "a,b", `["x"]`, 400, "", &gwError{Group: "actor", Code: "invalid_args"}},
		{"unknown type", "nosuch", "x", getOrCreate + "a", "[]", 404, "", &gwError{Group: "actor", Code: "actor_type_not_found"}},
		{"bad rvt-input", "tester", "get", getOrCreate + "bad&rvt-input=!!", "[]", 400, "", &gwError{Group: "api", Code: "invalid_input"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, data := b.gwAction(t, tc.target, tc.action, tc.query, tc.args)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, data)
			}
			if tc.err == nil {
				var out struct{ Output json.RawMessage }
				if err := json.Unmarshal(data, &out); err != nil || string(out.Output) != tc.output {
					t.Fatalf("body %s, want output %s", data, tc.output)
				}
				return
			}
			var e gwError
			if err := json.Unmarshal(data, &e); err != nil || e.Message == "" {
				t.Fatalf("body %s, want a RivetKit error", data)
			}
			e.Message = ""
			if !reflect.DeepEqual(&e, tc.err) {
				t.Fatalf("error %+v, want %+v", e, *tc.err)
			}
		})
	}
	var list actorList
	b.call(t, http.MethodGet, "/v1/actors?type=counter&key=a&key=b", nil, http.StatusOK, &list)
	if len(list.Actors) != 1 {
		t.Errorf("rvt-key=a,b: %+v, want the actor [a b]", list)
	}
}

type gwActor struct {
	ActorID string `json:"actor_id"`
	Name    string `json:"name"`
	Key     string `json:"key"`
}

func TestGatewayManagement(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	type resolved struct {
		Actor   gwActor `json:"actor"`
		Created bool    `json:"created"`
	}
	input := cborInput(t, base64.StdEncoding, map[string]any{"start": 7})
	body := map[string]any{"name": "tester", "key": `m/n\/o`, "input": input}
	id := mustID(t, "tester", "m", "n/o")
	for _, created := range []bool{true, false} {
		var res resolved
		b.call(t, http.MethodPut, "/actors", body, http.StatusOK, &res)
		if res.Created != created || res.Actor != (gwActor{ActorID: id, Name: "tester", Key: `m/n\/o`}) {
			t.Fatalf("PUT /actors: %+v, want created=%v", res, created)
		}
	}
	if out := b.action(t, id, "get"); string(out) != "7" {
		t.Errorf("the input did not reach CreateState: %s", out)
	}
	resp, data := b.do(t, http.MethodPost, "/actors", body)
	var e gwError
	if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusConflict || e.Group != "actor" || e.Code != "duplicate_key" {
		t.Errorf("POST /actors of an existing actor: %d %s", resp.StatusCode, data)
	}
	other := b.actor(t, "tester", "solo")

	lookups := []struct {
		query string
		want  []gwActor
	}{
		{"name=tester&key=" + url.QueryEscape(`m/n\/o`), []gwActor{{id, "tester", `m/n\/o`}}},
		{"name=tester&key=m/n", []gwActor{}},
		{"name=tester", []gwActor{{id, "tester", `m/n\/o`}, {other.ID, "tester", "solo"}}},
		{"actor_ids=" + other.ID + "," + mustID(t, "tester", "none"), []gwActor{{other.ID, "tester", "solo"}}},
	}
	for _, tc := range lookups {
		var res struct {
			Actors []gwActor `json:"actors"`
		}
		b.call(t, http.MethodGet, "/actors?"+tc.query, nil, http.StatusOK, &res)
		if len(res.Actors) != len(tc.want) {
			t.Errorf("GET /actors?%s: %+v, want %+v", tc.query, res.Actors, tc.want)
			continue
		}
		for _, w := range tc.want {
			found := false
			for _, g := range res.Actors {
				found = found || g == w
			}
			if !found {
				t.Errorf("GET /actors?%s: %+v lacks %+v", tc.query, res.Actors, w)
			}
		}
	}
	b.call(t, http.MethodDelete, "/actors/"+id, nil, http.StatusOK, nil)
	resp, data = b.do(t, http.MethodDelete, "/actors/"+id, nil)
	if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusNotFound || e.Code != "not_found" {
		t.Errorf("DELETE of a destroyed actor: %d %s", resp.StatusCode, data)
	}
	resp, data = b.do(t, http.MethodGet, "/v1/actors/"+id, nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
}

// gwFrame is a RivetKit JSON frame.
type gwFrame struct {
	Body struct {
		Tag string         `json:"tag"`
		Val map[string]any `json:"val"`
	} `json:"body"`
}

func frame(tag string, val any) any {
	return map[string]any{"body": map[string]any{"tag": tag, "val": val}}
}

func TestGatewayWebSocket(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	params := url.QueryEscape(`{"token":"gw"}`)
	ws, resp, err := b.dial(t, "/gateway/tester/connect?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=ws",
		&websocket.DialOptions{Subprotocols: []string{"rivet", "rivet_encoding.json", "rivet_conn_params." + params}})
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "rivet" {
		t.Errorf("subprotocol %q, want rivet", p)
	}
	init := recv[gwFrame](t, ws)
	if init.Body.Tag != "Init" || init.Body.Val["actorId"] != mustID(t, "tester", "ws") || init.Body.Val["connectionId"] == "" {
		t.Fatalf("first frame %+v, want Init", init)
	}
	send(t, ws, frame("SubscriptionRequest", map[string]any{"eventName": "tick", "subscribe": true}))
	send(t, ws, frame("ActionRequest", map[string]any{"id": []string{"$BigInt", "0"}, "name": "burst", "args": []any{1}}))
	send(t, ws, frame("ActionRequest", map[string]any{"id": []string{"$BigInt", "1"}, "name": "whoami", "args": []any{}}))
	send(t, ws, frame("ActionRequest", map[string]any{"id": []string{"$BigInt", "2"}, "name": "nope", "args": []any{}}))
	got := map[string]string{}
	for range 4 {
		f := recv[gwFrame](t, ws)
		v := f.Body.Val
		switch f.Body.Tag {
		case "ActionResponse":
			got["response "+jsonString(v["id"])] = jsonString(v["output"])
		case "Event":
			got["event "+jsonString(v["name"])] = jsonString(v["args"])
		case "Error":
			got["error "+jsonString(v["actionId"])] = jsonString(v["group"]) + " " + jsonString(v["code"])
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
	want := map[string]string{
		`response ["$BigInt","0"]`: `1`,
		`event "tick"`:             `[1]`,
		`response ["$BigInt","1"]`: `{"user":"user-of-gw"}`,
		`error ["$BigInt","2"]`:    `"actor" "action_not_found"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("frames %v, want %v", got, want)
	}
}

// RivetKit's JSON encoding escapes real values shaped ["$x", y] as
// ["$$x", y] (["$BigInt","1"] is a bigint); the gateway must unescape
// arguments and escape outputs and events, the native API must not.
func TestGatewayJSONCompat(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "tester", "compat")
	if out := b.action(t, a.ID, "pair"); string(out) != `["$USD",5]` {
		t.Errorf("native output %s, want the value as is", out)
	}
	tests := []struct {
		action, args, output string
	}{
		{"pair", `[]`, `["$$USD",5]`},
		{"echo", `[["$$USD",5]]`, `["$$USD",5]`},
		{"echo", `[{"n":["$$$x",[1]]}]`, `{"n":["$$$x",[1]]}`},
	}
	for _, tc := range tests {
		status, data := b.gwAction(t, a.ID, tc.action, "", tc.args)
		var out struct{ Output json.RawMessage }
		if err := json.Unmarshal(data, &out); err != nil || status != http.StatusOK || string(out.Output) != tc.output {
			t.Errorf("%s%s: %d %s, want output %s", tc.action, tc.args, status, data, tc.output)
		}
	}
	// What the actor received is the client's value, unescaped.
	var args []string
	for _, ev := range b.history(t, a.ID) {
		if ev.Action == "echo" {
			args = append(args, string(ev.Args))
		}
	}
	if want := []string{`[["$USD",5]]`, `[{"n":["$$x",[1]]}]`}; !reflect.DeepEqual(args, want) {
		t.Errorf("the actor received %v, want %v", args, want)
	}
}

// A connection the actor's OnBeforeConnect refuses is accepted, then closed
// with 1011 and the reason "group.code#rayId": the only place the RivetKit
// client reads a typed error from (an HTTP answer to the upgrade is just 1006).
func TestGatewayConnectRejectedCloseReason(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	for _, prefix := range []string{"", "/api/rivet"} {
		params := url.QueryEscape(`{"token":"bad"}`)
		ws, _, err := b.dial(t, prefix+"/gateway/tester/connect?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=refused",
			&websocket.DialOptions{Subprotocols: []string{"rivet", "rivet_encoding.json", "rivet_conn_params." + params}})
		if err != nil {
			t.Fatalf("%q: the upgrade must be accepted: %v", prefix, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, data, err := ws.Read(ctx)
		cancel()
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("%q: read %q, %v; want a close", prefix, data, err)
		}
		group, rest, _ := strings.Cut(ce.Reason, ".")
		code, ray, hasRay := strings.Cut(rest, "#")
		if ce.Code != websocket.StatusInternalError || group != "user" || code != "forbidden" || !hasRay || ray == "" {
			t.Errorf("%q: close %d %q, want 1011 \"user.forbidden#<rayId>\"", prefix, ce.Code, ce.Reason)
		}
	}
	// Without an upgrade there is no socket to close: the error is the answer.
	resp, data := b.do(t, http.MethodGet, "/gateway/tester/connect?rvt-method=getOrCreate&rvt-key=refused", nil,
		"Sec-WebSocket-Protocol", "rivet, rivet_conn_params."+url.QueryEscape(`{"token":"bad"}`))
	var e gwError
	if err := json.Unmarshal(data, &e); err != nil || resp.StatusCode != http.StatusBadRequest || e.Code != "forbidden" {
		t.Errorf("plain GET refused: %d %s, want 400 forbidden", resp.StatusCode, data)
	}
}

// The seed's clients use the endpoint http://host:port/api/rivet: the whole
// gateway answers there too.
func TestGatewayUnderAPIRivet(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	var meta struct {
		ActorNames map[string]any `json:"actorNames"`
	}
	b.call(t, http.MethodGet, "/api/rivet/metadata?namespace=default", nil, http.StatusOK, &meta)
	if _, ok := meta.ActorNames["counter"]; !ok {
		t.Errorf("/api/rivet/metadata lacks counter: %+v", meta)
	}
	status, data := b.gwAction(t, "counter", "increment", "rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=prefixed", "[2]")
	if status != http.StatusOK || string(data) != "{\"output\":2}\n" {
		t.Fatalf("root action: %d %s", status, data)
	}
	req := b.request(t, http.MethodPost, "/api/rivet/gateway/counter/action/increment?rvt-namespace=default&rvt-method=get&rvt-key=prefixed", nil)
	req.Body = io.NopCloser(strings.NewReader(`{"args":[3]}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if data := readAll(t, resp); resp.StatusCode != http.StatusOK || string(data) != "{\"output\":5}\n" {
		t.Errorf("/api/rivet action: %d %s, want the same actor (output 5)", resp.StatusCode, data)
	}
	var listed struct {
		Actors []struct {
			ActorID string `json:"actor_id"`
		} `json:"actors"`
	}
	b.call(t, http.MethodGet, "/api/rivet/actors?name=counter&key=prefixed", nil, http.StatusOK, &listed)
	if len(listed.Actors) != 1 || listed.Actors[0].ActorID != mustID(t, "counter", "prefixed") {
		t.Errorf("/api/rivet/actors: %+v", listed)
	}
	resp, _ = b.do(t, http.MethodGet, "/api/rivet/nope", nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/api/rivet/nope: %d, want 404", resp.StatusCode)
	}
}

// get() of a missing actor is answered at once with actor/not_found, as
// RivetKit's own servers answer it, and creates nothing.
func TestGatewayGetMissingActor(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	start := time.Now()
	status, data := b.gwAction(t, "counter", "increment", "rvt-namespace=default&rvt-method=get&rvt-key=missing", "[1]")
	var e gwError
	if err := json.Unmarshal(data, &e); err != nil || status != http.StatusNotFound || e.Group != "actor" || e.Code != "not_found" {
		t.Errorf("get of a missing actor: %d %s, want 404 actor/not_found", status, data)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("answered in %v, want at once", d)
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+mustID(t, "counter", "missing"), nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
}
