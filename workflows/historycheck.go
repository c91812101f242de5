package workflows

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
)

// errFrontier ends a replay-only execution at the run's frontier: the
// first call that would do new work (run a step, wait, start a child,
// write an entry). It wraps errStop, so whatever unwinds on a stop unwinds
// on it too.
var errFrontier = fmt.Errorf("%w: replay reached the run's frontier", errStop)

// replayOnly is what the Ws of one replay-only execution share.
type replayOnly struct {
	mu sync.Mutex
	// nds are the nondeterminism errors met (branches run concurrently:
	// the check reports the one of the earliest event, not the first met).
	nds []*NondeterminismError
	// front is the first call that would have done new work ("" when
	// unnamed: a wait in memory, a new step attempt).
	front string
	// next is the input ContinueAsNew was called with; continued reports
	// that it was called.
	next      json.RawMessage
	continued bool
	// inside are what the code does otherwise inside completed joins,
	// races and loops, which the runtime takes from their entries (design
	// §2): a branch or iteration that goes past its journal, fails, or
	// returns other results. Journal rules broken there are in nds.
	inside []insideDivergence
	// fronts are the calls that reached the journal's end, in any scope.
	fronts []Path
	// loopAt is when each loop entry recorded the end of an iteration:
	// the next one started at that W.Now (read-only once set).
	loopAt map[loopIter]time.Time
}

// loopIter is iteration i of the loop at path.
type loopIter struct {
	path string
	i    int
}

// iterationStart is the Now that iteration i of the loop at p started
// with in the recorded run, if the history tells.
func (ro *replayOnly) iterationStart(p Path, i int) (time.Time, bool) {
	t, ok := ro.loopAt[loopIter{p.String(), i}]
	return t, ok
}

// insideDivergence is a difference inside the completed scope entry.
type insideDivergence struct {
	entry                 Path
	msg, expected, actual string
}

// errDivergedInside ends a replay-only execution that met a difference
// inside a completed scope (recorded in replayOnly.inside). It wraps
// errFrontier: Joins and Races unwind on it as on a frontier.
var errDivergedInside = fmt.Errorf("%w (a completed scope differs)", errFrontier)

// divergedInside records a difference inside the completed scope at
// entry and ends the execution.
func (w *W) divergedInside(entry Path, msg, expected, actual string) error {
	w.ro.mu.Lock()
	w.ro.inside = append(w.ro.inside, insideDivergence{entry: entry, msg: msg, expected: expected, actual: actual})
	w.ro.mu.Unlock()
	return w.fail(errDivergedInside)
}

// frontierWithin names the first call within scope that reached the
// journal's end.
func (ro *replayOnly) frontierWithin(scope Path) string {
	ro.mu.Lock()
	defer ro.mu.Unlock()
	for _, p := range ro.fronts {
		if p.Within(scope) {
			return "new work at " + p.String()
		}
	}
	return "new work"
}

// checkInside checks, in a replay-only execution, the outcome err of a
// branch or iteration (what) of the completed scope entry, which the
// runtime does not run again: its journal rules were checked as it ran;
// it must also end where its journal ends, without failing. It returns
// nil, or what ends the execution (its failure, or a divergence found).
func (w *W) checkInside(entry, scope Path, what string, err error) error {
	var nd *NondeterminismError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nd) || errors.Is(err, errDivergedInside) || unwinding(err) && !errors.Is(err, errFrontier):
		return w.fail(err) // recorded where it was met, or the check ends
	case errors.Is(err, errFrontier):
		at := w.ro.frontierWithin(scope)
		return w.divergedInside(entry, fmt.Sprintf("%s goes on past its journal (%s)", what, at), "its recorded calls only", at)
	}
	return w.divergedInside(entry, what+" fails in this code", "completed", failureText(err))
}

