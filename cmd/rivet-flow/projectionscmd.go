package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// projectionsCommand is `rivet-flow projections ...`.
func projectionsCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("projections <command>", "list, rebuild or read the projections (read models) of a running server",
		"The built-in actor directory is the projection \"actors\". Every command takes --addr (default "+defaultAddr+", or RIVETFLOW_ADDR) and --token (or RIVETFLOW_API_TOKEN).", stderr,
		withAliases(projectionsList(stdout, stderr), "ls"),
		projectionsRebuild(stdout, stderr),
		projectionsRows(stdout, stderr),
	)
}

func projectionsList(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("projections list", "", "List the server's projections: status, checkpoint (the last log sequence folded), lag behind the log, rows and error.", stderr)
	return cmd.leaf(0, 0, func(_ []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			list, err := c.Projections(ctx)
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, list)
			}
			printTable(stdout, "NAME\tSTATUS\tCHECKPOINT\tLAG\tROWS\tERROR", list, func(w io.Writer, p client.Projection) {
				msg := p.Error
				if p.FailedSeq > 0 {
					msg = fmt.Sprintf("at sequence %d: %s", p.FailedSeq, msg)
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%s\n", p.Name, p.Status, p.Checkpoint, p.Lag, p.Rows, oneLine(msg))
			})
			return 0
		})
	})
}

func projectionsRebuild(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("projections rebuild", "NAME", "Rebuild the projection NAME from the event log on the running server: its rows are cleared and the whole log folded again. Shows progress until it is live again; interrupting the command does not stop the rebuild.", stderr)
	poll := cmd.fs.Duration("poll", 200*time.Millisecond, "how often to read the projection's progress")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *poll <= 0 {
			return cmd.usageError(fmt.Errorf("--poll %s: want a positive duration", *poll))
		}
		name := pos[0]
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			start := time.Now()
			p, err := c.RebuildProjection(ctx, name)
			if err != nil {
				return cmd.fail(err)
			}
			target := p.Head       // the rebuild is done once it has folded the log as of now
			var status *statusLine // none with --json
			if !cmd.cf.json {
				status = newStatusLine(stderr)
			}
			for {
				setProjectionProgress(status, p, target, time.Since(start))
				switch {
				case p.Status == client.ProjectionFailed:
					status.end()
					return cmd.fail(fmt.Errorf("projection %s failed at sequence %d: %s", name, p.FailedSeq, p.Error))
				case p.Status == client.ProjectionLive && p.Checkpoint >= target:
					status.end()
					if cmd.cf.json {
						return cmd.printJSON(stdout, p)
					}
					took := time.Since(start)
					fmt.Fprintf(stdout, "rebuilt projection %s: %d rows from %d events in %s (%.0f events/s)\n",
						name, p.Rows, p.Checkpoint, took.Round(time.Millisecond), float64(p.Checkpoint)/max(took.Seconds(), 1e-9))
					return 0
				}
				select {
				case <-ctx.Done():
					status.end()
					fmt.Fprintf(stderr, "rivet-flow projections rebuild: interrupted; the rebuild goes on on the server (follow it with: rivet-flow projections list)\n")
					return 1
				case <-time.After(*poll):
				}
				if p, err = c.Projection(ctx, name); err != nil {
					if ctx.Err() != nil {
						continue // reported above at the next turn
					}
					status.end()
					return cmd.fail(err)
				}
			}
		})
	})
}

// setProjectionProgress shows the progress of a rebuild.
func setProjectionProgress(s *statusLine, p *client.Projection, target uint64, elapsed time.Duration) {
	frac := 1.0
	if target > 0 {
		frac = min(float64(p.Checkpoint)/float64(target), 1)
	}
	s.set("%s %3.0f%%  %d of %d events  %d rows  %s  %s", textBar(frac), frac*100, p.Checkpoint, target, p.Rows,
		p.Status, elapsed.Round(time.Millisecond))
}

func projectionsRows(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("projections rows", "NAME", "Print the rows of the projection NAME, one JSON object per line ({\"key\":...,\"value\":...}), in key order.", stderr)
	prefix := cmd.fs.String("prefix", "", "only rows whose key starts with this")
	limit := cmd.fs.Int("limit", 1000, "print at most this many rows")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *limit < 1 {
			return cmd.usageError(fmt.Errorf("--limit %d: want at least 1", *limit))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			printed, cursor := 0, ""
			for {
				page, err := c.ProjectionRows(ctx, pos[0], &client.RowsOptions{Prefix: *prefix, Limit: min(*limit-printed, 1000), Cursor: cursor})
				if err != nil {
					return cmd.fail(err)
				}
				if code := printJSONLines(cmd, stdout, page.Rows); code != 0 {
					return code
				}
				printed += len(page.Rows)
				if page.NextCursor == "" {
					return 0
				}
				if printed >= *limit {
					printMoreHint(stderr, *limit)
					return 0
				}
				cursor = page.NextCursor
			}
		})
	})
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
