package conformance

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
)

// requestAccessActor is the fixture of the suite's "Request Access in
// Lifecycle Hooks" (tests/request-access.ts): it records the HTTP request
// its hooks see (URL, method, headers) in OnBeforeConnect and
// CreateConnState for connections whose params say {trackRequest: true},
// and in OnRequest and OnWebSocket always; getRequestInfo answers them all.

func init() { add(requestAccessActor) }

// reqAccessInfo is what a hook saw of its request: null URL and method and no
// headers when it saw none.
type reqAccessInfo struct {
	HasRequest     bool              `json:"hasRequest"`
	RequestURL     *string           `json:"requestUrl"`
	RequestMethod  *string           `json:"requestMethod"`
	RequestHeaders map[string]string `json:"requestHeaders"`
}

type requestAccessState struct {
	OnBeforeConnectRequest reqAccessInfo `json:"onBeforeConnectRequest"`
	CreateConnStateRequest reqAccessInfo `json:"createConnStateRequest"`
	OnRequestRequest       reqAccessInfo `json:"onRequestRequest"`
	OnWebSocketRequest     reqAccessInfo `json:"onWebSocketRequest"`
}

type requestAccessConnState struct {
	TrackRequest bool           `json:"trackRequest"`
	RequestInfo  *reqAccessInfo `json:"requestInfo"`
}

// reqAccessInfoOf describes r as a Fetch API Request would: the absolute
// URL, the method, and the headers with lower-case names (values of a
// repeated header joined with ", ").
func reqAccessInfoOf(r *http.Request) reqAccessInfo {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = p
	}
	url := scheme + "://" + r.Host + r.URL.RequestURI()
	method := r.Method
	headers := make(map[string]string, len(r.Header)+1)
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	if _, ok := headers["host"]; !ok && r.Host != "" {
		headers["host"] = r.Host
	}
	return reqAccessInfo{HasRequest: true, RequestURL: &url, RequestMethod: &method, RequestHeaders: headers}
}

func reqAccessTracks(params json.RawMessage) bool {
	var p struct {
		TrackRequest bool `json:"trackRequest"`
	}
	connParamsInto(params, &p)
	return p.TrackRequest
}

var reqAccessEmpty = reqAccessInfo{RequestHeaders: map[string]string{}}

var requestAccessActor = actors.NewType("requestAccessActor", actors.Options[requestAccessState]{
	State: requestAccessState{
		OnBeforeConnectRequest: reqAccessEmpty,
		CreateConnStateRequest: reqAccessEmpty,
		OnRequestRequest:       reqAccessEmpty,
		OnWebSocketRequest:     reqAccessEmpty,
	},
	CreateConnState: func(c *actors.Context[requestAccessState], params json.RawMessage) (any, error) {
		st := &requestAccessConnState{TrackRequest: reqAccessTracks(params)}
		if st.TrackRequest && c.Request() != nil {
			info := reqAccessInfoOf(c.Request())
			st.RequestInfo = &info
		}
		return st, nil
	},
	OnConnect: func(c *actors.Context[requestAccessState], conn *actors.Conn) {
		if st, ok := conn.State().(*requestAccessConnState); ok && st.RequestInfo != nil {
			c.State.CreateConnStateRequest = *st.RequestInfo
		}
	},
	OnBeforeConnect: func(c *actors.Context[requestAccessState], params json.RawMessage) error {
		if !reqAccessTracks(params) {
			return nil
		}
		if r := c.Request(); r != nil {
			c.State.OnBeforeConnectRequest = reqAccessInfoOf(r)
		} else {
			c.State.OnBeforeConnectRequest.HasRequest = false
		}
		return nil
	},
	OnRequest: func(c *actors.Context[requestAccessState], w http.ResponseWriter, r *http.Request) {
		info := reqAccessInfoOf(r)
		c.State.OnRequestRequest = info
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
	},
	OnWebSocket: func(s *actors.Session[requestAccessState], ws actors.WebSocket) {
		r := s.Request()
		if r == nil {
			_ = ws.Close(1011, "missing request")
			return
		}
		info := reqAccessInfoOf(r)
		if err := s.Do(func(c *actors.Context[requestAccessState]) error {
			c.State.OnWebSocketRequest = info
			return nil
		}); err != nil {
			_ = ws.Close(1011, "recording the request failed")
			return
		}
		raw, _ := json.Marshal(info)
		if err := ws.Write(s.Context(), true, raw); err != nil {
			return
		}
		for {
			text, data, err := ws.Read(s.Context())
			if err != nil {
				return
			}
			if err := ws.Write(s.Context(), text, data); err != nil {
				return
			}
		}
	},
}).
	Action("ping", actors.Act0(func(*actors.Context[requestAccessState]) (string, error) {
		return "pong", nil
	})).
	Action("getRequestInfo", actors.Act0(func(c *actors.Context[requestAccessState]) (map[string]reqAccessInfo, error) {
		return map[string]reqAccessInfo{
			"onBeforeConnect": c.State.OnBeforeConnectRequest,
			"createConnState": c.State.CreateConnStateRequest,
			"onRequest":       c.State.OnRequestRequest,
			"onWebSocket":     c.State.OnWebSocketRequest,
		}, nil
	}))
