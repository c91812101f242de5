package conformance

import (
	"context"
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/actors"
)

// connStateActor is the fixture of the suite's "Actor Connection State
// Tests" (tests/actor-conn-state.ts): each connection has its own state
// (username, role, counter, createdAt, noCount) built from its params;
// connections and disconnections are announced with broadcasts, and
// connections can message each other by ID. A connection with
// {noCount: true} is left out of getConnectionIds and of the disconnection
// count (the suite's observer).

func init() { add(connStateActor) }

type connStateShared struct {
	SharedCounter      int64 `json:"sharedCounter"`
	DisconnectionCount int64 `json:"disconnectionCount"`
}

type connStateOfConn struct {
	Username  string `json:"username"`
	Role      string `json:"role"`
	Counter   int64  `json:"counter"`
	CreatedAt int64  `json:"createdAt"`
	NoCount   bool   `json:"noCount"`
}

// connStateOf returns conn's state, or nil for a connection without one.
func connStateOf(conn *actors.Conn) *connStateOfConn {
	if conn == nil {
		return nil
	}
	st, _ := conn.State().(*connStateOfConn)
	return st
}

// connStateView is {id, ...state}, as the actions answer it.
func connStateView(conn *actors.Conn) map[string]any {
	out := map[string]any{"id": conn.ID()}
	if st := connStateOf(conn); st != nil {
		out["username"], out["role"], out["counter"] = st.Username, st.Role, st.Counter
		out["createdAt"], out["noCount"] = st.CreatedAt, st.NoCount
	}
	return out
}

// connStateConn returns the open connection with ID id, or nil.
func connStateConn(c *actors.Context[connStateShared], id string) *actors.Conn {
	for _, conn := range c.Conns() {
		if conn.ID() == id {
			return conn
		}
	}
	return nil
}

// connStateSelf returns the state of the call's connection; an action
// called without a connection has none.
func connStateSelf(c *actors.Context[connStateShared]) (*connStateOfConn, error) {
	if st := connStateOf(c.Conn()); st != nil {
		return st, nil
	}
	return nil, actors.NewUserError("no_connection", "this action needs a connection", nil)
}

var connStateActor = actors.NewType("connStateActor", actors.Options[connStateShared]{
	CreateConnState: func(c *actors.Context[connStateShared], params json.RawMessage) (any, error) {
		var p struct {
			Username string `json:"username"`
			Role     string `json:"role"`
			NoCount  bool   `json:"noCount"`
		}
		connParamsInto(params, &p)
		st := &connStateOfConn{Username: p.Username, Role: p.Role, CreatedAt: c.Now().UnixMilli(), NoCount: p.NoCount}
		if st.Username == "" {
			st.Username = "anonymous"
		}
		if st.Role == "" {
			st.Role = "user"
		}
		return st, nil
	},
	OnConnect: func(c *actors.Context[connStateShared], conn *actors.Conn) {
		username := ""
		if st := connStateOf(conn); st != nil {
			username = st.Username
		}
		_ = conn.Send("connectedFromOnConnect", map[string]any{"id": conn.ID(), "username": username})
		// The connection joins c.Conns() once its hooks succeeded; look it up
		// there, falling back on the hook's own.
		fromConns := connStateConn(c, conn.ID())
		if fromConns == nil {
			fromConns = conn
		}
		_ = fromConns.Send("connectedFromOnConnectConns", map[string]any{"id": fromConns.ID(), "username": username})
		c.Broadcast("userConnected", map[string]any{"id": conn.ID(), "username": "anonymous", "role": "user"})
	},
	OnDisconnect: func(c *actors.Context[connStateShared], conn *actors.Conn) {
		if st := connStateOf(conn); st != nil && st.NoCount {
			return
		}
		c.State.DisconnectionCount++
		c.Broadcast("userDisconnected", map[string]any{"id": conn.ID()})
	},
}).
	Action("incrementConnCounter", actors.Act(func(c *actors.Context[connStateShared], amount *int64) (any, error) {
		st, err := connStateSelf(c)
		if err != nil {
			return nil, err
		}
		if amount == nil {
			st.Counter++
		} else {
			st.Counter += *amount
		}
		return nil, nil
	})).
	Action("incrementSharedCounter", actors.Act(func(c *actors.Context[connStateShared], amount *int64) (int64, error) {
		if amount == nil {
			c.State.SharedCounter++
		} else {
			c.State.SharedCounter += *amount
		}
		return c.State.SharedCounter, nil
	})).
	Action("getConnectionState", actors.Act0(func(c *actors.Context[connStateShared]) (map[string]any, error) {
		if c.Conn() == nil {
			return nil, actors.NewUserError("no_connection", "this action needs a connection", nil)
		}
		return connStateView(c.Conn()), nil
	})).
	Action("getConnectionIds", actors.Act0(func(c *actors.Context[connStateShared]) ([]string, error) {
		ids := []string{}
		for _, conn := range c.Conns() {
			if st := connStateOf(conn); st == nil || !st.NoCount {
				ids = append(ids, conn.ID())
			}
		}
		return ids, nil
	})).
	Action("getDisconnectionCount", actors.Act0(func(c *actors.Context[connStateShared]) (int64, error) {
		return c.State.DisconnectionCount, nil
	})).
	Action("getAllConnectionStates", actors.Act0(func(c *actors.Context[connStateShared]) ([]map[string]any, error) {
		out := []map[string]any{}
		for _, conn := range c.Conns() {
			out = append(out, connStateView(conn))
		}
		return out, nil
	})).
	Action("sendToConnection", actors.Act2(func(c *actors.Context[connStateShared], targetID, message string) (bool, error) {
		target := connStateConn(c, targetID)
		if target == nil {
			return false, nil
		}
		from := ""
		if c.Conn() != nil {
			from = c.Conn().ID()
		}
		_ = target.Send("directMessage", map[string]any{"from": from, "message": message})
		return true, nil
	})).
	Action("updateConnection", actors.Act(func(c *actors.Context[connStateShared], updates struct {
		Username string `json:"username"`
		Role     string `json:"role"`
	}) (*connStateOfConn, error) {
		st, err := connStateSelf(c)
		if err != nil {
			return nil, err
		}
		if updates.Username != "" {
			st.Username = updates.Username
		}
		if updates.Role != "" {
			st.Role = updates.Role
		}
		return st, nil
	})).
	Action("disconnectSelf", actors.Act(func(c *actors.Context[connStateShared], _ *string) (bool, error) {
		// Close after the answer went out: the Go API has no reason to give.
		if conn := c.Conn(); conn != nil {
			c.WaitUntil(func(context.Context) { conn.Close() })
		}
		return true, nil
	}))
