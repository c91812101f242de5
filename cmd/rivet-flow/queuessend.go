package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// rivet-flow queues send: one message, or many in batches with a progress
// bar (also used by redrive).

// sendSummary counts a bulk send.
type sendSummary struct {
	Sent       int64 `json:"sent"`
	Duplicates int64 `json:"duplicates"`
	Failed     int64 `json:"failed"`
	// FullRetries counts the enqueues retried after 429 queue_full.
	FullRetries int64 `json:"fullRetries"`
}

func queuesSend(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues send", "NAME [BODY_JSON]",
		"Enqueue one message (BODY_JSON, any JSON value), or many: --file F.jsonl (one JSON body per line, - for stdin) or --count N --body JSON. "+
			"A bulk send goes in batches of up to --batch messages (POST /v1/queues/NAME/messages/batch), shows a progress bar on stderr and ends with a summary (sent, duplicates, failed); "+
			"the messages a full queue (queue_full) refused are sent again after a second, for up to --full-timeout (they may then come after later ones). "+
			"--key, --priority and --delay-ms apply to every message.", stderr)
	dedupID := cmd.fs.String("dedup-id", "", "deduplication ID: a second send with it within the queue's dedup window adds nothing; in a bulk send, the prefix of each message's ID-N (N: its line or number, from 1)")
	key := cmd.fs.String("key", "", "the messages' key: messages of one key are delivered in order, one at a time")
	priority := cmd.fs.Int("priority", 0, "1 (most urgent) to 5 (server default 3)")
	var delay msFlag
	cmd.fs.Var(&delay, "delay-ms", "hold the messages back for this long: milliseconds or a duration (e.g. 90s)")
	file := cmd.fs.String("file", "", "send every line of this file (JSON lines; - for stdin) as a message")
	count := cmd.fs.Int("count", 0, "send --body this many times")
	body := cmd.fs.String("body", "", "the body --count sends")
	concurrency := cmd.fs.Int("concurrency", 8, "requests in flight at once in a bulk send")
	batchSize := cmd.fs.Int("batch", client.MaxBatch, "most messages per request in a bulk send (up to 1000)")
	fullTimeout := cmd.fs.Duration("full-timeout", time.Minute, "how long one message may keep being retried while the queue is full before it counts as failed")
	return cmd.leaf(1, 2, func(pos []string) int {
		var err error
		name := pos[0]
		bulk := *file != "" || *count > 0
		switch {
		case len(pos) == 2 && bulk:
			return cmd.usageError(errors.New("give BODY_JSON or --file or --count, not several"))
		case *file != "" && *count > 0:
			return cmd.usageError(errors.New("give --file or --count, not both"))
		case len(pos) == 1 && !bulk:
			return cmd.usageError(errors.New("missing the body: rivet-flow queues send NAME '{\"k\":1}', or --file F.jsonl, or --count N --body JSON"))
		case *count < 0:
			return cmd.usageError(fmt.Errorf("--count %d: want at least 1", *count))
		case *count > 0 && *body == "":
			return cmd.usageError(errors.New("--count needs --body JSON"))
		case *body != "" && *count == 0:
			return cmd.usageError(errors.New("--body goes with --count N; for one message pass BODY_JSON as an argument"))
		case *concurrency < 1:
			return cmd.usageError(fmt.Errorf("--concurrency %d: want at least 1", *concurrency))
		case *batchSize < 1 || *batchSize > client.MaxBatch:
			return cmd.usageError(fmt.Errorf("--batch %d: want 1 to %d", *batchSize, client.MaxBatch))
		case *priority < 0 || *priority > 5:
			return cmd.usageError(fmt.Errorf("--priority %d: want 1 (most urgent) to 5", *priority))
		case delay.ms < 0:
			return cmd.usageError(fmt.Errorf("--delay-ms %d: want 0 or more", delay.ms))
		}
		opts := client.EnqueueOptions{DedupID: *dedupID, Key: *key, Priority: *priority, Delay: delay.duration()}
		var bodies []json.RawMessage
		switch {
		case len(pos) == 2:
			if !json.Valid([]byte(pos[1])) {
				return cmd.usageError(fmt.Errorf("BODY_JSON %q is not valid JSON (quote strings: '\"hello\"')", pos[1]))
			}
			bodies = []json.RawMessage{json.RawMessage(pos[1])}
		case *count > 0:
			if !json.Valid([]byte(*body)) {
				return cmd.usageError(fmt.Errorf("--body %q is not valid JSON", *body))
			}
			b := json.RawMessage(*body)
			bodies = make([]json.RawMessage, *count)
			for i := range bodies {
				bodies[i] = b
			}
		default:
			if bodies, err = readJSONLines(*file); err != nil {
				return cmd.usageError(err)
			}
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			if !bulk {
				r, err := c.Enqueue(ctx, name, bodies[0], &opts)
				if err != nil {
					return queueFail(cmd, name, err)
				}
				if cmd.cf.json {
					_ = writeJSON(stdout, r)
					return 0
				}
				if r.Duplicate {
					fmt.Fprintf(stdout, "duplicate: dedup ID %s was already sent as message %s; nothing added\n", *dedupID, r.ID)
					return 0
				}
				fmt.Fprintf(stdout, "sent message %s to queue %s\n", r.ID, name)
				return 0
			}
			// Check the queue first: a missing one fails once, not once per batch.
			if _, err := c.Queue(ctx, name); err != nil {
				return queueFail(cmd, name, err)
			}
			msgs := make([]client.BatchMessage, len(bodies))
			for i, b := range bodies {
				msgs[i] = client.BatchMessage{Body: b, Options: opts}
				if *dedupID != "" {
					msgs[i].Options.DedupID = *dedupID + "-" + strconv.Itoa(i+1)
				}
			}
			start := time.Now()
			s := &bulkSend{c: c, name: name, fullTimeout: *fullTimeout}
			if !cmd.cf.json { // no progress bar with --json, like projections rebuild
				s.bar = newProgress(stderr, "sent", len(bodies))
			}
			batches := splitBatches(msgs, *batchSize, sendBatchBytes)
			next := atomic.Int64{}
			var wg sync.WaitGroup
			for range min(*concurrency, len(batches)) {
				wg.Go(func() {
					for {
						i := int(next.Add(1)) - 1
						if i >= len(batches) || ctx.Err() != nil {
							return
						}
						s.send(ctx, batches[i])
					}
				})
			}
			wg.Wait()
			s.bar.finish()
			sum := &s.sum
			took := time.Since(start)
			if cmd.cf.json {
				_ = writeJSON(stdout, sum)
			} else {
				fmt.Fprintf(stdout, "queue %s: %d sent, %d duplicates, %d failed of %d in %s (%.0f/s)\n", name, sum.Sent, sum.Duplicates, sum.Failed,
					len(bodies), took.Round(time.Millisecond), float64(sum.Sent+sum.Duplicates)/max(took.Seconds(), 1e-9))
				if sum.FullRetries > 0 {
					fmt.Fprintf(stdout, "the queue was full %d times; those sends were retried a second later\n", sum.FullRetries)
				}
			}
			if ctx.Err() != nil {
				if cmd.cf.json { // the summary on stdout says how far it got
					return cmd.fail(ctx.Err())
				}
				fmt.Fprintf(stderr, "rivet-flow queues send: interrupted after %d of %d\n", sum.Sent+sum.Duplicates+sum.Failed, len(bodies))
				return 1
			}
			if p := s.firstErr.Load(); p != nil {
				if !cmd.cf.json {
					fmt.Fprintf(stderr, "rivet-flow queues send: %d failed; the first error:\n", sum.Failed)
				}
				queueFail(cmd, name, *p)
				if *dedupID == "" && !cmd.cf.json {
					fmt.Fprintln(stderr, "  send again with --dedup-id PREFIX to skip the messages already sent")
				}
				return 1
			}
			return 0
		})
	})
}

