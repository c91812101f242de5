package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
)

// Labels of requests that matched no route: the raw path never becomes a
// label (unbounded, and a gateway path can carry a token).
const (
	routeUnmatched = "unmatched"
	methodOther    = "other"
)

// fastActionRoute is the route the fast path serves (the same pattern as its
// Huma operation), so both count under one label.
const fastActionRoute = "POST /v1/actors/{id}/actions/{action}"

// httpMetrics are the API's request metrics, labelled by route pattern.
type httpMetrics struct {
	requests *prometheus.CounterVec   // method, route, status
	duration *prometheus.HistogramVec // method, route
	errors   *prometheus.CounterVec   // method, route, code, class
	inflight prometheus.Gauge

	// series caches the children of one method, route and status: the
	// label lookups cost more than the rest of the request's accounting.
	mu     sync.RWMutex
	series map[seriesKey]*routeSeries
}

type seriesKey struct {
	method, route string
	status        int
}

type routeSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// seriesOf returns the cached children of k's labels (a bounded set: routes
// are patterns, methods and statuses few).
func (m *httpMetrics) seriesOf(k seriesKey) *routeSeries {
	m.mu.RLock()
	rs, ok := m.series[k]
	m.mu.RUnlock()
	if ok {
		return rs
	}
	rs = &routeSeries{requests: m.requests.WithLabelValues(k.method, k.route, statusLabel(k.status)),
		duration: m.duration.WithLabelValues(k.method, k.route)}
	m.mu.Lock()
	m.series[k] = rs
	m.mu.Unlock()
	return rs
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_http_requests_total",
			Help: "HTTP requests by method, route pattern (as in /docs, never the raw path) and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rivetflow_http_request_duration_seconds",
			Help: "HTTP request time by method and route pattern, to the end of the response (a stream's or WebSocket's whole life).",
			// 1ms .. 2min: an action waits for its mailbox, and actions time out after 60s by default.
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
		}, []string{"method", "route"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rivetflow_http_errors_total",
			Help: "HTTP error responses by route, error code (catalogued codes; user_error for codes an actor chose; other) and class: user (the caller's mistake, 4xx), overload (429) or server (5xx).",
		}, []string{"method", "route", "code", "class"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rivetflow_http_requests_in_flight",
			Help: "HTTP requests being served, open streams and WebSockets included.",
		}),
		series: map[seriesKey]*routeSeries{},
	}
	if err := promreg.Register(reg, m.requests, m.duration, m.errors, m.inflight); err != nil {
		return nil, err
	}
	return m, nil
}

// initObserve registers the HTTP metrics when a Registerer is set (the
// access log needs no setup).
func (s *Server) initObserve() {
	if s.opts.Registerer == nil {
		return
	}
	m, err := newHTTPMetrics(s.opts.Registerer)
	if err != nil {
		s.lg.Error("HTTP metrics are off: they could not be registered", "err", err)
		return
	}
	s.httpm = m
}

// reqInfo is what the routing learns about a request, for observe: the
// matched pattern and the path it matched (where the actor ID is).
type reqInfo struct {
	pattern string // "METHOD /path" or "/path"; "" until routed
	path    string // escaped, as routed
	actor   string // the actor a route without one in its path acted on
}

type reqInfoKey struct{}

// noteRoute records the pattern r matched (and the actor ID in its path) for
// the metrics and the access log. r is the request as routed (the gateway
// may have rewritten its path).
func noteRoute(r *http.Request, pattern string) {
	info, ok := r.Context().Value(reqInfoKey{}).(*reqInfo)
	if !ok || pattern == "" {
		return
	}
	info.pattern, info.path = pattern, r.URL.EscapedPath()
}

// noteActor records the actor a request acted on when its path does not
// hold it (PUT /v1/actors creates one named in the body), for the access log.
func noteActor(ctx context.Context, id string) {
	if info, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		info.actor = id
	}
}

// actorInPath returns the actor ID that path holds where pattern has {id}
// (the /v1 and management routes) or {target} (the gateway's), without a
// token the gateway lets a client append (/gateway/{id}@{token}/...).
func actorInPath(pattern, path string) string {
	_, pat, ok := strings.Cut(pattern, " ")
	if !ok {
		pat = pattern
	}
	patSegs, segs := strings.Split(pat, "/"), strings.Split(path, "/")
	for i, p := range patSegs {
		if i >= len(segs) {
			return ""
		}
		if p != "{id}" && p != "{target}" {
			continue
		}
		id, err := url.PathUnescape(segs[i])
		if err != nil {
			return ""
		}
		id, _, _ = strings.Cut(id, "@")
		return id
	}
	return ""
}

