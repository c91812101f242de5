package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/loadgen"
)

// runJournal is what bench workflows reads back of one completed run: its
// appends, and the times of its create event and of its journal commits
// (the steps', then the finish), as the events record them.
type runJournal struct {
	appends int
	created time.Time
	commits []time.Time
}

// wfEventArgs is the part of a runner's $wf event bench workflows reads.
type wfEventArgs struct {
	Op string `json:"op"`
}

// wfOp returns the op of a runner's $wf event args ("" if they have none).
func wfOp(args []byte) string {
	var a wfEventArgs
	if json.Unmarshal(args, &a) == nil {
		return a.Op
	}
	var arr []wfEventArgs
	if json.Unmarshal(args, &arr) == nil && len(arr) > 0 {
		return arr[0].Op
	}
	return ""
}

// spread returns up to n of ids, evenly spaced (so every slice of the run
// is represented).
func spread(ids []string, n int) []string {
	if n <= 0 {
		return nil
	}
	if len(ids) <= n {
		return ids
	}
	out := make([]string, n)
	for i := range n {
		out[i] = ids[i*len(ids)/n]
	}
	return out
}

// readRunJournals reads the events of runs ids of workflow name, 16 at a
// time, after the measured slices (so the reads cost the runs nothing).
func readRunJournals(ctx context.Context, log *eventlog.Log, name string, ids []string, stderr io.Writer) ([]runJournal, error) {
	out := make([]runJournal, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	status := newStatusLine(stderr)
	err := loadgen.ForEach(ctx, len(ids), 16, time.Second, func(done int) {
		status.set("reading back %d runs: %d/%d", len(ids), done, len(ids))
	}, func(ctx context.Context, i int) error {
		subject, err := eventlog.ActorRef{Type: name, Key: []string{ids[i]}}.Subject()
		if err != nil {
			return err
		}
		var j runJournal
		for after := uint64(0); ; {
			evs, more, err := log.ReadActorPage(ctx, subject, after, 0)
			if err != nil {
				return fmt.Errorf("read back run %s: %w", ids[i], err)
			}
			for _, ev := range evs {
				j.appends++
				after = ev.Seq
				switch {
				case ev.Kind == eventlog.KindCreate:
					j.created = ev.Time
				case ev.Action == "$wf":
					if op := wfOp(ev.Args); op == "step" || op == "finish" {
						j.commits = append(j.commits, ev.Time)
					}
				}
			}
			if !more || len(evs) == 0 {
				break
			}
		}
		out[i] = j
		return nil
	})
	status.end()
	return out, err
}

// quantiles are a latency's p50, p99 and max, in milliseconds.
type quantiles struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`

	p50, p99, max time.Duration
}

func quantilesOf(h *loadgen.Histogram) quantiles {
	q := quantiles{Count: int64(h.Count()), p50: h.Quantile(0.5), p99: h.Quantile(0.99), max: h.Max()}
	q.P50, q.P99, q.Max = ms(q.p50), ms(q.p99), ms(q.max)
	return q
}

// workflowsResult is bench workflows' outcome, as printed and as --json.
type workflowsResult struct {
	Concurrency     int     `json:"concurrency"`
	Steps           int     `json:"steps"`
	Rounds          int     `json:"rounds"`
	DurationSeconds float64 `json:"durationSeconds"`
	GOMAXPROCS      int     `json:"gomaxprocs"`

	// Actions is the baseline, Runs the workflow runs (latency: start to
	// completed).
	Actions                *benchRun `json:"actions"`
	Runs                   *benchRun `json:"runs"`
	ActionsMedianPerSecond float64   `json:"actionsMedianPerSecond"`
	RunsMedianPerSecond    float64   `json:"runsMedianPerSecond"`
	StepsPerSecond         float64   `json:"stepsPerSecond"`
	// StepByRun is a run's latency divided by its steps.
	StepByRun quantiles `json:"stepByRunLatency"`

	// Read back from the sampled runs' events.
	Sampled     int     `json:"sampled"`
	AppendsMean float64 `json:"appendsPerRun"`
	AppendsMin  int     `json:"appendsPerRunMin"`
	AppendsMax  int     `json:"appendsPerRunMax"`
	// StepCommit is a step's overhead commit to commit: from one journal
	// commit to the next (the next step's, or the finish).
	StepCommit quantiles `json:"stepCommitToCommit"`
	// StartToFirst is from the run's create event to its first step's
	// commit: StartRun, the runner's start and its journal load.
	StartToFirst quantiles `json:"createToFirstStep"`

	// RatioP50 and RatioP99 are StepCommit over the action's latency.
	RatioP50   float64 `json:"stepOverActionP50"`
	RatioP99   float64 `json:"stepOverActionP99"`
	RunsTarget float64 `json:"runsTarget"`
	StepTarget float64 `json:"stepOverActionTarget"`
}

// summarizeWorkflows computes the result of sides (the baseline, then the
// runs) and the sampled journals js.
func summarizeWorkflows(sides []*benchSide, js []runJournal, steps int) *workflowsResult {
	summarize := func(sd *benchSide) *benchRun {
		res := &sd.total
		if res.Latency == nil {
			res.Latency = &loadgen.Histogram{}
		}
		r := &benchRun{Name: sd.name, Requests: res.Requests, Errors: res.Errors, Seconds: res.Elapsed.Seconds(), PerSecond: res.Throughput(),
			p50: res.Latency.Quantile(0.5), p99: res.Latency.Quantile(0.99), p999: res.Latency.Quantile(0.999), max: res.Latency.Max()}
		r.P50, r.P99, r.P999, r.Max = ms(r.p50), ms(r.p99), ms(r.p999), ms(r.max)
		if res.FirstError != nil {
			r.FirstError = res.FirstError.Error()
		}
		return r
	}
	res := &workflowsResult{Actions: summarize(sides[0]), Runs: summarize(sides[1]),
		ActionsMedianPerSecond: median(sides[0].rates), RunsMedianPerSecond: median(sides[1].rates),
		RunsTarget: benchRunsTarget, StepTarget: benchStepTarget}
	res.StepsPerSecond = res.Runs.PerSecond * float64(steps)
	perStep := func(d time.Duration) time.Duration { return d / time.Duration(steps) }
	res.StepByRun = quantiles{Count: res.Runs.Requests, p50: perStep(res.Runs.p50), p99: perStep(res.Runs.p99), max: perStep(res.Runs.max)}
	res.StepByRun.P50, res.StepByRun.P99, res.StepByRun.Max = ms(res.StepByRun.p50), ms(res.StepByRun.p99), ms(res.StepByRun.max)

	var commit, first loadgen.Histogram
	total := 0
	for i, j := range js {
		total += j.appends
		if i == 0 || j.appends < res.AppendsMin {
			res.AppendsMin = j.appends
		}
		res.AppendsMax = max(res.AppendsMax, j.appends)
		if len(j.commits) == 0 {
			continue
		}
		if !j.created.IsZero() {
			first.Record(j.commits[0].Sub(j.created))
		}
		for k := 1; k < len(j.commits); k++ {
			commit.Record(j.commits[k].Sub(j.commits[k-1]))
		}
	}
	if res.Sampled = len(js); res.Sampled > 0 {
		res.AppendsMean = float64(total) / float64(res.Sampled)
	}
	res.StepCommit, res.StartToFirst = quantilesOf(&commit), quantilesOf(&first)
	if res.Actions.p50 > 0 && res.Actions.p99 > 0 {
		res.RatioP50 = float64(res.StepCommit.p50) / float64(res.Actions.p50)
		res.RatioP99 = float64(res.StepCommit.p99) / float64(res.Actions.p99)
	}
	return res
}

// print writes the result as a table with its verdicts.
func (r *workflowsResult) print(w io.Writer) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-24s %9s %7s %17s %17s %9s %9s %9s\n", "", "completed", "errors", "throughput", "median", "p50", "p99", "max")
	for _, row := range []struct {
		*benchRun
		unit   string
		median float64
	}{{r.Actions, "actions/s", r.ActionsMedianPerSecond}, {r.Runs, "runs/s", r.RunsMedianPerSecond}} {
		fmt.Fprintf(w, "%-24s %9d %7d %17s %17s %9s %9s %9s\n", row.Name, row.Requests, row.Errors,
			fmt.Sprintf("%.0f %s", row.PerSecond, row.unit), fmt.Sprintf("%.0f %s", row.median, row.unit),
			latency(row.p50), latency(row.p99), latency(row.max))
	}
	q := func(name string, q quantiles) {
		fmt.Fprintf(w, "%-24s %9d %7s %17s %17s %9s %9s %9s\n", name, q.Count, "", "", "", latency(q.p50), latency(q.p99), latency(q.max))
	}
	q("step (run / steps)", r.StepByRun)
	q("step (commit to commit)", r.StepCommit)
	q("create to first step", r.StartToFirst)
	fmt.Fprintf(w, "  (run latency: StartRun to Await returning completed; a step's overhead commit to commit: from one\n")
	fmt.Fprintf(w, "   journal commit to the next, from the events' times of %d runs read back; median: over the slices)\n", r.Sampled)
	fmt.Fprintf(w, "steps/s: %.0f; appends per run: %.2f (min %d, max %d; expected %d: create, %d steps, finish)\n",
		r.StepsPerSecond, r.AppendsMean, r.AppendsMin, r.AppendsMax, r.Steps+2, r.Steps)
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Fprintf(w, "ratio: step (commit to commit) over action = %.2f at p50, %.2f at p99 (target <= %.1f: %s)\n",
		r.RatioP50, r.RatioP99, r.StepTarget, verdict(r.RatioP50 > 0 && r.RatioP50 <= r.StepTarget))
	fmt.Fprintf(w, "runs/s: %.0f (target >= %.0f, 10x DBOS Go's 265 ten-step runs/s at concurrency 64: %s)\n",
		r.Runs.PerSecond, r.RunsTarget, verdict(r.Runs.PerSecond >= r.RunsTarget))
	for _, row := range []*benchRun{r.Actions, r.Runs} {
		if row.FirstError != "" {
			fmt.Fprintf(w, "%s: %d errors, the first: %s\n", row.Name, row.Errors, row.FirstError)
		}
	}
}
