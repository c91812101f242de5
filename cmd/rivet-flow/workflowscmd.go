package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/client"
)

// workflowsCommand is `rivet-flow workflows ...`.
func workflowsCommand(stdout, stderr io.Writer) *cobra.Command {
	return group("workflows <command>", "list, start, get, events, signal, cancel, pause and resume the runs of the server's workflows",
		"A workflow is durable Go code the server runs (rivetflow.Config.Workflows); each run is an actor of the workflow's type keyed by its run ID. Every command takes --addr (default "+defaultAddr+", or RIVETFLOW_ADDR), --token (or RIVETFLOW_API_TOKEN) and --json.", stderr,
		withAliases(workflowsList(stdout, stderr), "ls"),
		workflowsStart(stdout, stderr),
		workflowsGet(stdout, stderr),
		workflowsEvents(stdout, stderr),
		workflowsSignal(stdout, stderr),
		workflowsCancel(stdout, stderr),
		workflowsPause(stdout, stderr),
		workflowsResume(stdout, stderr),
	)
}

// workflowFail prints err with what to do about it for the workflow name
// (as one JSON object with --json), and returns exit code 1.
func workflowFail(cmd *clientCommand, name string, err error) int {
	return cmd.failHinted(err, func(_ reporter, e *client.Error) string {
		switch e.Code {
		case client.CodeWorkflowNotFound:
			return "the server runs no workflow named " + name + " (workflows are Go code: rivetflow.Config.Workflows)"
		case client.CodeRunNotFound:
			return "no such run: list them with: rivet-flow workflows list " + name + "; start one with: rivet-flow workflows start " + name
		case client.CodeInvalidRunID:
			return "--run-id takes 1 to 128 of A-Z a-z 0-9 . _ -"
		case client.CodeRunFinished:
			return "the run is finished; see it with: rivet-flow workflows get " + name + " RUN_ID"
		}
		return ""
	})
}

// jsonFlag reads a flag's JSON value: the text itself, or the contents of
// a file named after an '@'. Empty is no value (nil).
func jsonFlag(flagName, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	data := []byte(v)
	if file, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if data, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("--%s %s: want a JSON value, e.g. '{\"task\":\"report\"}', or @FILE", flagName, v)
	}
	return json.RawMessage(data), nil
}

func workflowsList(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows list", "NAME", "List the runs of workflow NAME in run ID order: status, current call, completed steps, last update.", stderr)
	status := cmd.fs.String("status", "", "only runs with this status: running, sleeping, waiting, paused, completed, failed or cancelled")
	limit := cmd.fs.Int("limit", 100, "show at most this many runs")
	return cmd.leaf(1, 1, func(pos []string) int {
		if *limit < 1 {
			return cmd.usageError(fmt.Errorf("--limit %d: want 1 or more", *limit))
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			runs := []client.WorkflowRun{}
			more := false
			for cursor := ""; ; {
				page, err := c.Runs(ctx, pos[0], &client.RunListOptions{Status: *status, Limit: min(*limit, 100), Cursor: cursor})
				if err != nil {
					return workflowFail(cmd, pos[0], err)
				}
				runs = append(runs, page.Runs...)
				cursor = page.NextCursor
				if len(runs) >= *limit {
					more = len(runs) > *limit || cursor != ""
					runs = runs[:*limit]
					break
				}
				if cursor == "" {
					break
				}
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, runs)
			}
			if len(runs) == 0 {
				fmt.Fprintf(stdout, "no runs; start one with: rivet-flow workflows start %s --run-id ID --input '{...}'\n", pos[0])
				return 0
			}
			printTable(stdout, "RUN\tSTATUS\tCURRENT\tSTEPS\tUPDATED", runs, func(w io.Writer, r client.WorkflowRun) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\n", r.RunID, runStatus(r), orDash(r.Current), r.Steps, r.UpdatedAt.UTC().Format(time.RFC3339))
			})
			if more {
				printMoreHint(stdout, *limit)
			}
			return 0
		})
	})
}

