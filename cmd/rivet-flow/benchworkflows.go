package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Targets of bench workflows (issue 18).
const (
	// benchRunsTarget is 10x the 265 ten-step runs/s DBOS Go completes at
	// concurrency 64 on the machine the issue was measured on.
	benchRunsTarget = 2650
	// benchStepTarget bounds a step's overhead over one actor action.
	benchStepTarget = 3.0
)

// Bounds of bench workflows, so that a typo cannot start an unbounded load.
const (
	maxBenchSteps  = 1000
	maxBenchSample = 100_000
)

// benchWorkflowName is the bench workflow: its input is its step count.
const benchWorkflowName = "benchsteps"

// benchStepsWorkflow is a workflow of n no-op steps (n its input), each
// returning its index; the output is their sum, which the bench checks.
func benchStepsWorkflow() *workflows.Workflow[int, int] {
	return workflows.Define(benchWorkflowName, func(w *workflows.W, n int) (int, error) {
		sum := 0
		for i := range n {
			v, err := workflows.Step(w, "s"+strconv.Itoa(i), func(context.Context, *workflows.StepContext) (int, error) {
				return i, nil
			})
			if err != nil {
				return 0, err
			}
			sum += v
		}
		return sum, nil
	})
}

// benchSide is one side of bench workflows, totalled over its slices.
type benchSide struct {
	name  string
	total loadgen.Result
	rates []float64 // per slice
}

