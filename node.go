package rivetflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/dirlock"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/scheduler"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Config configures a node. Zero fields take the defaults of `rivet-flow serve`.
type Config struct {
	// DataDir holds the embedded JetStream store (nats/), snapshots
	// (snapshots/) and read models (projections/).
	// Defaults to ./data.
	DataDir string
	// HTTPAddr is the HTTP listen address. Defaults to 127.0.0.1:6420.
	HTTPAddr string
	// Log configures the event log; its DataDir, Logger and Registerer are set by the node.
	Log eventlog.Config
	// ShutdownTimeout bounds a graceful stop. Defaults to 30s.
	ShutdownTimeout time.Duration
	// MaxHeaderBytes bounds request headers. Defaults to 64 KiB.
	MaxHeaderBytes int
	// Version is reported by /healthz and the rivetflow_build_info metric.
	Version string
	// Registry holds the actor types served. Defaults to the built-in ones
	// (counter, chatRoom, reminder, rawCounter).
	Registry *actors.Registry
	// Actors configures the actor runtime (limits, timeouts); Logger and
	// Registerer are set by the node.
	Actors actors.RuntimeOptions
	// API configures the HTTP API (token, CORS, body limit). Its Projections
	// and Workflows fields are set by the node.
	API api.Options
	// Projections are user read models (projections.Define), registered on
	// the node's projection runner next to the built-in actor directory.
	// They fold the log from their checkpoint at every start; read them with
	// Node.Projections or over HTTP (/v1/projections).
	Projections []projections.Projection
	// Outbox configures the outbox, which performs the sends actions record
	// (a durable JetStream consumer shared by every node on the cluster; give
	// every node the same values). Its Logger and Registerer are set by the
	// node.
	Outbox projections.OutboxOptions
	// Scheduler configures the service that fires due actor alarms (actor
	// alarms, actor cron, server schedules). Its Clock defaults to the
	// runtime's; its Logger and Registerer are set by the node.
	Scheduler scheduler.Options
	// Queues configures the durable queues (/v1/queues); its Logger and
	// NodeID are set by the node (the ID is kept in <data-dir>/node-id).
	Queues queues.Options
	// Deliver configures actor-bound queue delivery (a queue's deliverTo);
	// its Logger is set by the node.
	Deliver queues.DelivererOptions
	// Workflows are the durable workflows served (workflows.Define): the node
	// registers their run actor types on Registry, runs them with its
	// workflow engine (Node.Workflows) and serves them at /v1/workflows.
	// Defaults to none.
	Workflows []workflows.Definition
	// NoListen serves no HTTP port: the routes are reachable only through
	// Node.Handler (an in-process node for tests, rivetflowtest).
	NoListen bool
	// Insecure allows a non-loopback HTTPAddr without an API token.
	Insecure bool
	// AccessLog writes one structured line per HTTP request (method, route
	// pattern, status, duration, actor ID) to Logger, unless API.AccessLog
	// names another logger. Defaults to off.
	AccessLog bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:6420"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = 64 << 10
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = builtin.Registry()
	}
	return c
}

// Node is a running rivet-flow process.
type Node struct {
	cfg       Config
	log       *slog.Logger
	lock      *dirlock.Lock
	events    *eventlog.Log
	storeMon  *eventlog.StoreMonitor // gauges and a warning as the JetStream store fills
	snapshots *snapshot.Store
	runtime   *actors.Runtime
	projs     *projections.Runner
	outbox    *projections.Outbox
	sched     *scheduler.Scheduler
	queues    *queues.Manager
	deliver   *queues.Deliverer
	workflows *workflows.Engine
	// logReplaced: the snapshots were built from another log (or a longer
	// one); so were the projections, which are deleted and rebuilt.
	logReplaced bool
	registry    *prometheus.Registry
	http        *http.Server
	listener    net.Listener
	mux         *http.ServeMux
	api         *api.Server
	ready       atomic.Bool
	serveErr    chan error
	started     time.Time
}

