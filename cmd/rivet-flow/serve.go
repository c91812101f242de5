package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/conformance"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/scheduler"
	"github.com/rivet-flow/rivet-flow/workflows"
)

func serveCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("serve", "", "Run the rivet-flow server: embedded JetStream and Pebble under --data-dir, HTTP on --http-addr.", stderr)
	cmd.envAll = true
	fs := cmd.fs
	var store logStoreFlags
	var logs logFlags
	store.register(fs, true)
	logs.register(fs)
	httpAddr := fs.String("http-addr", "127.0.0.1:6420", "HTTP listen address (API, /healthz, /readyz, /metrics)")
	shutdown := fs.Duration("shutdown-timeout", 30*time.Second, "how long a graceful stop may take on SIGINT/SIGTERM")
	token := fs.String("api-token", "", "require this bearer token on every route but /healthz and /readyz")
	tokenFile := fs.String("api-token-file", "", "read the API token from this file (its first line, trimmed), such as a Docker or Kubernetes secret, instead of --api-token")
	inspectorToken := fs.String("inspector-token", "", "open the actor inspector (/gateway/{actor}/inspector/*) to Authorization: Bearer <this token> (the API token opens it too); with no token at all it is open only on a loopback --http-addr")
	registry := fs.String("registry", "default", "the actor types to serve: default (counter, chatRoom, reminder, rawCounter and the agents workflow) or conformance (the fixtures of RivetKit's driver test suite, for make conformance)")
	insecure := fs.Bool("insecure", false, "allow listening beyond loopback without an API token")
	accessLog := fs.Bool("access-log", false, "log one structured line per HTTP request (method, route, status, duration, actor ID; never the path or query, which can carry a token)")
	cors := fs.String("cors-origins", "", "comma-separated origins allowed to call the API from a browser (CORS; \"*\" for any); other origins get 403")
	maxBody := sizeFlag(fs, "max-body-bytes", int64(1<<20), "largest request body (1MiB or bytes); larger ones get 413")
	bodyTimeout := fs.Duration("body-read-timeout", 30*time.Second, "longest a request body may take to arrive; slower clients get 408")
	maxTails := fs.Int("max-tails", 64, "event log tails (GET /v1/events/tail) open at once; more get 429")
	maxIn := sizeFlag(fs, "max-incoming-message-bytes", api.DefaultMaxIncomingMessageBytes, "largest RivetKit gateway message from a client (action body, WebSocket frame), as RivetKit's maxIncomingMessageSize; larger get message/incoming_too_long")
	maxOut := sizeFlag(fs, "max-outgoing-message-bytes", api.DefaultMaxOutgoingMessageBytes, "largest RivetKit gateway answer (an action's output), as RivetKit's maxOutgoingMessageSize; larger get message/outgoing_too_long")
	var lim actors.RuntimeOptions
	fs.DurationVar(&lim.IdleTimeout, "actor-idle-timeout", 30*time.Second, "put an actor to sleep (snapshot, free memory) after this long without work")
	fs.DurationVar(&lim.SweepInterval, "actor-sweep-interval", time.Second, "how often idle actors are looked for: an actor sleeps between its idle timeout and that plus this")
	fs.DurationVar(&lim.ActionTimeout, "action-timeout", 60*time.Second, "longest an action may run; its caller then gets action_timeout")
	sizeVar(fs, &lim.MaxStateBytes, "max-state-bytes", 512<<10, "largest actor state plus KV, encoded")
	sizeVar(fs, &lim.MaxArgsBytes, "max-args-bytes", 256<<10, "largest arguments or create input of one call, encoded")
	fs.IntVar(&lim.MailboxSize, "mailbox-size", 1024, "calls queued per actor before callers get overloaded (429)")
	fs.IntVar(&lim.SnapshotEvery, "snapshot-every", 100, "write an actor's snapshot after this many events (and on sleep)")
	fs.IntVar(&lim.MaxConnections, "max-connections", 1024, "realtime connections per actor")
	fs.IntVar(&lim.ConnBuffer, "conn-buffer", 256, "broadcasts buffered per connection before a slow one is closed")
	fs.DurationVar(&lim.IdempotencyWindow, "idempotency-window", 24*time.Hour, "how long an actor remembers an Idempotency-Key (and at most its last 1,000 keys)")
	fs.IntVar(&lim.MaxAwakeActors, "max-awake-actors", actors.DefaultMaxAwakeActors, "actors in memory at once; at the limit the least recently used idle ones sleep early, and if none can, calls get overloaded (429)")
	fs.IntVar(&lim.MaxAlarms, "max-alarms", actors.DefaultMaxAlarms, "pending alarms per actor (its crons' next fires included); more get too_many_alarms")
	var outbox projections.OutboxOptions
	fs.DurationVar(&outbox.AckWait, "outbox-ack-wait", projections.DefaultOutboxAckWait, "how long the sends of a node that died wait before another node (or this one, restarted) performs them; the outbox renews its lease while it works")
	var sched scheduler.Options
	fs.IntVar(&sched.MaxConcurrentFires, "max-concurrent-fires", scheduler.DefaultMaxConcurrentFires, "due alarms fired at once by this node's scheduler")
	var qOpts queues.Options
	fs.IntVar(&qOpts.ReadyWindow, "queue-ready-window", queues.DefaultReadyWindow, "messages per queue ready and not yet claimed; beyond them the dispatcher orders what waits by delay, key and priority")
	fs.DurationVar(&qOpts.LeaseTTL, "queue-lease-ttl", queues.DefaultLeaseTTL, "how long a queue's dispatcher lease outlives a node that died before another node takes the queue")
	var deliver queues.DelivererOptions
	fs.IntVar(&deliver.Concurrency, "deliver-concurrency", queues.DefaultDeliverConcurrency, "messages of one actor-bound queue (deliverTo) this node delivers at once")
	return cmd.leaf(0, 0, func([]string) int {
		logger, err := logs.logger(stderr)
		if err == nil {
			err = store.validate()
		}
		if err != nil {
			fmt.Fprintln(stderr, "rivet-flow serve:", err)
			return 2
		}

		apiOpts, err := apiOptions(*token, *tokenFile, *cors, *maxBody)
		if err == nil && *maxTails < 1 {
			err = fmt.Errorf("--max-tails %d: want at least 1", *maxTails)
		}
		if err == nil && *bodyTimeout <= 0 {
			err = fmt.Errorf("--body-read-timeout %s: want a positive duration", *bodyTimeout)
		}
		if err == nil {
			err = checkQueueFlags(qOpts, deliver)
		}
		if err == nil && (*maxIn < 1 || *maxOut < 1) {
			err = fmt.Errorf("--max-incoming-message-bytes and --max-outgoing-message-bytes: want at least 1")
		}
		apiOpts.MaxTails, apiOpts.BodyReadTimeout = *maxTails, *bodyTimeout
		apiOpts.InspectorToken, apiOpts.InspectorLoopback = *inspectorToken, loopbackAddr(*httpAddr)
		apiOpts.MaxIncomingMessageBytes, apiOpts.MaxOutgoingMessageBytes = *maxIn, *maxOut
		if *accessLog {
			apiOpts.AccessLog = logs.accessLogger(stderr)
		}
		if err != nil {
			fmt.Fprintln(stderr, "rivet-flow serve:", err)
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		reg, wfs, err := serveAppNamed(*registry)
		if err != nil {
			fmt.Fprintln(stderr, "rivet-flow serve:", err)
			return 2
		}
		n, err := rivetflow.Start(ctx, rivetflow.Config{
			DataDir: store.dataDir, HTTPAddr: *httpAddr, Log: store.config(),
			ShutdownTimeout: *shutdown, Version: buildVersion(), Logger: logger, Actors: lim,
			API: apiOpts, Insecure: *insecure, Outbox: outbox, Scheduler: sched, Queues: qOpts, Deliver: deliver,
			Registry: reg, Workflows: wfs, AccessLog: *accessLog,
		})
		if err != nil {
			// A plain line, not a log record: this is the message a person acts on.
			fmt.Fprintln(stderr, "rivet-flow serve:", err)
			return 1
		}
		code := 0
		select {
		case <-ctx.Done():
			logger.Info("shutting down: draining in-flight work (send the signal again to force)")
		case err := <-n.Failed():
			logger.Error("HTTP server failed", "err", err)
			code = 1
		}
		stop() // a second signal now kills the process the default way
		if err := n.Stop(context.Background()); err != nil {
			logger.Error("unclean shutdown", "err", err)
			return 1
		}
		_ = os.Stdout.Sync()
		return code
	})
}

