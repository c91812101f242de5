package actors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftBroadcastType adds emit(name, n), emitFail(name, n) and emitMany(n) to a type.
func ftBroadcastType(name string, opts actors.Options[ftState]) *actors.Type[ftState] {
	return ftType(name, opts).
		Action("emit", actors.Act2(func(c *actors.Context[ftState], name string, n int) (int, error) {
			c.Broadcast(name, n)
			return n, nil
		})).
		Action("emitFail", actors.Act2(func(c *actors.Context[ftState], name string, n int) (int, error) {
			c.Broadcast(name, n)
			return 0, actors.NewUserError("failed", "after broadcasting", nil)
		})).
		Action("emitMany", actors.Act(func(c *actors.Context[ftState], n int) (int, error) {
			c.Broadcast("a", n)
			c.Broadcast("c", n+1)
			c.Broadcast("a", n+2, "extra")
			return n, nil
		}))
}

// ftDrain reads what conn received until its events channel closes.
func ftDrain(t *testing.T, conn *actors.Conn) []string {
	t.Helper()
	var got []string
	for {
		ev, ok := <-conn.Events()
		if !ok {
			return got
		}
		got = append(got, ev.Name+string(ev.Args))
	}
}

func TestFeatureBroadcasts(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftBroadcastType("ftcast", actors.Options[ftState]{}))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftcast", "a")
	onlyA, err := h.Subscribe(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	bc.Subscribe("b")
	bc.Subscribe("c")
	both, err := h.Subscribe(ctx, "a", "c")
	if err != nil {
		t.Fatal(err)
	}
	none, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	all, err := h.Subscribe(ctx, actors.AllEvents)
	if err != nil {
		t.Fatal(err)
	}

	// Every broadcast that arrives is already in the log.
	var logged = make(chan error, 1)
	subject := ftSubject(h.ID)
	go func() {
		var bad error
		for ev := range both.Events() {
			evs, err := b.log.ReadActor(ctx, subject, 0, 0)
			found := false
			for _, e := range evs {
				for _, bb := range e.Broadcasts {
					found = found || (bb.Name == ev.Name && string(bb.Args) == string(ev.Args))
				}
			}
			if (err != nil || !found) && bad == nil {
				bad = fmt.Errorf("broadcast %s%s arrived before its event was in the log (%v)", ev.Name, ev.Args, err)
			}
		}
		logged <- bad
	}()

	calls := []struct {
		action string
		name   string
		n      int
	}{
		{"emit", "a", 1}, {"emit", "b", 2}, {"emit", "a", 3},
		{"emitFail", "a", 99}, // never arrives
		{"emitMany", "", 4},
		{"emit", "a", 7},
	}
	for _, c := range calls {
		var err error
		if c.action == "emitMany" {
			_, err = h.Action(ctx, c.action, c.n)
		} else {
			_, err = h.Action(ctx, c.action, c.name, c.n)
		}
		if (err != nil) != (c.action == "emitFail") {
			t.Fatalf("%s %s %d: %v", c.action, c.name, c.n, err)
		}
	}
	bc.Unsubscribe("b")
	ftCall[int](t, h, "emit", "b", 8)
	ftCall[int](t, h, "emit", "c", 9)

	// The events record the broadcasts; the failed call's is nowhere.
	for _, e := range ftEvents(t, b, h.ID) {
		for _, bb := range e.Broadcasts {
			if string(bb.Args) == "[99]" {
				t.Fatal("a failed call's broadcast was recorded")
			}
		}
	}
	for _, c := range []*actors.Conn{onlyA, bc, both, none, all} {
		c.Close()
	}
	tests := []struct {
		name string
		conn *actors.Conn
		want []string
	}{
		{"a only", onlyA, []string{"a[1]", "a[3]", "a[4]", `a[6,"extra"]`, "a[7]"}},
		{"b and c, then c", bc, []string{"b[2]", "c[5]", "c[9]"}},
		{"a and c", both, nil}, // read by the checker above
		{"nothing", none, []string{}},
		{"everything", all, []string{"a[1]", "b[2]", "a[3]", "a[4]", "c[5]", `a[6,"extra"]`, "a[7]", "b[8]", "c[9]"}},
	}
	for _, tc := range tests {
		if tc.want == nil {
			continue
		}
		if got := ftDrain(t, tc.conn); !slices.Equal(got, tc.want) {
			t.Errorf("%s: received %q, want %q", tc.name, got, tc.want)
		}
	}
	if err := ftWait(t, logged, "the log checker"); err != nil {
		t.Fatal(err)
	}
}

type ftConnState struct {
	User string `json:"user"`
}

