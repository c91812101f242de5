package actors_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftAuthState is the connection state the auth fixture builds.
type ftAuthState struct {
	User   string `json:"user"`
	Origin string `json:"origin"`
}

// ftAuthType refuses connections without the token "good", records the
// origin the request came with, and counts disconnects in its state.
func ftAuthType(name string) *actors.Type[ftState] {
	return ftType(name, actors.Options[ftState]{
		OnBeforeConnect: func(c *actors.Context[ftState], params json.RawMessage) error {
			var p struct{ Token string }
			_ = json.Unmarshal(params, &p)
			if p.Token != "good" {
				return actors.NewUserError("forbidden", "bad token", nil)
			}
			return nil
		},
		CreateConnState: func(c *actors.Context[ftState], params json.RawMessage) (any, error) {
			st := ftAuthState{User: "alice"}
			if r := c.Request(); r != nil {
				st.Origin = r.Header.Get("Origin")
			}
			return st, nil
		},
		OnDisconnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			c.State.Log = append(c.State.Log, "bye:"+conn.State().(ftAuthState).User)
		},
	}).Action("whoAmI", actors.Act0(func(c *actors.Context[ftState]) (ftAuthState, error) {
		if c.Conn() == nil {
			return ftAuthState{}, errors.New("no connection")
		}
		return c.Conn().State().(ftAuthState), nil
	})).Action("conns", actors.Act0(func(c *actors.Context[ftState]) ([]string, error) {
		var ids []string
		for _, conn := range c.Conns() {
			ids = append(ids, conn.ID()+":"+string(conn.Params()))
		}
		return ids, nil
	}))
}

