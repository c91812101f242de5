package main

import (
	"bytes"
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
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
	"github.com/rivet-flow/rivet-flow/queues"
)

// benchQueueTarget is the ratio of queue msgs/s to raw JetStream msgs/s the
// queues aim for (issue 17).
const benchQueueTarget = 0.4

// Bounds of bench queue, so that a typo cannot start an unbounded load.
const (
	maxBenchWorkers   = 1024
	minBenchBodyBytes = 32 // {"t":<19 digits>,"p":""}
)

// claimWait is how long an idle consumer waits for a first message, on both
// sides.
const claimWait = 50 * time.Millisecond

// drainMax bounds how long consumers drain what a slice's producers left.
const drainMax = 5 * time.Second

// errQueueFull is a driver's enqueue refused because the queue is full.
var errQueueFull = errors.New("queue full")

// queueDriver is one side of the benchmark: enqueue, and claim a batch
// with the function that settles it.
type queueDriver interface {
	enqueue(ctx context.Context, body []byte) error
	claim(ctx context.Context, max int) (bodies [][]byte, ack func(context.Context) error, err error)
}

// rawDriver is the baseline: a work-queue stream and a durable pull
// consumer, like a queue's, driven with Publish, Fetch and Ack.
type rawDriver struct {
	js      jetstream.JetStream
	subject string
	cons    jetstream.Consumer
}

func newRawDriver(ctx context.Context, js jetstream.JetStream, name string, maxMsgs int64) (*rawDriver, error) {
	subj := "bench.rawq." + name
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: "BENCH_RAWQ_" + name, Subjects: []string{subj}, Storage: jetstream.FileStorage,
		Retention: jetstream.WorkQueuePolicy, Discard: jetstream.DiscardNew, MaxMsgs: maxMsgs, MaxBytes: 1 << 30,
	})
	if err != nil {
		return nil, fmt.Errorf("create the raw stream: %w", err)
	}
	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
		FilterSubject: subj, MaxAckPending: 10_000, DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("create the raw consumer: %w", err)
	}
	return &rawDriver{js: js, subject: subj, cons: cons}, nil
}

func (d *rawDriver) enqueue(ctx context.Context, body []byte) error {
	_, err := d.js.Publish(ctx, d.subject, body)
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (strings.Contains(apiErr.Description, "maximum messages") || strings.Contains(apiErr.Description, "maximum bytes")) {
		return errQueueFull
	}
	return err
}

// claim takes what is ready and, when nothing is, waits up to claimWait for
// one message: what queues.Manager.Claim does.
func (d *rawDriver) claim(ctx context.Context, max int) ([][]byte, func(context.Context) error, error) {
	msgs, err := d.fetch(ctx, max, 0)
	if err == nil && len(msgs) == 0 {
		msgs, err = d.fetch(ctx, 1, claimWait)
	}
	if err != nil {
		return nil, nil, err
	}
	bodies := make([][]byte, len(msgs))
	for i, m := range msgs {
		bodies[i] = m.Data()
	}
	return bodies, func(context.Context) error {
		for _, m := range msgs {
			if err := m.Ack(); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func (d *rawDriver) fetch(ctx context.Context, n int, wait time.Duration) ([]jetstream.Msg, error) {
	var batch jetstream.MessageBatch
	var err error
	if wait <= 0 {
		batch, err = d.cons.FetchNoWait(n)
	} else {
		fctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		batch, err = d.cons.Fetch(n, jetstream.FetchContext(fctx))
	}
	if err != nil {
		return nil, err
	}
	var out []jetstream.Msg
	for m := range batch.Messages() {
		out = append(out, m)
	}
	if err := batch.Error(); err != nil && len(out) == 0 && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
		return nil, err
	}
	return out, nil
}

// managerDriver is a queue through queues.Manager, in process.
type managerDriver struct {
	m    *queues.Manager
	name string
}

func (d *managerDriver) enqueue(ctx context.Context, body []byte) error {
	_, err := d.m.Enqueue(ctx, d.name, body, queues.EnqueueOptions{})
	if errors.Is(err, queues.ErrFull) {
		return errQueueFull
	}
	return err
}

func (d *managerDriver) claim(ctx context.Context, max int) ([][]byte, func(context.Context) error, error) {
	msgs, err := d.m.Claim(ctx, d.name, queues.ClaimOptions{Max: max, Wait: claimWait})
	if err != nil || len(msgs) == 0 {
		return nil, nil, err
	}
	bodies, receipts := make([][]byte, len(msgs)), make([]string, len(msgs))
	for i, m := range msgs {
		bodies[i], receipts[i] = m.Body, m.Receipt
	}
	return bodies, func(ctx context.Context) error {
		_, err := d.m.Ack(ctx, d.name, receipts)
		return err
	}, nil
}

// httpDriver is a queue over the HTTP API, with real requests.
type httpDriver struct {
	hc    *http.Client
	base  string // .../v1/queues/<name>
	token string
}

// do sends a JSON request and decodes a 2xx answer into out (unless nil).
func (d *httpDriver) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if d.token != "" {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, resp.Body)
		return errQueueFull
	}
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(msg))
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (d *httpDriver) enqueue(ctx context.Context, body []byte) error {
	req := make([]byte, 0, len(body)+16)
	req = append(append(append(req, `{"body":`...), body...), '}')
	return d.do(ctx, http.MethodPost, "/messages", req, nil)
}