// Start opens the data dir, the event log and the snapshot store, rebuilds
// snapshots if their folder was lost, and serves HTTP. It returns once the node
// is ready for requests. On error everything opened so far is closed again.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	cfg = cfg.withDefaults()
	n := &Node{cfg: cfg, log: cfg.Logger, registry: prometheus.NewRegistry(), mux: http.NewServeMux(),
		serveErr: make(chan error, 1), started: time.Now()}
	defer func() {
		if err != nil {
			n.closeStores(context.Background())
		}
	}()
	if err := cfg.checkExposure(); err != nil {
		return nil, err
	}
	if err := n.openDataDir(); err != nil {
		return nil, err
	}
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rivetflow_build_info", Help: "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": cfg.Version},
	}, func() float64 { return 1 }))

	logCfg := cfg.Log
	logCfg.DataDir, logCfg.Logger, logCfg.Registerer = cfg.DataDir, cfg.Logger, n.registry
	if n.events, err = eventlog.Open(ctx, logCfg); err != nil {
		return nil, err
	}
	if n.storeMon, err = eventlog.NewStoreMonitor(n.events, &eventlog.StoreMonitorOptions{Logger: cfg.Logger, Registerer: n.registry}); err != nil {
		return nil, err
	}
	// Durable queues live beside the event stream, one stream each.
	nodeID, err := n.nodeID()
	if err != nil {
		return nil, err
	}
	qOpts := cfg.Queues
	qOpts.Logger, qOpts.NodeID = cfg.Logger, nodeID
	if n.queues, err = queues.New(n.events.JetStream(), &qOpts); err != nil {
		return nil, err
	}
	snapDir := filepath.Join(cfg.DataDir, "snapshots")
	if n.snapshots, err = snapshot.Open(snapDir, &snapshot.Options{Logger: cfg.Logger, Registerer: n.registry}); err != nil {
		return nil, fmt.Errorf("snapshots at %s: %w; the folder is only a cache: delete it and restart to rebuild it from the log", snapDir, err)
	}
	if err := n.rebuildIfNeeded(ctx); err != nil {
		return nil, err
	}
	if err := n.openProjections(); err != nil {
		return nil, err
	}
	if err := RegisterNodeTypes(cfg.Registry, cfg.Workflows...); err != nil {
		return nil, err
	}
	if err := scheduler.RegisterMetrics(n.registry); err != nil {
		return nil, err
	}
	rtOpts := cfg.Actors
	rtOpts.Logger, rtOpts.Registerer = cfg.Logger, n.registry
	rtOpts.Enqueuer = n.queues // actors' enqueues (Context.Enqueue), on the fast path and from the outbox
	if n.runtime, err = actors.NewRuntime(n.events, n.snapshots, cfg.Registry, rtOpts); err != nil {
		return nil, err
	}
	// The outbox performs the sends events record, from the log, when the
	// runtime's own delivery after the append did not (a crash in between);
	// with several nodes, each event goes to one of them. Its projection
	// shows the dead letters.
	obOpts := cfg.Outbox
	obOpts.Logger, obOpts.Registerer = cfg.Logger, n.registry
	if n.outbox, err = projections.NewOutbox(n.events, n.runtime, &obOpts); err != nil {
		return nil, err
	}
	if err := n.projs.Register(n.outbox.Projection()); err != nil {
		return nil, fmt.Errorf("register the outbox's projection: %w", err)
	}
	// The scheduler fires due alarms; its index of them is a projection.
	schedOpts := cfg.Scheduler
	schedOpts.Logger, schedOpts.Registerer = cfg.Logger, n.registry
	if n.sched, err = scheduler.New(n.runtime, n.projs, &schedOpts); err != nil {
		return nil, err
	}
	// Services start in dependency order and stop in reverse (closeStores):
	// the log and the snapshots are open already, then the runtime, then the
	// projections (they read the log), then the outbox and the scheduler
	// (they deliver to the runtime and read projections). All outlive ctx:
	// Stop ends them.
	// Actor-bound queues (deliverTo) deliver their messages to actor actions.
	dOpts := cfg.Deliver
	dOpts.Logger = cfg.Logger
	if n.deliver, err = queues.NewDeliverer(n.queues, n.runtime, &dOpts); err != nil {
		return nil, err
	}
	if n.workflows, err = workflows.NewEngine(n.runtime, cfg.Workflows, &workflows.EngineOptions{Logger: cfg.Logger, Log: n.events}); err != nil {
		return nil, err
	}
	// The runs projection (workflow_runs) lists the runs by status; it is
	// registered before the runner starts.
	if err := n.workflows.UseRunsProjection(n.projs, n.events); err != nil {
		return nil, err
	}
	if err := startstop.StartAll(context.WithoutCancel(ctx), n.storeMon, n.queues, n.runtime, n.projs, n.outbox, n.sched, n.deliver); err != nil {
		return nil, err
	}
	// The workflow engine starts last, once everything its runs use runs:
	// it resumes the running runs (read from the log) before Start
	// returns, bounded by ctx. It is not a startstop.Service (no
	// Started/Stopped), so it starts on its own; closeStores stops it
	// first.
	if err := n.workflows.Start(ctx); err != nil {
		return nil, fmt.Errorf("start the workflow engine: %w", err)
	}
	if err := n.listen(); err != nil {
		return nil, err
	}
	n.ready.Store(true)
	httpAt := "http://" + n.Addr()
	if n.cfg.NoListen {
		httpAt = "none (in-process handler)"
	}
	n.log.Info("rivet-flow ready", "http", httpAt, "data_dir", cfg.DataDir,
		"nats", natsMode(logCfg), "fsync", string(logCfg.Fsync), "version", cfg.Version,
		"startup", time.Since(n.started).Round(time.Millisecond).String())
	return n, nil
}