// serveApp is the code serve runs: its actor types (the node adds the dead
// letters, the schedule type and the workflows' run types to them) and its
// workflows. replay builds its registry from it (binaryRegistry), so the
// deploy gate replays exactly what serve would run.
func serveApp() (*actors.Registry, []workflows.Definition) {
	return testActors(builtin.Registry()), serveWorkflows()
}

// serveAppNamed is serveApp for --registry: "default" is serveApp,
// "conformance" the driver-test fixtures alone (package conformance).
func serveAppNamed(name string) (*actors.Registry, []workflows.Definition, error) {
	switch name {
	case "default", "":
		reg, wfs := serveApp()
		return reg, wfs, nil
	case "conformance":
		reg, err := conformance.Registry()
		return reg, nil, err
	}
	return nil, nil, fmt.Errorf("--registry %q: want default or conformance", name)
}

// checkQueueFlags checks the queue flags' bounds.
func checkQueueFlags(q queues.Options, d queues.DelivererOptions) error {
	switch {
	case q.ReadyWindow < 1 || q.ReadyWindow > queues.MaxReadyWindow:
		return fmt.Errorf("--queue-ready-window %d: want 1 to %d", q.ReadyWindow, queues.MaxReadyWindow)
	case q.LeaseTTL < time.Second:
		return fmt.Errorf("--queue-lease-ttl %s: want at least 1s", q.LeaseTTL)
	case d.Concurrency < 1 || d.Concurrency > queues.MaxDeliverConcurrency:
		return fmt.Errorf("--deliver-concurrency %d: want 1 to %d", d.Concurrency, queues.MaxDeliverConcurrency)
	}
	return nil
}

// apiOptions reads the token (flag or file) and the CORS list.
func apiOptions(token, tokenFile, cors string, maxBody int64) (api.Options, error) {
	if tokenFile != "" {
		if token != "" {
			return api.Options{}, fmt.Errorf("set --api-token or --api-token-file, not both")
		}
		var err error
		if token, err = readTokenFile("--api-token-file", tokenFile); err != nil {
			return api.Options{}, err
		}
	}
	var origins []string
	for _, o := range strings.Split(cors, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	return api.Options{Token: token, CORSOrigins: origins, MaxBodyBytes: maxBody}, nil
}

// loopbackAddr reports whether addr (host:port) listens on loopback alone.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
