package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// printReplaySummary prints replay --all's summary: a line per type, the
// first divergence of each diverged run, the actors that could not be
// replayed, and the verdict.
func printReplaySummary(w io.Writer, sum *replayAllSummary) {
	if len(sum.Types) == 0 {
		fmt.Fprintf(w, "no actors in the log of %s\n", sum.Source)
		return
	}
	printTable(w, "TYPE\tREPLAYED\tEVENTS\tDIVERGED\tFAILED\tSKIPPED", sum.Types, func(w io.Writer, r replayTypeRow) {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\n", r.Type, r.Replayed, r.Events, r.Diverged, r.Failed, r.Skipped)
	})
	if len(sum.Diverged) > 0 {
		fmt.Fprintln(w, "\nfirst divergence of each diverged run:")
		printTable(w, "ACTOR\tSEQ\tACTION\tWHAT\tMESSAGE", sum.Diverged, func(w io.Writer, d replayDiverged) {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", d.ActorID, d.Seq, d.Action, d.What, flat(d.Message))
		})
	}
	if len(sum.Failed) > 0 {
		fmt.Fprintln(w, "\ncould not be replayed:")
		printTable(w, "ACTOR\tERROR", sum.Failed, func(w io.Writer, f replayFailed) {
			fmt.Fprintf(w, "%s\t%s\n", f.ActorID, flat(f.Error))
		})
	}
	fmt.Fprintf(w, "\nreplayed %d open actors (%d events) of %s with this build (%s) in %s; skipped %d not open (destroyed, finished runs)\n",
		sum.Actors, sum.Events, sum.Source, sum.Version, time.Duration(sum.Seconds*float64(time.Second)).Round(time.Millisecond), sum.Skipped)
	switch {
	case len(sum.Diverged) == 0 && len(sum.Failed) == 0:
		fmt.Fprintln(w, "all identical")
	default:
		fmt.Fprintf(w, "%d diverged, %d could not be replayed\n", len(sum.Diverged), len(sum.Failed))
		fmt.Fprintln(w, "a run's full report: rivet-flow history export ID > h.jsonl && rivet-flow replay --history h.jsonl")
	}
}

// flat puts s on one line of at most 160 bytes, for a table cell.
func flat(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// barProgress is replayProgress as a progress bar.
type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

// newReplayProgress returns a progress bar on w when w is a terminal, else
// nil: piped or captured output stays free of it.
func newReplayProgress(w io.Writer) replayProgress {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &barProgress{w: w}
}

func (p *barProgress) start(total int) {
	p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription("replaying"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("actors"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionSetPredictTime(true))
}

func (p *barProgress) add(n int) { _ = p.bar.Add(n) }

func (p *barProgress) finish() { _ = p.bar.Finish() }
