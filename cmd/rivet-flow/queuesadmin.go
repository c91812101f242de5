package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rivet-flow/rivet-flow/client"
)

// The queue commands that change a queue's configuration or its messages
// in bulk (create's and update's flags, update, history, purge), and settle
// deliveries other than by ack (nack, extend).

// msFlag is a duration flag in milliseconds: "500" is 500ms, and a Go
// duration ("2s", "1m30s") is taken too.
type msFlag struct {
	ms  int64
	set bool
}

func (f *msFlag) String() string {
	if f == nil || !f.set {
		return ""
	}
	return strconv.FormatInt(f.ms, 10)
}

func (f *msFlag) Set(v string) error {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		f.ms, f.set = n, true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return errors.New("want milliseconds (500) or a duration (2s)")
	}
	f.ms, f.set = d.Milliseconds(), true
	return nil
}

func (f *msFlag) Type() string { return "ms" }

func (f *msFlag) duration() time.Duration { return time.Duration(f.ms) * time.Millisecond }

// checkUpTo12h checks a lease or a delay, the flag --name: 0 to 12h.
func (f *msFlag) checkUpTo12h(name string) error {
	if f.ms < 0 || f.ms > 12*3600*1000 {
		return fmt.Errorf("--%s %d: want 0 to 43200000 (12h)", name, f.ms)
	}
	return nil
}

// queueConfigFlags are the configuration flags of create (a flag not given
// takes its default) and update (a flag not given keeps its value).
type queueConfigFlags struct {
	fs              *pflag.FlagSet
	maxMessages     *int64
	maxBytes        *int64
	maxMessageBytes *int
	overflow        *string
	blockMs         msFlag
	ackWait         *time.Duration
	maxDeliveries   *int
	backoff         *string
	backoffJitter   *float64
	dedupWindow     *time.Duration
	concurrency     *int
	rate            *float64
	deliverTo       *string
}

func (f *queueConfigFlags) register(fs *pflag.FlagSet) {
	f.fs = fs
	f.maxMessages = fs.Int64("max-messages", 0, "most messages the queue holds, waiting and in flight (server default 100000)")
	f.maxBytes = sizeFlag(fs, "max-bytes", int64(0), "most bytes the queue holds (server default 1 GiB)")
	f.maxMessageBytes = sizeFlag(fs, "max-message-bytes", 0, "largest message body (256KiB or bytes; server default 262144)")
	f.overflow = fs.String("overflow", "", "what a send into a full queue gets: reject (429 queue_full at once) or block (it waits up to --block-ms for room) (server default reject)")
	fs.Var(&f.blockMs, "block-ms", "with --overflow block, how long a send waits for room: milliseconds or a duration, up to 30s (server default 5000)")
	f.ackWait = fs.Duration("ack-wait", 0, "the lease of a claim: a message not acked within it is delivered again (server default 30s)")
	f.maxDeliveries = fs.Int("max-deliveries", 0, "deliveries before a message becomes a dead letter (server default 5)")
	f.backoff = fs.String("backoff", "", "delays before redelivery after a nack, per attempt, comma-separated, e.g. 1s,5s,30s; none: at once (server default: none)")
	f.backoffJitter = fs.Float64("backoff-jitter", 0, "spread each backoff delay at random over delay×(1±j), 0 to 1, e.g. 0.2 (server default 0: exact)")
	f.dedupWindow = fs.Duration("dedup-window", 0, "how long a --dedup-id is remembered (server default 2m)")
	f.concurrency = fs.Int("concurrency", 0, "most messages ready or in flight at once, across every worker; 0: no bound (server default 0)")
	f.rate = fs.Float64("rate", 0, "most messages made ready per second, across every worker (0.5: one every 2s); 0: no bound (server default 0)")
	f.deliverTo = fs.String("deliver-to", "", `deliver every message to an actor action instead of waiting for claims: '{"type":"order","keyFrom":"/orderId","action":"process"}'; null: none`)
}