func (d *httpDriver) claim(ctx context.Context, max int) ([][]byte, func(context.Context) error, error) {
	var out struct {
		Messages []struct {
			Body    json.RawMessage `json:"body"`
			Receipt string          `json:"receipt"`
		} `json:"messages"`
	}
	req := fmt.Appendf(nil, `{"max":%d,"waitMs":%d}`, max, claimWait.Milliseconds())
	if err := d.do(ctx, http.MethodPost, "/claim", req, &out); err != nil || len(out.Messages) == 0 {
		return nil, nil, err
	}
	bodies, receipts := make([][]byte, len(out.Messages)), make([]string, len(out.Messages))
	for i, m := range out.Messages {
		bodies[i], receipts[i] = m.Body, m.Receipt
	}
	return bodies, func(ctx context.Context) error {
		b, err := json.Marshal(map[string][]string{"receipts": receipts})
		if err != nil {
			return err
		}
		return d.do(ctx, http.MethodPost, "/ack", b, nil)
	}, nil
}

// queueBody is a body of n bytes: a JSON object whose "t" is the enqueue
// time (Unix ns, 19 digits) and "p" padding.
func queueBody(n int) []byte {
	b := []byte(`{"t":1000000000000000000,"p":"`)
	b = append(b, bytes.Repeat([]byte{'x'}, n-len(b)-2)...)
	return append(b, `"}`...)
}

// stamp writes now into a body made by queueBody.
func stamp(b []byte, now time.Time) {
	strconv.AppendInt(b[5:5:24], now.UnixNano(), 10)
}

