package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

const queuesUsage = `Usage: rivet-flow queues <command> [flags]

Commands:
  list                                list the server's queues: depth, in flight, dead letters, oldest age
  get NAME                            show a queue: configuration and counts
  create NAME [--max-messages N] [--ack-wait 30s] [--max-deliveries N] [--backoff 1s,5s] [flags]
                                      create a queue, or replace its whole configuration
  delete NAME                         delete a queue with its messages and dead letters
  send NAME BODY_JSON [--dedup-id ID] enqueue one message
  send NAME --file F.jsonl | --count N --body JSON
                                      enqueue many (one body per line), with a progress bar
  claim NAME [--max N] [--wait 5s] [--ack]
                                      claim messages and print them (acknowledge them with --ack)
  ack NAME RECEIPT...                 acknowledge claimed messages by their receipts
  dead-letters NAME [--limit N]       list a queue's dead letters, oldest first
  redrive NAME (--all | --id ID ...) [--body JSON]
                                      put dead letters back into the queue, with a progress bar

Every command takes --addr (default ` + defaultAddr + `, or RIVETFLOW_ADDR),
--token (or RIVETFLOW_API_TOKEN) and --json; see rivet-flow queues <command> --help.
`

// queuesCmd dispatches `rivet-flow queues ...`.
func queuesCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, queuesUsage)
		return 2
	}
	switch args[0] {
	case "list", "ls":
		return queuesList(args[1:], stdout, stderr)
	case "get":
		return queuesGet(args[1:], stdout, stderr)
	case "create":
		return queuesCreate(args[1:], stdout, stderr)
	case "delete", "rm":
		return queuesDelete(args[1:], stdout, stderr)
	case "send":
		return queuesSend(args[1:], stdout, stderr)
	case "claim":
		return queuesClaim(args[1:], stdout, stderr)
	case "ack":
		return queuesAck(args[1:], stdout, stderr)
	case "dead-letters":
		return queuesDeadLetters(args[1:], stdout, stderr)
	case "redrive":
		return queuesRedrive(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, queuesUsage)
		return 0
	}
	fmt.Fprintf(stderr, "rivet-flow queues: unknown command %q\n\n%s", args[0], queuesUsage)
	return 2
}

// queueFail prints a server error with what to do about it for queues, and
// returns exit code 1.
func queueFail(cmd *command, addr, name string, err error) int {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) {
		return cmd.fail(addr, err)
	}
	hint := ""
	switch apiErr.Code {
	case client.CodeQueueNotFound:
		hint = "no queue named " + name + ": list them with: rivet-flow queues list, or create it with: rivet-flow queues create " + name
	case client.CodeQueueFull:
		hint = "the queue is full: retry later, claim and ack messages, or raise --max-messages / --max-bytes with: rivet-flow queues create " + name + " ..."
	case client.CodeMessageTooLarge:
		hint = "send a smaller body, or raise the queue's limit with: rivet-flow queues create " + name + " --max-message-bytes N"
	case client.CodeInvalidReceipt:
		hint = "the receipt is not of a delivery still in flight (acknowledged, redelivered after its lease, or dead-lettered): claim again with: rivet-flow queues claim " + name
	case client.CodeInvalidRequest:
		hint = "check the flags and arguments: see rivet-flow " + cmd.name + " --help"
	}
	if hint == "" {
		return cmd.fail(addr, err)
	}
	fmt.Fprintf(cmd.stderr, "rivet-flow %s: %s (%d): %s\n", cmd.name, apiErr.Code, apiErr.Status, apiErr.Message)
	for _, d := range apiErr.Details {
		fmt.Fprintf(cmd.stderr, "  %s %s\n", d.Location, d.Message)
	}
	fmt.Fprintf(cmd.stderr, "  %s\n", hint)
	return 1
}

