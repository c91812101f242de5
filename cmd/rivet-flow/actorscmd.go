package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// actorsCommand is `rivet-flow actors ...`.
func actorsCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("actors <command>", "list, get, call, destroy, fork and inspect actors on a running server",
		"Every command takes --addr (default "+defaultAddr+", or RIVETFLOW_ADDR), --token (or RIVETFLOW_API_TOKEN) and --json.", stderr,
		actorsCreate(stdout, stderr),
		withAliases(actorsList(stdout, stderr), "ls"),
		actorsGet(stdout, stderr),
		actorsState(stdout, stderr),
		actorsHistory(stdout, stderr),
		actorsCall(stdout, stderr),
		withAliases(actorsDestroy(stdout, stderr), "rm"),
		actorsFork(stdout, stderr),
	)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
func (s *stringList) Type() string       { return "string" }

// interruptible returns a context that ends on SIGINT or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func actorsList(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors list", "", "List the live actors of --type in type-then-key order, with whether each is awake (in memory) on the server, or look up the one with --key (repeat --key for each part of the key).", stderr)
	typ := cmd.fs.String("type", "", "the actors' type (required)")
	var key stringList
	cmd.fs.Var(&key, "key", "look up the actor with this key; repeat for each part, in order")
	limit := cmd.fs.Int("limit", 1000, "list at most this many actors")
	return cmd.leaf(0, 0, func(_ []string) int {
		switch {
		case *typ == "":
			return cmd.usageError(fmt.Errorf("--type is required, e.g. --type counter"))
		case *limit < 1:
			return cmd.usageError(fmt.Errorf("--limit %d: want at least 1", *limit))
		case len(key) > 0 && slices.Contains(key, ""):
			return cmd.usageError(fmt.Errorf("--key parts cannot be empty"))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			// A listing comes from the actor directory, with whether each actor is
			// awake (in memory) on the server; a lookup finds the one actor.
			list := []client.ActorInfo{}
			found := []client.Actor{} // a lookup's JSON: no directory fields
			more := false
			if len(key) > 0 {
				a, err := c.Get(ctx, *typ, key)
				if err != nil && client.ErrorCode(err) != client.CodeActorNotFound {
					return cmd.fail(err)
				}
				if err == nil {
					found = append(found, *a)
					// The server's lookup brings the actor it finds into memory
					// (its answer says awake: true).
					list = append(list, client.ActorInfo{Actor: *a, Status: "active", Awake: true})
				}
			} else {
				q := &client.ActorQuery{Type: *typ}
			pages:
				for {
					page, err := c.ListActors(ctx, q)
					if err != nil {
						return cmd.fail(err)
					}
					for _, a := range page.Actors {
						if len(list) == *limit {
							more = true
							break pages
						}
						list = append(list, a)
					}
					if page.NextCursor == "" || page.NextCursor == q.Cursor {
						break
					}
					q.Cursor = page.NextCursor
				}
			}
			var out any = list
			if len(key) > 0 {
				out = found
			}
			switch {
			case cmd.cf.json:
				if code := cmd.printJSON(stdout, out); code != 0 {
					return code
				}
			case len(list) == 0 && len(key) > 0:
				fmt.Fprintf(stdout, "no live %s actor with key %s\n", *typ, keyString(key))
			case len(list) == 0:
				fmt.Fprintf(stdout, "no live %s actors\n", *typ)
			default:
				printTable(stdout, "ID\tTYPE\tKEY\tGENERATION\tAWAKE", list, func(w io.Writer, a client.ActorInfo) {
					awake := "no"
					if a.Awake {
						awake = "yes"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", a.ID, a.Type, keyString(a.Key), a.Generation, awake)
				})
			}
			if more {
				printMoreHint(stderr, *limit)
			}
			return 0
		})
	})
}

func actorsCreate(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors create", "", "Get or create the actor of --type and --key (repeat --key for each part of the key), with --input on creation.", stderr)
	typ := cmd.fs.String("type", "", "the actor's type (required)")
	var key stringList
	cmd.fs.Var(&key, "key", "a part of the actor's key; repeat for each part, in order")
	input := cmd.fs.String("input", "", "create input, as JSON")
	return cmd.leaf(0, 0, func(_ []string) int {
		if *typ == "" {
			return cmd.usageError(fmt.Errorf("--type is required, e.g. --type counter"))
		}
		var in any
		if *input != "" {
			if !json.Valid([]byte(*input)) {
				return cmd.usageError(fmt.Errorf("--input %q is not JSON", *input))
			}
			in = json.RawMessage(*input)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			a, created, err := c.GetOrCreate(ctx, *typ, key, in)
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]any{"actor": a, "created": created})
				return 0
			}
			printActor(stdout, a)
			if created {
				fmt.Fprintln(stderr, "(created)")
			} else {
				fmt.Fprintln(stderr, "(it existed already)")
			}
			return 0
		})
	})
}