// observe counts every request in the HTTP metrics and writes it to the
// access log, labelled by the route pattern it matched.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.httpm == nil && s.opts.AccessLog == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info))
		rec := &recorder{ResponseWriter: w}
		if s.httpm != nil {
			s.httpm.inflight.Inc()
			defer s.httpm.inflight.Dec()
		}
		next.ServeHTTP(rec, r)
		if info.pattern == "" {
			// Refused before routing (origin, CORS, token): label it by the
			// route it would have reached, if any.
			_, info.pattern = s.mux.Handler(r)
			info.path = r.URL.EscapedPath()
		}
		route := routeUnmatched
		if info.pattern != "" {
			route = info.pattern
			if _, path, ok := strings.Cut(route, " "); ok {
				route = path
			}
		}
		ev := requestEvent{method: methodLabel(r.Method), route: route, status: rec.statusCode(),
			took: time.Since(start), bytes: rec.bytes}
		ev.code, ev.group = rec.errorCode()
		if s.httpm != nil {
			s.httpm.record(ev)
		}
		if s.opts.AccessLog != nil {
			if ev.actor = info.actor; ev.actor == "" && info.path != "" {
				ev.actor = actorInPath(info.pattern, info.path)
			}
			s.logAccess(r, ev)
		}
	})
}

// requestEvent is one finished request, as the metrics and the access log see it.
type requestEvent struct {
	method, route string
	status        int
	took          time.Duration
	actor         string // access log only
	bytes         int64
	code, group   string // the error's, for a JSON error response
}

func (m *httpMetrics) record(ev requestEvent) {
	rs := m.seriesOf(seriesKey{ev.method, ev.route, ev.status})
	rs.requests.Inc()
	rs.duration.Observe(ev.took.Seconds())
	if ev.status >= 400 {
		m.errors.WithLabelValues(ev.method, ev.route, codeLabel(ev.code, ev.group), errorClass(ev.status)).Inc()
	}
}

// errorClass tells a caller's mistake from the server's failure.
func errorClass(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "overload"
	case status >= 500:
		return "server"
	default:
		return "user"
	}
}

// codeLabel keeps the code label bounded: catalogued codes as they are,
// codes an actor chose (its user errors) as user_error, any other as other
// (a raw actor response's own JSON).
func codeLabel(code, group string) string {
	switch {
	case code == "":
		return "none"
	case group == errcode.GroupUser:
		return "user_error"
	}
	if _, ok := errcode.Lookup(errcode.Code(code)); ok {
		return code
	}
	return "other"
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return methodOther
}

func statusLabel(s int) string {
	if s < 100 || s > 599 {
		return "other"
	}
	return strconv.Itoa(s)
}

// errorSniffLimit bounds the bytes of an error body kept to read its code.
const errorSniffLimit = 2048

// recorder sees the status and size of a response, and the start of an
// error body (for its code). It passes Flush, Hijack and deadlines through
// (SSE, WebSockets, body timeouts).
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	sniff  []byte // the start of a JSON error body
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 400 && len(r.sniff) < errorSniffLimit && strings.Contains(r.Header().Get("Content-Type"), "json") {
		r.sniff = append(r.sniff, p[:min(len(p), errorSniffLimit-len(r.sniff))]...)
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Flush serves SSE and streamed exports, which assert http.Flusher.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack serves WebSockets.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) statusCode() int {
	if r.status == 0 {
		return http.StatusOK // nothing written: net/http answers 200
	}
	return r.status
}

// errorCode reads the code and group of a JSON error body (the API's
// problem details and the gateway's errors both carry them). It reads key by
// key, so a body cut at errorSniffLimit still yields the fields before the cut.
func (r *recorder) errorCode() (code, group string) {
	if len(r.sniff) == 0 {
		return "", ""
	}
	dec := json.NewDecoder(bytes.NewReader(r.sniff))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", ""
	}
	for dec.More() && (code == "" || group == "") {
		key, err := dec.Token()
		if err != nil {
			break
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			break
		}
		switch key {
		case "code":
			_ = json.Unmarshal(v, &code)
		case "group":
			_ = json.Unmarshal(v, &group)
		}
	}
	return code, group
}