// RegisterNodeTypes adds to reg the actor types a node adds to its
// Config.Registry: the dead letters (the outbox records the sends it gives
// up on there, in the log), the server schedule type (a schedule is an
// actor keyed by its name, served at /v1/schedules) and the run actor type
// of each workflow. A replay of a node's histories (actors.NewReplayer)
// needs the same registry the node ran: build it with this.
func RegisterNodeTypes(reg *actors.Registry, wfs ...workflows.Definition) error {
	if err := projections.RegisterDeadLetters(reg); err != nil {
		return err
	}
	if err := scheduler.RegisterType(reg); err != nil {
		return err
	}
	return workflows.Register(reg, wfs...)
}

// openProjections opens the projection runner under <data-dir>/projections
// (the built-in actor directory included) and registers the configured
// projections. It does not start it.
func (n *Node) openProjections() error {
	dir := filepath.Join(n.cfg.DataDir, "projections")
	if n.logReplaced {
		n.log.Warn("deleting the projections: they were built from another event log; they rebuild from this one", "dir", dir)
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("delete projections built from another log: %w", err)
		}
	}
	r, err := projections.Open(dir, n.events, &projections.Options{Logger: n.cfg.Logger, Registerer: n.registry})
	if err != nil {
		return fmt.Errorf("%w; the folder only holds read models: delete it and restart to rebuild them from the log", err)
	}
	n.projs = r
	for _, p := range n.cfg.Projections {
		if p == nil {
			return errors.New("Config.Projections holds a nil projection")
		}
		if err := r.Register(p); err != nil {
			return fmt.Errorf("register projection %s: %w", p.Name(), err)
		}
	}
	return nil
}

// checkExposure refuses to serve beyond loopback without a token.
func (c Config) checkExposure() error {
	if c.API.Token != "" || c.Insecure {
		return nil
	}
	host, _, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("--http-addr %q: %w (want host:port)", c.HTTPAddr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without an API token: set --api-token (or RIVETFLOW_API_TOKEN, --api-token-file), or pass --insecure to serve it open", c.HTTPAddr)
}

// openDataDir creates the data dir and takes its lock, with an error that says
// what to do when either fails.
func (n *Node) openDataDir() error {
	dir := n.cfg.DataDir
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return dirlock.Explain(dir, err)
	}
	probe := filepath.Join(dir, ".write-test")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		return dirlock.Explain(dir, err)
	}
	_ = os.Remove(probe)
	lock, err := dirlock.Acquire(dir)
	if err != nil {
		return dirlock.Explain(dir, err)
	}
	n.lock = lock
	return nil
}

