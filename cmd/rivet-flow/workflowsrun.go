package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// The commands on one run beyond start, get and signal: events, cancel,
// pause, resume.

// errLimit ends an events listing at --limit.
var errLimit = errors.New("limit reached")

func workflowsEvents(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows events", "NAME RUN_ID", "Show the events of run RUN_ID of workflow NAME, oldest first, straight from the log: "+
		"its create, each journaled call ($wf: the op, the entry and the run's status after it), signals, timers and controls. "+
		"--follow keeps printing new events as they are appended, until the run finishes (or Ctrl-C).", stderr)
	after := cmd.fs.Uint64("after", 0, "show the events after this log sequence (0: from the run's start)")
	limit := cmd.fs.Int("limit", 1000, "show at most this many events (without --follow)")
	follow := cmd.fs.Bool("follow", false, "keep printing new events until the run finishes")
	return cmd.leaf(2, 2, func(pos []string) int {
		if *limit < 1 {
			return cmd.usageError(fmt.Errorf("--limit %d: want 1 or more", *limit))
		}
		name, runID := pos[0], pos[1]
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			seen := 0
			var last uint64
			show := func(ev client.Event) error {
				if !*follow && seen == *limit {
					return errLimit
				}
				if seen == 0 && !cmd.cf.json {
					fmt.Fprintf(stdout, "%-8s %-23s %s\n", "SEQ", "TIME (UTC)", "EVENT")
				}
				seen, last = seen+1, ev.Seq
				if cmd.cf.json {
					return writeJSON(stdout, ev)
				}
				_, err := fmt.Fprintf(stdout, "%-8d %-23s %s\n", ev.Seq, ev.Time.UTC().Format("2006-01-02 15:04:05.000"), describeRunEvent(ev))
				return err
			}
			if *follow {
				err := c.FollowRun(ctx, name, runID, *after, show)
				switch {
				case err == nil:
					if !cmd.cf.json {
						if run, err := c.Run(ctx, name, runID); err == nil {
							fmt.Fprintf(stderr, "run %s of %s is %s\n", runID, name, runStatus(*run))
						}
					}
					return 0
				case ctx.Err() != nil:
					return 0 // interrupted
				case errors.Is(err, client.ErrStreamClosed):
					return cmd.fail(streamClosed{resume: fmt.Sprintf("rivet-flow workflows events %s %s --follow --after %d", name, runID, last)})
				}
				return workflowFail(cmd, name, err)
			}
			for cursor := *after; ; {
				page, err := c.RunEvents(ctx, name, runID, &client.EventsOptions{After: cursor, Limit: min(*limit, 1000)})
				if err != nil {
					return workflowFail(cmd, name, err)
				}
				for _, ev := range page.Events {
					if err := show(ev); errors.Is(err, errLimit) {
						if !cmd.cf.json {
							fmt.Fprintf(stdout, "(showing %d events; see the next ones with --after %d)\n", seen, last)
						}
						return 0
					} else if err != nil {
						return cmd.fail(err)
					}
				}
				if cursor = page.NextAfter; cursor == 0 {
					break
				}
			}
			if seen == 0 && !cmd.cf.json {
				fmt.Fprintf(stdout, "no events after %d; follow new ones with --follow\n", *after)
			}
			return 0
		})
	})
}

// describeRunEvent is a run's event in a few words: "create, input
// {...}", "$wf step plan -> running", "signal [...] -> {...}" (no patch:
// the journal is what a reader of a run wants).
func describeRunEvent(ev client.Event) string {
	if ev.Kind == "create" && len(ev.Args) > 0 {
		return "create, input " + truncate(string(ev.Args), 100)
	}
	if ev.Kind != "system" || len(ev.Args) == 0 {
		s := describe(client.Event{Kind: ev.Kind, Action: ev.Action, Args: ev.Args, Output: ev.Output, Generation: ev.Generation})
		if ev.Kind == "system" {
			s += " " + ev.Action
		}
		return s
	}
	var a struct {
		Op     string `json:"op"`
		Entry  string `json:"entry"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ev.Args, &a); err != nil || a.Op == "" {
		return ev.Action + " " + truncate(string(ev.Args), 100)
	}
	parts := []string{ev.Action, a.Op}
	if a.Entry != "" {
		parts = append(parts, a.Entry)
	}
	s := strings.Join(parts, " ")
	if a.Status != "" {
		s += " -> " + a.Status
	}
	return s
}

func workflowsCancel(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows cancel", "NAME RUN_ID", "Cancel run RUN_ID of workflow NAME: the compensations of its completed steps run in reverse order, "+
		"then it ends cancelled (follow it with rivet-flow workflows get). A paused run resumes to compensate.", stderr)
	reason := cmd.fs.String("reason", "", "why the run is cancelled (recorded in its events)")
	return cmd.leaf(2, 2, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			res, err := c.CancelRun(ctx, pos[0], pos[1], *reason)
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, res)
			}
			if res.Changed {
				fmt.Fprintf(stdout, "cancelling run %s of %s (%s); see it with: rivet-flow workflows get %s %s\n", pos[1], pos[0], res.Status, pos[0], pos[1])
			} else {
				fmt.Fprintf(stdout, "run %s of %s is already being cancelled (%s)\n", pos[1], pos[0], res.Status)
			}
			return 0
		})
	})
}

func workflowsPause(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows pause", "NAME RUN_ID", "Pause run RUN_ID of workflow NAME: its timers stop (keeping the time they had left) and it stops at its next journaled call. "+
		"Signals are still kept. Resume it with rivet-flow workflows resume.", stderr)
	return cmd.leaf(2, 2, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			res, err := c.PauseRun(ctx, pos[0], pos[1])
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, res)
			}
			if res.Changed {
				fmt.Fprintf(stdout, "paused run %s of %s; resume it with: rivet-flow workflows resume %s %s\n", pos[1], pos[0], pos[0], pos[1])
			} else {
				fmt.Fprintf(stdout, "run %s of %s is already %s\n", pos[1], pos[0], res.Status)
			}
			return 0
		})
	})
}

func workflowsResume(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows resume", "NAME RUN_ID", "Resume paused run RUN_ID of workflow NAME: its timers are re-armed for the time they had left and it runs again.", stderr)
	return cmd.leaf(2, 2, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			res, err := c.ResumeRun(ctx, pos[0], pos[1])
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, res)
			}
			if res.Changed {
				fmt.Fprintf(stdout, "resumed run %s of %s (%s)\n", pos[1], pos[0], res.Status)
			} else {
				fmt.Fprintf(stdout, "run %s of %s is not paused (%s); nothing to resume\n", pos[1], pos[0], res.Status)
			}
			return 0
		})
	})
}