// parsed checks the flags that were given and returns their names.
func (f *queueConfigFlags) parsed() (map[string]bool, error) {
	set := map[string]bool{}
	f.fs.Visit(func(fl *pflag.Flag) { set[fl.Name] = true })
	checks := []struct {
		name string
		bad  bool
		want string
	}{
		{"max-messages", *f.maxMessages < 1, "at least 1"},
		{"max-bytes", *f.maxBytes < 1, "at least 1"},
		{"max-message-bytes", *f.maxMessageBytes < 1 || *f.maxMessageBytes > 1<<31-1, "at least 1"},
		{"overflow", *f.overflow != client.OverflowReject && *f.overflow != client.OverflowBlock, "reject or block"},
		{"block-ms", f.blockMs.ms < 1 || f.blockMs.ms > 30_000, "1 to 30000 (30s)"},
		{"ack-wait", *f.ackWait < 100*time.Millisecond, "at least 100ms"},
		{"max-deliveries", *f.maxDeliveries < 1, "at least 1"},
		{"dedup-window", *f.dedupWindow < time.Millisecond, "at least 1ms"},
		{"concurrency", *f.concurrency < 0, "0 (no bound) or more"},
		{"rate", *f.rate < 0 || *f.rate != *f.rate, "0 (no bound) or more"},
	}
	for _, ch := range checks {
		if set[ch.name] && ch.bad {
			v := f.fs.Lookup(ch.name).Value.String()
			return nil, fmt.Errorf("--%s %s: want %s", ch.name, v, ch.want)
		}
	}
	return set, nil
}

// backoffMs parses --backoff ("" and none: no backoff).
func (f *queueConfigFlags) backoffMs() ([]int64, error) {
	out := []int64{}
	if v := strings.TrimSpace(*f.backoff); v == "" || v == "none" {
		return out, nil
	}
	for part := range strings.SplitSeq(*f.backoff, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--backoff %q: want durations separated by commas, e.g. 1s,5s,30s", *f.backoff)
		}
		out = append(out, d.Milliseconds())
	}
	return out, nil
}

// deliverToValue parses --deliver-to: nil for null, none or "".
func (f *queueConfigFlags) deliverToValue() (*client.QueueDeliverTo, error) {
	v := strings.TrimSpace(*f.deliverTo)
	if v == "" || v == "null" || v == "none" {
		return nil, nil
	}
	var d client.QueueDeliverTo
	dec := json.NewDecoder(strings.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil || d.Type == "" || d.Action == "" {
		return nil, fmt.Errorf(`--deliver-to %q: want '{"type":"order","keyFrom":"/orderId","action":"process"}' (type and action required) or null`, v)
	}
	return &d, nil
}

// spec is the whole configuration for create.
func (f *queueConfigFlags) spec() (client.QueueSpec, error) {
	set, err := f.parsed()
	if err != nil {
		return client.QueueSpec{}, err
	}
	spec := client.QueueSpec{MaxMessages: *f.maxMessages, MaxBytes: *f.maxBytes, MaxMessageBytes: int32(*f.maxMessageBytes), Overflow: *f.overflow,
		BlockMs: f.blockMs.ms, AckWaitMs: f.ackWait.Milliseconds(), MaxDeliveries: *f.maxDeliveries, DedupWindowMs: f.dedupWindow.Milliseconds(),
		Concurrency: *f.concurrency, RatePerSecond: *f.rate, BackoffJitter: *f.backoffJitter}
	if set["backoff"] {
		if spec.BackoffMs, err = f.backoffMs(); err != nil {
			return spec, err
		}
	}
	spec.DeliverTo, err = f.deliverToValue()
	return spec, err
}

// patch is the fields given, for update.
func (f *queueConfigFlags) patch() (client.QueuePatch, error) {
	set, err := f.parsed()
	if err != nil {
		return client.QueuePatch{}, err
	}
	var p client.QueuePatch
	if set["max-messages"] {
		p.MaxMessages = f.maxMessages
	}
	if set["max-bytes"] {
		p.MaxBytes = f.maxBytes
	}
	if set["max-message-bytes"] {
		n := int32(*f.maxMessageBytes)
		p.MaxMessageBytes = &n
	}
	if set["overflow"] {
		p.Overflow = f.overflow
	}
	if set["block-ms"] {
		p.BlockMs = &f.blockMs.ms
	}
	if set["ack-wait"] {
		n := f.ackWait.Milliseconds()
		p.AckWaitMs = &n
	}
	if set["max-deliveries"] {
		p.MaxDeliveries = f.maxDeliveries
	}
	if set["backoff"] {
		b, err := f.backoffMs()
		if err != nil {
			return p, err
		}
		p.BackoffMs = &b
	}
	if set["backoff-jitter"] {
		p.BackoffJitter = f.backoffJitter
	}
	if set["dedup-window"] {
		n := f.dedupWindow.Milliseconds()
		p.DedupWindowMs = &n
	}
	if set["concurrency"] {
		p.Concurrency = f.concurrency
	}
	if set["rate"] {
		p.RatePerSecond = f.rate
	}
	if set["deliver-to"] {
		if p.DeliverTo, err = f.deliverToValue(); err != nil {
			return p, err
		}
		p.ClearDeliverTo = p.DeliverTo == nil
	}
	if onlyClientFlags(set) {
		return p, errors.New("give at least one field to change, e.g. --max-messages 1000 (see --help)")
	}
	return p, nil
}

// onlyClientFlags reports whether set names no configuration flag (true
// for none at all).
func onlyClientFlags(set map[string]bool) bool {
	for name := range set {
		if name != "addr" && name != "token" && name != "json" {
			return false
		}
	}
	return true
}

func queuesUpdate(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues update", "NAME --FIELD VALUE...",
		"Change some of the configuration of the queue NAME: only the flags given (--deliver-to null removes the actor binding). "+
			"The change takes effect at once and is recorded: see rivet-flow queues history NAME.", stderr)
	var qf queueConfigFlags
	qf.register(cmd.fs)
	return cmd.leaf(1, 1, func(pos []string) int {
		patch, err := qf.patch()
		if err != nil {
			return cmd.usageError(err)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			q, err := c.UpdateQueue(ctx, pos[0], patch)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, q)
			}
			fmt.Fprintf(stdout, "updated queue %s\n", q.Name)
			printQueue(stdout, q)
			return 0
		})
	})
}