func queuesList(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues list", "", "List the server's queues by name: messages waiting (depth), in flight, dead letters, the oldest message's age, and limits.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return cmd.usageError(err)
	}
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	list, err := c.Queues(ctx)
	if err != nil {
		return cmd.fail(cf.addr, err)
	}
	if cf.json {
		if err := writeJSON(stdout, list); err != nil {
			return cmd.fail(cf.addr, err)
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no queues; create one with: rivet-flow queues create NAME")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEPTH\tIN-FLIGHT\tDEAD\tOLDEST\tMAX-MESSAGES\tACK-WAIT\tMAX-DELIVERIES")
	for _, q := range list {
		var st client.QueueStats
		if q.Stats != nil {
			st = *q.Stats
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%d\n", q.Name, st.Depth, st.InFlight, st.DeadLetters, ageOf(st.OldestAgeMs),
			q.Config.MaxMessages, msDur(q.Config.AckWaitMs), q.Config.MaxDeliveries)
	}
	_ = tw.Flush()
	return 0
}

func msDur(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func ageOf(oldestMs int64) string {
	if oldestMs <= 0 {
		return "-"
	}
	return msDur(oldestMs).Round(time.Second).String()
}

func queuesGet(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues get", "NAME", "Show the queue NAME: its configuration (defaults filled in) and its counts.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	q, err := c.Queue(ctx, pos[0])
	if err != nil {
		return queueFail(cmd, cf.addr, pos[0], err)
	}
	if cf.json {
		if err := writeJSON(stdout, q); err != nil {
			return cmd.fail(cf.addr, err)
		}
		return 0
	}
	printQueue(stdout, q)
	return 0
}

// printQueue shows a queue for a person.
func printQueue(w io.Writer, q *client.Queue) {
	cfg := q.Config
	fmt.Fprintf(w, "queue              %s\n", q.Name)
	if st := q.Stats; st != nil {
		fmt.Fprintf(w, "depth              %d waiting, %d in flight, %d dead letters\n", st.Depth, st.InFlight, st.DeadLetters)
		fmt.Fprintf(w, "oldest             %s\n", ageOf(st.OldestAgeMs))
	}
	fmt.Fprintf(w, "max messages       %d\n", cfg.MaxMessages)
	fmt.Fprintf(w, "max bytes          %d\n", cfg.MaxBytes)
	fmt.Fprintf(w, "max message bytes  %d\n", cfg.MaxMessageBytes)
	fmt.Fprintf(w, "overflow           %s\n", cfg.Overflow)
	fmt.Fprintf(w, "ack wait           %s\n", msDur(cfg.AckWaitMs))
	fmt.Fprintf(w, "max deliveries     %d\n", cfg.MaxDeliveries)
	fmt.Fprintf(w, "backoff            %s\n", backoffOf(cfg.BackoffMs))
	fmt.Fprintf(w, "dedup window       %s\n", msDur(cfg.DedupWindowMs))
}

func backoffOf(b []int64) string {
	if len(b) == 0 {
		return "none (redeliver at once)"
	}
	parts := make([]string, len(b))
	for i, v := range b {
		parts[i] = msDur(v).String()
	}
	return strings.Join(parts, ",")
}

func queuesCreate(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues create", "NAME",
		"Create the queue NAME, or replace its whole configuration if it exists: a flag not given takes its default. Changes take effect at once.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	maxMessages := cmd.fs.Int64("max-messages", 0, "most messages the queue holds, waiting and in flight (server default 100000)")
	maxBytes := cmd.fs.Int64("max-bytes", 0, "most bytes the queue holds (server default 1 GiB)")
	maxMessageBytes := cmd.fs.Int("max-message-bytes", 0, "largest message body in bytes (server default 262144)")
	ackWait := cmd.fs.Duration("ack-wait", 0, "the lease of a claim: a message not acked within it is delivered again (server default 30s)")
	maxDeliveries := cmd.fs.Int("max-deliveries", 0, "deliveries before a message becomes a dead letter (server default 5)")
	backoff := cmd.fs.String("backoff", "", "delays before redelivery after a nack, per attempt, comma-separated, e.g. 1s,5s,30s (server default: none)")
	dedupWindow := cmd.fs.Duration("dedup-window", 0, "how long a --dedup-id is remembered (server default 2m)")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	set := map[string]bool{}
	cmd.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	spec := client.QueueSpec{MaxMessages: *maxMessages, MaxBytes: *maxBytes, MaxDeliveries: *maxDeliveries,
		AckWaitMs: ackWait.Milliseconds(), DedupWindowMs: dedupWindow.Milliseconds()}
	checks := []struct {
		name string
		bad  bool
		want string
	}{
		{"max-messages", *maxMessages < 1, "at least 1"},
		{"max-bytes", *maxBytes < 1, "at least 1"},
		{"max-message-bytes", *maxMessageBytes < 1 || *maxMessageBytes > 1<<31-1, "at least 1"},
		{"ack-wait", *ackWait < 100*time.Millisecond, "at least 100ms"},
		{"max-deliveries", *maxDeliveries < 1, "at least 1"},
		{"dedup-window", *dedupWindow < time.Millisecond, "at least 1ms"},
	}
	for _, ch := range checks {
		if set[ch.name] && ch.bad {
			v := cmd.fs.Lookup(ch.name).Value.String()
			return cmd.usageError(fmt.Errorf("--%s %s: want %s", ch.name, v, ch.want))
		}
	}
	spec.MaxMessageBytes = int32(*maxMessageBytes)
	if set["backoff"] && strings.TrimSpace(*backoff) != "" {
		for part := range strings.SplitSeq(*backoff, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d < 0 {
				return cmd.usageError(fmt.Errorf("--backoff %q: want durations separated by commas, e.g. 1s,5s,30s", *backoff))
			}
			spec.BackoffMs = append(spec.BackoffMs, d.Milliseconds())
		}
	}
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	q, created, err := c.PutQueue(ctx, pos[0], spec)
	if err != nil {
		return queueFail(cmd, cf.addr, pos[0], err)
	}
	if cf.json {
		if err := writeJSON(stdout, q); err != nil {
			return cmd.fail(cf.addr, err)
		}
		return 0
	}
	verb := "replaced the configuration of"
	if created {
		verb = "created"
	}
	fmt.Fprintf(stdout, "%s queue %s\n", verb, q.Name)
	printQueue(stdout, q)
	return 0
}

func queuesDelete(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues delete", "NAME", "Delete the queue NAME with its messages and dead letters.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	if err := c.DeleteQueue(ctx, pos[0]); err != nil {
		return queueFail(cmd, cf.addr, pos[0], err)
	}
	if cf.json {
		_ = writeJSON(stdout, map[string]any{"deleted": pos[0]})
		return 0
	}
	fmt.Fprintf(stdout, "deleted queue %s\n", pos[0])
	return 0
}

// sendSummary counts a bulk send.
type sendSummary struct {
	Sent       int64 `json:"sent"`
	Duplicates int64 `json:"duplicates"`
	Failed     int64 `json:"failed"`
	// FullRetries counts the enqueues retried after 429 queue_full.
	FullRetries int64 `json:"fullRetries"`
}

func queuesSend(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues send", "NAME [BODY_JSON]",
		"Enqueue one message (BODY_JSON, any JSON value), or many: --file F.jsonl (one JSON body per line, - for stdin) or --count N --body JSON. "+
			"A bulk send shows a progress bar on stderr and ends with a summary (sent, duplicates, failed); a full queue (429 queue_full) is retried after its Retry-After, for up to --full-timeout.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	dedupID := cmd.fs.String("dedup-id", "", "deduplication ID: a second send with it within the queue's dedup window adds nothing; in a bulk send, the prefix of each message's ID-N (N: its line or number, from 1)")
	file := cmd.fs.String("file", "", "send every line of this file (JSON lines; - for stdin) as a message")
	count := cmd.fs.Int("count", 0, "send --body this many times")
	body := cmd.fs.String("body", "", "the body --count sends")
	concurrency := cmd.fs.Int("concurrency", 8, "enqueues in flight at once in a bulk send")
	fullTimeout := cmd.fs.Duration("full-timeout", time.Minute, "how long one message may keep being retried while the queue is full before it counts as failed")
	pos, err := cmd.parse(args, 1, 2)
	if err != nil {
		return cmd.usageError(err)
	}
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
	}
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
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	if !bulk {
		r, err := c.Enqueue(ctx, name, bodies[0], &client.EnqueueOptions{DedupID: *dedupID})
		if err != nil {
			return queueFail(cmd, cf.addr, name, err)
		}
		if cf.json {
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
	// Check the queue first: a missing one fails once, not once per line.
	if _, err := c.Queue(ctx, name); err != nil {
		return queueFail(cmd, cf.addr, name, err)
	}
	start := time.Now()
	var sum sendSummary
	var firstErr atomic.Pointer[error]
	var bar *progress // none with --json, like projections rebuild
	if !cf.json {
		bar = newProgress(stderr, "sent", len(bodies))
	}
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(*concurrency, len(bodies)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) || ctx.Err() != nil {
					return
				}
				var opts client.EnqueueOptions
				if *dedupID != "" {
					opts.DedupID = *dedupID + "-" + strconv.Itoa(i+1)
				}
				r, err := enqueueRetrying(ctx, c, name, bodies[i], &opts, *fullTimeout, &sum.FullRetries, bar)
				switch {
				case err != nil:
					atomic.AddInt64(&sum.Failed, 1)
					firstErr.CompareAndSwap(nil, &err)
				case r.Duplicate:
					atomic.AddInt64(&sum.Duplicates, 1)
				default:
					atomic.AddInt64(&sum.Sent, 1)
				}
				bar.add(1)
			}
		})
	}
	wg.Wait()
	bar.finish()
	took := time.Since(start)
	if cf.json {
		_ = writeJSON(stdout, sum)
	} else {
		fmt.Fprintf(stdout, "queue %s: %d sent, %d duplicates, %d failed of %d in %s (%.0f/s)\n", name, sum.Sent, sum.Duplicates, sum.Failed,
			len(bodies), took.Round(time.Millisecond), float64(sum.Sent+sum.Duplicates)/max(took.Seconds(), 1e-9))
		if sum.FullRetries > 0 {
			fmt.Fprintf(stdout, "the queue was full %d times; those sends were retried after its Retry-After\n", sum.FullRetries)
		}
	}
	if ctx.Err() != nil {
		fmt.Fprintf(stderr, "rivet-flow queues send: interrupted after %d of %d\n", sum.Sent+sum.Duplicates+sum.Failed, len(bodies))
		return 1
	}
	if p := firstErr.Load(); p != nil {
		fmt.Fprintf(stderr, "rivet-flow queues send: %d failed; the first error:\n", sum.Failed)
		queueFail(cmd, cf.addr, name, *p)
		if *dedupID == "" {
			fmt.Fprintln(stderr, "  send again with --dedup-id PREFIX to skip the messages already sent")
		}
		return 1
	}
	return 0
}

