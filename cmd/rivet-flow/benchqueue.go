package main

import (
	"context"
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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/queues"
)

// benchQueueTarget is the ratio of queue msgs/s to raw JetStream msgs/s the
// queues aim for (issue 17).
const benchQueueTarget = 0.4

// Bounds of bench queue, so that a typo cannot start an unbounded load.
const (
	maxBenchWorkers   = 1024
	minBenchBodyBytes = 32 // {"t":<19 digits>,"p":""}
	maxBenchKeys      = 1_000_000
)

// claimWait is how long an idle consumer waits for a first message, on both
// sides.
const claimWait = 50 * time.Millisecond

// overflowPause is the memory check's slow consumer's time per message.
const overflowPause = 5 * time.Millisecond

// drainMax bounds how long consumers drain what a slice's producers left.
const drainMax = 5 * time.Second

func benchQueue(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("bench queue", "", `Measure durable queues end to end: producers enqueue bodies of --body-bytes, consumers
claim up to --batch at a time and ack them; msgs/s is the acks per second, and the
latency is from enqueue (a timestamp in the body) to delivery. Beside it, in the same
run and on the same embedded JetStream server, the baseline: a raw work-queue stream
driven with Publish, Fetch and Ack by as many producers and consumers. The two alternate
in --rounds slices of --duration/--rounds each (so that both see the same machine).
Then the memory check: producers outpace one slow consumer on a queue bounded to
--overflow-max messages, and the heap is sampled: the producers must get queue_full.
With no --addr it starts a node in-process on a temporary data dir. --via selects the
queue side:
  go         producers and --consumers claiming goroutines on the queues.Manager, in process
  http       the same over the HTTP API with real requests (--addr: a running server's,
             loopback only; then there is no baseline)
  watermill  producers as with go; consumers are a Watermill router with --consumers
             handlers subscribed through watermillq, each with up to --batch messages in
             flight; a handler returns nil, and the router acks (the memory check: one
             handler, one message at a time, 5ms each)
  actor      producers as with go, on a queue bound (deliverTo) to a bench-only actor type
             registered in the in-process node; the node's Deliverer calls its action, one
             message at a time per actor, on --actors actors (the key is in the body), with
             up to --consumers x --batch messages held; msgs/s counts the calls committed
             and acked, the latency is to the action running (the memory check: one actor,
             5ms per call)
--keys gives each message one of N keys (per-key FIFO), --priority a priority, on the queue
side only. Progress goes to stderr, results to stdout.`, stderr)
	cmd.env = map[string]string{"token": clientEnv["token"]}
	duration := cmd.fs.Duration("duration", 10*time.Second, "how long each of the two runs lasts, in total")
	rounds := cmd.fs.Int("rounds", 5, "split each run into this many slices, alternating baseline and queue")
	producers := cmd.fs.Int("producers", 4, "goroutines enqueueing, one message at a time, on each side")
	consumers := cmd.fs.Int("consumers", 4, "goroutines claiming and acking, on each side (--via watermill: router handlers; --via actor: times --batch, the messages the Deliverer holds)")
	bodyBytes := sizeFlag(cmd.fs, "body-bytes", 1024, "size of each message body (1KiB or bytes)")
	batch := cmd.fs.Int("batch", 64, "most messages one claim (or fetch) takes")
	via := cmd.fs.String("via", "go", "go: the queues.Manager in process; http: the HTTP API; watermill: a Watermill router; actor: actor-bound delivery")
	keys := cmd.fs.Int("keys", 0, "give each message a key from this many (per-key FIFO; 0: no key)")
	priority := cmd.fs.Int("priority", 0, "the priority of every enqueue, 1 (most urgent) to 5 (0: the default, 3)")
	nActors := cmd.fs.Int("actors", 64, "with --via actor: spread the messages over this many actors")
	addr := cmd.fs.String("addr", "", "with --via http: benchmark the server at this loopback URL (no baseline)")
	token := cmd.fs.String("token", "", "the server's API token, with --addr")
	overflowDur := cmd.fs.Duration("overflow-duration", 5*time.Second, "how long the memory check runs (0: skip it)")
	overflowMax := cmd.fs.Int64("overflow-max", 1000, "maxMessages of the memory check's queue")
	jsonOut := cmd.fs.Bool("json", false, "print the results as JSON")
	cpuProfile := cmd.fs.String("cpuprofile", "", "write a CPU profile of this process from the first queue slice to the end of the runs; with --rounds 1 it covers the queue alone")
	return cmd.leaf(0, 0, func(_ []string) int {
		switch {
		case *duration <= 0 || *duration > maxBenchDuration:
			return cmd.usageError(fmt.Errorf("--duration %v: want more than 0, at most %v", *duration, maxBenchDuration))
		case *rounds < 1 || *duration/time.Duration(max(*rounds, 1)) < 100*time.Millisecond:
			return cmd.usageError(fmt.Errorf("--rounds %d: want at least 1, with slices of --duration/--rounds of 100ms or more", *rounds))
		case *producers < 1 || *producers > maxBenchWorkers:
			return cmd.usageError(fmt.Errorf("--producers %d: want 1 to %d", *producers, maxBenchWorkers))
		case *consumers < 1 || *consumers > maxBenchWorkers:
			return cmd.usageError(fmt.Errorf("--consumers %d: want 1 to %d", *consumers, maxBenchWorkers))
		case *bodyBytes < minBenchBodyBytes || *bodyBytes > 256<<10:
			return cmd.usageError(fmt.Errorf("--body-bytes %d: want %d to %d", *bodyBytes, minBenchBodyBytes, 256<<10))
		case *via == "actor" && *bodyBytes < minActorBodyBytes:
			return cmd.usageError(fmt.Errorf("--body-bytes %d: with --via actor, want at least %d", *bodyBytes, minActorBodyBytes))
		case *batch < 1 || *batch > queues.MaxClaim:
			return cmd.usageError(fmt.Errorf("--batch %d: want 1 to %d", *batch, queues.MaxClaim))
		case !slices.Contains([]string{"go", "http", "watermill", "actor"}, *via):
			return cmd.usageError(fmt.Errorf("--via %q: want go, http, watermill or actor", *via))
		case *addr != "" && *via != "http":
			return cmd.usageError(fmt.Errorf("--addr needs --via http (--via %s drives an in-process node)", *via))
		case *keys < 0 || *keys > maxBenchKeys:
			return cmd.usageError(fmt.Errorf("--keys %d: want 0 (no key) to %d", *keys, maxBenchKeys))
		case *priority < 0 || *priority > queues.LowestPriority:
			return cmd.usageError(fmt.Errorf("--priority %d: want 0 (the default) or %d to %d", *priority, queues.HighestPriority, queues.LowestPriority))
		case *nActors < 1 || *nActors > maxBenchActors:
			return cmd.usageError(fmt.Errorf("--actors %d: want 1 to %d", *nActors, maxBenchActors))
		case flagSet(cmd.fs, "actors") && *via != "actor":
			return cmd.usageError(errors.New("--actors needs --via actor"))
		case *overflowDur < 0 || *overflowDur > maxBenchDuration:
			return cmd.usageError(fmt.Errorf("--overflow-duration %v: want 0 to %v", *overflowDur, maxBenchDuration))
		case *overflowMax < 1 || *overflowMax > 1_000_000:
			return cmd.usageError(fmt.Errorf("--overflow-max %d: want 1 to 1000000", *overflowMax))
		}
		ctx, stop := interruptible()
		defer stop()

		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        2 * (*producers + *consumers + 8),
			MaxIdleConnsPerHost: *producers + *consumers + 8,
			IdleConnTimeout:     90 * time.Second,
		}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}

		var (
			node               *rivetflow.Node
			where              string
			base               = strings.TrimRight(*addr, "/")
			lg                 = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			deliverConcurrency = min(*consumers**batch, 10_000)
		)
		if *addr == "" {
			dir, err := os.MkdirTemp("", "rivet-flow-bench-")
			if err != nil {
				return cmd.fail("", err)
			}
			defer os.RemoveAll(dir)
			reg, err := benchRegistry()
			if err != nil {
				return cmd.fail("", err)
			}
			node, err = rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Version: buildVersion(),
				Logger: lg, Registry: reg,
				// --via actor: the Deliverer holds as many messages as the
				// claiming consumers of --via go, and finds the bench's
				// binding soon.
				Deliver: queues.DelivererOptions{Concurrency: deliverConcurrency, Poll: 100 * time.Millisecond}})
			if err != nil {
				return cmd.fail("", fmt.Errorf("start an in-process node: %w", err))
			}
			defer func() {
				if err := node.Stop(context.Background()); err != nil {
					fmt.Fprintln(stderr, "rivet-flow bench queue: stop the in-process node:", err)
				}
			}()
			base = "http://" + node.Addr()
			where = "in-process node (embedded JetStream, file storage, default fsync, temporary data dir)"
			if *via == "http" {
				where += " over HTTP at " + base
			}
		} else {
			u, err := url.Parse(base)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				return cmd.usageError(fmt.Errorf("--addr %q: want a URL such as http://127.0.0.1:8080", *addr))
			}
			if err := requireLoopback(base); err != nil {
				return cmd.usageError(err)
			}
			where = "server at " + base + " over HTTP"
		}

		// The queues: fresh names, deleted at the end.
		suffix := strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36)
		mainQ, overQ := "benchq-"+suffix, "benchqover-"+suffix
		var (
			measured, overflow queueDriver
			cleanup            []func()
			err                error
		)
		defer func() {
			for _, f := range slices.Backward(cleanup) {
				f()
			}
		}()
		var router *wmRouter
		if *via == "watermill" {
			if router, err = newWMRouter(lg); err != nil {
				return cmd.fail("", err)
			}
		}
		mkQueue := func(name string, cfg queues.Config, overflow bool) (queueDriver, error) {
			if *via == "http" {
				d := &httpDriver{hc: hc, base: base + "/v1/queues/" + name, token: *token}
				body := []byte(`{}`)
				if cfg.MaxMessages > 0 {
					body = fmt.Appendf(nil, `{"maxMessages":%d}`, cfg.MaxMessages)
				}
				if err := d.do(ctx, http.MethodPut, "", body, nil); err != nil {
					return nil, err
				}
				cleanup = append(cleanup, func() { _ = d.do(context.Background(), http.MethodDelete, "", nil, nil) })
				return d, nil
			}
			m := node.Queues()
			if *via == "actor" {
				cfg.DeliverTo = benchDeliverTo()
			}
			if _, _, err := m.Put(ctx, name, cfg); err != nil {
				return nil, err
			}
			cleanup = append(cleanup, func() { _ = m.Delete(context.Background(), name) })
			// The memory check's slow consumer: one message at a time (one
			// handler with one in flight; one actor), overflowPause each.
			var pause time.Duration
			if overflow {
				pause = overflowPause
			}
			switch *via {
			case "watermill":
				d := &wmDriver{pushBase: pushBase{q: managerDriver{m: m, name: name}}}
				d.pause.Store(int64(pause))
				handlers, inFlight := *consumers, *batch
				if overflow {
					handlers, inFlight = 1, 1
				}
				return d, router.add(m, d, handlers, inFlight, lg)
			case "actor":
				d, unregister := newActorDriver(m, node.Deliverer(), name, pause)
				cleanup = append(cleanup, func() {
					defer unregister()
					if err := d.unbind(context.Background()); err != nil {
						fmt.Fprintf(stderr, "rivet-flow bench queue: unbind queue %s: %v\n", name, err)
					}
				})
				return d, nil
			}
			return &managerDriver{m: m, name: name}, nil
		}
		if measured, err = mkQueue(mainQ, queues.Config{}, false); err != nil {
			return cmd.fail("", fmt.Errorf("create queue %s: %w", mainQ, err))
		}
		if *overflowDur > 0 {
			if overflow, err = mkQueue(overQ, queues.Config{MaxMessages: *overflowMax}, true); err != nil {
				return cmd.fail("", fmt.Errorf("create queue %s: %w", overQ, err))
			}
		}
		if router != nil {
			if err := router.run(ctx); err != nil {
				return cmd.fail("", err)
			}
			// Run before the queues are deleted (cleanup runs backwards).
			cleanup = append(cleanup, func() {
				if err := router.stop(); err != nil {
					fmt.Fprintln(stderr, "rivet-flow bench queue: stop the Watermill router:", err)
				}
			})
		}
		if pd, ok := measured.(pushDriver); ok {
			if err := warmUp(ctx, pd, *bodyBytes, *via == "actor"); err != nil {
				return cmd.fail("", err)
			}
		}
		var raw queueDriver
		if node != nil {
			js := node.Events().JetStream()
			rd, err := newRawDriver(ctx, js, suffix, queues.Config{}.WithDefaults().MaxMessages)
			if err != nil {
				return cmd.fail("", err)
			}
			cleanup = append(cleanup, func() { _ = js.DeleteStream(context.Background(), "BENCH_RAWQ_"+suffix) })
			raw = rd
		}

		measuredName := "queue (" + *via + ")"
		if !*jsonOut {
			fmt.Fprintf(stdout, "rivet-flow bench queue: via %s, %d producers, %d consumers, %d-byte bodies, claim batch %d, %v per run in %d alternating slices, GOMAXPROCS %d\n",
				*via, *producers, *consumers, *bodyBytes, *batch, *duration, *rounds, runtime.GOMAXPROCS(0))
			var opts []string
			if *keys > 0 {
				opts = append(opts, fmt.Sprintf("a key from %d each", *keys))
			}
			if *priority > 0 {
				opts = append(opts, fmt.Sprintf("priority %d", *priority))
			}
			enq := "Enqueue"
			if len(opts) > 0 {
				enq += " (" + strings.Join(opts, ", ") + ")"
			}
			switch *via {
			case "watermill":
				fmt.Fprintf(stdout, "  queue:    %s -> watermillq.Subscriber -> Watermill router, %d handlers with up to %d in flight each, returning nil -> Ack on queue %s, %s\n",
					enq, *consumers, *batch, mainQ, where)
			case "actor":
				fmt.Fprintf(stdout, "  queue:    %s -> Deliverer (up to %d held) -> action %s.%s on %d actors, event committed -> Ack on queue %s, %s\n",
					enq, deliverConcurrency, benchActorType, benchActorAction, *nActors, mainQ, where)
			default:
				fmt.Fprintf(stdout, "  queue:    %s -> Claim -> Ack on queue %s, %s\n", enq, mainQ, where)
			}
			if raw != nil {
				fmt.Fprintf(stdout, "  baseline: raw JetStream Publish -> FetchNoWait/Fetch -> Ack on a work-queue stream of the same embedded server, same connection\n")
			} else {
				fmt.Fprintf(stdout, "  baseline: none (--addr: no access to the server's JetStream)\n")
			}
		}

		type side struct {
			name  string
			d     queueDriver
			total queueResult
		}
		sides := []*side{{name: "raw jetstream", d: raw}, {name: measuredName, d: measured}}
		if raw == nil {
			sides = sides[1:]
		}
		ld := queueLoad{producers: *producers, consumers: *consumers, batch: *batch, bodyBytes: *bodyBytes, drain: true,
			keys: *keys, priority: *priority}
		if *via == "actor" {
			ld.actors = *nActors
		}
		slice := *duration / time.Duration(*rounds)
		heapStart := heapAfterGC()
		runPeak := startHeapSampler(50 * time.Millisecond)
		status := newStatusLine(stderr)
		progress := func(round, cur int, acked int64, el time.Duration) {
			var b strings.Builder
			fmt.Fprintf(&b, "round %d/%d ", round+1, *rounds)
			for i, sd := range sides {
				n, e := sd.total.Acked, sd.total.elapsed
				if i == cur {
					n, e = n+acked, e+el
				}
				r := 0.0
				if e > 0 {
					r = float64(n) / e.Seconds()
				}
				fmt.Fprintf(&b, " %s %7.0f msgs/s", sd.name, r)
			}
			fmt.Fprintf(&b, "  heap %.0f MiB", mib(heapNow()))
			status.set("%s", b.String())
		}
		var profile *os.File
		if *cpuProfile != "" {
			if profile, err = os.Create(*cpuProfile); err != nil {
				return cmd.fail("", err)
			}
			defer profile.Close()
		}
		profiling := false
		var ratios []float64
		for round := range *rounds {
			var rates []float64
			for i, sd := range sides {
				if profile != nil && sd.d == measured && !profiling {
					if err := pprof.StartCPUProfile(profile); err != nil {
						return cmd.fail("", err)
					}
					profiling = true
				}
				l := ld
				if sd.d == raw { // no keys or priorities there
					l.keys, l.priority, l.actors = 0, 0, 0
				}
				res, err := runQueueSlice(ctx, sd.d, l, slice, func(acked int64, el time.Duration) { progress(round, i, acked, el) })
				if err != nil {
					status.end()
					return cmd.fail("", err)
				}
				sd.total.add(res)
				rates = append(rates, res.slices[0])
				progress(round, -1, 0, 0)
			}
			if len(rates) == 2 && rates[0] > 0 {
				ratios = append(ratios, rates[1]/rates[0])
			}
		}
		if profiling {
			pprof.StopCPUProfile()
		}
		status.end()
		peakRun, livePeakRun := runPeak.Stop()
		heapEnd := heapAfterGC()

		// The memory check.
		var ovr *overflowResult
		if overflow != nil {
			fmt.Fprintf(stderr, "memory check: %d producers against 1 slow consumer on a queue of at most %d messages for %v\n", *producers, *overflowMax, *overflowDur)
			h0 := heapAfterGC()
			ps := startHeapSampler(20 * time.Millisecond)
			ol := queueLoad{producers: *producers, consumers: 1, batch: 1, bodyBytes: *bodyBytes, consumerPause: overflowPause, keys: *keys, priority: *priority}
			if *via == "actor" {
				ol.actors = 1
			}
			check := newStatusLine(stderr)
			res, err := runQueueSlice(ctx, overflow, ol,
				*overflowDur, func(acked int64, el time.Duration) {
					check.set("memory check: %5.1fs acked %d  heap %.0f MiB", el.Seconds(), acked, mib(heapNow()))
				})
			peak, livePeak := ps.Stop()
			check.end()
			if err != nil {
				return cmd.fail("", err)
			}
			h1 := heapAfterGC()
			ovr = &overflowResult{MaxMessages: *overflowMax, Seconds: overflowDur.Seconds(), Enqueued: res.Enqueued, QueueFull: res.QueueFull,
				Acked: res.Acked, Errors: res.Errors, FirstError: res.FirstError,
				HeapStartMB: mib(h0), HeapPeakMB: mib(peak), LivePeakMB: mib(livePeak), HeapEndMB: mib(h1),
				BytesRefusedMB: mib(uint64(res.QueueFull) * uint64(*bodyBytes))}
			// Flat: the producers were refused, and the live heap (peak, and
			// after a collection at the end) grew by less than what the queue
			// may hold plus 64 MiB of slack for the server's buffers. The
			// allocated peak is shown but not judged: with GOGC=100 it reaches
			// about twice the live heap between collections.
			bound := float64(*overflowMax)*float64(*bodyBytes)/(1<<20) + 64
			ovr.Flat = res.QueueFull > 0 && ovr.LivePeakMB-ovr.HeapStartMB < bound && ovr.HeapEndMB-ovr.HeapStartMB < bound
		}

		var results []*queueResult
		for _, sd := range sides {
			results = append(results, sd.total.finish())
		}
		q := results[len(results)-1]
		ratio, medRatio := 0.0, median(ratios)
		if len(results) == 2 && results[0].PerSecond > 0 {
			ratio = q.PerSecond / results[0].PerSecond
		}
		if *jsonOut {
			out := map[string]any{
				"via": *via, "keys": *keys, "priority": *priority, "producers": *producers, "consumers": *consumers, "bodyBytes": *bodyBytes, "batch": *batch,
				"durationSeconds": duration.Seconds(), "rounds": *rounds, "gomaxprocs": runtime.GOMAXPROCS(0), "inProcess": node != nil,
				"queue": q, "queueMedianPerSecond": median(q.slices),
				"heapStartMiB": mib(heapStart), "heapEndMiB": mib(heapEnd), "heapPeakMiB": mib(peakRun), "livePeakMiB": mib(livePeakRun),
			}
			if len(results) == 2 {
				out["raw"], out["rawMedianPerSecond"] = results[0], median(results[0].slices)
				out["ratio"], out["medianRatio"], out["target"] = ratio, medRatio, benchQueueTarget
			}
			if ovr != nil {
				out["overflow"] = ovr
			}
			_ = writeJSON(stdout, out)
		} else {
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "%-17s %9s %9s %10s %6s %13s %13s %9s %9s %9s\n", "", "enqueued", "acked", "queue_full", "errors", "msgs/s", "median msgs/s", "p50", "p99", "max")
			for i, r := range results {
				fmt.Fprintf(stdout, "%-17s %9d %9d %10d %6d %13.0f %13.0f %9s %9s %9s\n", sides[i].name, r.Enqueued, r.Acked, r.QueueFull, r.Errors,
					r.PerSecond, median(r.slices), latency(r.hist.Quantile(0.5)), latency(r.hist.Quantile(0.99)), latency(r.hist.Max()))
			}
			switch *via {
			case "watermill":
				fmt.Fprintln(stdout, "  (msgs/s: acks per second, the queue's handlers counting those they returned nil for; p50/p99/max: enqueue to the handler; median: over the slices)")
			case "actor":
				fmt.Fprintln(stdout, "  (msgs/s: acks per second, the queue's counting calls committed (Deliverer.Stats().Delivered); p50/p99/max: enqueue to the action running; median: over the slices)")
			default:
				fmt.Fprintln(stdout, "  (msgs/s: acks per second; p50/p99/max: enqueue to delivery; median: over the slices)")
			}
			if len(results) == 2 {
				fmt.Fprintf(stdout, "ratio: queue msgs/s over raw msgs/s = %.2f overall, %.2f median over %d rounds (target >= %.2f)\n", ratio, medRatio, len(ratios), benchQueueTarget)
			}
			fmt.Fprintf(stdout, "heap: %.1f MiB at the start, %.1f MiB at the end (after GC); during the runs peak live %.1f MiB, peak allocated %.1f MiB (embedded JetStream included)\n",
				mib(heapStart), mib(heapEnd), mib(livePeakRun), mib(peakRun))
			if ovr != nil {
				verdict := "flat: producers got queue_full, the heap did not grow with the backlog"
				if !ovr.Flat {
					verdict = "NOT flat"
					if ovr.QueueFull == 0 {
						verdict += ": no queue_full (the consumer kept up?)"
					}
				}
				fmt.Fprintf(stdout, "overflow: %d producers vs 1 slow consumer, maxMessages %d, %v: enqueued %d, queue_full %d (%.0f MiB refused), acked %d, errors %d; heap %.1f -> peak live %.1f (allocated %.1f) -> %.1f MiB after GC: %s\n",
					*producers, ovr.MaxMessages, *overflowDur, ovr.Enqueued, ovr.QueueFull, ovr.BytesRefusedMB, ovr.Acked, ovr.Errors,
					ovr.HeapStartMB, ovr.LivePeakMB, ovr.HeapPeakMB, ovr.HeapEndMB, verdict)
			}
			for i, r := range results {
				if r.FirstError != "" {
					fmt.Fprintf(stdout, "%s: %d errors, the first: %s\n", sides[i].name, r.Errors, r.FirstError)
				}
			}
			if ovr != nil && ovr.FirstError != "" {
				fmt.Fprintf(stdout, "overflow: %d errors, the first: %s\n", ovr.Errors, ovr.FirstError)
			}
		}
		if q.Acked == 0 {
			fmt.Fprintln(stderr, "rivet-flow bench queue: no message went through the queue")
			return 1
		}
		return 0
	})
}

// flagSet reports whether the flag name was given.
func flagSet(fs *pflag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *pflag.Flag) { set = set || f.Name == name })
	return set
}