func benchWorkflows(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("bench workflows", "", `Measure durable workflows end to end in process: --concurrency workers each start a
run of --steps no-op steps (Engine.StartRun with a fresh run ID) and wait for it to
complete (Engine.Await, told by the runner, no polling); runs/s counts completed runs
and the latency is from the start to the completion. Beside it, in the same process
and on the same node, the baseline: one durable actor action (counter.increment
through the runtime client, one counter per worker) at the same concurrency. The two
alternate in --rounds slices of --duration/--rounds each (so that both see the same
machine). Afterwards up to --sample completed runs are read back from the event log:
the appends per run, and each step's overhead measured commit to commit (from a
journal commit to the next, as the events' times record them).
It starts a node in-process (embedded JetStream, default fsync) on a temporary data dir,
or on --data-dir. Progress goes to stderr, results to stdout.`, stderr)
	cmd.env = map[string]string{}
	concurrency := cmd.fs.Int("concurrency", 64, "runs (and, for the baseline, actions) in flight at once")
	steps := cmd.fs.Int("steps", 10, "no-op steps per run")
	duration := cmd.fs.Duration("duration", 20*time.Second, "how long each of the two sides runs, in total")
	rounds := cmd.fs.Int("rounds", 4, "split each side into this many slices, alternating baseline and workflows")
	sample := cmd.fs.Int("sample", 2000, "completed runs read back for the per-step figures and appends per run (0: none)")
	dataDir := cmd.fs.String("data-dir", "", "the node's data dir (default: a temporary one, removed at the end)")
	jsonOut := cmd.fs.Bool("json", false, "print the results as JSON")
	cpuProfile := cmd.fs.String("cpuprofile", "", "write a CPU profile of this process over the workflow slices (with the baseline between them unless --rounds 1)")
	return cmd.leaf(0, 0, func(_ []string) int {
		switch {
		case *concurrency < 1 || *concurrency > loadgen.MaxConcurrency:
			return cmd.usageError(fmt.Errorf("--concurrency %d: want 1 to %d", *concurrency, loadgen.MaxConcurrency))
		case *steps < 1 || *steps > maxBenchSteps:
			return cmd.usageError(fmt.Errorf("--steps %d: want 1 to %d", *steps, maxBenchSteps))
		case *duration <= 0 || *duration > maxBenchDuration:
			return cmd.usageError(fmt.Errorf("--duration %v: want more than 0, at most %v", *duration, maxBenchDuration))
		case *rounds < 1 || *duration/time.Duration(max(*rounds, 1)) < 100*time.Millisecond:
			return cmd.usageError(fmt.Errorf("--rounds %d: want at least 1, with slices of --duration/--rounds of 100ms or more", *rounds))
		case *sample < 0 || *sample > maxBenchSample:
			return cmd.usageError(fmt.Errorf("--sample %d: want 0 to %d", *sample, maxBenchSample))
		}
		ctx, stop := interruptible()
		defer stop()

		dir, where := *dataDir, "data dir "+*dataDir
		if dir == "" {
			d, err := os.MkdirTemp("", "rivet-flow-bench-")
			if err != nil {
				return cmd.fail("", err)
			}
			defer os.RemoveAll(d)
			dir, where = d, "temporary data dir"
		}
		node, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Version: buildVersion(),
			Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Workflows: []workflows.Definition{benchStepsWorkflow()}})
		if err != nil {
			return cmd.fail("", fmt.Errorf("start an in-process node on %s: %w", dir, err))
		}
		defer func() {
			if err := node.Stop(context.Background()); err != nil {
				fmt.Fprintln(stderr, "rivet-flow bench workflows: stop the in-process node:", err)
			}
		}()
		eng := node.Workflows()

		// Fresh names, so that a reused --data-dir starts no old run again.
		prefix := "b" + strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36)
		counters := make([]*actors.Handle, *concurrency)
		err = loadgen.ForEach(ctx, *concurrency, min(*concurrency, 16), time.Second, nil, func(ctx context.Context, i int) error {
			h, _, err := node.Runtime().Client().GetOrCreate(ctx, "counter", []string{prefix + "-" + strconv.Itoa(i)}, nil)
			counters[i] = h
			return err
		})
		if err != nil {
			return cmd.fail("", fmt.Errorf("create the baseline's counters: %w", err))
		}

		if !*jsonOut {
			fmt.Fprintf(stdout, "rivet-flow bench workflows: %d no-op steps per run, concurrency %d, %v per side in %d alternating slices, GOMAXPROCS %d\n",
				*steps, *concurrency, *duration, *rounds, runtime.GOMAXPROCS(0))
			fmt.Fprintf(stdout, "  workflows: Engine.StartRun -> Engine.Await (completed) on an in-process node (embedded JetStream, default fsync, %s)\n", where)
			fmt.Fprintf(stdout, "  baseline:  counter.increment through the runtime client, one counter per worker, same node\n")
		}

		input, _ := json.Marshal(*steps)
		wantResult := strconv.Itoa(*steps * (*steps - 1) / 2)
		var next atomic.Uint64
		completed := make([][]string, *concurrency) // per worker: only that worker appends
		runOne := func(ctx context.Context, worker int) error {
			id := prefix + "-" + strconv.FormatUint(next.Add(1), 10)
			if _, _, err := eng.StartRun(ctx, benchWorkflowName, id, input); err != nil {
				return err
			}
			run, err := eng.Await(ctx, benchWorkflowName, id)
			switch {
			case err != nil:
				return fmt.Errorf("await run %s: %w", id, err)
			case run.Status != workflows.StatusCompleted:
				return fmt.Errorf("run %s is %s: %+v", id, run.Status, run.Error)
			case string(run.Result) != wantResult:
				return fmt.Errorf("run %s completed with %s, want %s", id, run.Result, wantResult)
			}
			completed[worker] = append(completed[worker], id)
			return nil
		}
		incr := json.RawMessage(`[1]`)
		actOne := func(ctx context.Context, worker int) error {
			_, err := counters[worker].ActionJSON(ctx, "increment", incr)
			return err
		}

		sides := []*benchSide{{name: "action"}, {name: "workflow run"}}
		fns := []func(context.Context, int) error{actOne, runOne}
		status := newStatusLine(stderr)
		progress := func(round, cur int, p loadgen.Progress) {
			rate := func(i int) float64 {
				n, el := sides[i].total.Requests, sides[i].total.Elapsed
				if i == cur {
					n, el = n+p.Requests, el+p.Elapsed
				}
				if el <= 0 {
					return 0
				}
				return float64(n) / el.Seconds()
			}
			status.set("round %d/%d  actions %7.0f actions/s  workflows %6.0f runs/s (%7.0f steps/s)  errors %d",
				round+1, *rounds, rate(0), rate(1), rate(1)*float64(*steps), sides[0].total.Errors+sides[1].total.Errors+p.Errors)
		}
		var profile *os.File
		if *cpuProfile != "" {
			if profile, err = os.Create(*cpuProfile); err != nil {
				return cmd.fail("", err)
			}
			defer profile.Close()
		}
		slice := *duration / time.Duration(*rounds)
		for round := range *rounds {
			for i, sd := range sides {
				if profile != nil && i == 1 && round == 0 {
					if err := pprof.StartCPUProfile(profile); err != nil {
						return cmd.fail("", err)
					}
					defer pprof.StopCPUProfile()
				}
				cfg := loadgen.Config{Concurrency: *concurrency, Duration: slice, Grace: 30 * time.Second,
					Progress: func(p loadgen.Progress) { progress(round, i, p) }}
				res, err := loadgen.Run(ctx, cfg, fns[i])
				if err != nil {
					status.end()
					return cmd.fail("", err)
				}
				sd.total.Add(res)
				sd.rates = append(sd.rates, res.Throughput())
				progress(round, -1, loadgen.Progress{})
			}
		}
		if profile != nil {
			pprof.StopCPUProfile()
		}
		status.end()

		var ids []string
		for _, w := range completed {
			ids = append(ids, w...)
		}
		js, err := readRunJournals(ctx, node.Events(), benchWorkflowName, spread(ids, *sample), stderr)
		if err != nil {
			return cmd.fail("", err)
		}
		res := summarizeWorkflows(sides, js, *steps)
		res.Concurrency, res.Steps, res.Rounds, res.DurationSeconds, res.GOMAXPROCS = *concurrency, *steps, *rounds, duration.Seconds(), runtime.GOMAXPROCS(0)
		if *jsonOut {
			_ = writeJSON(stdout, res)
		} else {
			res.print(stdout)
		}
		if res.Runs.Requests == 0 {
			fmt.Fprintln(stderr, "rivet-flow bench workflows: no run completed")
			return 1
		}
		return 0
	})
}
