package conformance

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The raw WebSocket fixtures of the suite's "raw websocket" group (upstream
// raw-websocket.ts). OnWebSocket runs outside the mailbox for the socket's
// lifetime; the counts live in the state, changed through Session.Do.

// rawWSState is rawWebSocketActor's state.
type rawWSState struct {
	ConnectionCount int64 `json:"connectionCount"`
	MessageCount    int64 `json:"messageCount"`
}

// rawWSStats is getStats' output and the stats message.
type rawWSStats struct {
	Type            string `json:"type,omitempty"`
	ConnectionCount int64  `json:"connectionCount"`
	MessageCount    int64  `json:"messageCount"`
}

// rawWebSocketActor counts its sockets and their messages: it welcomes each
// socket with {"type":"welcome","connectionCount":n}; a text message
// {"type":"ping"} is answered with a pong, {"type":"getStats"} with the
// stats, {"type":"getRequestInfo"} with the upgrade request's URL; anything
// else is echoed, text or binary. getStats() returns the counts.
var rawWebSocketActor = actors.NewType("rawWebSocketActor", actors.Options[rawWSState]{
	OnWebSocket: func(s *actors.Session[rawWSState], ws actors.WebSocket) {
		ctx := s.Context()
		send := func(v any) error {
			b, err := json.Marshal(v)
			if err != nil {
				return err
			}
			return ws.Write(ctx, true, b)
		}
		var count int64
		if err := s.Do(func(c *actors.Context[rawWSState]) error {
			c.State.ConnectionCount++
			count = c.State.ConnectionCount
			return nil
		}); err != nil {
			return
		}
		// The socket's close (or any end of this hook) takes it off the count.
		defer func() {
			_ = s.Do(func(c *actors.Context[rawWSState]) error {
				c.State.ConnectionCount--
				return nil
			})
		}()
		if send(map[string]any{"type": "welcome", "connectionCount": count}) != nil {
			return
		}
		for {
			text, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			var stats rawWSStats
			if err := s.Do(func(c *actors.Context[rawWSState]) error {
				c.State.MessageCount++
				stats = rawWSStats{Type: "stats", ConnectionCount: c.State.ConnectionCount, MessageCount: c.State.MessageCount}
				return nil
			}); err != nil {
				return
			}
			var msg struct {
				Type string `json:"type"`
			}
			switch {
			case !text || json.Unmarshal(data, &msg) != nil:
				err = ws.Write(ctx, text, data) // binary, or not JSON: echoed
			case msg.Type == "ping":
				err = send(map[string]any{"type": "pong", "timestamp": time.Now().UnixMilli()})
			case msg.Type == "getStats":
				err = send(stats)
			case msg.Type == "getRequestInfo":
				err = send(requestInfo(s.Request()))
			default:
				err = ws.Write(ctx, true, data)
			}
			if err != nil {
				return
			}
		}
	},
}).Action("getStats", actors.Act0(func(c *actors.Context[rawWSState]) (rawWSStats, error) {
	return rawWSStats{ConnectionCount: c.State.ConnectionCount, MessageCount: c.State.MessageCount}, nil
}))

// requestInfo is the getRequestInfo answer: the upgrade request's URL.
func requestInfo(r *http.Request) map[string]string {
	out := map[string]string{"type": "requestInfo", "url": "", "pathname": "", "search": ""}
	if r == nil {
		return out
	}
	out["url"], out["pathname"] = requestURL(r), r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		out["search"] = "?" + r.URL.RawQuery
	}
	return out
}

// rawWebSocketBinaryActor answers each binary message with its bytes
// reversed, and ignores text.
var rawWebSocketBinaryActor = actors.NewType("rawWebSocketBinaryActor", actors.Options[noState]{
	OnWebSocket: func(s *actors.Session[noState], ws actors.WebSocket) {
		ctx := s.Context()
		for {
			text, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if text {
				continue
			}
			reversed := slices.Clone(data)
			slices.Reverse(reversed)
			if ws.Write(ctx, false, reversed) != nil {
				return
			}
		}
	},
})

func init() {
	add(rawWebSocketActor, rawWebSocketBinaryActor)
}