// sendBatchBytes bounds the bodies of one batch request, well within the
// server's default request limit (1 MiB) with the JSON around them.
const sendBatchBytes = 768 << 10

// splitBatches cuts msgs into batches of at most n messages and about
// maxBytes of bodies (a larger body goes alone).
func splitBatches(msgs []client.BatchMessage, n, maxBytes int) [][]client.BatchMessage {
	var out [][]client.BatchMessage
	start, size := 0, 0
	for i, m := range msgs {
		b := len(m.Body.(json.RawMessage)) + len(m.Options.DedupID) + len(m.Options.Key) + 64
		if i > start && (i-start == n || size+b > maxBytes) {
			out = append(out, msgs[start:i])
			start, size = i, 0
		}
		size += b
	}
	return append(out, msgs[start:])
}

// bulkSend sends batches of one bulk send and counts what became of them.
type bulkSend struct {
	c           *client.Client
	name        string
	fullTimeout time.Duration
	bar         *progress
	sum         sendSummary
	firstErr    atomic.Pointer[error]
}

// send sends one batch: the messages a full queue refused go again a
// second later, until fullTimeout; the others are settled at once.
func (s *bulkSend) send(ctx context.Context, batch []client.BatchMessage) {
	const fullWait = time.Second // the single route's Retry-After
	deadline := time.Now().Add(s.fullTimeout)
	fail := func(n int, err error) {
		atomic.AddInt64(&s.sum.Failed, int64(n))
		s.firstErr.CompareAndSwap(nil, &err)
		s.bar.add(n)
	}
	for len(batch) > 0 {
		res, err := s.c.EnqueueBatch(ctx, s.name, batch)
		if err != nil {
			fail(len(batch), err)
			return
		}
		var full []client.BatchMessage
		var fullErr error
		for i, r := range res {
			var apiErr *client.Error
			switch {
			case r.Err == nil && r.Duplicate:
				atomic.AddInt64(&s.sum.Duplicates, 1)
				s.bar.add(1)
			case r.Err == nil:
				atomic.AddInt64(&s.sum.Sent, 1)
				s.bar.add(1)
			case errors.As(r.Err, &apiErr) && apiErr.Code == client.CodeQueueFull:
				full, fullErr = append(full, batch[i]), r.Err
			default:
				fail(1, r.Err)
			}
		}
		if len(full) == 0 {
			return
		}
		if time.Now().Add(fullWait).After(deadline) {
			fail(len(full), fullErr)
			return
		}
		atomic.AddInt64(&s.sum.FullRetries, int64(len(full)))
		s.bar.setNote(fmt.Sprintf("queue full: retrying in %s", fullWait))
		select {
		case <-ctx.Done():
			fail(len(full), ctx.Err())
			return
		case <-time.After(fullWait):
		}
		batch = full
	}
}

// readJSONLines reads the JSON bodies of a file, one a line (blank lines
// skipped); "-" is stdin.
func readJSONLines(path string) ([]json.RawMessage, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--file: %w", err)
		}
		defer f.Close()
		r = f
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 2<<20)
	var out []json.RawMessage
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			return nil, fmt.Errorf("--file %s: line %d is not valid JSON: %.80s", path, n, line)
		}
		out = append(out, json.RawMessage(bytes.Clone(line)))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--file %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--file %s: no messages in it (want one JSON body per line)", path)
	}
	return out, nil
}
