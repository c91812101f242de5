package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

const replaySummary = "Replay recorded histories against this binary's code (the actor types and workflows `rivet-flow serve` runs) " +
	"and report the first place where the code now does something else.\n\n" +
	"  --history FILE   one exported history (rivet-flow history export ID > FILE), offline.\n" +
	"                   Exit 0: identical; 1: diverged (the report names the event); 2: the file is unusable.\n" +
	"  --all            every open actor and workflow run (not destroyed, not finished) of a running node (--addr)\n" +
	"                   or of a stopped node's data dir (--data-dir): a deploy gate.\n" +
	"                   Exit 0: all identical; 1: some diverged or could not be replayed; 2: bad flags or the log cannot be read."

// replayCmd is `rivet-flow replay`.
func replayCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("replay", "", replaySummary, stderr)
	file := cmd.fs.String("history", "", "replay the exported history in this file (JSON Lines)")
	all := cmd.fs.Bool("all", false, "replay every open actor and workflow run of the log")
	typ := cmd.fs.String("type", "", "with --all: only actors of this type (a workflow's name for its runs)")
	dataDir := cmd.fs.String("data-dir", "", "with --all: read the log of a stopped node from its data dir instead of asking a running node (--addr)")
	concurrency := cmd.fs.Int("concurrency", runtime.GOMAXPROCS(0), "with --all: histories replayed at once")
	return cmd.leaf(0, 0, func(_ []string) int {
		set := map[string]bool{}
		cmd.fs.Visit(func(f *pflag.Flag) { set[f.Name] = true })
		switch {
		case *file != "" && *all:
			return cmd.usageError(errors.New("pass --history FILE or --all, not both"))
		case *file == "" && !*all:
			return cmd.usageError(errors.New("pass --history FILE (one exported history) or --all (every open actor of a log)"))
		case *file != "":
			for _, name := range []string{"type", "data-dir", "addr", "concurrency"} {
				if set[name] {
					return cmd.usageError(fmt.Errorf("--%s goes with --all; --history replays one file offline", name))
				}
			}
			return replayFile(cmd, *file, stdout)
		case *dataDir != "" && set["addr"]:
			return cmd.usageError(errors.New("pass --addr (a running node) or --data-dir (a stopped node's data dir), not both"))
		case *concurrency < 1 || *concurrency > maxReplayConcurrency:
			return cmd.usageError(fmt.Errorf("--concurrency %d: want 1 to %d", *concurrency, maxReplayConcurrency))
		}
		if *typ != "" {
			if err := checkTypeName(*typ); err != nil {
				return cmd.usageError(err)
			}
		}
		reg, wfs, err := binaryRegistry()
		if err != nil {
			return cmd.fail(err)
		}
		opts := replayAllOptions{Type: *typ, Concurrency: *concurrency, Workflows: workflowNames(wfs)}
		return replayAllCmd(cmd, reg, *dataDir, opts, stdout)
	})
}

// maxReplayConcurrency bounds --concurrency, so that a typo cannot open
// thousands of reads at once.
const maxReplayConcurrency = 1024

// binaryRegistry is the registry a node running this binary's serve has
// (serveApp plus what the node adds to it), and serve's workflows.
func binaryRegistry() (*actors.Registry, []workflows.Definition, error) {
	reg, wfs := serveApp()
	if err := rivetflow.RegisterNodeTypes(reg, wfs...); err != nil {
		return nil, nil, err
	}
	return reg, wfs, nil
}

func workflowNames(wfs []workflows.Definition) map[string]bool {
	names := make(map[string]bool, len(wfs))
	for _, d := range wfs {
		names[d.Name()] = true
	}
	return names
}

