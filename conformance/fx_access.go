package conformance

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "access control" tests (upstream
// access-control.ts): accessControlActor has an allowed and a refused queue
// (CanPublish), refuses connections, raw requests and raw WebSockets whose
// params say allowRequest/allowWebSocket false; accessControlNoQueuesActor
// has no queues.

// accessControlState is accessControlActor's state. Upstream's canPublish
// and canSubscribe write the connection IDs here; CanPublish may not change
// the state, so the last publisher's ID lives in the vars (accessVars);
// CanSubscribe's changes are recorded, so its connection ID is here.
type accessControlState struct {
	LastCanPublishConnID   string `json:"lastCanPublishConnId"`
	LastCanSubscribeConnID string `json:"lastCanSubscribeConnId"`
}

// accessVars are accessControlActor's in-memory vars: the ID of the last
// connection CanPublish saw.
type accessVars struct {
	LastCanPublishConnID string `json:"lastCanPublishConnId"`
}

// accessParams are the connection params the suite sends.
type accessParams struct {
	AllowRequest   *bool `json:"allowRequest"`
	AllowWebSocket *bool `json:"allowWebSocket"`
}

func (p accessParams) refused() bool {
	return (p.AllowRequest != nil && !*p.AllowRequest) || (p.AllowWebSocket != nil && !*p.AllowWebSocket)
}

// errForbidden is RivetKit's Forbidden (auth/forbidden).
func errForbidden() error {
	return &actors.UserError{Group: "auth", Code: "forbidden", Message: "Forbidden"}
}

// wsConnParams reads the params a RivetKit client offers as the WebSocket
// subprotocol rivet_conn_params.<URL-encoded JSON>.
func wsConnParams(r *http.Request) json.RawMessage {
	if r == nil {
		return nil
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			if enc, ok := strings.CutPrefix(strings.TrimSpace(p), "rivet_conn_params."); ok {
				if raw, err := url.QueryUnescape(enc); err == nil {
					return json.RawMessage(raw)
				}
			}
		}
	}
	return nil
}

// accessCanPublish records the sending connection's ID and allows or
// refuses.
func accessCanPublish(allow bool) func(c *actors.Context[accessControlState]) (bool, error) {
	return func(c *actors.Context[accessControlState]) (bool, error) {
		if conn := c.Conn(); conn != nil {
			c.Vars.(*accessVars).LastCanPublishConnID = conn.ID()
		}
		return allow, nil
	}
}

type accessCtx = actors.Context[accessControlState]

// accessCanSubscribe records the subscribing connection's ID in the state
// (CanSubscribe's changes are recorded) and allows or refuses.
func accessCanSubscribe(allow bool) func(c *accessCtx) (bool, error) {
	return func(c *accessCtx) (bool, error) {
		if conn := c.Conn(); conn != nil {
			c.State.LastCanSubscribeConnID = conn.ID()
		}
		return allow, nil
	}
}

// accessTakeBody takes one message (of names; all when empty) without
// waiting and returns its body, or null.
func accessTakeBody(q *actors.Queue, names ...string) (any, error) {
	msgs, err := q.TryNextBatch(actors.NextOptions{Names: names})
	if err != nil || len(msgs) == 0 {
		return nil, err
	}
	return msgs[0].Body, nil
}

var accessControlActor = actors.NewType("accessControlActor", actors.Options[accessControlState]{
	Vars: &accessVars{},
	Queues: map[string]actors.QueueSpec[accessControlState]{
		"allowedQueue": {CanPublish: accessCanPublish(true)},
		"blockedQueue": {CanPublish: accessCanPublish(false)},
	},
	Events: map[string]actors.EventSpec[accessControlState]{
		"allowedEvent": {CanSubscribe: accessCanSubscribe(true)},
		"blockedEvent": {CanSubscribe: accessCanSubscribe(false)},
	},
	OnBeforeConnect: func(c *accessCtx, params json.RawMessage) error {
		var p accessParams
		connParamsInto(params, &p)
		if p.refused() {
			return errForbidden()
		}
		return nil
	},
	// Raw requests and raw WebSockets do not run OnBeforeConnect here (they
	// do in RivetKit), so both read the params themselves.
	OnRequest: func(c *accessCtx, w http.ResponseWriter, r *http.Request) {
		var p accessParams
		connParamsInto(json.RawMessage(r.Header.Get("x-rivet-conn-params")), &p)
		if p.refused() {
			writeJSON(w, http.StatusForbidden, map[string]any{"group": "auth", "code": "forbidden", "message": "Forbidden"})
			return
		}
		if r.URL.Path == "/status" {
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return
		}
		http.Error(w, "Not Found", http.StatusNotFound)
	},
	OnWebSocket: func(s *actors.Session[accessControlState], ws actors.WebSocket) {
		var p accessParams
		connParamsInto(wsConnParams(s.Request()), &p)
		if p.refused() {
			_ = ws.Close(1011, "auth.forbidden")
			return
		}
		ctx := s.Context()
		if ws.Write(ctx, true, []byte(`{"type":"welcome"}`)) != nil {
			return
		}
		for { // upstream's socket stays open: wait for the client to close it
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	},
}).
	Action("allowedAction", actors.Act(func(c *accessCtx, value string) (string, error) {
		return "allowed:" + value, nil
	})).
	Action("allowedGetLastCanPublishConnId", actors.Act0(func(c *accessCtx) (string, error) {
		if id := c.Vars.(*accessVars).LastCanPublishConnID; id != "" {
			return id, nil
		}
		return c.State.LastCanPublishConnID, nil
	})).
	Action("allowedGetLastCanSubscribeConnId", actors.Act0(func(c *accessCtx) (string, error) {
		return c.State.LastCanSubscribeConnID, nil
	})).
	Action("allowedReceiveQueue", actors.Act0(func(c *accessCtx) (any, error) {
		return accessTakeBody(c.Queue(), "allowedQueue")
	})).
	Action("allowedReceiveAnyQueue", actors.Act0(func(c *accessCtx) (any, error) {
		return accessTakeBody(c.Queue())
	})).
	Action("allowedBroadcastAllowedEvent", actors.Act(func(c *accessCtx, value string) (any, error) {
		c.Broadcast("allowedEvent", map[string]string{"value": value})
		return nil, nil
	})).
	Action("allowedBroadcastBlockedEvent", actors.Act(func(c *accessCtx, value string) (any, error) {
		c.Broadcast("blockedEvent", map[string]string{"value": value})
		return nil, nil
	})).
	Action("allowedBroadcastUndefinedEvent", actors.Act(func(c *accessCtx, value string) (any, error) {
		c.Broadcast("undefinedEvent", map[string]string{"value": value})
		return nil, nil
	}))

// accessControlNoQueuesActor has no queues: readAnyQueue() -> null.
var accessControlNoQueuesActor = actors.NewType("accessControlNoQueuesActor", actors.Options[struct{}]{}).
	Action("readAnyQueue", actors.Act0(func(c *actors.Context[struct{}]) (any, error) {
		return accessTakeBody(c.Queue())
	}))

func init() { add(accessControlActor, accessControlNoQueuesActor) }
