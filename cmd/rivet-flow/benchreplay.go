package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
)

// Bounds of bench replay, so that a typo cannot start an unbounded load.
const (
	maxBenchReplayEvents = 10_000_000
	benchPopulateWorkers = 64
)

// benchReplayPhase is one measured child process: replay --all's code path
// over the data dir, replaying (replay) or only reading the same histories
// (read, the baseline).
type benchReplayPhase struct {
	Name      string  `json:"name"`
	Actors    int     `json:"actors"`
	Events    int     `json:"events"`
	Seconds   float64 `json:"seconds"`
	ActorsPS  float64 `json:"actorsPerSecond"`
	EventsPS  float64 `json:"eventsPerSecond"`
	PeakRSSMB float64 `json:"peakRssMiB"`
	Diverged  int     `json:"diverged"`
	Failed    int     `json:"failed"`
	// FirstFailure is the first actor that could not be replayed, if any.
	FirstFailure string `json:"firstFailure,omitempty"`
}

// benchReplayResult is bench replay's --json.
type benchReplayResult struct {
	Actors          int                `json:"actors"`
	EventsPerActor  int                `json:"eventsPerActor"`
	Concurrency     int                `json:"concurrency"`
	GOMAXPROCS      int                `json:"gomaxprocs"`
	PopulateSeconds float64            `json:"populateSeconds"`
	Phases          []benchReplayPhase `json:"phases"`
	// Ratio is the replay's time over the reads' time.
	Ratio float64 `json:"replayOverRead"`
}

func benchReplay(stdout, stderr io.Writer) *cobra.Command {
	cmd := newClientCommand("bench replay", "", `Measure replay --all over a data dir of --actors counters with --events-per-actor events each
(a create, then increments), populated first through an in-process node (embedded JetStream, default fsync).
Then two child processes run replay --all's code path over the data dir (offline, as --data-dir does):
the baseline reads every history and replays none, the other reads and replays them; each reports its
seconds, actors/s, events/s and peak RSS (the child's VmHWM: the embedded JetStream included).
Progress goes to stderr, results to stdout.`, stderr)
	cmd.env = map[string]string{}
	nActors := cmd.fs.Int("actors", 10_000, "actors to populate and replay")
	perActor := cmd.fs.Int("events-per-actor", 10, "events per actor (its create included)")
	concurrency := cmd.fs.Int("concurrency", runtime.GOMAXPROCS(0), "histories read and replayed at once")
	dataDir := cmd.fs.String("data-dir", "", "populate this new or empty dir and keep it (default: a temporary one, removed at the end)")
	phase := cmd.fs.String("phase", "", "internal: run one measured phase (read or replay) over --data-dir and print it as JSON")
	return cmd.leaf(0, 0, func(_ []string) int {
		switch {
		case *concurrency < 1 || *concurrency > maxReplayConcurrency:
			return cmd.usageError(fmt.Errorf("--concurrency %d: want 1 to %d", *concurrency, maxReplayConcurrency))
		case *phase != "":
			return benchReplayChild(cmd, *phase, *dataDir, *concurrency, stdout)
		case *nActors < 1 || *nActors > maxBenchActors:
			return cmd.usageError(fmt.Errorf("--actors %d: want 1 to %d", *nActors, maxBenchActors))
		case *perActor < 1 || *nActors**perActor > maxBenchReplayEvents:
			return cmd.usageError(fmt.Errorf("--events-per-actor %d: want at least 1, and at most %d events in all", *perActor, maxBenchReplayEvents))
		}
		ctx, stop := interruptible()
		defer stop()
		dir := *dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "rivet-flow-bench-replay-")
			if err != nil {
				return cmd.fail(err)
			}
			defer os.RemoveAll(d)
			dir = d
		} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
			return cmd.usageError(fmt.Errorf("--data-dir %s is not empty: pass a new or empty dir", dir))
		}
		res := benchReplayResult{Actors: *nActors, EventsPerActor: *perActor, Concurrency: *concurrency, GOMAXPROCS: runtime.GOMAXPROCS(0)}
		if !cmd.cf.json {
			fmt.Fprintf(stdout, "rivet-flow bench replay: %d counters x %d events (%d events), concurrency %d, GOMAXPROCS %d\n",
				*nActors, *perActor, *nActors**perActor, *concurrency, res.GOMAXPROCS)
		}
		begin := time.Now()
		if err := populateReplayBench(ctx, dir, *nActors, *perActor, stderr); err != nil {
			return cmd.fail(err)
		}
		res.PopulateSeconds = time.Since(begin).Seconds()
		self, err := os.Executable()
		if err != nil {
			return cmd.fail(err)
		}
		// A discarded read first: both measured phases start with the log's
		// files in the page cache.
		for i, name := range []string{"read", "read", "replay"} {
			fmt.Fprintf(stderr, "phase %s...\n", name)
			p, err := runReplayPhase(ctx, self, name, dir, *concurrency)
			if err != nil {
				return cmd.fail(err)
			}
			if i > 0 {
				res.Phases = append(res.Phases, p)
			}
		}
		read, replay := res.Phases[0], res.Phases[1]
		res.Ratio = replay.Seconds / max(read.Seconds, 1e-9)
		if cmd.cf.json {
			if code := cmd.printJSON(stdout, res); code != 0 {
				return code
			}
		} else {
			fmt.Fprintf(stdout, "  populated in %.1fs through the runtime client (%d workers)\n", res.PopulateSeconds, benchPopulateWorkers)
			printTable(stdout, "PHASE\tACTORS\tEVENTS\tSECONDS\tACTORS/S\tEVENTS/S\tPEAK RSS", res.Phases, func(w io.Writer, p benchReplayPhase) {
				fmt.Fprintf(w, "%s\t%d\t%d\t%.3f\t%.0f\t%.0f\t%.0f MiB\n", p.Name, p.Actors, p.Events, p.Seconds, p.ActorsPS, p.EventsPS, p.PeakRSSMB)
			})
			fmt.Fprintf(stdout, "  replay takes %.2fx the time of reading the same histories\n", res.Ratio)
		}
		if replay.Diverged > 0 || replay.Failed > 0 || replay.Actors != *nActors {
			fmt.Fprintf(stderr, "rivet-flow bench replay: %d of %d actors replayed, %d diverged, %d could not be replayed (first: %s)\n",
				replay.Actors, *nActors, replay.Diverged, replay.Failed, replay.FirstFailure)
			return 1
		}
		return 0
	})
}

