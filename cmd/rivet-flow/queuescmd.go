package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// queuesCommand is `rivet-flow queues ...`.
func queuesCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("queues <command>", "list, get, create, update, send, claim, ack, nack, extend, purge, history, dead-letters and redrive durable queues",
		"Every command takes --addr (default "+defaultAddr+", or RIVETFLOW_ADDR), --token (or RIVETFLOW_API_TOKEN) and --json.", stderr,
		withAliases(queuesList(stdout, stderr), "ls"),
		queuesGet(stdout, stderr),
		queuesCreate(stdout, stderr),
		queuesUpdate(stdout, stderr),
		queuesHistory(stdout, stderr),
		withAliases(queuesDelete(stdout, stderr), "rm"),
		queuesPurge(stdout, stderr),
		queuesSend(stdout, stderr),
		queuesClaim(stdout, stderr),
		queuesAck(stdout, stderr),
		queuesNack(stdout, stderr),
		queuesExtend(stdout, stderr),
		queuesDeadLetters(stdout, stderr),
		queuesRedrive(stdout, stderr),
	)
}

// queueFail prints err with what to do about it for the queue name (as
// one JSON object with --json), and returns exit code 1.
func queueFail(cmd *clientCommand, name string, err error) int {
	return cmd.failHinted(err, func(_ reporter, e *client.Error) string {
		switch e.Code {
		case client.CodeQueueNotFound:
			return "no queue named " + name + ": list them with: rivet-flow queues list, or create it with: rivet-flow queues create " + name
		case client.CodeQueueFull:
			return "the queue is full: retry later, claim and ack messages, or raise its limit with: rivet-flow queues update " + name + " --max-messages N"
		case client.CodeMessageTooLarge:
			return "send a smaller body, or raise the queue's limit with: rivet-flow queues update " + name + " --max-message-bytes N"
		case client.CodeInvalidReceipt:
			return "the receipt is not of a delivery still in flight (acknowledged, redelivered after its lease, or dead-lettered): claim again with: rivet-flow queues claim " + name
		case client.CodeInvalidRequest:
			return "check the flags and arguments: see rivet-flow " + cmd.name + " --help"
		}
		return ""
	})
}

func queuesList(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues list", "", "List the server's queues by name: messages waiting (depth), in flight, dead letters, the oldest message's age, and limits.", stderr)
	return cmd.leaf(0, 0, func(_ []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			list, err := c.Queues(ctx)
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, list)
			}
			if len(list) == 0 {
				fmt.Fprintln(stdout, "no queues; create one with: rivet-flow queues create NAME")
				return 0
			}
			printTable(stdout, "NAME\tDEPTH\tIN-FLIGHT\tDEAD\tOLDEST\tMAX-MESSAGES\tACK-WAIT\tMAX-DELIVERIES", list, func(w io.Writer, q client.Queue) {
				var st client.QueueStats
				if q.Stats != nil {
					st = *q.Stats
				}
				fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\t%d\t%s\t%d\n", q.Name, st.Depth, st.InFlight, st.DeadLetters, ageOf(st.OldestAgeMs),
					q.Config.MaxMessages, msDur(q.Config.AckWaitMs), q.Config.MaxDeliveries)
			})
			return 0
		})
	})
}

func msDur(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

func ageOf(oldestMs int64) string {
	if oldestMs <= 0 {
		return "-"
	}
	return msDur(oldestMs).Round(time.Second).String()
}

func queuesGet(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues get", "NAME", "Show the queue NAME: its configuration (defaults filled in) and its counts.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			q, err := c.Queue(ctx, pos[0])
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, q)
			}
			printQueue(stdout, q)
			return 0
		})
	})
}

// printQueue shows a queue for a person.
func printQueue(w io.Writer, q *client.Queue) {
	cfg := q.Config
	fmt.Fprintf(w, "queue              %s\n", q.Name)
	if st := q.Stats; st != nil {
		fmt.Fprintf(w, "depth              %d waiting, %d in flight, %d dead letters\n", st.Depth, st.InFlight, st.DeadLetters)
		fmt.Fprintf(w, "oldest             %s\n", ageOf(st.OldestAgeMs))
		fmt.Fprintf(w, "delayed            %d\n", st.Delayed)
		fmt.Fprintf(w, "rates              %.2f enqueued/s, %.2f acked/s (last minute)\n", st.EnqueuedPerSec, st.AckedPerSec)
	}
	fmt.Fprintf(w, "max messages       %d\n", cfg.MaxMessages)
	fmt.Fprintf(w, "max bytes          %d\n", cfg.MaxBytes)
	fmt.Fprintf(w, "max message bytes  %d\n", cfg.MaxMessageBytes)
	if cfg.Overflow == client.OverflowBlock {
		fmt.Fprintf(w, "overflow           block (a send waits up to %s for room)\n", msDur(cfg.BlockMs))
	} else {
		fmt.Fprintf(w, "overflow           %s\n", cfg.Overflow)
	}
	fmt.Fprintf(w, "ack wait           %s\n", msDur(cfg.AckWaitMs))
	fmt.Fprintf(w, "max deliveries     %d\n", cfg.MaxDeliveries)
	fmt.Fprintf(w, "backoff            %s\n", backoffOf(cfg.BackoffMs))
	fmt.Fprintf(w, "dedup window       %s\n", msDur(cfg.DedupWindowMs))
	fmt.Fprintf(w, "concurrency        %s\n", boundOf(float64(cfg.Concurrency), ""))
	fmt.Fprintf(w, "rate               %s\n", boundOf(cfg.RatePerSecond, "/s"))
	if d := cfg.DeliverTo; d != nil {
		fmt.Fprintf(w, "deliver to         actor %s, action %s, key from %s\n", d.Type, d.Action, cmp.Or(d.KeyFrom, "(none)"))
	}
}

