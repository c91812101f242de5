package main

import (
	"encoding/json"
	"os"

	"github.com/rivet-flow/rivet-flow/actors"
)

// testActorsEnv, set to 1, makes serve also run the actor types the
// RivetKit client tests need (test/rivetkit): never set in production.
const testActorsEnv = "RIVETFLOW_TEST_ACTORS"

// guardedState is the guarded fixture's state: how often OnConnect ran and
// how often OnStateChange saw a change.
type guardedState struct {
	Connects int `json:"connects"`
	Changes  int `json:"changes"`
}

// guardedConn is a guarded connection's state, built by CreateConnState.
type guardedConn struct {
	Token string `json:"token"`
	Path  string `json:"path"` // of the request the connection came with
}

// testActors registers, when testActorsEnv is 1, the fixture "guarded":
// its OnBeforeConnect refuses connection params {"token":"bad"} with the
// user error forbidden; CreateConnState keeps the token and the request's
// path; OnConnect counts connections, OnStateChange counts changes. Actions:
// ping (1), whoAmI (the connection's state), sendMe(name, value) (an event to
// the calling connection alone), conns (the open connections' params) and
// stats (the state).
func testActors(reg *actors.Registry) *actors.Registry {
	if os.Getenv(testActorsEnv) != "1" {
		return reg
	}
	guarded := actors.NewType("guarded", actors.Options[guardedState]{
		OnBeforeConnect: func(_ *actors.Context[guardedState], params json.RawMessage) error {
			if guardedToken(params) == "bad" {
				return actors.NewUserError("forbidden", "this token may not connect", nil)
			}
			return nil
		},
		CreateConnState: func(c *actors.Context[guardedState], params json.RawMessage) (any, error) {
			st := guardedConn{Token: guardedToken(params)}
			if r := c.Request(); r != nil {
				st.Path = r.URL.Path
			}
			return st, nil
		},
		OnConnect: func(c *actors.Context[guardedState], conn *actors.Conn) {
			if !conn.Stateless() {
				c.State.Connects++
			}
		},
		OnStateChange: func(c *actors.Context[guardedState]) { c.State.Changes++ },
	}).
		Action("ping", actors.Act0(func(*actors.Context[guardedState]) (int, error) { return 1, nil })).
		Action("whoAmI", actors.Act0(func(c *actors.Context[guardedState]) (any, error) { return c.Conn().State(), nil })).
		Action("sendMe", actors.Act2(func(c *actors.Context[guardedState], name string, value any) (bool, error) {
			return true, c.Conn().Send(name, value)
		})).
		Action("conns", actors.Act0(func(c *actors.Context[guardedState]) ([]json.RawMessage, error) {
			out := []json.RawMessage{}
			for _, conn := range c.Conns() {
				out = append(out, conn.Params())
			}
			return out, nil
		})).
		Action("stats", actors.Act0(func(c *actors.Context[guardedState]) (guardedState, error) { return *c.State, nil }))
	if err := reg.Register(guarded); err != nil {
		panic(err) // a fixed fixture: a failure is a bug here
	}
	return reg
}

func guardedToken(params json.RawMessage) string {
	var p struct {
		Token string `json:"token"`
	}
	if len(params) > 0 {
		_ = json.Unmarshal(params, &p)
	}
	return p.Token
}