// A stateless call runs the connection hooks with its params: a refusal
// answers the hook's error and appends nothing; an accepted call sees its
// connection, its state and the request, and OnDisconnect runs after.
func TestFeatureStatelessActionRunsConnectionHooks(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftAuthType("ftauth"))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftauth", "a")
	before := ftLastSeq(t, b, h.ID)

	_, err := h.StatelessAction(ctx, json.RawMessage(`{"token":"bad"}`), "inc", json.RawMessage(`[5]`))
	var ue *actors.UserError
	if !errors.As(err, &ue) || ue.Code != "forbidden" {
		t.Fatalf("bad token: got %v, want the hook's forbidden", err)
	}
	if _, err := h.StatelessAction(ctx, nil, "inc", json.RawMessage(`[5]`)); !errors.As(err, &ue) || ue.Code != "forbidden" {
		t.Fatalf("no params: got %v, want forbidden", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("refused calls appended events: seq %d -> %d", before, got)
	}

	req := httptest.NewRequest(http.MethodPost, "http://x/y", nil)
	req.Header.Set("Origin", "https://app.example")
	out, err := h.StatelessAction(actors.WithRequest(ctx, req), json.RawMessage(`{"token":"good"}`), "whoAmI", nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"user":"alice","origin":"https://app.example"}` {
		t.Fatalf("whoAmI = %s", out)
	}
	out, err = h.StatelessAction(ctx, json.RawMessage(`{"token":"good"}`), "conns", nil)
	if err != nil {
		t.Fatal(err)
	}
	var conns []string
	_ = json.Unmarshal(out, &conns)
	if len(conns) != 1 || !strings.HasSuffix(conns[0], `:{"token":"good"}`) {
		t.Fatalf("c.Conns() in a stateless call = %v, want its own connection alone", conns)
	}
	st := ftCall[ftState](t, h, "state")
	if !slices.Equal(st.Log, []string{"bye:alice", "bye:alice"}) {
		t.Fatalf("OnDisconnect after each accepted call: log %v", st.Log)
	}
	// A plain Go call has no connection and runs no hooks.
	if _, err := h.Action(ctx, "whoAmI"); err == nil {
		t.Fatal("a Go call saw a connection")
	}
}

// Conn.Send reaches one connection whatever it subscribed to; c.Conns lists
// the open ones with their params.
func TestFeatureConnSendAndConns(t *testing.T) {
	t.Parallel()
	typ := ftType("ftsend", actors.Options[ftState]{}).
		Action("sendTo", actors.Act(func(c *actors.Context[ftState], id string) (int, error) {
			n := 0
			for _, conn := range c.Conns() {
				if conn.ID() == id {
					if err := conn.Send("direct", id, 7); err != nil {
						return 0, err
					}
					n++
				}
			}
			return n, nil
		})).
		Action("count", actors.Act0(func(c *actors.Context[ftState]) (int, error) { return len(c.Conns()), nil }))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftsend", "a")
	one, err := h.Connect(ctx, json.RawMessage(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	two, err := h.Connect(ctx, json.RawMessage(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if n := ftCall[int](t, h, "count"); n != 2 {
		t.Fatalf("c.Conns() = %d connections, want 2", n)
	}
	if n := ftCall[int](t, h, "sendTo", two.ID()); n != 1 {
		t.Fatalf("sendTo found %d connections", n)
	}
	ev := ftWait(t, two.Events(), "the direct event")
	if ev.Name != "direct" || string(ev.Args) != `["`+two.ID()+`",7]` {
		t.Fatalf("got %s%s", ev.Name, ev.Args)
	}
	one.Close()
	if got := ftDrain(t, one); len(got) != 0 {
		t.Fatalf("the other connection received %v", got)
	}
	ftEventually(t, "the closed connection leaves c.Conns()", func() bool { return ftCall[int](t, h, "count") == 1 })
	two.Close()
}

// A static ConnState and Vars are copied, not shared: each connection and
// each wake starts from the declared value.
func TestFeatureStaticConnStateAndVars(t *testing.T) {
	t.Parallel()
	type connState struct{ Seen []string }
	typ := ftType("ftstatic", actors.Options[ftState]{
		ConnState: connState{Seen: []string{"start"}},
		Vars:      map[string]int{"hits": 0},
	}).Action("touch", actors.Act(func(c *actors.Context[ftState], s string) ([]string, error) {
		st := c.Conn().State().(connState)
		st.Seen = append(st.Seen, s)
		c.Conn().SetState(st)
		c.Vars.(map[string]int)["hits"]++
		return st.Seen, nil
	})).Action("hits", actors.Act0(func(c *actors.Context[ftState]) (int, error) {
		return c.Vars.(map[string]int)["hits"], nil
	}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftstatic", "a")
	a, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c2, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := a.Action(ctx, "touch", json.RawMessage(`["x"]`)); err != nil {
		t.Fatal(err)
	}
	out, err := c2.Action(ctx, "touch", json.RawMessage(`["y"]`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `["start","y"]` {
		t.Fatalf("second connection's state = %s, want its own copy", out)
	}
	if n := ftCall[int](t, h, "hits"); n != 2 {
		t.Fatalf("vars hits = %d, want 2", n)
	}
	if _, err := actors.NewRegistry(actors.NewType("ftboth", actors.Options[ftState]{
		ConnState:       1,
		CreateConnState: func(*actors.Context[ftState], json.RawMessage) (any, error) { return 2, nil },
	})); err == nil {
		t.Fatal("ConnState and CreateConnState together were accepted")
	}
}

// OnStateChange runs for state changed by connection hooks and OnRequest too.
func TestFeatureOnStateChangeEverywhere(t *testing.T) {
	t.Parallel()
	typ := ftType("ftchange", actors.Options[ftState]{
		OnStateChange: func(c *actors.Context[ftState]) { c.State.Text = "changed" },
		OnConnect:     func(c *actors.Context[ftState], conn *actors.Conn) { c.State.Count += 10 },
		OnRequest: func(c *actors.Context[ftState], w http.ResponseWriter, r *http.Request) {
			c.State.Count += 100
			_, _ = w.Write([]byte(c.Request().URL.Path))
		},
	}).Action("reset", actors.Act0(func(c *actors.Context[ftState]) (int, error) {
		c.State.Text = ""
		c.State.Count++
		return 0, nil
	}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftchange", "a")
	if st := ftCall[ftState](t, h, "state"); st.Text != "" {
		t.Fatalf("OnStateChange ran for the create: %+v", st)
	}
	conn, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if st := ftCall[ftState](t, h, "state"); st.Text != "changed" || st.Count != 10 {
		t.Fatalf("after OnConnect: %+v, want OnStateChange to have run", st)
	}
	ftCall[int](t, h, "reset") // OnStateChange sets it again: clear it below
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://x/hello", nil)
	if err := h.ServeHTTP(rec, req.WithContext(ctx)); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != "/hello" {
		t.Fatalf("c.Request() in OnRequest saw %q", rec.Body.String())
	}
	if st := ftCall[ftState](t, h, "state"); st.Text != "changed" || st.Count != 111 {
		t.Fatalf("after OnRequest: %+v, want OnStateChange to have run", st)
	}
}