// runStatus is a run's status, with its error code when it failed.
func runStatus(r client.WorkflowRun) string {
	if r.Error != nil {
		return r.Status + " (" + r.Error.Code + ")"
	}
	return r.Status
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func workflowsStart(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows start", "NAME", "Start a run of workflow NAME with --input. Starting is idempotent on --run-id: "+
		"a run that exists is shown as it is, its input kept. The run goes on in the server; follow it with rivet-flow workflows get.", stderr)
	runID := cmd.fs.String("run-id", "", "the run's ID, 1 to 128 of A-Z a-z 0-9 . _ - (default: the server picks one)")
	inputFlag := cmd.fs.String("input", "", "the workflow's input: JSON, e.g. '{\"task\":\"report\"}', or @FILE (default null)")
	return cmd.leaf(1, 1, func(pos []string) int {
		input, err := jsonFlag("input", *inputFlag)
		if err != nil {
			return cmd.usageError(err)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			var in any
			if input != nil {
				in = input
			}
			run, created, err := c.StartRun(ctx, pos[0], *runID, in)
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, struct {
					*client.StartedRun
					Created bool `json:"created"`
				}{run, created})
			}
			if created {
				fmt.Fprintf(stdout, "started run %s of %s (%s)\n", run.RunID, pos[0], run.Status)
			} else {
				fmt.Fprintf(stdout, "run %s of %s exists (%s); its input is kept\n", run.RunID, pos[0], run.Status)
			}
			return 0
		})
	})
}

func workflowsGet(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows get", "NAME RUN_ID", "Show run RUN_ID of workflow NAME: status, current call, completed steps, times, and its result (completed) or error (failed).", stderr)
	return cmd.leaf(2, 2, func(pos []string) int {
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			r, err := c.Run(ctx, pos[0], pos[1])
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, r)
			}
			fmt.Fprintf(stdout, "run       %s of %s (actor %s)\n", r.RunID, r.Workflow, r.ActorID)
			fmt.Fprintf(stdout, "status    %s\n", r.Status)
			fmt.Fprintf(stdout, "current   %s\n", orDash(r.Current))
			fmt.Fprintf(stdout, "steps     %d\n", r.Steps)
			fmt.Fprintf(stdout, "created   %s\n", r.CreatedAt.UTC().Format(time.RFC3339))
			fmt.Fprintf(stdout, "updated   %s\n", r.UpdatedAt.UTC().Format(time.RFC3339))
			if !r.EndedAt.IsZero() {
				fmt.Fprintf(stdout, "ended     %s\n", r.EndedAt.UTC().Format(time.RFC3339))
			}
			if r.Result != nil {
				fmt.Fprintf(stdout, "result    %s\n", r.Result)
			}
			if e := r.Error; e != nil {
				at := ""
				if e.Entry != "" {
					at = " at " + e.Entry
				}
				fmt.Fprintf(stdout, "error     %s%s: %s\n", e.Code, at, oneLine(e.Message))
			}
			return 0
		})
	})
}

func workflowsSignal(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("workflows signal", "NAME RUN_ID SIGNAL", "Send SIGNAL with --payload to run RUN_ID of workflow NAME. "+
		"The run keeps it in its inbox until a wait for SIGNAL takes it, so it may come before the wait; a run waiting for it resumes.", stderr)
	payloadFlag := cmd.fs.String("payload", "", "the signal's payload: JSON, e.g. '{\"approved\":true}', or @FILE (default null)")
	return cmd.leaf(3, 3, func(pos []string) int {
		payload, err := jsonFlag("payload", *payloadFlag)
		if err != nil {
			return cmd.usageError(err)
		}
		return cmd.withSession(func(c *client.Client, ctx context.Context) int {
			var p any
			if payload != nil {
				p = payload
			}
			res, err := c.Signal(ctx, pos[0], pos[1], pos[2], p)
			if err != nil {
				return workflowFail(cmd, pos[0], err)
			}
			if cmd.cf.json {
				return cmd.printJSON(stdout, res)
			}
			fmt.Fprintf(stdout, "sent signal %s to run %s of %s (message #%d; run %s)\n", pos[2], pos[1], pos[0], res.MessageID, res.Status)
			return 0
		})
	})
}