func queuesHistory(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues history", "NAME",
		"List the configuration changes of the queue NAME, newest first: when, what (created, replaced, updated, deleted) and which fields. "+
			"The last 100 are kept, also after the queue is deleted.", stderr)
	limit := cmd.fs.Int("limit", 20, "print at most this many (up to 100)")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *limit < 1 || *limit > 100 {
			return cmd.usageError(fmt.Errorf("--limit %d: want 1 to 100", *limit))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			changes, err := c.QueueHistory(ctx, pos[0], *limit)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return printJSONLines(cmd, stdout, changes)
			}
			if len(changes) == 0 {
				fmt.Fprintf(stdout, "no recorded changes of queue %s\n", pos[0])
				return 0
			}
			printTable(stdout, "AT\tKIND\tFIELDS", changes, func(w io.Writer, ch client.QueueChange) {
				fields := strings.Join(ch.Fields, ",")
				if fields == "" {
					fields = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\n", ch.At.Local().Format(time.DateTime), ch.Kind, fields)
			})
			return 0
		})
	})
}

func queuesPurge(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues purge", "NAME",
		"Delete every message of the queue NAME that is waiting, delayed or in flight (their receipts stop working). "+
			"The queue and its dead letters stay (purge those with DELETE /v1/queues/NAME/dead-letters).", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			n, err := c.PurgeQueue(ctx, pos[0])
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]uint64{"purged": n})
				return 0
			}
			fmt.Fprintf(stdout, "purged %d messages from queue %s (dead letters kept)\n", n, pos[0])
			return 0
		})
	})
}

func queuesNack(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues nack", "NAME RECEIPT...",
		"Give claimed messages of the queue NAME back for redelivery: after --delay-ms, else after the queue's backoff for the attempt (at once without one). "+
			"One bad receipt releases none.", stderr)
	var delay msFlag
	cmd.fs.Var(&delay, "delay-ms", "redeliver after this long: milliseconds or a duration, up to 12h (default: the queue's backoff)")
	return cmd.leaf(2, 1001, func(pos []string) int {
		if err := delay.checkUpTo12h("delay-ms"); err != nil {
			return cmd.usageError(err)
		}
		var opts client.NackOptions
		if delay.set {
			d := delay.duration()
			opts.Delay = &d
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			n, err := c.Nack(ctx, pos[0], pos[1:], &opts)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			return printSettled(cmd, stdout, n, "released %d for redelivery\n")
		})
	})
}

func queuesExtend(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues extend", "NAME RECEIPT...",
		"Renew the leases of claimed messages of the queue NAME: each is good for --lease-ms from now (default the queue's ack wait). One bad receipt renews none.", stderr)
	var lease msFlag
	cmd.fs.Var(&lease, "lease-ms", "the new lease: milliseconds or a duration, up to 12h (default: the queue's ack wait)")
	return cmd.leaf(2, 1001, func(pos []string) int {
		if err := lease.checkUpTo12h("lease-ms"); err != nil {
			return cmd.usageError(err)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			n, err := c.ExtendLease(ctx, pos[0], lease.duration(), pos[1:]...)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			return printSettled(cmd, stdout, n, "extended %d\n")
		})
	})
}

// printSettled ends ack, nack and extend: the count of deliveries settled,
// as JSON or in the line format.
func printSettled(cmd *clientCommand, stdout io.Writer, n int, format string) int {
	if cmd.cf.json {
		_ = writeJSON(stdout, map[string]int{"settled": n})
		return 0
	}
	fmt.Fprintf(stdout, format, n)
	return 0
}
