package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/client"
)

// The read-only commands that show what a server runs and what an actor
// holds: types, actors state and actors history.

// typesCommand is `rivet-flow types`.
func typesCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("types", "", "List the actor types the server runs, with their actions. "+
		"The types the server registers for itself (rf_...) show with --all.", stderr)
	all := cmd.fs.Bool("all", false, "also list the server's own types (schedules, dead letters)")
	return cmd.leaf(0, 0, func([]string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			types, err := c.Types(ctx)
			if err != nil {
				return cmd.fail(err)
			}
			shown := types[:0:0]
			for _, t := range types {
				if *all || !t.System {
					shown = append(shown, t)
				}
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, shown)
			}
			printTable(stdout, "TYPE\tACTIONS", shown, func(w io.Writer, t client.ActorType) {
				fmt.Fprintf(w, "%s\t%s\n", t.Name, strings.Join(t.Actions, ", "))
			})
			return 0
		})
	})
}

// actorsState is `rivet-flow actors state ID`.
func actorsState(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors state", "ID", "Print the actor's current state (JSON), as its last answered call left it. "+
		"A read: the actor is not woken and nothing is appended to its log.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		cmd.actorType = typeOfID(pos[0])
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			st, err := c.State(ctx, pos[0])
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, st)
			}
			fmt.Fprintln(stdout, indentJSON(st.State))
			return 0
		})
	})
}

// actorsHistory is `rivet-flow actors history ID`.
func actorsHistory(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors history", "ID", "List the actor's events, oldest first, straight from the log: "+
		"--limit per page from --after; the next page's --after is printed at the end (with --json, one event per line). "+
		"rivet-flow history export ID writes the whole history for replay.", stderr)
	after := cmd.fs.Uint64("after", 0, "list the events after this log sequence (0: from the first)")
	limit := cmd.fs.Int("limit", 100, "events per page, 1 to 10000")
	all := cmd.fs.Bool("all", false, "read every page, not just one")
	withState := cmd.fs.Bool("state", false, "add the state after each event (folded from the log)")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *limit < 1 || *limit > 10000 {
			return cmd.usageError(fmt.Errorf("--limit %d: want 1 to 10000", *limit))
		}
		cmd.actorType = typeOfID(pos[0])
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			opts := &client.EventsOptions{After: *after, Limit: *limit, State: *withState}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			if !cmd.cf.json {
				fmt.Fprintln(tw, "SEQ\tTIME\tEVENT")
			}
			for {
				page, err := c.Events(ctx, pos[0], opts)
				if err != nil {
					_ = tw.Flush()
					return cmd.fail(err)
				}
				for _, ev := range page.Events {
					if cmd.cf.json {
						if code := cmd.printJSON(stdout, ev); code != 0 {
							return code
						}
						continue
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\n", ev.Seq, ev.Time.Format(time.RFC3339Nano), describe(ev))
				}
				if page.NextAfter == 0 {
					return flushTable(cmd, tw)
				}
				if !*all {
					if code := flushTable(cmd, tw); code != 0 {
						return code
					}
					fmt.Fprintf(stderr, "(more: rivet-flow actors history %s --after %d, or --all)\n", pos[0], page.NextAfter)
					return 0
				}
				opts.After = page.NextAfter
			}
		})
	})
}

// flushTable flushes a table, failing when it cannot be written.
func flushTable(cmd *clientCommand, tw *tabwriter.Writer) int {
	if err := tw.Flush(); err != nil {
		return cmd.fail(err)
	}
	return 0
}

// indentJSON is raw, indented; raw as it is when it is not JSON.
func indentJSON(raw json.RawMessage) string {
	var b strings.Builder
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(raw)
	}
	b.Write(out)
	return b.String()
}

// typeOfID is the type part of an actor ID, or "" when id is not one.
func typeOfID(id string) string {
	typ, _, err := actors.ParseID(id)
	if err != nil {
		return ""
	}
	return typ
}

// readTokenFile reads an API token from path: its first line, trimmed. flag
// names the flag, for the messages.
func readTokenFile(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: cannot read the token file %s: %w", flag, path, err)
	}
	token, _, _ := strings.Cut(string(b), "\n")
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("%s %s is empty: the file's first line is the token", flag, path)
	}
	return token, nil
}
