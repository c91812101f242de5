package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// replayAllOptions configure replayAll.
type replayAllOptions struct {
	// Type keeps only the actors of this type; empty: every type.
	Type string
	// Concurrency is the number of histories read and replayed at once.
	Concurrency int
	// Workflows are the binary's workflow names: their run actors are
	// skipped once finished.
	Workflows map[string]bool
	// Progress, when set, is told the total and each history done.
	Progress replayProgress
	// readOnly reads every history and replays none: bench replay's
	// baseline, the cost of the same reads without the replay.
	readOnly bool
}

// replaySource is a log replay --all reads: a running node's or a data dir's.
type replaySource interface {
	// targets lists the IDs of the actors to consider (of type typ when
	// set). It may leave out actors it knows are not open; history says
	// for the others.
	targets(ctx context.Context, typ string) ([]string, error)
	// history reads actor id's whole history, oldest first; nil when the
	// actor is gone.
	history(ctx context.Context, id string) ([]*eventlog.Event, error)
	// name says where the log is, for the summary.
	name() string
}

// replayProgress shows replay --all's progress (on a terminal).
type replayProgress interface {
	start(total int)
	add(n int)
	finish()
}

// replayAllSummary is replay --all's outcome, as printed and as --json.
type replayAllSummary struct {
	Source string `json:"source"`
	// Version is this binary's: the code the histories were replayed with.
	Version string `json:"version"`
	// Actors is the number of open actors replayed; Events their events.
	Actors int `json:"actors"`
	Events int `json:"events"`
	// Skipped counts the actors that are not open: destroyed, or finished
	// workflow runs.
	Skipped  int              `json:"skipped"`
	Seconds  float64          `json:"seconds"`
	Types    []replayTypeRow  `json:"types"`
	Diverged []replayDiverged `json:"diverged"`
	Failed   []replayFailed   `json:"failed"`
}

// replayTypeRow is one type's line of the summary.
type replayTypeRow struct {
	Type     string `json:"type"`
	Replayed int    `json:"replayed"`
	Events   int    `json:"events"`
	Diverged int    `json:"diverged"`
	Failed   int    `json:"failed"`
	Skipped  int    `json:"skipped"`
}

// replayDiverged is the first divergence of one run.
type replayDiverged struct {
	ActorID string   `json:"actorId"`
	Type    string   `json:"type"`
	Key     []string `json:"key"`
	Seq     uint64   `json:"seq"`
	Action  string   `json:"action"`
	What    string   `json:"what"`
	Message string   `json:"message"`
	Diff    string   `json:"diff,omitempty"`
}

// replayFailed is an open actor whose history could not be read or replayed
// (an unknown type, a damaged history): the gate fails on it too, since it
// proves nothing about the code.
type replayFailed struct {
	ActorID string `json:"actorId"`
	Type    string `json:"type"`
	Error   string `json:"error"`
}