// nodeID is this node's name in shared leases (queue dispatchers): kept in
// <data-dir>/node-id, so a restarted node is the same node and takes its
// leases back at once.
func (n *Node) nodeID() (string, error) {
	path := filepath.Join(n.cfg.DataDir, "node-id")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the node ID: %w", err)
	}
	return id, nil
}

// rebuildIfNeeded restores the snapshot store from the log when it was not
// built from this log: its folder was deleted (or is new while the log is
// not), the log was recreated (another identity), or the snapshots reach
// further than the log (a log restored from an older backup). The log is the
// truth; snapshots are a cache and are never trusted past it.
func (n *Node) rebuildIfNeeded(ctx context.Context) error {
	last, err := n.events.LastSeq(ctx)
	if err != nil {
		return err
	}
	identity, err := n.events.Identity(ctx)
	if err != nil {
		return err
	}
	builtFrom, hasIdentity, err := n.snapshots.GetMeta(snapshot.MetaLogIdentity)
	if err != nil {
		return err
	}
	to, hasRebuilt, err := n.snapshots.GetMeta(snapshot.MetaRebuiltTo)
	if err != nil {
		return err
	}
	rebuiltTo, _ := strconv.ParseUint(string(to), 10, 64)
	var reason string
	switch {
	case hasIdentity && string(builtFrom) != identity:
		reason = "the event log is not the one these snapshots were built from (it was recreated or replaced)"
		n.logReplaced = true
	case max(rebuiltTo, n.snapshots.Head()) > last:
		reason = fmt.Sprintf("snapshots reach log sequence %d but the log ends at %d (was the log restored from an older backup?)",
			max(rebuiltTo, n.snapshots.Head()), last)
		n.logReplaced = true
	case !hasRebuilt && last > 0:
		reason = "the snapshot folder is new or was deleted"
	}
	if reason == "" {
		if !hasRebuilt {
			if err := n.snapshots.SetMeta(snapshot.MetaRebuiltTo, []byte("0")); err != nil {
				return err
			}
		}
		return n.snapshots.SetMeta(snapshot.MetaLogIdentity, []byte(identity))
	}
	n.log.Warn("rebuilding snapshots from the event log", "reason", reason, "events", last)
	p, err := snapshot.Rebuild(ctx, n.events, n.snapshots, snapshot.RebuildOptions{Progress: func(p snapshot.RebuildProgress) {
		n.log.Info("rebuild progress", "scanned", p.Scanned, "of", p.Last, "actors", p.Actors, "elapsed", p.Elapsed.Round(time.Millisecond).String())
	}})
	if err != nil {
		return err
	}
	n.log.Info("snapshots rebuilt", "events", p.Scanned, "actors", p.Actors, "elapsed", p.Elapsed.Round(time.Millisecond).String())
	return nil
}

func (n *Node) listen() error {
	if n.cfg.NoListen {
		n.routes()
		return nil
	}
	ln, err := net.Listen("tcp", n.cfg.HTTPAddr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("HTTP address %s is in use; stop the other process or pass another --http-addr", n.cfg.HTTPAddr)
		}
		return fmt.Errorf("listen on %s: %w; pass another --http-addr", n.cfg.HTTPAddr, err)
	}
	n.listener = ln
	n.routes()
	n.http = &http.Server{
		Handler:           n.mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    n.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := n.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.serveErr <- err
		}
	}()
	return nil
}

