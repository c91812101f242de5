package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

const projectionsUsage = `Usage: rivet-flow projections <command> [flags]

Commands:
  list                   list the server's projections (read models): status, checkpoint, lag, rows
  rebuild NAME           rebuild a projection from the event log, with a progress bar
  rows NAME [--prefix P] print a projection's rows as JSON lines (key, value)

The built-in actor directory is the projection "actors". Every command takes
--addr (default ` + defaultAddr + `, or RIVETFLOW_ADDR), --token (or
RIVETFLOW_API_TOKEN); see rivet-flow projections <command> --help.
`

// projectionsCmd dispatches `rivet-flow projections ...`.
func projectionsCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, projectionsUsage)
		return 2
	}
	switch args[0] {
	case "list", "ls":
		return projectionsList(args[1:], stdout, stderr)
	case "rebuild":
		return projectionsRebuild(args[1:], stdout, stderr)
	case "rows":
		return projectionsRows(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, projectionsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "rivet-flow projections: unknown command %q\n\n%s", args[0], projectionsUsage)
	return 2
}

func projectionsList(args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("projections list", "", "List the server's projections: status, checkpoint (the last log sequence folded), lag behind the log, rows and error.", stderr)
	if _, err := cmd.parse(args, 0, 0); err != nil {
		return cmd.usageError(err)
	}
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
}

func projectionsRebuild(args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("projections rebuild", "NAME", "Rebuild the projection NAME from the event log on the running server: its rows are cleared and the whole log folded again. Shows progress until it is live again; interrupting the command does not stop the rebuild.", stderr)
	poll := cmd.fs.Duration("poll", 200*time.Millisecond, "how often to read the projection's progress")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
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
		target := p.Head // the rebuild is done once it has folded the log as of now
		showBar := !cmd.cf.json
		for {
			if showBar {
				printProjectionProgress(stderr, p, target, time.Since(start))
			}
			switch {
			case p.Status == client.ProjectionFailed:
				if showBar {
					fmt.Fprintln(stderr)
				}
				return cmd.fail(fmt.Errorf("projection %s failed at sequence %d: %s", name, p.FailedSeq, p.Error))
			case p.Status == client.ProjectionLive && p.Checkpoint >= target:
				if showBar {
					fmt.Fprintln(stderr)
				}
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
				if showBar {
					fmt.Fprintln(stderr)
				}
				fmt.Fprintf(stderr, "rivet-flow projections rebuild: interrupted; the rebuild goes on on the server (follow it with: rivet-flow projections list)\n")
				return 1
			case <-time.After(*poll):
			}
			if p, err = c.Projection(ctx, name); err != nil {
				if ctx.Err() != nil {
					continue // reported above at the next turn
				}
				if showBar {
					fmt.Fprintln(stderr)
				}
				return cmd.fail(err)
			}
		}
	})
}

// printProjectionProgress draws one updating progress line of a rebuild.
func printProjectionProgress(w io.Writer, p *client.Projection, target uint64, elapsed time.Duration) {
	const width = 30
	frac := 1.0
	if target > 0 {
		frac = min(float64(p.Checkpoint)/float64(target), 1)
	}
	done := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < done {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(w, "\r[%s] %3.0f%%  %d of %d events  %d rows  %s  %s", bar, frac*100, p.Checkpoint, target, p.Rows,
		p.Status, elapsed.Round(time.Millisecond))
}

func projectionsRows(args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("projections rows", "NAME", "Print the rows of the projection NAME, one JSON object per line ({\"key\":...,\"value\":...}), in key order.", stderr)
	prefix := cmd.fs.String("prefix", "", "only rows whose key starts with this")
	limit := cmd.fs.Int("limit", 1000, "print at most this many rows")
	pos, err := cmd.parse(args, 1, 1)
	if err != nil {
		return cmd.usageError(err)
	}
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
}

// oneLine keeps the first line of s.
func oneLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}
