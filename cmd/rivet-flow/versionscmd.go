package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// versionsCmd runs `rivet-flow versions`: the code versions in use, from the
// server's versions projection.
func versionsCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("versions", "", "List the code versions that still have open actors or workflow runs, per actor type or workflow "+
		"(an actor is open until destroyed, a run until it completes, fails or is cancelled; a migration moves an actor to the new version). "+
		"A version no open actor or run has any more (OPEN 0, listed with --all) can be retired.", stderr)
	typ := cmd.fs.String("type", "", "only this actor type or workflow")
	all := cmd.fs.Bool("all", false, "also list the versions with no open actors or runs left (OPEN 0): those that can be retired")
	return cmd.leaf(0, 0, func(_ []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			list, err := c.Versions(ctx, &client.VersionsQuery{Type: *typ, All: *all})
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, list)
			}
			printTable(stdout, "TYPE\tKIND\tVERSION\tOPEN", list, func(w io.Writer, v client.CodeVersion) {
				version := v.CodeVersion
				if version == "" {
					version = "(none)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\n", v.Type, v.Kind, version, v.Open)
			})
			switch {
			case len(list) == 0 && !*all:
				fmt.Fprintln(stderr, "(no code version has open actors or runs; --all lists those with none left)")
			case len(list) == 0:
				fmt.Fprintln(stderr, "(the server's log has no actors or runs of this type)")
			case *all:
				fmt.Fprintln(stderr, "(a version with OPEN 0 has no open actors or runs left: its code can be retired)")
			}
			return 0
		})
	})
}