// replayFile is `replay --history FILE`.
func replayFile(cmd *clientCommand, path string, stdout io.Writer) int {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		if err == nil {
			err = errors.New("is a directory")
		}
		return replayInputError(cmd, fmt.Errorf("--history %s: %w", path, err))
	}
	reg, _, err := binaryRegistry()
	if err != nil {
		return cmd.fail(err)
	}
	ctx, stop := interruptible()
	defer stop()
	res, err := actors.NewReplayer(reg).ReplayHistoryFile(ctx, path)
	switch {
	case errors.Is(err, actors.ErrReplayInput):
		return replayInputError(cmd, err)
	case err != nil:
		return cmd.fail(fmt.Errorf("replay %s: %w", path, err))
	}
	if cmd.cf.json {
		if code := cmd.printJSON(stdout, resultJSON(res)); code != 0 {
			return code
		}
	} else if res.OK() {
		fmt.Fprintf(stdout, "replayed %d events of %s: identical\n", res.Events, res.ActorID)
	} else {
		fmt.Fprintf(stdout, "replayed %d events of %s: diverged\n%s", res.Events, res.ActorID, res.Divergence.Report())
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// replayInputError says that a history cannot be replayed, and how to get
// one that can; exit code 2.
func replayInputError(cmd *clientCommand, err error) int {
	fmt.Fprintf(cmd.stderr, "rivet-flow replay: %s\n", strings.TrimPrefix(err.Error(), "replay: "))
	fmt.Fprintln(cmd.stderr, "  --history takes a file written by: rivet-flow history export ID > h.jsonl (or: history export WORKFLOW RUN_ID)")
	return 2
}

// replayResultJSON is one replayed history, as --json prints it.
type replayResultJSON struct {
	ActorID    string          `json:"actorId"`
	Type       string          `json:"type"`
	Key        []string        `json:"key"`
	Events     int             `json:"events"`
	Rerun      int             `json:"rerun"`
	Identical  bool            `json:"identical"`
	Divergence *divergenceJSON `json:"divergence,omitempty"`
}

// divergenceJSON is an actors.Divergence in JSON.
type divergenceJSON struct {
	Seq      uint64 `json:"seq"`
	Action   string `json:"action"`
	What     string `json:"what"`
	Message  string `json:"message"`
	Expected string `json:"expected,omitempty"`
	Actual   string `json:"actual,omitempty"`
	Diff     string `json:"diff,omitempty"`
}

func resultJSON(r *actors.ReplayResult) replayResultJSON {
	out := replayResultJSON{ActorID: r.ActorID, Type: r.Type, Key: r.Key, Events: r.Events, Rerun: r.Rerun, Identical: r.OK()}
	if out.Key == nil {
		out.Key = []string{}
	}
	if d := r.Divergence; d != nil {
		out.Divergence = &divergenceJSON{Seq: d.Seq, Action: d.Action, What: d.What, Message: d.Message,
			Expected: d.Expected, Actual: d.Actual, Diff: d.Diff}
	}
	return out
}

// replayAllCmd runs `replay --all` against a node (dataDir empty) or a data
// dir, prints the summary and returns the exit code.
func replayAllCmd(cmd *clientCommand, reg *actors.Registry, dataDir string, opts replayAllOptions, stdout io.Writer) int {
	ctx, stop := interruptible()
	defer stop()
	var src replaySource
	if dataDir != "" {
		s, err := openDirSource(ctx, dataDir)
		if err != nil {
			fmt.Fprintf(cmd.stderr, "rivet-flow replay: %v\n", err)
			return 2
		}
		defer s.close()
		src = s
	} else {
		c, err := cmd.cf.client()
		if err != nil {
			return cmd.usageError(err)
		}
		defer c.CloseIdleConnections()
		src = &nodeSource{c: c}
	}
	opts.Progress = newReplayProgress(cmd.stderr)
	sum, err := replayAll(ctx, reg, src, opts)
	if err != nil {
		if dataDir == "" && !errors.Is(err, context.Canceled) {
			cmd.fail(err)
			return 2
		}
		fmt.Fprintf(cmd.stderr, "rivet-flow replay: %v\n", err)
		return 2
	}
	if cmd.cf.json {
		if code := cmd.printJSON(stdout, sum); code != 0 {
			return code
		}
	} else {
		printReplaySummary(stdout, sum)
	}
	if len(sum.Diverged) > 0 || len(sum.Failed) > 0 {
		return 1
	}
	return 0
}

// checkTypeName checks a --type before it becomes a subject filter.
func checkTypeName(typ string) error {
	if err := eventlog.ValidateType(typ); err != nil {
		return fmt.Errorf("--type: %w", err)
	}
	return nil
}