// enqueueRetrying enqueues, waiting out 429 queue_full (Retry-After, else
// 1s) for up to limit; retries counts the waits.
func enqueueRetrying(ctx context.Context, c *client.Client, name string, body json.RawMessage, opts *client.EnqueueOptions,
	limit time.Duration, retries *int64, bar *progress) (*client.EnqueueResult, error) {
	deadline := time.Now().Add(limit)
	for {
		r, err := c.Enqueue(ctx, name, body, opts)
		var apiErr *client.Error
		if err == nil || !errors.As(err, &apiErr) || !apiErr.Temporary() {
			return r, err
		}
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		if time.Now().Add(wait).After(deadline) {
			return nil, err
		}
		atomic.AddInt64(retries, 1)
		bar.setNote(fmt.Sprintf("queue full: retrying in %s", wait))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
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

// progress draws an updating progress bar of a bulk operation on stderr,
// at most every 100ms. Safe for concurrent use; a nil *progress draws
// nothing.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	what  string
	total int
	done  int
	start time.Time
	last  time.Time
	note  string // shown after the counts, until the next add
	width int    // of the longest line drawn
}

func newProgress(w io.Writer, what string, total int) *progress {
	p := &progress{w: w, what: what, total: total, start: time.Now()}
	p.draw()
	return p
}

func (p *progress) add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	if p.note != "" {
		p.note = ""
		p.draw()
	}
	if time.Since(p.last) >= 100*time.Millisecond {
		p.draw()
	}
}

