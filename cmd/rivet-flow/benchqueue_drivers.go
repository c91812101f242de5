package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/queues"
)

// errQueueFull is a driver's enqueue refused because the queue is full.
var errQueueFull = errors.New("queue full")

// enqueueOpts are the options of one enqueue (--keys, --priority); the
// raw baseline has neither and ignores them.
type enqueueOpts struct {
	key      string // "" for none
	priority int    // 0 for the default
}

// queueDriver is one side of the benchmark: how producers enqueue. A side
// is also a pullDriver (its consumers claim) or a pushDriver (its messages
// are pushed to handlers: a Watermill router, actors).
type queueDriver interface {
	enqueue(ctx context.Context, body []byte, opts enqueueOpts) error
}

// pullDriver is a side whose consumers claim a batch, with the function
// that settles it.
type pullDriver interface {
	queueDriver
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

func (d *rawDriver) enqueue(ctx context.Context, body []byte, _ enqueueOpts) error {
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

func (d *managerDriver) enqueue(ctx context.Context, body []byte, opts enqueueOpts) error {
	_, err := d.m.Enqueue(ctx, d.name, body, queues.EnqueueOptions{Key: opts.key, Priority: opts.priority})
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

func (d *httpDriver) enqueue(ctx context.Context, body []byte, opts enqueueOpts) error {
	req := make([]byte, 0, len(body)+64)
	req = append(append(req, `{"body":`...), body...)
	if opts.key != "" {
		req = strconv.AppendQuote(append(req, `,"key":`...), opts.key)
	}
	if opts.priority != 0 {
		req = strconv.AppendInt(append(req, `,"priority":`...), int64(opts.priority), 10)
	}
	req = append(req, '}')
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
// time (Unix ns, 19 digits) and "p" padding; with actor set, "a" is before
// "p": an actor key of actorKeyDigits digits (setActor writes it), which
// an actor-bound queue reads with keyFrom "/a".
func queueBody(n int, actor bool) []byte {
	b := []byte(`{"t":1000000000000000000,"p":"`)
	if actor {
		b = []byte(`{"t":1000000000000000000,"a":"000000","p":"`)
	}
	b = append(b, bytes.Repeat([]byte{'x'}, n-len(b)-2)...)
	return append(b, `"}`...)
}

// actorKeyDigits is the width of "a" in a body (enough for
// maxBenchActors), and minActorBodyBytes the size of a body with it and no
// padding.
const (
	actorKeyDigits    = 6
	minActorBodyBytes = minBenchBodyBytes + len(`,"a":"000000"`)
)

// setActor writes actor i (0 to maxBenchActors-1) into a body made by
// queueBody(n, true).
func setActor(b []byte, i int) {
	d := b[30 : 30+actorKeyDigits]
	for j := len(d) - 1; j >= 0; j-- {
		d[j] = byte('0' + i%10)
		i /= 10
	}
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
