package conformance_test

// In-process checks of the connection, request-access and error fixtures
// (fx_conn.go, fx_connstate.go, fx_requestaccess.go, fx_errors.go): the
// behaviour the driver suite relies on, without Node. Names start with fxc
// so that they cannot collide with other test files of the package.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/conformance"
)

// fxcNode starts a node serving the fixtures and returns its client.
func fxcNode(t *testing.T) (context.Context, *actors.Client) {
	t.Helper()
	reg, err := conformance.Registry()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return ctx, n.Runtime().Client()
}

func fxcHandle(ctx context.Context, t *testing.T, cl *actors.Client, typ string) *actors.Handle {
	t.Helper()
	h, _, err := cl.GetOrCreate(ctx, typ, []string{t.Name()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func fxcConnect(ctx context.Context, t *testing.T, h *actors.Handle, params string) *actors.Conn {
	t.Helper()
	var raw json.RawMessage
	if params != "" {
		raw = json.RawMessage(params)
	}
	conn, err := h.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// fxcCall calls action through conn and decodes its output into out.
func fxcCall(ctx context.Context, t *testing.T, conn *actors.Conn, out any, action string, args ...any) {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	raw, _ := json.Marshal(args)
	res, err := conn.Action(ctx, action, raw)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if out != nil {
		if err := json.Unmarshal(res, out); err != nil {
			t.Fatalf("%s: %s: %v", action, res, err)
		}
	}
}

// fxcEventually retries check until it returns true or a few seconds pass.
func fxcEventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if check() {
			return
		}
	}
	t.Fatalf("%s never happened", what)
}

// fxcNext yields conn's events until a few seconds pass without the
// caller stopping, which fails the test.
func fxcNext(t *testing.T, conn *actors.Conn) func(yield func(actors.Broadcast) bool) {
	return func(yield func(actors.Broadcast) bool) {
		timeout := time.After(5 * time.Second)
		for {
			select {
			case b := <-conn.Events():
				if !yield(b) {
					return
				}
			case <-timeout:
				t.Fatal("the expected event never came")
				return
			}
		}
	}
}

func TestConnFixturesRegistered(t *testing.T) {
	if _, err := conformance.Registry(); err != nil {
		t.Fatal(err)
	}
	names := conformance.Names()
	for _, want := range []string{"counterWithLifecycle", "counterWithParams", "largePayloadConnActor", "connStateActor",
		"requestAccessActor", "errorHandlingActor", "customTimeoutActor", "connErrorSerializationActor"} {
		if !slices.Contains(names, want) {
			t.Errorf("fixture %s is not registered", want)
		}
	}
}

func TestCounterWithLifecycle(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "counterWithLifecycle")
	conn := fxcConnect(ctx, t, h, `{"trackLifecycle":true}`)
	var events []string
	fxcCall(ctx, t, conn, &events, "getEvents")
	if want := []string{"onWake", "onBeforeConnect", "onConnect"}; !reflect.DeepEqual(events, want) {
		t.Fatalf("events = %v, want %v", events, want)
	}
	conn.Close()
	fxcEventually(t, "onDisconnect", func() bool {
		got, err := actors.Call[[]string](ctx, h, "getEvents")
		return err == nil && slices.Contains(got, "onDisconnect")
	})
}

func TestCounterWithParams(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "counterWithParams")
	c1 := fxcConnect(ctx, t, h, `{"name":"user1"}`)
	c2 := fxcConnect(ctx, t, h, `{"name":"user2"}`)
	c2.Subscribe("newCount")
	var inits []string
	fxcCall(ctx, t, c1, &inits, "getInitializers")
	if !slices.Contains(inits, "user1") || !slices.Contains(inits, "user2") {
		t.Fatalf("initializers = %v", inits)
	}
	fxcCall(ctx, t, c1, nil, "increment", 3)
	select {
	case b := <-c2.Events():
		if b.Name != "newCount" || string(b.Args) != `[{"by":"user1","count":3}]` {
			t.Fatalf("broadcast %s %s", b.Name, b.Args)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no newCount")
	}
}

func TestLargePayloadConnActor(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "largePayloadConnActor")
	conn := fxcConnect(ctx, t, h, "")
	items := make([]string, 800)
	for i := range items {
		items[i] = "x"
	}
	items[0], items[799] = "first", "last"
	var sum struct {
		ItemCount int    `json:"itemCount"`
		FirstItem string `json:"firstItem"`
		LastItem  string `json:"lastItem"`
	}
	fxcCall(ctx, t, conn, &sum, "processLargeRequest", map[string]any{"items": items})
	if sum.ItemCount != 800 || sum.FirstItem != "first" || sum.LastItem != "last" {
		t.Fatalf("summary = %+v", sum)
	}
	var size int
	fxcCall(ctx, t, conn, &size, "getLastRequestSize")
	if size != 800 {
		t.Fatalf("lastRequestSize = %d", size)
	}
	big, _ := json.Marshal([]any{map[string]any{"items": make([]string, 40_000)}})
	if _, err := conn.Action(ctx, "processLargeRequest", big); !errors.Is(err, actors.ErrArgsTooLarge) {
		t.Fatalf("a request over 64 KiB: err = %v, want args_too_large", err)
	}
}