// bornAt reads the enqueue time of a body (zero if it has none).
func bornAt(b []byte) time.Time {
	i := bytes.Index(b, []byte(`"t":`))
	if i < 0 {
		return time.Time{}
	}
	b = b[i+4:]
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	ns, err := strconv.ParseInt(string(b[:j]), 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// queueLoad is the shape of one slice's load.
type queueLoad struct {
	producers, consumers, batch, bodyBytes int
	// consumerPause slows each consumer down after every claim (the
	// overflow phase).
	consumerPause time.Duration
	// drain: after the slice, consumers take what the producers left
	// (up to drainMax), so that the next slice starts empty.
	drain bool
}

// queueResult is what one or more slices of one side did.
type queueResult struct {
	Enqueued   int64   `json:"enqueued"`
	Acked      int64   `json:"acked"`
	QueueFull  int64   `json:"queueFull"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"perSecond"`
	P50        float64 `json:"p50Ms"`
	P99        float64 `json:"p99Ms"`
	Max        float64 `json:"maxMs"`

	elapsed time.Duration
	hist    loadgen.Histogram
	slices  []float64 // msgs/s of each slice
}

func (r *queueResult) add(o *queueResult) {
	r.Enqueued += o.Enqueued
	r.Acked += o.Acked
	r.QueueFull += o.QueueFull
	r.Errors += o.Errors
	if r.FirstError == "" {
		r.FirstError = o.FirstError
	}
	r.elapsed += o.elapsed
	r.hist.Merge(&o.hist)
	r.slices = append(r.slices, o.slices...)
}

func (r *queueResult) finish() *queueResult {
	r.Seconds = r.elapsed.Seconds()
	if r.elapsed > 0 {
		r.PerSecond = float64(r.Acked) / r.elapsed.Seconds()
	}
	r.P50, r.P99, r.Max = ms(r.hist.Quantile(0.5)), ms(r.hist.Quantile(0.99)), ms(r.hist.Max())
	return r
}

// runQueueSlice runs producers and consumers against d for dur. Acked
// counts the acks done within dur, and the latencies are those of the
// deliveries within it.
func runQueueSlice(ctx context.Context, d queueDriver, ld queueLoad, dur time.Duration, progress func(acked int64, el time.Duration)) (*queueResult, error) {
	res := &queueResult{}
	var (
		mu                   sync.Mutex
		enqueued, full, errs atomic.Int64
		inWindow, consumed   atomic.Int64
		producersDone        atomic.Bool
		firstErr             error
		pwg, cwg             sync.WaitGroup
		start                = time.Now()
		deadline             = start.Add(dur)
		fail                 = func(err error) {
			errs.Add(1)
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range ld.producers {
		pwg.Go(func() {
			body := queueBody(ld.bodyBytes)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				stamp(body, time.Now())
				switch err := d.enqueue(ctx, body); {
				case err == nil:
					enqueued.Add(1)
				case errors.Is(err, errQueueFull):
					full.Add(1)
					time.Sleep(time.Millisecond)
				case ctx.Err() != nil:
					return
				default:
					fail(fmt.Errorf("enqueue: %w", err))
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	hists := make([]loadgen.Histogram, ld.consumers)
	for c := range ld.consumers {
		cwg.Go(func() {
			h := &hists[c]
			for ctx.Err() == nil {
				now := time.Now()
				if !now.Before(deadline) {
					if !ld.drain || now.After(deadline.Add(drainMax)) || (producersDone.Load() && consumed.Load() >= enqueued.Load()) {
						return
					}
				}
				bodies, ack, err := d.claim(ctx, ld.batch)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					fail(fmt.Errorf("claim: %w", err))
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if len(bodies) == 0 {
					continue
				}
				got := time.Now()
				if got.Before(deadline) {
					for _, b := range bodies {
						if t := bornAt(b); !t.IsZero() {
							h.Record(got.Sub(t))
						}
					}
				}
				if err := ack(ctx); err != nil {
					if ctx.Err() != nil {
						return
					}
					fail(fmt.Errorf("ack: %w", err))
					continue
				}
				consumed.Add(int64(len(bodies)))
				if time.Now().Before(deadline) {
					inWindow.Add(int64(len(bodies)))
				}
				if ld.consumerPause > 0 {
					time.Sleep(ld.consumerPause)
				}
			}
		})
	}
	stopTick := make(chan struct{})
	ticked := make(chan struct{})
	go func() {
		defer close(ticked)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopTick:
				return
			case <-t.C:
				if progress != nil {
					progress(inWindow.Load(), min(time.Since(start), dur))
				}
			}
		}
	}()
	pwg.Wait()
	producersDone.Store(true)
	cwg.Wait()
	close(stopTick)
	<-ticked
	res.Enqueued, res.Acked, res.QueueFull, res.Errors = enqueued.Load(), inWindow.Load(), full.Load(), errs.Load()
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	res.elapsed = dur
	for i := range hists {
		res.hist.Merge(&hists[i])
	}
	res.slices = []float64{float64(res.Acked) / dur.Seconds()}
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return res, err
	}
	return res, nil
}

// heapSampler records the peak heap while it runs: allocated (which
// reaches about twice the live heap between collections, with GOGC=100)
// and live (marked by the last collection).
type heapSampler struct {
	peak, peakLive atomic.Uint64
	stop           chan struct{}
	done           chan struct{}
}

// liveHeap is the heap marked live by the last collection.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

func heapNow() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapAfterGC is the live heap after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	return heapNow()
}

func startHeapSampler(every time.Duration) *heapSampler {
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(heapNow())
	s.peakLive.Store(liveHeap())
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
				if h := heapNow(); h > s.peak.Load() {
					s.peak.Store(h)
				}
				if h := liveHeap(); h > s.peakLive.Load() {
					s.peakLive.Store(h)
				}
			}
		}
	}()
	return s
}

// Stop stops the sampler and returns the peaks: allocated and live.
func (s *heapSampler) Stop() (uint64, uint64) {
	close(s.stop)
	<-s.done
	return s.peak.Load(), s.peakLive.Load()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// overflowResult is the memory check: producers outpacing a slow consumer
// on a bounded queue.
type overflowResult struct {
	MaxMessages int64   `json:"maxMessages"`
	Seconds     float64 `json:"seconds"`
	Enqueued    int64   `json:"enqueued"`
	QueueFull   int64   `json:"queueFull"`
	Acked       int64   `json:"acked"`
	Errors      int64   `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	HeapStartMB float64 `json:"heapStartMiB"`
	HeapPeakMB  float64 `json:"heapPeakMiB"`
	LivePeakMB  float64 `json:"livePeakMiB"`
	HeapEndMB   float64 `json:"heapEndMiB"`
	// BytesRefused is what the refused enqueues would have added.
	BytesRefusedMB float64 `json:"bytesRefusedMiB"`
	Flat           bool    `json:"flat"`
}

func benchQueue(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("bench queue", "", `Measure durable queues end to end: producers enqueue bodies of --body-bytes, consumers
claim up to --batch at a time and ack them; msgs/s is the acks per second, and the
latency is from enqueue (a timestamp in the body) to delivery. Beside it, in the same
run and on the same embedded JetStream server, the baseline: a raw work-queue stream
driven with Publish, Fetch and Ack by as many producers and consumers. The two alternate
in --rounds slices of --duration/--rounds each (so that both see the same machine).
Then the memory check: producers outpace one slow consumer on a queue bounded to
--overflow-max messages, and the heap is sampled: the producers must get queue_full.
With no --addr it starts a node in-process on a temporary data dir. --via go drives the
queues.Manager in process, --via http the HTTP API with real requests (--addr: a running
server's, loopback only; then there is no baseline). Progress goes to stderr, results
to stdout.`, stderr)
	cmd.env = map[string]string{"token": clientEnv["token"]}
	duration := cmd.fs.Duration("duration", 10*time.Second, "how long each of the two runs lasts, in total")
	rounds := cmd.fs.Int("rounds", 5, "split each run into this many slices, alternating baseline and queue")
	producers := cmd.fs.Int("producers", 4, "goroutines enqueueing, one message at a time, on each side")
	consumers := cmd.fs.Int("consumers", 4, "goroutines claiming and acking, on each side")
	bodyBytes := cmd.fs.Int("body-bytes", 1024, "size of each message body, in bytes")
	batch := cmd.fs.Int("batch", 64, "most messages one claim (or fetch) takes")
	via := cmd.fs.String("via", "go", "go: the queues.Manager in process; http: the HTTP API")
	addr := cmd.fs.String("addr", "", "with --via http: benchmark the server at this loopback URL (no baseline)")
	token := cmd.fs.String("token", "", "the server's API token, with --addr")
	overflowDur := cmd.fs.Duration("overflow-duration", 5*time.Second, "how long the memory check runs (0: skip it)")
	overflowMax := cmd.fs.Int64("overflow-max", 1000, "maxMessages of the memory check's queue")
	jsonOut := cmd.fs.Bool("json", false, "print the results as JSON")
	cpuProfile := cmd.fs.String("cpuprofile", "", "write a CPU profile of this process from the first queue slice to the end of the runs; with --rounds 1 it covers the queue alone")
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return cmd.usageError(err)
	}
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
	case *batch < 1 || *batch > queues.MaxClaim:
		return cmd.usageError(fmt.Errorf("--batch %d: want 1 to %d", *batch, queues.MaxClaim))
	case *via != "go" && *via != "http":
		return cmd.usageError(fmt.Errorf("--via %q: want go or http", *via))
	case *addr != "" && *via != "http":
		return cmd.usageError(errors.New("--addr needs --via http (--via go drives an in-process node)"))
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
		node  *rivetflow.Node
		where string
		base  = strings.TrimRight(*addr, "/")
	)
	if *addr == "" {
		dir, err := os.MkdirTemp("", "rivet-flow-bench-")
		if err != nil {
			return cmd.fail("", err)
		}
		defer os.RemoveAll(dir)
		node, err = rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Version: buildVersion(),
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
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
	)
	defer func() {
		for _, f := range slices.Backward(cleanup) {
			f()
		}
	}()
	mkQueue := func(name string, cfg queues.Config) (queueDriver, error) {
		if *via == "go" {
			m := node.Queues()
			if _, _, err := m.Put(ctx, name, cfg); err != nil {
				return nil, err
			}
			cleanup = append(cleanup, func() { _ = m.Delete(context.Background(), name) })
			return &managerDriver{m: m, name: name}, nil
		}
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
	var err error
	if measured, err = mkQueue(mainQ, queues.Config{}); err != nil {
		return cmd.fail("", fmt.Errorf("create queue %s: %w", mainQ, err))
	}
	if *overflowDur > 0 {
		if overflow, err = mkQueue(overQ, queues.Config{MaxMessages: *overflowMax}); err != nil {
			return cmd.fail("", fmt.Errorf("create queue %s: %w", overQ, err))
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
		fmt.Fprintf(stdout, "  queue:    Enqueue -> Claim -> Ack on queue %s, %s\n", mainQ, where)
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
	ld := queueLoad{producers: *producers, consumers: *consumers, batch: *batch, bodyBytes: *bodyBytes, drain: true}
	slice := *duration / time.Duration(*rounds)
	heapStart := heapAfterGC()
	runPeak := startHeapSampler(50 * time.Millisecond)
	progress := func(round, cur int, acked int64, el time.Duration) {
		var b strings.Builder
		fmt.Fprintf(&b, "\rround %d/%d ", round+1, *rounds)
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
		fmt.Fprintf(&b, "  heap %.0f MiB   ", mib(heapNow()))
		fmt.Fprint(stderr, b.String())
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
			res, err := runQueueSlice(ctx, sd.d, ld, slice, func(acked int64, el time.Duration) { progress(round, i, acked, el) })
			if err != nil {
				fmt.Fprintln(stderr)
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
	fmt.Fprintln(stderr)
	peakRun, livePeakRun := runPeak.Stop()
	heapEnd := heapAfterGC()

	// The memory check.
	var ovr *overflowResult
	if overflow != nil {
		fmt.Fprintf(stderr, "memory check: %d producers against 1 slow consumer on a queue of at most %d messages for %v\n", *producers, *overflowMax, *overflowDur)
		h0 := heapAfterGC()
		ps := startHeapSampler(20 * time.Millisecond)
		res, err := runQueueSlice(ctx, overflow, queueLoad{producers: *producers, consumers: 1, batch: 1, bodyBytes: *bodyBytes, consumerPause: 5 * time.Millisecond},
			*overflowDur, func(acked int64, el time.Duration) {
				fmt.Fprintf(stderr, "\rmemory check: %5.1fs acked %d  heap %.0f MiB   ", el.Seconds(), acked, mib(heapNow()))
			})
		peak, livePeak := ps.Stop()
		fmt.Fprintln(stderr)
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
			"via": *via, "producers": *producers, "consumers": *consumers, "bodyBytes": *bodyBytes, "batch": *batch,
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
		fmt.Fprintf(stdout, "%-14s %9s %9s %10s %6s %13s %13s %9s %9s %9s\n", "", "enqueued", "acked", "queue_full", "errors", "msgs/s", "median msgs/s", "p50", "p99", "max")
		for i, r := range results {
			fmt.Fprintf(stdout, "%-14s %9d %9d %10d %6d %13.0f %13.0f %9s %9s %9s\n", sides[i].name, r.Enqueued, r.Acked, r.QueueFull, r.Errors,
				r.PerSecond, median(r.slices), latency(r.hist.Quantile(0.5)), latency(r.hist.Quantile(0.99)), latency(r.hist.Max()))
		}
		fmt.Fprintln(stdout, "  (msgs/s: acks per second; p50/p99/max: enqueue to delivery; median: over the slices)")
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
}