// checkValue compares, in a replay-only execution, the JSON value
// computed inside the completed scope entry with the one recorded.
func (w *W) checkValue(entry Path, what string, v any, rec json.RawMessage) error {
	b, err := json.Marshal(v)
	if err != nil {
		return w.divergedInside(entry, what+" does not encode as JSON", indentJSON(rec), err.Error())
	}
	if !sameJSON(b, rec) {
		return w.divergedInside(entry, "the code computes another "+what+" than the recorded run", indentJSON(rec), indentJSON(b))
	}
	return nil
}

func (ro *replayOnly) diverged(nd *NondeterminismError) {
	ro.mu.Lock()
	ro.nds = append(ro.nds, nd)
	ro.mu.Unlock()
}

func (ro *replayOnly) continuedAs(in json.RawMessage) {
	ro.mu.Lock()
	ro.next, ro.continued = in, true
	ro.mu.Unlock()
}

// frontier ends a replay-only execution at the call at p (the root when
// unknown): the run's journal ends there.
func (w *W) frontier(p Path) error {
	w.ro.mu.Lock()
	if !p.IsRoot() {
		if w.ro.front == "" {
			w.ro.front = p.String()
		}
		w.ro.fronts = append(w.ro.fronts, p)
	}
	w.ro.mu.Unlock()
	return w.fail(errFrontier)
}

// replayable reports whether a journaled call of kind that found v returns
// its recorded outcome without the runtime; a call that is not is the
// run's frontier in a replay-only execution. Loops, joins and races go on
// into their scopes (their own writes stop at the frontier); version
// checks and removed markers are visited without enter.
func replayable(kind Kind, v Visit) bool {
	switch kind {
	case KindStep:
		return v.Found && (v.Entry.Status == EntryCompleted || v.Entry.Status == EntryFailed)
	case KindSleep, KindMessage:
		return v.Found && v.Entry.Status == EntryCompleted
	case KindChild:
		return v.Found && v.Entry.Status != EntryWaiting
	case KindRollbackCheckpoint:
		return v.Found
	}
	return true
}

// historyCheck is the HistoryCheck of workflow c's run type (Register
// sets it).
func historyCheck(c *core) actors.HistoryCheck {
	return func(ctx context.Context, a *actors.ReplayedActor) (*actors.Divergence, error) {
		return checkHistory(ctx, c, a)
	}
}

// epochView is one epoch of a recorded run, as the check replays it.
type epochView struct {
	epoch int
	st    RunState
	kv    map[string][]byte
	kvSeq map[string]uint64
	// last is the event the epoch ends at: the continue event of an
	// earlier epoch, the history's last event for the current one.
	last uint64
	// continued: the epoch ended with ContinueAsNew, whose input (for the
	// next epoch) is next.
	continued bool
	next      json.RawMessage
}

// checkHistory is the workflow's HistoryCheck (design §2, replay): it
// re-executes this build's workflow function over each recorded epoch of
// the run, in replay-only mode (journaled calls return their recorded
// outcomes, no step runs, nothing is written, the first call that would
// do new work ends the execution), and compares what the code does with
// what the history recorded. Unlike the runtime, it also runs the insides
// of completed Joins, Races, Gos and Loop iterations (restoring from the
// history the iterations' entries a Loop pruned), which must replay their
// journal and end where it does. It needs no runtime and no engine.
func checkHistory(ctx context.Context, c *core, a *actors.ReplayedActor) (*actors.Divergence, error) {
	im := a.Final
	im.Settle()
	if !im.Exists {
		return nil, nil // a destroyed run: nothing of it left to check
	}
	var st RunState
	if err := json.Unmarshal(im.State, &st); err != nil {
		return nil, fmt.Errorf("workflow %s: the run's state does not decode: %w", c.name, err)
	}
	var last uint64
	if n := len(a.Events); n > 0 {
		last = a.Events[n-1].Seq
	}
	epochs := []epochView{}
	if st.Epoch > 0 {
		earlier, err := earlierEpochs(a)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: %w", c.name, err)
		}
		epochs = earlier
	}
	epochs = append(epochs, epochView{epoch: st.Epoch, st: st, kv: im.KV, kvSeq: a.KVSeq, last: last})
	for _, ev := range epochs {
		d, err := checkEpoch(ctx, c, a, ev)
		if d != nil || err != nil {
			return d, err
		}
	}
	return nil, nil
}