// boundOf shows a limit where 0 means none.
func boundOf(v float64, unit string) string {
	if v == 0 {
		return "no bound"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + unit
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

func queuesCreate(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues create", "NAME",
		"Create the queue NAME, or replace its whole configuration if it exists: a flag not given takes its default. Changes take effect at once.", stderr)
	var qf queueConfigFlags
	qf.register(cmd.fs)
	return cmd.leaf(1, 1, func(pos []string) int {
		spec, err := qf.spec()
		if err != nil {
			return cmd.usageError(err)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			q, created, err := c.PutQueue(ctx, pos[0], spec)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, q)
			}
			verb := "replaced the configuration of"
			if created {
				verb = "created"
			}
			fmt.Fprintf(stdout, "%s queue %s\n", verb, q.Name)
			printQueue(stdout, q)
			return 0
		})
	})
}

func queuesDelete(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues delete", "NAME", "Delete the queue NAME with its messages and dead letters.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			if err := c.DeleteQueue(ctx, pos[0]); err != nil {
				return queueFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]any{"deleted": pos[0]})
				return 0
			}
			fmt.Fprintf(stdout, "deleted queue %s\n", pos[0])
			return 0
		})
	})
}

func queuesClaim(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues claim", "NAME",
		"Claim up to --max messages of the queue NAME, waiting up to --wait for a first one, and print them (JSON lines with --json). "+
			"Each stays leased for the queue's ack wait: acknowledge it with --ack, or later with: rivet-flow queues ack NAME RECEIPT; otherwise it is delivered again.", stderr)
	maxN := cmd.fs.Int("max", 1, "most messages to claim (up to 1000)")
	wait := cmd.fs.Duration("wait", 0, "how long to wait for a first message when none is ready (up to 30s)")
	var lease msFlag
	cmd.fs.Var(&lease, "lease-ms", "the claim's lease instead of the queue's ack wait: milliseconds or a duration, up to 12h")
	ack := cmd.fs.Bool("ack", false, "acknowledge the messages once printed: they leave the queue")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *maxN < 1 || *maxN > 1000 {
			return cmd.usageError(fmt.Errorf("--max %d: want 1 to 1000", *maxN))
		}
		if *wait < 0 || *wait > 30*time.Second {
			return cmd.usageError(fmt.Errorf("--wait %s: want 0 to 30s", *wait))
		}
		if err := lease.checkUpTo12h("lease-ms"); err != nil {
			return cmd.usageError(err)
		}
		name := pos[0]
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			msgs, err := c.Claim(ctx, name, &client.ClaimOptions{Max: *maxN, Wait: *wait, Lease: lease.duration()})
			if err != nil {
				return queueFail(cmd, name, err)
			}
			if cmd.cf.json {
				if code := printJSONLines(cmd, stdout, msgs); code != 0 {
					return code
				}
			} else {
				for _, m := range msgs {
					key := ""
					if m.Key != "" {
						key = "  key " + m.Key
					}
					fmt.Fprintf(stdout, "message %s  attempt %d  priority %d%s  enqueued %s\n  receipt %s\n  %s\n", m.ID, m.Attempt, m.Priority, key,
						m.EnqueuedAt.Local().Format(time.DateTime), m.Receipt, m.Body)
				}
			}
			if len(msgs) == 0 {
				if !cmd.cf.json {
					fmt.Fprintf(stderr, "no message ready in queue %s (wait for one with --wait 5s)\n", name)
				}
				return 0
			}
			if !*ack {
				if !cmd.cf.json {
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
				return queueFail(cmd, name, err)
			}
			if !cmd.cf.json {
				fmt.Fprintf(stderr, "claimed and acknowledged %d\n", n)
			}
			return 0
		})
	})
}

func queuesAck(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues ack", "NAME RECEIPT...", "Acknowledge claimed messages of the queue NAME by their receipts: they leave the queue. One bad receipt acknowledges none.", stderr)
	return cmd.leaf(2, 1001, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			n, err := c.Ack(ctx, pos[0], pos[1:]...)
			if err != nil {
				return queueFail(cmd, pos[0], err)
			}
			return printSettled(cmd, stdout, n, "acknowledged %d\n")
		})
	})
}

