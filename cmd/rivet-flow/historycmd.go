package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/client"
)

// historyCommand is `rivet-flow history ...`.
func historyCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("history <command>", "export an actor's or a workflow run's whole history as JSON Lines",
		"", stderr,
		historyExport(stdout, stderr),
	)
}

func historyExport(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("history export", "ID | WORKFLOW RUN_ID",
		"Write every event of actor ID (or of run RUN_ID of workflow WORKFLOW) to stdout, oldest first, one JSON object per line: "+
			"the fields of the actor's events plus its seed, KV writes, recorded steps and effects. For example: rivet-flow history export agent r1 > h.jsonl", stderr)
	return cmd.leaf(1, 2, func(pos []string) int {
		var err error
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
	})
}