// earlierEpochs folds the history up to each ContinueAsNew ($wf op
// "continue"): the run as it stood right before it is that epoch whole
// (the continue event starts deleting its journal).
func earlierEpochs(a *actors.ReplayedActor) ([]epochView, error) {
	var out []epochView
	var im actorstate.Image
	kvSeq := map[string]uint64{}
	for _, ev := range a.Events {
		if wfOp(ev.Action, ev.Args) == "continue" {
			var st RunState
			if err := json.Unmarshal(im.CurrentState(), &st); err != nil {
				return nil, fmt.Errorf("the run's state before event %d does not decode: %w", ev.Seq, err)
			}
			v := epochView{epoch: st.Epoch, st: st, kv: maps.Clone(im.KV), kvSeq: maps.Clone(kvSeq), last: ev.Seq, continued: true}
			for _, kw := range ev.KV {
				if string(kw.Key) == inKey(st.Epoch+1) && !kw.Delete {
					v.next = kw.Value
				}
			}
			out = append(out, v)
		}
		if err := im.Apply(ev); err != nil {
			return nil, err
		}
		for _, kw := range ev.KV {
			kvSeq[string(kw.Key)] = ev.Seq
		}
	}
	return out, nil
}

// prunedEntry is a journal entry deleted before the epoch's end, as the
// last event that wrote it left it.
type prunedEntry struct {
	value []byte
	seq   uint64
}

// prunedEntries returns the entries of ev's journal that events up to its
// end deleted (only a Loop deletes entries of the current epoch's
// journal: its old iterations'), and when each loop entry recorded the
// end of each iteration.
func prunedEntries(a *actors.ReplayedActor, ev epochView) (map[string]prunedEntry, map[loopIter]time.Time) {
	prefix := JournalPrefix(ev.epoch)
	loopAt := map[loopIter]time.Time{}
	written := map[string]prunedEntry{}
	pruned := map[string]prunedEntry{}
	for _, e := range a.Events {
		if e.Seq >= ev.last && ev.continued || e.Seq > ev.last {
			break
		}
		for _, kw := range e.KV {
			k := string(kw.Key)
			if !strings.HasPrefix(k, prefix) {
				continue
			}
			if kw.Delete {
				if p, ok := written[k]; ok {
					pruned[k] = p
					delete(written, k)
				}
				continue
			}
			written[k] = prunedEntry{value: kw.Value, seq: e.Seq}
			if li, at, ok := loopCommit(ev.epoch, k, kw.Value); ok {
				loopAt[li] = at
			}
			delete(pruned, k)
		}
	}
	for k := range pruned {
		if _, kept := ev.kv[k]; kept {
			delete(pruned, k)
		}
	}
	return pruned, loopAt
}

// loopCommit reads a loop entry written at key: the iteration it starts
// and its commit time.
func loopCommit(epoch int, key string, value []byte) (loopIter, time.Time, bool) {
	rec, err := DecodeRecord(epoch, key, value)
	if err != nil || rec.Entry.Kind != KindLoop {
		return loopIter{}, time.Time{}, false
	}
	var x loopExtra
	if json.Unmarshal(rec.Entry.Extra, &x) != nil {
		return loopIter{}, time.Time{}, false
	}
	return loopIter{rec.Path.String(), x.I}, rec.Entry.At, true
}

// wfOp is the op of a $wf event's args, "" for any other event.
func wfOp(action string, args []byte) string {
	if action != wfEvent || len(args) == 0 {
		return ""
	}
	var a wfArgs
	if json.Unmarshal(args, &a) != nil {
		return ""
	}
	return a.Op
}

