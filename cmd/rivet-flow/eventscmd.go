package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// eventsCommand is `rivet-flow events ...`.
func eventsCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("events <command>", "stream the event log of a running server", "", stderr,
		eventsTail(stdout, stderr),
	)
}

// errEnough ends a tail after --count events.
var errEnough = errors.New("enough events")

func eventsTail(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("events tail", "",
		"Stream every event appended to the log, in log order, until interrupted. By default only new events; --after 0 replays the log from the start.", stderr)
	after := cmd.fs.Int64("after", -1, "stream the events after this log sequence (0: the whole log; -1: only new ones)")
	typ := cmd.fs.String("type", "", "only events of actors of this type")
	count := cmd.fs.Int("count", 0, "stop after this many events (0: follow until interrupted)")
	return cmd.leaf(0, 0, func(_ []string) int {
		switch {
		case *after < -1:
			return cmd.usageError(fmt.Errorf("--after %d: want a log sequence, 0 or -1", *after))
		case *count < 0:
			return cmd.usageError(fmt.Errorf("--count %d: want 0 or more", *count))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			opts := &client.TailOptions{Type: *typ, Connected: func() {
				if !cmd.cf.json {
					fmt.Fprintf(stderr, "tailing the event log at %s (Ctrl-C to stop)\n", c.BaseURL())
					fmt.Fprintf(stdout, "%-8s %-23s %-24s %s\n", "SEQ", "TIME (UTC)", "ACTOR", "EVENT")
				}
			}}
			switch {
			case *after == 0:
				opts.FromStart = true
			case *after > 0:
				opts.After = uint64(*after)
			}
			var seen int
			var last uint64
			err := c.Tail(ctx, opts, func(ev client.LogEvent) error {
				if cmd.cf.json {
					if err := writeJSON(stdout, ev); err != nil {
						return err
					}
				} else {
					fmt.Fprintf(stdout, "%-8d %-23s %-24s %s\n", ev.Seq, ev.Time.UTC().Format("2006-01-02 15:04:05.000"), ev.ActorID, describe(ev.Event))
				}
				seen, last = seen+1, ev.Seq
				if *count > 0 && seen >= *count {
					return errEnough
				}
				return nil
			})
			switch {
			case errors.Is(err, errEnough), ctx.Err() != nil:
				return 0
			case errors.Is(err, client.ErrStreamClosed):
				sc := streamClosed{}
				if last > 0 {
					sc.resume = fmt.Sprintf("rivet-flow events tail --after %d", last)
				}
				return cmd.fail(sc)
			}
			return cmd.fail(err)
		})
	})
}

// describe is an event in a few words: "increment [5] -> 5".
func describe(ev client.Event) string {
	s := ev.Kind
	switch ev.Kind {
	case "action":
		s = ev.Action
		if len(ev.Args) > 0 {
			s += " " + string(ev.Args)
		}
		if len(ev.Output) > 0 {
			s += " -> " + truncate(string(ev.Output), 80)
		}
	case "create":
		if ev.Generation > 1 {
			s += fmt.Sprintf(" (generation %d)", ev.Generation)
		}
	}
	if len(ev.Patch) > 0 {
		s += "  patch " + truncate(string(ev.Patch), 100)
	}
	for _, b := range ev.Broadcasts {
		s += fmt.Sprintf("  [broadcast %s %s]", b.Name, truncate(string(b.Args), 60))
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
