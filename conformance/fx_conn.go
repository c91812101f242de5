package conformance

import (
	"encoding/json"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Connection Tests" (tests/actor-conn.ts)
// besides counter, which is builtin.Counter: counterWithLifecycle,
// counterWithParams and largePayloadConnActor.

func init() {
	add(counterWithLifecycle, counterWithParams, largePayloadConnActor)
}

// lifecycleCounterParams are counterWithLifecycle's connection params.
type lifecycleCounterParams struct {
	TrackLifecycle bool `json:"trackLifecycle"`
}

// connParamsInto decodes a connection's params into v, leaving v as is for
// missing or null params (RivetKit's undefined) and for params of another
// shape.
func connParamsInto(raw json.RawMessage, v any) {
	if len(raw) == 0 {
		return
	}
	_ = json.Unmarshal(raw, v)
}

func tracksLifecycle(raw json.RawMessage) bool {
	var p lifecycleCounterParams
	connParamsInto(raw, &p)
	return p.TrackLifecycle
}

type lifecycleCounterState struct {
	Count  int64    `json:"count"`
	Events []string `json:"events"`
}

type lifecycleConnState struct {
	JoinTime int64 `json:"joinTime"`
}

// counterWithLifecycle records its hooks in state.events: onWake on every
// wake, and onBeforeConnect, onConnect and onDisconnect for connections
// whose params say {trackLifecycle: true}.
var counterWithLifecycle = actors.NewType("counterWithLifecycle", actors.Options[lifecycleCounterState]{
	State: lifecycleCounterState{Events: []string{}},
	CreateConnState: func(c *actors.Context[lifecycleCounterState], _ json.RawMessage) (any, error) {
		return &lifecycleConnState{JoinTime: c.Now().UnixMilli()}, nil
	},
	OnWake: func(c *actors.Context[lifecycleCounterState]) error {
		c.State.Events = append(c.State.Events, "onWake")
		return nil
	},
	OnBeforeConnect: func(c *actors.Context[lifecycleCounterState], params json.RawMessage) error {
		if tracksLifecycle(params) {
			c.State.Events = append(c.State.Events, "onBeforeConnect")
		}
		return nil
	},
	OnConnect: func(c *actors.Context[lifecycleCounterState], conn *actors.Conn) {
		if tracksLifecycle(conn.Params()) {
			c.State.Events = append(c.State.Events, "onConnect")
		}
	},
	OnDisconnect: func(c *actors.Context[lifecycleCounterState], conn *actors.Conn) {
		if tracksLifecycle(conn.Params()) {
			c.State.Events = append(c.State.Events, "onDisconnect")
		}
	},
}).
	Action("getEvents", actors.Act0(func(c *actors.Context[lifecycleCounterState]) ([]string, error) {
		return c.State.Events, nil
	})).
	Action("increment", actors.Act(func(c *actors.Context[lifecycleCounterState], x int64) (int64, error) {
		c.State.Count += x
		return c.State.Count, nil
	}))

type paramsCounterState struct {
	Count        int64    `json:"count"`
	Initializers []string `json:"initializers"`
}

type paramsConnState struct {
	Name string `json:"name"`
}

// counterWithParams names each connection after its params' name
// ("anonymous" without one) and records the names in state.initializers as
// connections open; increment broadcasts newCount with {count, by}.
var counterWithParams = actors.NewType("counterWithParams", actors.Options[paramsCounterState]{
	State: paramsCounterState{Initializers: []string{}},
	CreateConnState: func(_ *actors.Context[paramsCounterState], params json.RawMessage) (any, error) {
		var p struct {
			Name string `json:"name"`
		}
		connParamsInto(params, &p)
		if p.Name == "" {
			p.Name = "anonymous"
		}
		return &paramsConnState{Name: p.Name}, nil
	},
	OnConnect: func(c *actors.Context[paramsCounterState], conn *actors.Conn) {
		c.State.Initializers = append(c.State.Initializers, paramsConnName(conn))
	},
}).
	Action("increment", actors.Act(func(c *actors.Context[paramsCounterState], x int64) (int64, error) {
		c.State.Count += x
		c.Broadcast("newCount", map[string]any{"count": c.State.Count, "by": paramsConnName(c.Conn())})
		return c.State.Count, nil
	})).
	Action("getInitializers", actors.Act0(func(c *actors.Context[paramsCounterState]) ([]string, error) {
		return c.State.Initializers, nil
	}))

func paramsConnName(conn *actors.Conn) string {
	if conn == nil {
		return ""
	}
	if st, ok := conn.State().(*paramsConnState); ok {
		return st.Name
	}
	return ""
}

type lpcConnState struct {
	LastRequestSize int `json:"lastRequestSize"`
}

type lpcRequest struct {
	Items []string `json:"items"`
}

type lpcSummary struct {
	ItemCount int     `json:"itemCount"`
	FirstItem *string `json:"firstItem,omitempty"`
	LastItem  *string `json:"lastItem,omitempty"`
}

// lpcItems returns n items of about 52 bytes each.
func lpcItems(n int) []string {
	items := make([]string, 0, max(n, 0))
	for i := range n {
		items = append(items, fmt.Sprintf("Item %d with some additional text to increase size", i))
	}
	return items
}

func lpcSummarize(data lpcRequest) lpcSummary {
	out := lpcSummary{ItemCount: len(data.Items)}
	if n := len(data.Items); n > 0 {
		out.FirstItem, out.LastItem = &data.Items[0], &data.Items[n-1]
	}
	return out
}

// largePayloadConnActor takes and returns large payloads over a connection,
// remembering the size of the last request in the connection's state.
// RivetKit's default maxIncomingMessageSize is 64 KiB: MaxArgsBytes says the
// same, so a larger request is refused.
var largePayloadConnActor = actors.NewType("largePayloadConnActor", actors.Options[struct{}]{
	ConnState:    &lpcConnState{},
	MaxArgsBytes: 64 << 10,
}).
	Action("processLargeRequest", actors.Act(func(c *actors.Context[struct{}], data lpcRequest) (lpcSummary, error) {
		if conn := c.Conn(); conn != nil {
			if st, ok := conn.State().(*lpcConnState); ok {
				st.LastRequestSize = len(data.Items)
			}
		}
		return lpcSummarize(data), nil
	})).
	Action("getLargeResponse", actors.Act(func(_ *actors.Context[struct{}], n int) (map[string][]string, error) {
		return map[string][]string{"items": lpcItems(n)}, nil
	})).
	Action("echo", func(_ *actors.Context[struct{}], args json.RawMessage) (any, error) {
		var data []json.RawMessage
		if err := json.Unmarshal(args, &data); err != nil || len(data) == 0 {
			return nil, nil
		}
		return data[0], nil
	}).
	Action("getLastRequestSize", actors.Act0(func(c *actors.Context[struct{}]) (int, error) {
		if conn := c.Conn(); conn != nil {
			if st, ok := conn.State().(*lpcConnState); ok {
				return st.LastRequestSize, nil
			}
		}
		return 0, nil
	}))