func TestConnStateActor(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "connStateActor")
	c1 := fxcConnect(ctx, t, h, `{"username":"user1","role":"admin"}`)
	c2 := fxcConnect(ctx, t, h, "")
	c2.Subscribe("directMessage")
	fxcCall(ctx, t, c1, nil, "incrementConnCounter", 5)
	fxcCall(ctx, t, c2, nil, "incrementConnCounter")
	var s1, s2 map[string]any
	fxcCall(ctx, t, c1, &s1, "getConnectionState")
	fxcCall(ctx, t, c2, &s2, "getConnectionState")
	if s1["username"] != "user1" || s1["role"] != "admin" || s1["counter"] != float64(5) || s1["id"] != c1.ID() {
		t.Fatalf("conn 1 state = %v", s1)
	}
	if s2["username"] != "anonymous" || s2["role"] != "user" || s2["counter"] != float64(1) {
		t.Fatalf("conn 2 state = %v", s2)
	}
	var ok bool
	fxcCall(ctx, t, c1, &ok, "sendToConnection", c2.ID(), "hi")
	if !ok {
		t.Fatal("sendToConnection found no connection")
	}
	// Conn.Send reaches a connection whatever it subscribed to: its
	// connectedFromOnConnect messages come first.
	want := `[{"from":"` + c1.ID() + `","message":"hi"}]`
	for b := range fxcNext(t, c2) {
		if b.Name == "directMessage" {
			if string(b.Args) != want {
				t.Fatalf("directMessage %s, want %s", b.Args, want)
			}
			break
		}
	}
	var updated map[string]any
	fxcCall(ctx, t, c2, &updated, "updateConnection", map[string]string{"username": "newname"})
	if updated["username"] != "newname" || updated["role"] != "user" {
		t.Fatalf("updated = %v", updated)
	}

	observer := json.RawMessage(`{"noCount":true}`)
	ids := func() []string {
		out, err := h.StatelessAction(ctx, observer, "getConnectionIds", nil)
		if err != nil {
			t.Fatal(err)
		}
		var v []string
		_ = json.Unmarshal(out, &v)
		return v
	}
	if got := ids(); len(got) != 2 || !slices.Contains(got, c1.ID()) || !slices.Contains(got, c2.ID()) {
		t.Fatalf("connection ids = %v, want %s and %s", got, c1.ID(), c2.ID())
	}
	c1.Close()
	fxcEventually(t, "a counted disconnection", func() bool {
		out, err := h.StatelessAction(ctx, observer, "getDisconnectionCount", nil)
		return err == nil && string(out) == "1"
	})
	if got := ids(); len(got) != 1 {
		t.Fatalf("connection ids after a close = %v", got)
	}
}

func TestRequestAccessActorWithoutRequest(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "requestAccessActor")
	conn := fxcConnect(ctx, t, h, `{"trackRequest":true}`)
	var info map[string]map[string]any
	fxcCall(ctx, t, conn, &info, "getRequestInfo")
	// A Go connection opened without WithRequest has no request.
	for _, hook := range []string{"onBeforeConnect", "createConnState", "onRequest", "onWebSocket"} {
		got := info[hook]
		if got["hasRequest"] != false || got["requestUrl"] != nil || got["requestMethod"] != nil {
			t.Errorf("%s = %v, want no request", hook, got)
		}
		if hdrs, ok := got["requestHeaders"].(map[string]any); !ok || len(hdrs) != 0 {
			t.Errorf("%s headers = %v, want {}", hook, got["requestHeaders"])
		}
	}
	var pong string
	fxcCall(ctx, t, conn, &pong, "ping")
	if pong != "pong" {
		t.Fatalf("ping = %q", pong)
	}
}

func TestErrorFixtures(t *testing.T) {
	ctx, cl := fxcNode(t)
	h := fxcHandle(ctx, t, cl, "errorHandlingActor")
	var ue *actors.UserError
	if _, err := h.Action(ctx, "throwSimpleError"); !errors.As(err, &ue) || ue.Code != "user_error" || ue.Message != "Simple error message" || ue.Metadata != nil {
		t.Fatalf("throwSimpleError: %#v", err)
	}
	if _, err := h.Action(ctx, "throwDetailedError"); !errors.As(err, &ue) || ue.Code != "detailed_error" || ue.Metadata == nil {
		t.Fatalf("throwDetailedError: %#v", err)
	}
	if _, err := h.Action(ctx, "throwInternalError"); err == nil || errors.As(err, &ue) {
		t.Fatalf("throwInternalError: %v, want an internal error", err)
	}
	if got, err := actors.Call[string](ctx, h, "delayedAction", 20); err != nil || got != "Completed after 20ms" {
		t.Fatalf("delayedAction = %q, %v", got, err)
	}
	if _, err := h.Action(ctx, "timeoutAction"); !errors.Is(err, actors.ErrActionTimeout) {
		t.Fatalf("timeoutAction: %v, want action_timeout", err)
	}

	ct := fxcHandle(ctx, t, cl, "customTimeoutActor")
	if _, err := ct.Action(ctx, "slowAction"); !errors.Is(err, actors.ErrActionTimeout) {
		t.Fatalf("slowAction: %v, want action_timeout", err)
	}
	if got, err := actors.Call[string](ctx, ct, "quickAction"); err != nil || got != "Quick action completed" {
		t.Fatalf("quickAction = %q, %v", got, err)
	}

	ce := fxcHandle(ctx, t, cl, "connErrorSerializationActor")
	if _, err := ce.Connect(ctx, json.RawMessage(`{"shouldThrow":true}`)); !errors.As(err, &ue) || ue.Code != "custom_error" {
		t.Fatalf("connect with shouldThrow: %v, want custom_error", err)
	}
	conn := fxcConnect(ctx, t, ce, `{"shouldThrow":false}`)
	var v int
	fxcCall(ctx, t, conn, &v, "getValue")
	if v != 0 {
		t.Fatalf("getValue = %d", v)
	}
}