// checkEpoch re-executes the workflow function over one epoch's journal.
func checkEpoch(ctx context.Context, c *core, a *actors.ReplayedActor, ev epochView) (*actors.Divergence, error) {
	prefix := JournalPrefix(ev.epoch)
	// Loops delete the journal of their old iterations (all of it when
	// they finish): the history still holds it, so the check replays
	// every iteration, as the code ran them.
	pruned, loopAt := prunedEntries(a, ev)
	journal := ev.kv
	if len(pruned) > 0 {
		journal, ev.kvSeq = maps.Clone(ev.kv), maps.Clone(ev.kvSeq)
		for k, p := range pruned {
			journal[k], ev.kvSeq[k] = p.value, p.seq
		}
	}
	var records []Record
	for _, k := range slices.Sorted(maps.Keys(journal)) {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rec, err := DecodeRecord(ev.epoch, k, journal[k])
		if err != nil {
			return nil, fmt.Errorf("workflow %s run %s: damaged journal: %w", c.name, ev.st.RunID, err)
		}
		records = append(records, rec)
	}
	replay, err := NewReplay(records)
	if err != nil {
		return nil, fmt.Errorf("workflow %s run %s: damaged journal: %w", c.name, ev.st.RunID, err)
	}
	var input json.RawMessage
	if v, ok := ev.kv[inKey(ev.epoch)]; ok {
		input = v
	}
	// The check's own context: the execution's, which nothing cancels but
	// the caller (a cancelled one would end replays as a stop does).
	w := &W{ctx: ctx, c: c, runID: ev.st.RunID, actorID: a.ID, epoch: ev.epoch, seed: ev.st.Seed,
		now: ev.st.CreatedAt, comp: &compensations{}, replay: replay, ro: &replayOnly{loopAt: loopAt}}
	cancelled := !ev.continued && (ev.st.Status == StatusCancelled || ev.st.CancelRequested)
	out, runErr := execute(w, input)
	if f := w.failed(); f != nil {
		runErr = f
	}
	if runErr == nil && !cancelled {
		runErr = w.nondeterminism(replay.Complete(Path{}))
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k := &epochCheck{c: c, a: a, ev: ev, ro: w.ro}
	nd := k.firstNondeterminism(runErr)
	if in, seq := k.firstInside(); in != nil && (nd == nil || seq < nd.Seq) {
		return k.diverge(seq, fmt.Sprintf("%s %s: %s", kindAt(ev, in.entry), in.entry, in.msg), in.expected, in.actual), nil
	}
	if nd != nil {
		if !ev.continued && ev.st.Status == StatusFailed && ev.st.Error != nil &&
			ev.st.Error.Code == string(CodeNondeterminism) && ev.st.Error.Entry == nd.Path {
			return nil, nil // the recorded run failed the same way
		}
		return k.nondeterminism(nd), nil
	}
	switch {
	case ev.continued:
		return k.continuedEpoch(out, runErr), nil
	case cancelled:
		return nil, nil // a cancel replays to its frontier only: no outcome to compare
	case errors.Is(runErr, errContinued):
		if ev.st.Status.Finished() {
			return k.diverge(k.finishSeq(), "the code continues as new where the recorded run "+string(ev.st.Status),
				k.recordedOutcome(), "ContinueAsNew("+string(w.ro.next)+")"), nil
		}
		return nil, nil // the run's frontier: its runner would continue now
	case errors.Is(runErr, errFrontier):
		if ev.st.Status.Finished() {
			return k.diverge(k.finishSeq(), "the code goes on past the journal ("+k.frontierName()+") where the recorded run "+string(ev.st.Status),
				k.recordedOutcome(), "new work at "+k.frontierName()), nil
		}
		return nil, nil
	case errors.Is(runErr, errStop) || errors.Is(runErr, errParked):
		return nil, fmt.Errorf("workflow %s run %s: the replay stopped early: %w", c.name, ev.st.RunID, runErr)
	}
	return k.outcome(out, runErr), nil
}

// epochCheck builds the divergences of one epoch's check.
type epochCheck struct {
	c  *core
	a  *actors.ReplayedActor
	ev epochView
	ro *replayOnly
}

// firstNondeterminism returns the nondeterminism of the earliest recorded
// event among those the execution met (or runErr's own).
func (k *epochCheck) firstNondeterminism(runErr error) *NondeterminismError {
	k.ro.mu.Lock()
	nds := slices.Clone(k.ro.nds)
	k.ro.mu.Unlock()
	var nd *NondeterminismError
	if errors.As(runErr, &nd) {
		nds = append(nds, nd)
	}
	if len(nds) == 0 {
		return nil
	}
	for _, n := range nds {
		n.Seq = k.entrySeq(n.WantPath)
	}
	return slices.MinFunc(nds, func(x, y *NondeterminismError) int {
		return cmp.Or(cmp.Compare(x.Seq, y.Seq), cmp.Compare(x.WantPath, y.WantPath), cmp.Compare(x.Path, y.Path))
	})
}

// firstInside returns the difference inside a completed scope whose entry
// the earliest event recorded, and that event's sequence.
func (k *epochCheck) firstInside() (*insideDivergence, uint64) {
	k.ro.mu.Lock()
	defer k.ro.mu.Unlock()
	var first *insideDivergence
	var seq uint64
	for i := range k.ro.inside {
		in := &k.ro.inside[i]
		s := k.entrySeq(in.entry.String())
		if first == nil || s < seq || s == seq && in.entry.s < first.entry.s {
			first, seq = in, s
		}
	}
	return first, seq
}

// kindAt names the kind of the entry at p ("completed" with it).
func kindAt(ev epochView, p Path) string {
	if e, err := DecodeEntry(ev.kv[EntryKey(ev.epoch, p)]); err == nil {
		return "completed " + string(e.Kind)
	}
	return "completed scope"
}

// entrySeq is the sequence of the event that wrote the entry at path (the
// epoch's last event when unknown).
func (k *epochCheck) entrySeq(path string) uint64 {
	if s, ok := k.ev.kvSeq[JournalPrefix(k.ev.epoch)+path]; ok && s > 0 {
		return s
	}
	return k.ev.last
}

// nondeterminism is the divergence of nd: the code calls something else
// than the journal records.
func (k *epochCheck) nondeterminism(nd *NondeterminismError) *actors.Divergence {
	want := fmt.Sprintf("%s %q at %s", nd.Want, lastSegment(nd.WantPath), nd.WantPath)
	got := fmt.Sprintf("%s %q at %s", nd.Got, lastSegment(nd.Path), nd.Path)
	switch {
	case nd.Reason == MissingCall:
		got = "no call: scope " + nd.Scope + " completed"
	case nd.Removed:
		got = fmt.Sprintf("Removed(%q, %s) at %s", lastSegment(nd.Path), nd.Got, nd.Path)
	case nd.Reason == DuplicateCall:
		got += " (a second time)"
	}
	bare := *nd // the run and workflow are in the message already
	bare.RunID, bare.Workflow = "", ""
	return k.diverge(nd.Seq, bare.Error(), want, got)
}

// continuedEpoch compares an earlier epoch's end (the code must call
// ContinueAsNew with the recorded input) with what the code did.
func (k *epochCheck) continuedEpoch(out json.RawMessage, runErr error) *actors.Divergence {
	want := "ContinueAsNew(" + string(k.ev.next) + ")"
	switch {
	case errors.Is(runErr, errContinued):
		if !sameJSON(k.ro.next, k.ev.next) {
			return k.diverge(k.ev.last, "the code continues as new with another input",
				indentJSON(k.ev.next), indentJSON(k.ro.next))
		}
		return nil
	case errors.Is(runErr, errFrontier):
		return k.diverge(k.ev.last, fmt.Sprintf("the code goes on past the journal (%s) where the recorded run continued as new", k.frontierName()),
			want, "new work at "+k.frontierName())
	case runErr != nil:
		return k.diverge(k.ev.last, "the code fails where the recorded run continued as new", want, failureText(runErr))
	}
	return k.diverge(k.ev.last, "the code completes where the recorded run continued as new", want, indentJSON(out))
}

// outcome compares the function's outcome (it returned) with the run's
// recorded status and result.
func (k *epochCheck) outcome(out json.RawMessage, runErr error) *actors.Divergence {
	st := k.ev.st
	did := "completes"
	actual := indentJSON(out)
	if runErr != nil {
		did, actual = "fails", failureText(runErr)
	}
	switch st.Status {
	case StatusSleeping, StatusWaiting:
		what := string(st.Status)
		if st.Waiting != nil {
			what += " on " + st.Waiting.Entry
		}
		return k.diverge(k.ev.last, fmt.Sprintf("the code %s where the recorded run is %s", did, what), "run "+what, actual)
	case StatusCompleted:
		if runErr != nil {
			return k.diverge(k.finishSeq(), "the code fails where the recorded run completed", k.recordedOutcome(), actual)
		}
		if rec := k.ev.kv[outKey]; !sameJSON(rec, out) {
			return k.diverge(k.finishSeq(), "the code completes with another result than the recorded run", indentJSON(rec), actual)
		}
	case StatusFailed:
		if runErr == nil {
			return k.diverge(k.finishSeq(), "the code completes where the recorded run failed", k.recordedOutcome(), actual)
		}
		if re := toRunError(runErr); st.Error == nil || re.Code != st.Error.Code {
			return k.diverge(k.finishSeq(), "the code fails with code "+re.Code+" where the recorded run failed with "+k.recordedCode(), k.recordedOutcome(), actual)
		}
	}
	// Running or paused: the runner was about to commit this outcome (a
	// history cut between the last entry and the finish), which the
	// journal cannot tell from a change.
	return nil
}

// diverge is a workflow divergence at the event of sequence seq.
func (k *epochCheck) diverge(seq uint64, msg, expected, actual string) *actors.Divergence {
	at := ""
	if k.ev.continued || k.ev.epoch > 0 {
		at = fmt.Sprintf(" epoch %d", k.ev.epoch)
	}
	return &actors.Divergence{Seq: seq, Action: wfEvent, What: "workflow",
		Message: fmt.Sprintf("workflow %s run %s%s: %s", k.c.name, k.ev.st.RunID, at, msg), Expected: expected, Actual: actual}
}

// finishSeq is the sequence of the event that finished the run: its last
// $wf finish event, else the history's last event.
func (k *epochCheck) finishSeq() uint64 {
	for i := len(k.a.Events) - 1; i >= 0; i-- {
		if ev := k.a.Events[i]; wfOp(ev.Action, ev.Args) == "finish" {
			return ev.Seq
		}
	}
	return k.ev.last
}

// recordedOutcome is the recorded run's end, as text.
func (k *epochCheck) recordedOutcome() string {
	st := k.ev.st
	switch {
	case st.Status == StatusCompleted:
		return "completed: " + indentJSON(k.ev.kv[outKey])
	case st.Error != nil:
		return fmt.Sprintf("%s: %s: %s", st.Status, st.Error.Code, st.Error.Message)
	}
	return string(st.Status)
}

func (k *epochCheck) recordedCode() string {
	if k.ev.st.Error == nil {
		return "no code"
	}
	return k.ev.st.Error.Code
}

// frontierName names the call the execution stopped at.
func (k *epochCheck) frontierName() string {
	k.ro.mu.Lock()
	defer k.ro.mu.Unlock()
	if k.ro.front == "" {
		return "new work"
	}
	return "the call at " + k.ro.front
}

// failureText is a run failure as a divergence shows it: code and message.
func failureText(err error) string {
	re := toRunError(err)
	return "failed: " + re.Code + ": " + re.Message
}

// sameJSON reports whether a and b are the same JSON value (an empty one
// is null).
func sameJSON(a, b json.RawMessage) bool {
	xb, xok := canonicalJSON(a)
	yb, yok := canonicalJSON(b)
	if !xok || !yok {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(xb, yb)
}

// canonicalJSON re-encodes raw with sorted keys and numbers kept as
// written; empty is null.
func canonicalJSON(raw json.RawMessage) ([]byte, bool) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return []byte("null"), true
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}

// indentJSON is raw as indented JSON (as it is when it is not JSON).
func indentJSON(raw json.RawMessage) string {
	if len(bytes.TrimSpace(raw)) == 0 {
		return "null"
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}