// replayAll replays every open actor of src with the code of reg,
// Concurrency at a time. An error means the log could not be listed (or
// ctx ended); a history that cannot be replayed is a Failed row.
func replayAll(ctx context.Context, reg *actors.Registry, src replaySource, opts replayAllOptions) (*replayAllSummary, error) {
	begin := time.Now()
	rp := actors.NewReplayer(reg)
	known := func(typ string) bool { _, ok := reg.Actions(typ); return ok }
	ids, err := src.targets(ctx, opts.Type)
	if err != nil {
		return nil, err
	}
	if opts.Progress != nil {
		opts.Progress.start(len(ids))
		defer opts.Progress.finish()
	}
	var (
		mu    sync.Mutex
		sum   = &replayAllSummary{Source: src.name(), Version: buildVersion()}
		types = map[string]*replayTypeRow{}
	)
	row := func(typ string) *replayTypeRow {
		r := types[typ]
		if r == nil {
			r = &replayTypeRow{Type: typ}
			types[typ] = r
		}
		return r
	}
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(opts.Concurrency, max(len(ids), 1)) {
		wg.Go(func() {
			for id := range next {
				o := replayOne(ctx, rp, known, src, id, opts)
				mu.Lock()
				o.addTo(sum, row(o.typ))
				mu.Unlock()
				if opts.Progress != nil {
					opts.Progress.add(1)
				}
			}
		})
	}
feed:
	for _, id := range ids {
		select {
		case next <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("interrupted after %d of %d actors: %w", sum.Actors+sum.Skipped+len(sum.Failed), len(ids), err)
	}
	// A node's listing leaves out what is not open before any history is
	// read: count those as skipped too.
	if ls, ok := src.(interface{ listedOut() map[string]int }); ok {
		for typ, n := range ls.listedOut() {
			sum.Skipped += n
			row(typ).Skipped += n
		}
	}
	for _, r := range types {
		sum.Types = append(sum.Types, *r)
	}
	sort.Slice(sum.Types, func(i, j int) bool { return sum.Types[i].Type < sum.Types[j].Type })
	sort.Slice(sum.Diverged, func(i, j int) bool { return sum.Diverged[i].ActorID < sum.Diverged[j].ActorID })
	sort.Slice(sum.Failed, func(i, j int) bool { return sum.Failed[i].ActorID < sum.Failed[j].ActorID })
	if sum.Diverged == nil {
		sum.Diverged = []replayDiverged{}
	}
	if sum.Failed == nil {
		sum.Failed = []replayFailed{}
	}
	sum.Seconds = time.Since(begin).Seconds()
	return sum, nil
}

// replayOutcome is what became of one actor.
type replayOutcome struct {
	typ      string
	skipped  bool
	events   int
	diverged *replayDiverged
	failed   *replayFailed
}

func (o *replayOutcome) addTo(sum *replayAllSummary, r *replayTypeRow) {
	switch {
	case o.failed != nil:
		sum.Failed = append(sum.Failed, *o.failed)
		r.Failed++
	case o.skipped:
		sum.Skipped++
		r.Skipped++
	default:
		sum.Actors++
		sum.Events += o.events
		r.Replayed++
		r.Events += o.events
		if o.diverged != nil {
			sum.Diverged = append(sum.Diverged, *o.diverged)
			r.Diverged++
		}
	}
}

// replayOne reads actor id's history and replays it when the actor is open.
func replayOne(ctx context.Context, rp *actors.Replayer, known func(string) bool, src replaySource, id string, opts replayAllOptions) replayOutcome {
	typ, key, err := actors.ParseID(id)
	if err != nil {
		return replayOutcome{typ: "?", failed: &replayFailed{ActorID: id, Error: err.Error()}}
	}
	out := replayOutcome{typ: typ}
	fail := func(err error) replayOutcome {
		out.failed = &replayFailed{ActorID: id, Type: typ, Error: err.Error()}
		return out
	}
	evs, err := src.history(ctx, id)
	if err != nil {
		return fail(err)
	}
	if !isOpen(typ, key, evs, opts.Workflows, known) {
		out.skipped = true
		return out
	}
	if opts.readOnly {
		out.events = len(evs)
		return out
	}
	res, err := rp.ReplayHistory(ctx, id, evs)
	if err != nil {
		return fail(err)
	}
	out.events = res.Events
	if d := res.Divergence; d != nil {
		k := res.Key
		if k == nil {
			k = key
		}
		out.diverged = &replayDiverged{ActorID: id, Type: typ, Key: k, Seq: d.Seq, Action: d.Action, What: d.What,
			Message: d.Message, Diff: d.Diff}
	}
	return out
}

// isOpen reports whether an actor with history evs is open: it exists (its
// last event is no tombstone) and, if it is a workflow run, has not
// finished. A type this binary does not know is checked for a finished run
// too: a workflow removed from the code blocks the gate only while it has
// open runs.
func isOpen(typ string, key []string, evs []*eventlog.Event, wfs map[string]bool, known func(string) bool) bool {
	if len(evs) == 0 || evs[len(evs)-1].Kind == eventlog.KindDestroy {
		return false
	}
	if !wfs[typ] && known(typ) {
		return true
	}
	return !finishedRun(typ, key, evs)
}

// finishedRun reports whether evs fold to a workflow run (RunState) of
// this actor that has finished.
func finishedRun(typ string, key []string, evs []*eventlog.Event) bool {
	if len(key) != 1 {
		return false // a run is keyed [runId]
	}
	var im actorstate.Image
	for _, ev := range evs {
		if err := im.Apply(ev); err != nil {
			return false // not foldable: let the replay say what is wrong
		}
	}
	im.Settle()
	var st struct {
		Workflow string           `json:"workflow"`
		RunID    string           `json:"runId"`
		Status   workflows.Status `json:"status"`
	}
	if json.Unmarshal(im.State, &st) != nil {
		return false
	}
	return st.Workflow == typ && st.RunID == key[0] && st.Status.Finished()
}