// Addr is the address HTTP listens on (useful with port 0); empty with
// Config.NoListen.
func (n *Node) Addr() string {
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

// Handler serves the node's HTTP routes (the API, /healthz, /readyz,
// /metrics), with or without a listener.
func (n *Node) Handler() http.Handler { return n.mux }

// Events is the node's event log.
func (n *Node) Events() *eventlog.Log { return n.events }

// Runtime is the node's actor runtime.
func (n *Node) Runtime() *actors.Runtime { return n.runtime }

// Projections is the node's projection runner: the built-in actor directory
// (Projections().Directory()), the outbox's dead letters (Outbox) and the
// projections of Config.Projections.
func (n *Node) Projections() *projections.Runner { return n.projs }

// Outbox is the service that performs the sends actions record
// (actors.Context.Send) from the log; its projection's rows are the dead
// letters.
func (n *Node) Outbox() *projections.Outbox { return n.outbox }

// Queues manages the node's durable queues (/v1/queues).
func (n *Node) Queues() *queues.Manager { return n.queues }

// Deliverer delivers the messages of actor-bound queues (deliverTo) to
// actor actions.
func (n *Node) Deliverer() *queues.Deliverer { return n.deliver }

// Scheduler is the service that fires due actor alarms (actor alarms,
// actor cron and the ticks of server schedules).
func (n *Node) Scheduler() *scheduler.Scheduler { return n.sched }

// Workflows is the node's workflow engine: it starts, reads and resumes
// the runs of Config.Workflows.
func (n *Node) Workflows() *workflows.Engine { return n.workflows }

// Registry is the node's Prometheus registry, served at /metrics.
func (n *Node) Registry() *prometheus.Registry { return n.registry }

// Mux is the node's HTTP mux, for other components to mount routes on.
func (n *Node) Mux() *http.ServeMux { return n.mux }

// Failed delivers an error if the HTTP server stops on its own.
func (n *Node) Failed() <-chan error { return n.serveErr }

// Stop drains the node: it stops taking requests (readyz turns 503 at once),
// waits for requests in flight, stops the projections, puts every awake
// actor to sleep (OnSleep, snapshot), flushes snapshots, waits for appends in flight to be
// acknowledged, and closes JetStream and Pebble. It is bounded by
// ShutdownTimeout and by ctx.
func (n *Node) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ShutdownTimeout)
	defer cancel()
	start := time.Now()
	n.ready.Store(false)
	var errs []error
	if n.api != nil {
		n.api.CloseStreams() // SSE and WebSockets would otherwise hold the drain open
	}
	if n.http != nil {
		if err := n.http.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain HTTP: %w", err))
			_ = n.http.Close()
		}
	}
	errs = append(errs, n.closeStores(ctx))
	err := errors.Join(errs...)
	n.log.Info("rivet-flow stopped", "took", time.Since(start).Round(time.Millisecond).String(), "clean", err == nil)
	return err
}

// closeStores flushes and closes what Start opened, in reverse order.
func (n *Node) closeStores(ctx context.Context) error {
	var errs []error
	if n.workflows != nil {
		if err := n.workflows.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the workflow engine: %w", err))
		}
	}
	if n.deliver != nil {
		if err := n.deliver.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop actor-bound queue delivery: %w", err))
		}
	}
	if n.sched != nil {
		if err := n.sched.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the scheduler: %w", err))
		}
		_ = n.sched.Close()
	}
	if n.outbox != nil {
		if err := n.outbox.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the outbox: %w", err))
		}
	}
	if n.projs != nil {
		if err := n.projs.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop projections: %w", err))
		}
	}
	if n.runtime != nil {
		if err := n.runtime.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.queues != nil {
		if err := n.queues.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop queue dispatchers: %w", err))
		}
	}
	if n.storeMon != nil {
		if err := n.storeMon.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop the store monitor: %w", err))
		}
	}
	if n.projs != nil {
		if err := n.projs.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if n.snapshots != nil {
		if err := n.snapshots.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close snapshots: %w", err))
		}
	}
	if n.events != nil {
		if err := n.events.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	n.lock.Release()
	return errors.Join(errs...)
}

func natsMode(c eventlog.Config) string {
	if c.URL != "" {
		return c.URL
	}
	if c.Listen != "" {
		return "embedded, listening on " + c.Listen
	}
	return "embedded"
}