// atLeast raises the total to n when more came than expected.
func (p *progress) atLeast(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = max(p.total, n)
}

// setNote shows a note (such as a wait) after the counts until the next add.
func (p *progress) setNote(note string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.note = note
	p.draw()
}

// finish draws the final state and ends the line.
func (p *progress) finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	bar := []byte(strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width)))
	elapsed := time.Since(p.start)
	line := fmt.Sprintf("[%s] %3.0f%%  %d of %d %s  %.0f/s  %s", bar, frac*100, p.done, p.total, p.what,
		float64(p.done)/max(elapsed.Seconds(), 1e-9), elapsed.Round(time.Millisecond))
	if p.note != "" {
		line += "  (" + p.note + ")"
	}
	// Pad over a longer line drawn before (a note that went away).
	fmt.Fprintf(p.w, "\r%-*s", p.width, line)
	p.width = max(p.width, len(line))
	p.last = time.Now()
}

func queuesClaim(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues claim", "NAME",
		"Claim up to --max messages of the queue NAME, waiting up to --wait for a first one, and print them (JSON lines with --json). "+
			"Each stays leased for the queue's ack wait: acknowledge it with --ack, or later with: rivet-flow queues ack NAME RECEIPT; otherwise it is delivered again.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	maxN := cmd.fs.Int("max", 1, "most messages to claim (up to 1000)")
	wait := cmd.fs.Duration("wait", 0, "how long to wait for a first message when none is ready (up to 30s)")
	ack := cmd.fs.Bool("ack", false, "acknowledge the messages once printed: they leave the queue")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	if *maxN < 1 || *maxN > 1000 {
		return cmd.usageError(fmt.Errorf("--max %d: want 1 to 1000", *maxN))
	}
	if *wait < 0 || *wait > 30*time.Second {
		return cmd.usageError(fmt.Errorf("--wait %s: want 0 to 30s", *wait))
	}
	name := pos[0]
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	msgs, err := c.Claim(ctx, name, &client.ClaimOptions{Max: *maxN, Wait: *wait})
	if err != nil {
		return queueFail(cmd, cf.addr, name, err)
	}
	for _, m := range msgs {
		if cf.json {
			if err := writeJSON(stdout, m); err != nil {
				return cmd.fail(cf.addr, err)
			}
			continue
		}
		fmt.Fprintf(stdout, "message %s  attempt %d  enqueued %s\n  receipt %s\n  %s\n", m.ID, m.Attempt,
			m.EnqueuedAt.Local().Format(time.DateTime), m.Receipt, m.Body)
	}
	if len(msgs) == 0 {
		if !cf.json {
			fmt.Fprintf(stderr, "no message ready in queue %s (wait for one with --wait 5s)\n", name)
		}
		return 0
	}
	if !*ack {
		if !cf.json {
			fmt.Fprintf(stderr, "claimed %d; acknowledge with: rivet-flow queues ack %s RECEIPT... before the lease ends, or they are delivered again\n", len(msgs), name)
		}
		return 0
	}
	receipts := make([]string, len(msgs))
	for i, m := range msgs {
		receipts[i] = m.Receipt
	}
	n, err := c.Ack(ctx, name, receipts...)
	if err != nil {
		return queueFail(cmd, cf.addr, name, err)
	}
	if !cf.json {
		fmt.Fprintf(stderr, "claimed and acknowledged %d\n", n)
	}
	return 0
}

