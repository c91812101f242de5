// Package api serves rivet-flow over HTTP: the native /v1 API documented by
// OpenAPI 3.1 (/openapi.json, /docs), realtime connections (SSE and
// WebSocket), raw passthrough to actors' own handlers, and a gateway that the
// unmodified RivetKit client speaks to.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Options configures the API. The zero value works.
type Options struct {
	// Token, when set, is required on every route as a bearer token (the
	// gateway also accepts it the way the RivetKit client sends it).
	Token string
	// InspectorToken, when set, opens the RivetKit inspector routes
	// (/gateway/{actor}/inspector/...) to Authorization: Bearer <it>; the
	// API token opens them too. With neither token the inspector is open
	// only when InspectorLoopback says the server listens on loopback alone
	// (RivetKit's dev mode); otherwise it answers 401.
	InspectorToken string
	// InspectorLoopback: the server listens on a loopback address only.
	InspectorLoopback bool
	// CORSOrigins lists the origins allowed by CORS ("*" for any); a request
	// with an Origin that is neither listed nor the server's own gets 403
	// origin_not_allowed. Defaults to none.
	CORSOrigins []string
	// MaxBodyBytes bounds request bodies; larger ones get 413. Defaults to 1 MiB.
	MaxBodyBytes int64
	// MaxHistory bounds the events returned by one history read. Defaults to 1000.
	MaxHistory int
	// MaxListActors bounds one page of GET /v1/actors. Defaults to 100.
	MaxListActors int
	// Heartbeat is the ping interval on realtime connections. Defaults to 15s.
	Heartbeat time.Duration
	// BodyReadTimeout bounds reading one request body; a slower client gets
	// 408 request_timeout. Bodies are read whole before any actor sees the
	// request. Defaults to 30s.
	BodyReadTimeout time.Duration
	// MaxTails bounds the event log tails (GET /v1/events/tail) open at once;
	// more get 429 too_many_tails with Retry-After. Each reads ahead at most
	// the log's TailBufferBytes. Defaults to 64.
	MaxTails int
	// Projections, when set, serves /v1/projections and backs GET /v1/actors
	// listings (and the gateway's) with its actor directory. Without it,
	// listings read the log (one type at a time) and /v1/projections is not
	// served. rivetflow.Start sets it to the node's runner.
	Projections *projections.Runner
	// Queues, when set, serves /v1/queues (durable queues); without it those routes are not served.
	Queues *queues.Manager
	// Workflows, when set, serves /v1/workflows (the runs of its workflows);
	// without it those routes are not served. rivetflow.Start sets it to the
	// node's engine.
	Workflows *workflows.Engine
	// ListWait bounds how long a listing of GET /v1/actors waits for the
	// actor directory to reach the log's head (read-your-writes) before it
	// answers from what the directory holds. Defaults to 2s.
	ListWait time.Duration
	// Version is shown in the OpenAPI document and /metadata.
	Version string
	// MaxIncomingMessageBytes bounds one RivetKit gateway message from a
	// client (an HTTP action body, a WebSocket frame), as RivetKit's
	// maxIncomingMessageSize: larger ones get message/incoming_too_long.
	// Defaults to 64 KiB, RivetKit's default.
	MaxIncomingMessageBytes int
	// MaxOutgoingMessageBytes bounds one RivetKit gateway answer (an action's
	// output, encoded), as RivetKit's maxOutgoingMessageSize: a larger one
	// is answered message/outgoing_too_long. Defaults to 1 MiB.
	MaxOutgoingMessageBytes int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// AccessLog, when set, receives one line per request: method, route
	// pattern, status, duration and the actor ID when the route has one.
	// Defaults to none (off).
	AccessLog *slog.Logger
	// Registerer receives the HTTP metrics (rivetflow_http_*). Defaults to
	// none: no HTTP metrics.
	Registerer prometheus.Registerer
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = 1000
	}
	if o.MaxIncomingMessageBytes <= 0 {
		o.MaxIncomingMessageBytes = DefaultMaxIncomingMessageBytes
	}
	if o.MaxOutgoingMessageBytes <= 0 {
		o.MaxOutgoingMessageBytes = DefaultMaxOutgoingMessageBytes
	}
	if o.MaxListActors <= 0 {
		o.MaxListActors = 100
	}
	if o.BodyReadTimeout <= 0 {
		o.BodyReadTimeout = 30 * time.Second
	}
	if o.MaxTails <= 0 {
		o.MaxTails = 64
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.ListWait <= 0 {
		o.ListWait = 2 * time.Second
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Server is the HTTP API over one actor runtime.
type Server struct {
	rt   *actors.Runtime
	log  *eventlog.Log
	opts Options
	lg   *slog.Logger
	mux  *http.ServeMux
	api  huma.API

	// streams ends when the server shuts down: long-lived streams (SSE,
	// WebSockets, the log tail) end with it, so a graceful stop is not held up.
	streams     context.Context
	stopStreams context.CancelFunc
	tails       chan struct{} // one slot per open log tail

	httpm     *httpMetrics        // nil without Options.Registerer
	projs     *projections.Runner // nil: no projection routes, listings read the log
	rebuildMu sync.Mutex
	rebuilds  map[string]bool // projections with a rebuild started here and not done
}

// New returns the API. Mount Handler on a server; health routes are the
// caller's.
func New(rt *actors.Runtime, log *eventlog.Log, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{rt: rt, log: log, opts: opts, lg: opts.Logger.With("component", "api"), mux: http.NewServeMux(),
		projs: opts.Projections, rebuilds: map[string]bool{}}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.tails = make(chan struct{}, opts.MaxTails)
	s.initObserve()
	cfg := huma.DefaultConfig("rivet-flow API", opts.Version)
	cfg.Info.Description = "Event-sourced actors over HTTP. Every successful action is appended to the event log before it is answered."
	cfg.DocsPath = "" // served by registerDocs, from the binary
	cfg.OpenAPIPath = "/openapi"
	cfg.SchemasPath = "/schemas"
	documentAccess(&cfg, opts.Token != "")
	noSchemaLinks(&cfg)
	cfg.Info.Description += gatewayNote
	useErrors(&cfg)
	s.api = humago.New(s.mux, cfg)
	s.api.UseMiddleware(cursorParams)
	s.registerDocs()
	s.documentNodeRoutes()
	s.registerActors()
	s.registerIntrospection()
	s.registerRealtime()
	s.registerGateway()
	s.registerTail()
	s.registerExport()
	s.registerFork()
	s.registerSchedules()
	s.registerQueues()
	if opts.Workflows != nil {
		s.registerWorkflows()
	}
	if s.projs != nil {
		s.registerProjections()
		s.registerVersions()
	}
	s.documentErrors()
	return s
}

// Handler returns the API with the origin check, CORS and authentication
// applied, observed by the HTTP metrics and the access log.
func (s *Server) Handler() http.Handler {
	routes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.fastAction(w, r) {
			noteRoute(r, fastActionRoute)
			return
		}
		_, pattern := s.mux.Handler(r)
		noteRoute(r, pattern)
		if pattern == "" {
			s.noRoute(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
	return s.observe(s.originCheck(s.cors(s.auth(gatewayByHeader(jsonByDefault(routes))))))
}

// jsonByDefault reads a body sent without a JSON content type (curl -d sends
// application/x-www-form-urlencoded) as JSON: the API takes nothing else.
func jsonByDefault(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A raw request goes to the actor's OnRequest as it was sent.
		if ct := r.Header.Get("Content-Type"); (ct == "" || ct == "application/x-www-form-urlencoded") && !rawRequestPath(r.URL.Path) {
			r.Header.Set("Content-Type", "application/json")
		}
		next.ServeHTTP(w, r)
	})
}

// rawRequestPath reports whether path is a raw request to an actor
// (/v1/actors/{id}/request/..., [/api/rivet]/gateway/{target}/request/...).
func rawRequestPath(path string) bool {
	path = strings.TrimPrefix(path, GatewayPrefix)
	for _, pre := range []string{"/v1/actors/", "/gateway/"} {
		if rest, ok := strings.CutPrefix(path, pre); ok {
			_, after, _ := strings.Cut(rest, "/")
			return after == "request" || strings.HasPrefix(after, "request/")
		}
	}
	return false
}

// OpenAPI returns the API's OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// Handle adds a route behind the API's authentication (for /metrics).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// CloseStreams ends every SSE stream and WebSocket (they close with a "going
// away" reason). Call it when shutting down, before draining requests.
func (s *Server) CloseStreams() { s.stopStreams() }

// streamContext ends with the request or when the server closes its streams.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := context.AfterFunc(s.streams, cancel)
	return ctx, func() { stop(); cancel() }
}

// noRoute answers an unknown route (404) or a known one with the wrong method
// (405) in the API's error shape rather than the mux's plain text.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) == 0 {
		writeError(w, errorOf(errcode.NotFound, "no route "+r.URL.Path+"; see /docs", nil))
		return
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, errorOf(errcode.MethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path, map[string]any{"allowed": allowed}))
}