func TestFeatureConnectionHooks(t *testing.T) {
	t.Parallel()
	connected := make(chan string, 10)
	disconnected := make(chan string, 10)
	forbidden := actors.NewUserError("forbidden", "bad token", map[string]any{"hint": "use good"})
	type params struct {
		Token string `json:"token"`
		User  string `json:"user"`
	}
	typ := ftType("ftconn", actors.Options[ftState]{
		OnBeforeConnect: func(c *actors.Context[ftState], raw json.RawMessage) error {
			var p params
			if err := json.Unmarshal(raw, &p); err != nil || p.Token != "good" {
				return forbidden
			}
			return nil
		},
		CreateConnState: func(c *actors.Context[ftState], raw json.RawMessage) (any, error) {
			var p params
			_ = json.Unmarshal(raw, &p)
			return ftConnState{User: p.User}, nil
		},
		OnConnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			user := conn.State().(ftConnState).User
			c.State.Log = append(c.State.Log, "+"+user)
			connected <- conn.ID()
		},
		OnDisconnect: func(c *actors.Context[ftState], conn *actors.Conn) {
			c.State.Log = append(c.State.Log, "-"+conn.State().(ftConnState).User)
			disconnected <- conn.ID()
		},
	}).Action("whoami", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
		if c.Conn() == nil {
			return "nobody", nil
		}
		return c.Conn().State().(ftConnState).User + "@" + c.Conn().ID(), nil
	}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftconn", "a")

	for _, p := range []string{`{"token":"bad","user":"eve"}`, `null`, ``} {
		_, err := h.Connect(ctx, json.RawMessage(p))
		var ue *actors.UserError
		if !errors.As(err, &ue) || ue != forbidden {
			t.Fatalf("connect with %q: %v, want the hook's UserError", p, err)
		}
	}
	if _, err := h.Connect(ctx, json.RawMessage(`{"token":`)); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("connect with invalid JSON: %v", err)
	}
	select {
	case id := <-connected:
		t.Fatalf("OnConnect ran for a refused connection %s", id)
	default:
	}

	raw := json.RawMessage(`{"token":"good","user":"ann"}`)
	conn, err := h.Connect(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if id := ftWait(t, connected, "OnConnect"); id != conn.ID() {
		t.Fatalf("OnConnect saw %s, want %s", id, conn.ID())
	}
	if st, ok := conn.State().(ftConnState); !ok || st.User != "ann" {
		t.Fatalf("conn state %#v", conn.State())
	}
	if string(conn.Params()) != string(raw) || conn.Actor().ID != h.ID {
		t.Fatalf("params %s actor %s", conn.Params(), conn.Actor().ID)
	}
	// c.Conn() is the connection for calls through it, nil otherwise.
	out, err := conn.Action(ctx, "whoami", nil)
	if err != nil || string(out) != `"ann@`+conn.ID()+`"` {
		t.Fatalf("whoami through the connection: %s %v", out, err)
	}
	if got := ftCall[string](t, h, "whoami"); got != "nobody" {
		t.Fatalf("whoami through the handle: %s", got)
	}
	conn2, err := h.Connect(ctx, json.RawMessage(`{"token":"good","user":"bob"}`))
	if err != nil {
		t.Fatal(err)
	}
	ftWait(t, connected, "OnConnect")
	if conn2.ID() == conn.ID() {
		t.Fatal("two connections share an ID")
	}

	conn.Close()
	conn.Close() // idempotent
	if id := ftWait(t, disconnected, "OnDisconnect"); id != conn.ID() {
		t.Fatalf("OnDisconnect saw %s, want %s", id, conn.ID())
	}
	ftWait(t, conn.Done(), "Done")
	if _, ok := <-conn.Events(); ok {
		t.Fatal("events of a closed connection still open")
	}
	if conn.Err() != nil {
		t.Fatalf("Err after Close: %v", conn.Err())
	}
	if _, err := conn.Action(ctx, "whoami", nil); !errors.Is(err, actors.ErrConnClosed) {
		t.Fatalf("action on a closed connection: %v", err)
	}
	// The hooks' state changes are recorded like any other.
	if st := ftCall[ftState](t, h, "state"); !slices.Equal(st.Log, []string{"+ann", "+bob", "-ann"}) {
		t.Fatalf("log %q", st.Log)
	}
	conn2.Close()
	ftWait(t, disconnected, "OnDisconnect")
}

