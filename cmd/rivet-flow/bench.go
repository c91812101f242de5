package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
)

// Bounds of bench http, so that a typo cannot start an unbounded load.
const (
	maxBenchActors   = 100_000
	maxBenchDuration = 10 * time.Minute
)

// benchTarget is the ratio of actions/s to raw req/s the HTTP API aims for at
// concurrency 64.
const benchTarget = 0.5

// benchCommand is `rivet-flow bench ...`.
func benchCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("bench <command>", "benchmark the server against raw baselines, in the same run", "", stderr,
		benchHTTP(stdout, stderr),
		benchReplay(stdout, stderr),
		benchQueue(stdout, stderr),
		benchWorkflows(stdout, stderr),
	)
}

// benchRun is one measured run, as printed and as --json.
type benchRun struct {
	Name       string  `json:"name"`
	Requests   int64   `json:"requests"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	P999       float64 `json:"p999Ms"`
	Max        float64 `json:"maxMs"`

	p50, p99, p999, max time.Duration
}

func benchHTTP(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("bench http", "", `Measure actions over HTTP (each appended to the event log before it is answered)
side by side with a raw net/http handler that decodes the same JSON body and writes
a small JSON response, driven by the same load generator, concurrency and duration.
It creates the actors first, then alternates the baseline and the actions in
--rounds slices of --duration/--rounds each (so that both see the same machine).
With no --addr it starts a node in-process on a temporary data dir, so it works with
nothing running. Loopback only; progress goes to stderr, results to stdout.`, stderr)
	cmd.env = map[string]string{"token": clientEnv["token"]} // --addr is explicit: an exported RIVETFLOW_ADDR must not redirect the load
	concurrency := cmd.fs.Int("concurrency", 64, "requests in flight at once (workers)")
	duration := cmd.fs.Duration("duration", 10*time.Second, "how long each of the two runs lasts, in total")
	rounds := cmd.fs.Int("rounds", 5, "split each run into this many slices, alternating baseline and actions")
	nActors := cmd.fs.Int("actors", 1000, "actors the calls are spread over (created first)")
	typ := cmd.fs.String("type", "counter", "the actors' type")
	action := cmd.fs.String("action", "increment", "the action to call")
	argsJSON := cmd.fs.String("args", "[1]", "the action's arguments, as a JSON array")
	addr := cmd.fs.String("addr", "", "benchmark the server at this loopback URL instead of an in-process node")
	token := cmd.fs.String("token", "", "the server's API token, with --addr")
	jsonOut := cmd.fs.Bool("json", false, "print the results as JSON")
	cpuProfile := cmd.fs.String("cpuprofile", "", "write a CPU profile of this process (load generator and in-process node) from the first actions slice on; with --rounds 1 it covers the actions alone")
	return cmd.leaf(0, 0, func(_ []string) int {
		var rawArgs []json.RawMessage
		switch {
		case *concurrency < 1 || *concurrency > loadgen.MaxConcurrency:
			return cmd.usageError(fmt.Errorf("--concurrency %d: want 1 to %d", *concurrency, loadgen.MaxConcurrency))
		case *duration <= 0 || *duration > maxBenchDuration:
			return cmd.usageError(fmt.Errorf("--duration %v: want more than 0, at most %v", *duration, maxBenchDuration))
		case *rounds < 1 || *duration/time.Duration(max(*rounds, 1)) < 100*time.Millisecond:
			return cmd.usageError(fmt.Errorf("--rounds %d: want at least 1, with slices of --duration/--rounds of 100ms or more", *rounds))
		case *nActors < 1 || *nActors > maxBenchActors:
			return cmd.usageError(fmt.Errorf("--actors %d: want 1 to %d", *nActors, maxBenchActors))
		case json.Unmarshal([]byte(*argsJSON), &rawArgs) != nil:
			return cmd.usageError(fmt.Errorf("--args %q is not a JSON array, e.g. '[1]'", *argsJSON))
		}
		callArgs := make([]any, len(rawArgs))
		for i, r := range rawArgs {
			callArgs[i] = r
		}
		ctx, stop := interruptible()
		defer stop()

		// One transport for both runs: the same connection handling on both sides.
		tr := &http.Transport{
			Proxy:               nil, // loopback: never through a proxy
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * (*concurrency + 8),
			MaxIdleConnsPerHost: *concurrency + 8,
			IdleConnTimeout:     90 * time.Second,
		}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}

		// The target: an in-process node unless --addr names one.
		target, where := *addr, ""
		if target == "" {
			dir, err := os.MkdirTemp("", "rivet-flow-bench-")
			if err != nil {
				return cmd.fail("", err)
			}
			defer os.RemoveAll(dir)
			node, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Version: buildVersion(),
				Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err != nil {
				return cmd.fail("", fmt.Errorf("start an in-process node: %w", err))
			}
			defer func() {
				if err := node.Stop(context.Background()); err != nil {
					fmt.Fprintln(stderr, "rivet-flow bench http: stop the in-process node:", err)
				}
			}()
			target = "http://" + node.Addr()
			where = "in-process node at " + target + " (embedded JetStream, default fsync, temporary data dir)"
		}
		actorsClient, err := client.New(target, &client.Options{HTTPClient: hc, Token: *token, UserAgent: "rivet-flow-bench"})
		if err != nil {
			return cmd.usageError(fmt.Errorf("--addr: %w", err))
		}
		if where == "" {
			if err := requireLoopback(actorsClient.BaseURL()); err != nil {
				return cmd.usageError(err)
			}
			where = "server at " + actorsClient.BaseURL()
		}

		// The baseline: a raw handler on another loopback port.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return cmd.fail("", fmt.Errorf("listen for the raw handler: %w", err))
		}
		raw := &http.Server{Handler: http.HandlerFunc(rawHandler), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
		go func() { _ = raw.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = raw.Shutdown(sctx)
		}()
		rawClient, err := client.New("http://"+ln.Addr().String(), &client.Options{HTTPClient: hc, UserAgent: "rivet-flow-bench"})
		if err != nil {
			return cmd.fail("", err)
		}

		if !*jsonOut {
			fmt.Fprintf(stdout, "rivet-flow bench http: concurrency %d, %v per run in %d alternating slices, %d %s actors, action %s %s, GOMAXPROCS %d\n",
				*concurrency, *duration, *rounds, *nActors, *typ, *action, *argsJSON, runtime.GOMAXPROCS(0))
			fmt.Fprintf(stdout, "  actions:  %s\n", where)
			fmt.Fprintf(stdout, "  baseline: raw net/http handler at %s (decodes the same JSON body, answers %s)\n", rawClient.BaseURL(), rawResponse)
		}

		// Create the actors first, with a progress line.
		ids := make([]string, *nActors)
		created := time.Now()
		creating := newStatusLine(stderr)
		err = loadgen.ForEach(ctx, *nActors, min(*concurrency, 64), 250*time.Millisecond, func(done int) {
			creating.set("creating %d %s actors: %d/%d", *nActors, *typ, done, *nActors)
		}, func(ctx context.Context, i int) error {
			a, _, err := actorsClient.GetOrCreate(ctx, *typ, []string{fmt.Sprintf("bench-%d", i)}, nil)
			if err != nil {
				return err
			}
			ids[i] = a.ID
			return nil
		})
		if err == nil {
			creating.set("creating %d %s actors: %d/%d", *nActors, *typ, *nActors, *nActors)
		}
		creating.end()
		if err != nil {
			return cmd.fail(actorsClient.BaseURL(), fmt.Errorf("create the actors: %w", err))
		}
		fmt.Fprintf(stderr, "created %d actors in %v\n", *nActors, time.Since(created).Round(time.Millisecond))

		// The runs: baseline and actions alternate, slice by slice.
		type side struct {
			name, unit string
			c          *client.Client
			next       atomic.Uint64
			total      loadgen.Result
		}
		sides := []*side{{name: "raw net/http", unit: "req/s", c: rawClient}, {name: "actions", unit: "actions/s", c: actorsClient}}
		slice := *duration / time.Duration(*rounds)
		// progress prints one line, updated in place: each side's throughput so
		// far (cur is the slice in flight on side cur).
		status := newStatusLine(stderr)
		progress := func(round, cur int, p loadgen.Progress) {
			rate := func(i int) float64 {
				n, el := sides[i].total.Requests, sides[i].total.Elapsed
				if i == cur {
					n, el = n+p.Requests, el+p.Elapsed
				}
				if el <= 0 {
					return 0
				}
				return float64(n) / el.Seconds()
			}
			errs := sides[0].total.Errors + sides[1].total.Errors + p.Errors
			status.set("round %d/%d  raw net/http %7.0f req/s  actions %7.0f actions/s  errors %d",
				round+1, *rounds, rate(0), rate(1), errs)
		}
		var profile *os.File
		if *cpuProfile != "" {
			if profile, err = os.Create(*cpuProfile); err != nil {
				return cmd.fail("", err)
			}
			defer profile.Close()
		}
		for round := range *rounds {
			for i, sd := range sides {
				if profile != nil && i == 1 && round == 0 {
					if err := pprof.StartCPUProfile(profile); err != nil {
						return cmd.fail("", err)
					}
					defer pprof.StopCPUProfile()
				}
				cfg := loadgen.Config{Concurrency: *concurrency, Duration: slice, Progress: func(p loadgen.Progress) { progress(round, i, p) }}
				res, err := loadgen.Run(ctx, cfg, func(ctx context.Context, _ int) error {
					id := ids[sd.next.Add(1)%uint64(len(ids))]
					_, err := sd.c.Call(ctx, id, *action, callArgs...)
					return err
				})
				if err != nil {
					status.end()
					return cmd.fail(sd.c.BaseURL(), err)
				}
				sd.total.Add(res)
				progress(round, -1, loadgen.Progress{})
			}
		}
		status.end()
		summarize := func(sd *side) *benchRun {
			res := &sd.total
			r := &benchRun{Name: sd.name, Requests: res.Requests, Errors: res.Errors, Seconds: res.Elapsed.Seconds(), PerSecond: res.Throughput(),
				p50: res.Latency.Quantile(0.5), p99: res.Latency.Quantile(0.99), p999: res.Latency.Quantile(0.999), max: res.Latency.Max()}
			r.P50, r.P99, r.P999, r.Max = ms(r.p50), ms(r.p99), ms(r.p999), ms(r.max)
			if res.FirstError != nil {
				r.FirstError = res.FirstError.Error()
			}
			return r
		}
		rawRun, actRun := summarize(sides[0]), summarize(sides[1])
		ratio := 0.0
		if rawRun.PerSecond > 0 {
			ratio = actRun.PerSecond / rawRun.PerSecond
		}

		if *jsonOut {
			_ = writeJSON(stdout, map[string]any{
				"concurrency": *concurrency, "durationSeconds": duration.Seconds(), "rounds": *rounds, "actors": *nActors, "type": *typ, "action": *action,
				"gomaxprocs": runtime.GOMAXPROCS(0), "target": actorsClient.BaseURL(), "inProcess": *addr == "",
				"raw": rawRun, "actions": actRun, "ratio": ratio,
			})
		} else {
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "%-13s %10s %7s %18s %9s %9s %9s %9s\n", "", "requests", "errors", "throughput", "p50", "p99", "p999", "max")
			for _, r := range []struct {
				*benchRun
				unit string
			}{{rawRun, "req/s"}, {actRun, "actions/s"}} {
				fmt.Fprintf(stdout, "%-13s %10d %7d %18s %9s %9s %9s %9s\n", r.Name, r.Requests, r.Errors,
					fmt.Sprintf("%.0f %s", r.PerSecond, r.unit), latency(r.p50), latency(r.p99), latency(r.p999), latency(r.max))
			}
			fmt.Fprintf(stdout, "ratio: actions/s over raw req/s = %.2f (target at concurrency 64: >= %.2f)\n", ratio, benchTarget)
			for _, r := range []*benchRun{rawRun, actRun} {
				if r.FirstError != "" {
					fmt.Fprintf(stdout, "%s: %d errors, the first: %s\n", r.Name, r.Errors, r.FirstError)
				}
			}
		}
		if actRun.Requests == 0 {
			fmt.Fprintln(stderr, "rivet-flow bench http: no action succeeded")
			return 1
		}
		return 0
	})
}

// rawResponse is the baseline handler's answer: what the action route
// answers, minus the actor.
var rawResponse = []byte(`{"output":1}`)

// rawHandler is the baseline: it decodes the same JSON body an action call
// sends and answers a small JSON response.
func rawHandler(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Args []json.RawMessage `json:"args"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"status":400,"code":"` + string(errcode.MalformedJSON) + `","message":"bad body"}`))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(rawResponse)
}

// requireLoopback refuses to aim the load anywhere but this machine.
func requireLoopback(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("--addr " + base + ": bench http only targets loopback addresses (127.0.0.1, ::1, localhost)")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// latency formats a latency with three significant digits.
func latency(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", ms(d))
	case d < time.Second:
		return fmt.Sprintf("%.1fms", ms(d))
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