// populateReplayBench writes n counters with perActor events each through
// an in-process node on dir, and stops it.
func populateReplayBench(ctx context.Context, dir string, n, perActor int, stderr io.Writer) error {
	reg, wfs := serveApp()
	node, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, NoListen: true, Version: buildVersion(),
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Registry: reg, Workflows: wfs})
	if err != nil {
		return fmt.Errorf("start an in-process node on %s: %w", dir, err)
	}
	rt := node.Runtime().Client()
	incr := json.RawMessage(`[1]`)
	err = loadgen.ForEach(ctx, n, min(benchPopulateWorkers, n), 5*time.Second, func(done int) {
		fmt.Fprintf(stderr, "populated %d of %d actors\n", done, n)
	}, func(ctx context.Context, i int) error {
		h, _, err := rt.GetOrCreate(ctx, "counter", []string{"r" + strconv.Itoa(i)}, nil)
		if err != nil {
			return err
		}
		for range perActor - 1 {
			if _, err := h.ActionJSON(ctx, "increment", incr); err != nil {
				return err
			}
		}
		return nil
	})
	if stopErr := node.Stop(context.Background()); err == nil && stopErr != nil {
		err = fmt.Errorf("stop the in-process node: %w", stopErr)
	}
	if err != nil {
		return fmt.Errorf("populate: %w", err)
	}
	return nil
}

// runReplayPhase runs one phase in a child process (bench replay --phase)
// and reads its figures and peak RSS.
func runReplayPhase(ctx context.Context, self, name, dir string, concurrency int) (benchReplayPhase, error) {
	var out, errOut bytes.Buffer
	c := exec.CommandContext(ctx, self, "bench", "replay", "--phase", name, "--data-dir", dir, "--concurrency", strconv.Itoa(concurrency))
	c.Stdout, c.Stderr = &out, &errOut
	if err := c.Run(); err != nil {
		return benchReplayPhase{}, fmt.Errorf("phase %s: %w: %s", name, err, errOut.String())
	}
	var p benchReplayPhase
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		return p, fmt.Errorf("phase %s printed %q: %w", name, out.String(), err)
	}
	return p, nil
}

// peakRSSMiB is this process's peak resident set: VmHWM, which starts
// afresh at exec. Not the rusage of the child seen from the parent: Linux
// carries the parent's peak over into a child spawned with CLONE_VM, as Go
// spawns them. 0 when /proc is not there.
func peakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}

// benchReplayChild is one phase, in the child: replay --all's code path
// over dir, with the replay (replay) or without it (read).
func benchReplayChild(cmd *clientCommand, phase, dir string, concurrency int, stdout io.Writer) int {
	if phase != "read" && phase != "replay" {
		return cmd.usageError(fmt.Errorf("--phase %q: want read or replay", phase))
	}
	reg, wfs, err := binaryRegistry()
	if err != nil {
		return cmd.fail(err)
	}
	ctx, stop := interruptible()
	defer stop()
	src, err := openDirSource(ctx, dir)
	if err != nil {
		return cmd.fail(err)
	}
	defer src.close()
	sum, err := replayAll(ctx, reg, src, replayAllOptions{Concurrency: concurrency, Workflows: workflowNames(wfs), readOnly: phase == "read"})
	if err != nil {
		return cmd.fail(err)
	}
	p := benchReplayPhase{Name: phase, Actors: sum.Actors, Events: sum.Events, Seconds: sum.Seconds,
		ActorsPS: float64(sum.Actors) / max(sum.Seconds, 1e-9), EventsPS: float64(sum.Events) / max(sum.Seconds, 1e-9),
		Diverged: len(sum.Diverged), Failed: len(sum.Failed), PeakRSSMB: peakRSSMiB()}
	if phase == "read" {
		p.Name = "read (baseline)"
	}
	if len(sum.Failed) > 0 {
		p.FirstFailure = sum.Failed[0].ActorID + ": " + sum.Failed[0].Error
	} else if len(sum.Diverged) > 0 {
		p.FirstFailure = sum.Diverged[0].ActorID + ": " + sum.Diverged[0].Message
	}
	return cmd.printJSON(stdout, p)
}