func TestFeatureMaxConnections(t *testing.T) {
	t.Parallel()
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.MaxConnections = 2 },
		func(o *actors.Options[ftState]) { o.MaxConnections = 2 },
		func(o *actors.RuntimeOptions) { o.MaxConnections = 100 },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := actors.Options[ftState]{}
			tc.typ(&opts)
			b := ftSetup(t, tc.runtime, ftType("ftmaxconn", opts))
			ctx := ftCtx(t)
			h := ftCreate(t, b, "ftmaxconn", "a")
			c1, err1 := h.Connect(ctx, nil)
			c2, err2 := h.Connect(ctx, nil)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			_, err := h.Connect(ctx, nil)
			var re *actors.Error
			if !errors.Is(err, actors.ErrTooManyConns) || !errors.As(err, &re) || re.RetryAfter <= 0 {
				t.Fatalf("third connection: %v, want ErrTooManyConns with RetryAfter", err)
			}
			c1.Close() // queued before the next connect: its slot is free
			c3, err := h.Connect(ctx, nil)
			if err != nil {
				t.Fatalf("connect after a close: %v", err)
			}
			c2.Close()
			c3.Close()
		})
	}
}

func TestFeatureSlowConnection(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.ConnBuffer = 2 }, ftBroadcastType("ftslow", actors.Options[ftState]{}))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftslow", "a")
	slow, err := h.Subscribe(ctx, "tick")
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.Subscribe(ctx, "tick")
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 6; n++ {
		ftCall[int](t, h, "emit", "tick", n) // never blocks on the slow reader
		if n == 2 {
			select {
			case <-slow.Done():
				t.Fatal("closed with a full but not overflowing buffer")
			default:
			}
		}
		// The fast reader keeps up and gets everything, in order.
		ev := ftWait(t, fast.Events(), "a broadcast on the fast connection")
		if got := ev.Name + string(ev.Args); got != fmt.Sprintf("tick[%d]", n) {
			t.Fatalf("fast connection received %s, want tick[%d]", got, n)
		}
	}
	ftWait(t, slow.Done(), "the slow connection to close")
	if !errors.Is(slow.Err(), actors.ErrConnClosed) {
		t.Fatalf("slow connection Err %v, want ErrConnClosed", slow.Err())
	}
	if got := ftDrain(t, slow); !slices.Equal(got, []string{"tick[1]", "tick[2]"}) {
		t.Fatalf("slow connection kept %q", got)
	}
	select {
	case <-fast.Done():
		t.Fatal("the fast connection was closed")
	default:
	}
	fast.Close()
}

// TestFeatureOnDisconnectForEveryClose: whatever OnConnect set up for a
// connection (here a presence count in the state) is undone by OnDisconnect
// however the connection ends: closed by the client, closed by the runtime as
// too slow, or closed by a runtime stop.
func TestFeatureOnDisconnectForEveryClose(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		close func(t *testing.T, b *bundle, h *actors.Handle, conn *actors.Conn)
	}{
		{"client close", func(t *testing.T, b *bundle, h *actors.Handle, conn *actors.Conn) { conn.Close() }},
		{"too slow", func(t *testing.T, b *bundle, h *actors.Handle, conn *actors.Conn) {
			ftCall[int](t, h, "emit", "tick", 1)
			ftCall[int](t, h, "emit", "tick", 2) // overflows the buffer of 1
			ftWait(t, conn.Done(), "the slow connection to close")
			conn.Close() // a no-op now
		}},
		{"runtime stop", func(t *testing.T, b *bundle, h *actors.Handle, conn *actors.Conn) { b.restart(t) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			disconnected := make(chan string, 1)
			typ := ftBroadcastType("ftdisc", actors.Options[ftState]{
				OnConnect: func(c *actors.Context[ftState], conn *actors.Conn) { c.State.Count++ },
				OnDisconnect: func(c *actors.Context[ftState], conn *actors.Conn) {
					c.State.Count--
					disconnected <- conn.ID()
				},
			})
			b := ftSetup(t, func(o *actors.RuntimeOptions) { o.ConnBuffer = 1 }, typ)
			h := ftCreate(t, b, "ftdisc", "a")
			conn, err := h.Subscribe(ftCtx(t), "tick")
			if err != nil {
				t.Fatal(err)
			}
			if got := ftCall[int64](t, h, "get"); got != 1 {
				t.Fatalf("present %d after connect", got)
			}
			tc.close(t, b, h, conn)
			if id := ftWait(t, disconnected, "OnDisconnect"); id != conn.ID() {
				t.Fatalf("OnDisconnect for %s, want %s", id, conn.ID())
			}
			h, err = b.rt.Client().Get(ftCtx(t), "ftdisc", []string{"a"})
			if err != nil {
				t.Fatal(err)
			}
			if got := ftCall[int64](t, h, "get"); got != 0 {
				t.Fatalf("present %d after the connection ended", got)
			}
		})
	}
}
