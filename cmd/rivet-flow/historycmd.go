package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/client"
)

const historyUsage = `Usage: rivet-flow history <command> [flags]

Commands:
  export ID | export WORKFLOW RUN_ID   write an actor's or a workflow run's whole history to stdout,
                                      one JSON object per line (everything a replay needs)

See rivet-flow history export --help.
`

// historyCmd dispatches `rivet-flow history ...`.
func historyCmd(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, historyUsage)
		return 2
	}
	switch args[0] {
	case "export":
		return historyExport(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, historyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "rivet-flow history: unknown command %q\n\n%s", args[0], historyUsage)
	return 2
}

func historyExport(args []string, stdout, stderr io.Writer) int {
	cmd := newClientCommand("history export", "ID | WORKFLOW RUN_ID",
		"Write every event of actor ID (or of run RUN_ID of workflow WORKFLOW) to stdout, oldest first, one JSON object per line: "+
			"the fields of the actor's events plus its seed, KV writes, recorded steps and effects. For example: rivet-flow history export agent r1 > h.jsonl", stderr)
	pos, err := cmd.parse(args, 1, 2)
	if err != nil {
		return cmd.usageError(err)
	}
	id := pos[0]
	if len(pos) == 2 {
		if id, err = actors.ActorID(pos[0], []string{pos[1]}); err != nil {
			return cmd.usageError(fmt.Errorf("workflow %q run %q: %w", pos[0], pos[1], err))
		}
	}
	return cmd.withSession(func(c *client.Client, ctx context.Context) int {
		n, err := c.ExportHistory(ctx, id, stdout, func(lines int) {
			if lines%10000 == 0 && lines > 0 {
				fmt.Fprintf(stderr, "exported %d events...\n", lines)
			}
		})
		if err != nil {
			return cmd.fail(err)
		}
		fmt.Fprintf(stderr, "exported %d events of %s\n", n, id)
		return 0
	})
}