// printActor prints one actor as a two-column table.
func printActor(w io.Writer, a *client.Actor) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID\t%s\nTYPE\t%s\nKEY\t%s\nGENERATION\t%d\n", a.ID, a.Type, keyString(a.Key), a.Generation)
	_ = tw.Flush()
}

func actorsGet(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors get", "ID", "Show the live actor with this ID.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			a, err := c.GetByID(ctx, pos[0])
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, a)
				return 0
			}
			printActor(stdout, a)
			return 0
		})
	})
}

func actorsCall(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors call", "ID ACTION [ARGS_JSON]",
		"Call an action and print its output. ARGS_JSON is the arguments as a JSON array, e.g. '[5]' (default []).", stderr)
	return cmd.leaf(2, 3, func(pos []string) int {
		cmd.actorType = typeOfID(pos[0]) // hints name this type's actions
		var callArgs []any
		if len(pos) == 3 {
			var raw []json.RawMessage
			if err := json.Unmarshal([]byte(pos[2]), &raw); err != nil {
				return cmd.usageError(fmt.Errorf("ARGS_JSON %q is not a JSON array: pass the arguments in order, e.g. '[5]' or '[\"alice\", \"hi\"]'", pos[2]))
			}
			for _, r := range raw {
				callArgs = append(callArgs, r)
			}
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			out, err := c.Call(ctx, pos[0], pos[1], callArgs...)
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]json.RawMessage{"output": out})
				return 0
			}
			var pretty bytes.Buffer
			if json.Indent(&pretty, out, "", "  ") != nil {
				pretty.Reset()
				pretty.Write(out)
			}
			fmt.Fprintln(stdout, pretty.String())
			return 0
		})
	})
}

func actorsDestroy(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors destroy", "ID", "Destroy the actor: its onDestroy runs, a tombstone goes into the log and its connections close.", stderr)
	return cmd.leaf(1, 1, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			if err := c.Destroy(ctx, pos[0]); err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]string{"destroyed": pos[0]})
				return 0
			}
			fmt.Fprintln(stdout, "destroyed", pos[0])
			return 0
		})
	})
}

func actorsFork(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("actors fork", "ID",
		"Create a new actor of ID's type with --key (repeat --key for each part) whose state, KV, and pending alarms and crons are ID's as of "+
			"its event --at-seq (a seq from `rivet-flow history export ID`), folded from the log without running any action. ID is untouched. "+
			"A workflow run forks by its actor ID (shown by `rivet-flow workflows get NAME RUN_ID`) with --key NEW_RUN_ID: the fork resumes, reusing the steps journaled up to --at-seq.", stderr)
	atSeq := cmd.fs.Uint64("at-seq", 0, "the log sequence of one of ID's events (required)")
	var key stringList
	cmd.fs.Var(&key, "key", "a part of the fork's key; repeat for each part, in order (required)")
	return cmd.leaf(1, 1, func(pos []string) int {
		switch {
		case *atSeq == 0:
			return cmd.usageError(fmt.Errorf("--at-seq is required: the seq of one of %s's events (rivet-flow history export %s)", pos[0], pos[0]))
		case len(key) == 0:
			return cmd.usageError(fmt.Errorf("--key is required: the fork's key, a new actor of the same type"))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			a, err := c.Fork(ctx, pos[0], *atSeq, key)
			if err != nil {
				return cmd.fail(err)
			}
			if cmd.cf.json {
				_ = writeJSON(stdout, map[string]any{"actor": a, "created": true, "from": pos[0], "atSeq": *atSeq})
				return 0
			}
			printActor(stdout, a)
			fmt.Fprintf(stderr, "(forked from %s at seq %d)\n", pos[0], *atSeq)
			return 0
		})
	})
}

// keyString shows a key unambiguously, as a JSON array.
func keyString(key []string) string {
	if len(key) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(key)
	return string(b)
}