func queuesDeadLetters(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues dead-letters", "NAME", "List the dead letters of the queue NAME, oldest first: messages delivered max-deliveries times without an ack. Put them back with: rivet-flow queues redrive NAME.", stderr)
	limit := cmd.fs.Int("limit", 100, "print at most this many")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *limit < 1 {
			return cmd.usageError(fmt.Errorf("--limit %d: want at least 1", *limit))
		}
		name := pos[0]
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			var list []client.QueueDeadLetter
			more := false
			for cursor := ""; ; {
				page, err := c.DeadLetters(ctx, name, &client.DeadLetterOptions{Limit: min(*limit-len(list), 1000), Cursor: cursor})
				if err != nil {
					return queueFail(cmd, name, err)
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
			switch {
			case cmd.cf.json:
				if code := printJSONLines(cmd, stdout, list); code != 0 {
					return code
				}
			case len(list) == 0:
				fmt.Fprintf(stdout, "no dead letters in queue %s\n", name)
			default:
				printTable(stdout, "ID\tMESSAGE\tATTEMPTS\tREASON\tDEAD-AT\tBODY", list, func(w io.Writer, d client.QueueDeadLetter) {
					b := string(d.Body)
					if len(b) > 60 {
						b = b[:57] + "..."
					}
					fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.MessageID, d.Attempts, d.Reason, d.DeadAt.Local().Format(time.DateTime), b)
				})
			}
			if more {
				printMoreHint(stderr, *limit)
			}
			return 0
		})
	})
}

// redriveBatch is how many dead letters one redrive request puts back.
const redriveBatch = 100

func queuesRedrive(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("queues redrive", "NAME (--all | --id ID ...)",
		"Put dead letters of the queue NAME back into it as new messages (attempt 1), optionally all with a new --body, in batches with a progress bar on stderr. "+
			"A full queue (429 queue_full) is waited out (Retry-After) for up to --full-timeout; the dead letters not yet redriven stay.", stderr)
	all := cmd.fs.Bool("all", false, "redrive every dead letter there is")
	var ids stringList
	cmd.fs.Var(&ids, "id", "a dead letter's ID (from rivet-flow queues dead-letters NAME); repeat for several")
	body := cmd.fs.String("body", "", "a new JSON body for every redriven message (default: each keeps its own)")
	fullTimeout := cmd.fs.Duration("full-timeout", time.Minute, "how long a batch may keep being retried while the queue is full")
	return cmd.leaf(1, 1, func(pos []string) int {
		switch {
		case *all && len(ids) > 0:
			return cmd.usageError(errors.New("give --all or --id, not both"))
		case !*all && len(ids) == 0:
			return cmd.usageError(errors.New("say which dead letters: --all, or --id ID (repeatable; list them with: rivet-flow queues dead-letters NAME)"))
		case *body != "" && !json.Valid([]byte(*body)):
			return cmd.usageError(fmt.Errorf("--body %q is not valid JSON", *body))
		}
		name := pos[0]
		var newBody json.RawMessage
		if *body != "" {
			newBody = json.RawMessage(*body)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			total := len(ids)
			if *all {
				q, err := c.Queue(ctx, name)
				if err != nil {
					return queueFail(cmd, name, err)
				}
				if q.Stats != nil {
					total = int(q.Stats.DeadLetters)
				}
			}
			start := time.Now()
			var redriven, processed int
			var missing []string
			var bar *progress
			if !cmd.cf.json && total > 0 {
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
						return redriveFail(cmd, stdout, name, bar, client.RedriveResult{Redriven: redriven, Missing: missing}, err)
					}
					if cursor = page.NextCursor; cursor == "" {
						break
					}
					bar.atLeast(processed) // dead letters that came meanwhile
				}
			} else {
				for i := 0; i < len(ids); i += redriveBatch {
					if err := redrive(ids[i:min(i+redriveBatch, len(ids))]); err != nil {
						return redriveFail(cmd, stdout, name, bar, client.RedriveResult{Redriven: redriven, Missing: missing}, err)
					}
				}
			}
			bar.finish()
			if cmd.cf.json {
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
		})
	})
}

// redriveFail says how far a redrive got before err, then err: with
// --json, what was done goes to stdout as the redrive's result (when
// anything was) and stderr holds only the error object.
func redriveFail(cmd *clientCommand, stdout io.Writer, name string, bar *progress, done client.RedriveResult, err error) int {
	bar.finish()
	switch {
	case !cmd.cf.json:
		fmt.Fprintf(cmd.stderr, "rivet-flow queues redrive: stopped after redriving %d; the rest are still dead letters\n", done.Redriven)
	case done.Redriven > 0 || len(done.Missing) > 0:
		_ = writeJSON(stdout, done)
	}
	return queueFail(cmd, name, err)
}