func queuesAck(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues ack", "NAME RECEIPT...", "Acknowledge claimed messages of the queue NAME by their receipts: they leave the queue. One bad receipt acknowledges none.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	pos, err := cmd.parse(args, 2, 1001)
	if err != nil {
		return cmd.usageError(err)
	}
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	n, err := c.Ack(ctx, pos[0], pos[1:]...)
	if err != nil {
		return queueFail(cmd, cf.addr, pos[0], err)
	}
	if cf.json {
		_ = writeJSON(stdout, map[string]int{"settled": n})
		return 0
	}
	fmt.Fprintf(stdout, "acknowledged %d\n", n)
	return 0
}

func queuesDeadLetters(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues dead-letters", "NAME", "List the dead letters of the queue NAME, oldest first: messages delivered max-deliveries times without an ack. Put them back with: rivet-flow queues redrive NAME.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	limit := cmd.fs.Int("limit", 100, "print at most this many")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	if *limit < 1 {
		return cmd.usageError(fmt.Errorf("--limit %d: want at least 1", *limit))
	}
	name := pos[0]
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	var list []client.QueueDeadLetter
	more := false
	for cursor := ""; ; {
		page, err := c.DeadLetters(ctx, name, &client.DeadLetterOptions{Limit: min(*limit-len(list), 1000), Cursor: cursor})
		if err != nil {
			return queueFail(cmd, cf.addr, name, err)
		}
		list = append(list, page.DeadLetters...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
		if len(list) >= *limit {
			more = true
			break
		}
	}
	if cf.json {
		for _, d := range list {
			if err := writeJSON(stdout, d); err != nil {
				return cmd.fail(cf.addr, err)
			}
		}
	} else if len(list) == 0 {
		fmt.Fprintf(stdout, "no dead letters in queue %s\n", name)
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMESSAGE\tATTEMPTS\tREASON\tDEAD-AT\tBODY")
		for _, d := range list {
			b := string(d.Body)
			if len(b) > 60 {
				b = b[:57] + "..."
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.MessageID, d.Attempts, d.Reason, d.DeadAt.Local().Format(time.DateTime), b)
		}
		_ = tw.Flush()
	}
	if more {
		fmt.Fprintf(stderr, "(showing the first %d; pass a larger --limit for more)\n", *limit)
	}
	return 0
}

// stringsFlag collects a repeatable flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// redriveBatch is how many dead letters one redrive request puts back.
const redriveBatch = 100

func queuesRedrive(args []string, stdout, stderr io.Writer) int {
	cmd := newCommand("queues redrive", "NAME (--all | --id ID ...)",
		"Put dead letters of the queue NAME back into it as new messages (attempt 1), optionally all with a new --body, in batches with a progress bar on stderr. "+
			"A full queue (429 queue_full) is waited out (Retry-After) for up to --full-timeout; the dead letters not yet redriven stay.", stderr)
	var cf clientFlags
	cf.register(cmd.fs)
	all := cmd.fs.Bool("all", false, "redrive every dead letter there is")
	var ids stringsFlag
	cmd.fs.Var(&ids, "id", "a dead letter's ID (from rivet-flow queues dead-letters NAME); repeat for several")
	body := cmd.fs.String("body", "", "a new JSON body for every redriven message (default: each keeps its own)")
	fullTimeout := cmd.fs.Duration("full-timeout", time.Minute, "how long a batch may keep being retried while the queue is full")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
	switch {
	case *all && len(ids) > 0:
		return cmd.usageError(errors.New("give --all or --id, not both"))
	case !*all && len(ids) == 0:
		return cmd.usageError(errors.New("say which dead letters: --all, or --id ID (repeatable; list them with: rivet-flow queues dead-letters NAME)"))
	case *body != "" && !json.Valid([]byte(*body)):
		return cmd.usageError(fmt.Errorf("--body %q is not valid JSON", *body))
	}
	name := pos[0]
	c, ctx, done, err := cf.session()
	if err != nil {
		return cmd.usageError(err)
	}
	defer done()
	var newBody json.RawMessage
	if *body != "" {
		newBody = json.RawMessage(*body)
	}
	total := len(ids)
	if *all {
		q, err := c.Queue(ctx, name)
		if err != nil {
			return queueFail(cmd, cf.addr, name, err)
		}
		if q.Stats != nil {
			total = int(q.Stats.DeadLetters)
		}
	}
	start := time.Now()
	var redriven, processed int
	var missing []string
	var bar *progress
	if !cf.json && total > 0 {
		bar = newProgress(stderr, "dead letters", total)
	}
	// redrive puts back one batch. A full queue stops a batch part way: the
	// IDs redriven before it show as missing when the batch is retried, and
	// count as redriven when they were listed as dead letters just before
	// (--all).
	redrive := func(batch []string) error {
		deadline := time.Now().Add(*fullTimeout)
		for retried := false; ; retried = true {
			r, err := c.Redrive(ctx, name, client.RedriveOptions{IDs: batch, Body: newBody})
			var apiErr *client.Error
			if err != nil && errors.As(err, &apiErr) && apiErr.Temporary() {
				wait := apiErr.RetryAfter
				if wait <= 0 {
					wait = time.Second
				}
				if time.Now().Add(wait).Before(deadline) {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(wait):
					}
					continue
				}
			}
			if err != nil {
				return err
			}
			redriven += r.Redriven
			if retried && *all {
				redriven += len(r.Missing)
			} else {
				missing = append(missing, r.Missing...)
			}
			processed += len(batch)
			bar.add(len(batch))
			return nil
		}
	}
	if *all {
		for cursor := ""; ; {
			page, err := c.DeadLetters(ctx, name, &client.DeadLetterOptions{Limit: redriveBatch, Cursor: cursor})
			if err == nil && len(page.DeadLetters) > 0 {
				batch := make([]string, len(page.DeadLetters))
				for i, d := range page.DeadLetters {
					batch[i] = d.ID
				}
				err = redrive(batch)
			}
			if err != nil {
				return redriveFail(cmd, cf.addr, name, bar, redriven, err)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
			bar.atLeast(processed) // dead letters that came meanwhile
		}
	} else {
		for i := 0; i < len(ids); i += redriveBatch {
			if err := redrive(ids[i:min(i+redriveBatch, len(ids))]); err != nil {
				return redriveFail(cmd, cf.addr, name, bar, redriven, err)
			}
		}
	}
	bar.finish()
	if cf.json {
		out := client.RedriveResult{Redriven: redriven, Missing: missing}
		_ = writeJSON(stdout, out)
		return 0
	}
	if redriven == 0 && len(missing) == 0 {
		fmt.Fprintf(stdout, "no dead letters to redrive in queue %s\n", name)
		return 0
	}
	fmt.Fprintf(stdout, "redrove %d dead letters into queue %s in %s\n", redriven, name, time.Since(start).Round(time.Millisecond))
	if len(missing) > 0 {
		fmt.Fprintf(stdout, "not dead letters (already redriven, purged, or wrong ID): %s\n", strings.Join(missing, " "))
	}
	return 0
}

func redriveFail(cmd *command, addr, name string, bar *progress, redriven int, err error) int {
	bar.finish()
	fmt.Fprintf(cmd.stderr, "rivet-flow queues redrive: stopped after redriving %d; the rest are still dead letters\n", redriven)
	return queueFail(cmd, addr, name, err)
}
