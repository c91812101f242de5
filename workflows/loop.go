package workflows

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
)

// LoopResult is what one iteration of a Loop returns: go on with a new
// state (Continue) or end the loop with its value (Break).
type LoopResult[S, T any] struct {
	done  bool
	state S
	value T
}

// Continue ends an iteration and runs the next one with state s.
func Continue[S, T any](s S) LoopResult[S, T] { return LoopResult[S, T]{state: s} }

// Break ends the loop with its value v.
func Break[S, T any](v T) LoopResult[S, T] { return LoopResult[S, T]{done: true, value: v} }

// LoopOptions configure a Loop (RivetKit historyPruneInterval and
// historySize). Fields left zero take their defaults.
type LoopOptions struct {
	// PruneEvery is how often, in iterations, the journal of old
	// iterations is deleted. Defaults to 20.
	PruneEvery int
	// Keep is how many of the latest iterations keep their journal.
	// Defaults to PruneEvery.
	Keep int
}

func (o LoopOptions) withDefaults() LoopOptions {
	if o.PruneEvery <= 0 {
		o.PruneEvery = 20
	}
	if o.Keep <= 0 {
		o.Keep = o.PruneEvery
	}
	return o
}

// maxPruneKeys bounds the KV keys one loop commit deletes, so that a loop
// whose iterations journal many entries still commits small events; what
// is left is deleted at the next prune.
const maxPruneKeys = 1024

// loopExtra is a loop entry's Extra: the next iteration to run and the
// state it starts with.
type loopExtra struct {
	I     int             `json:"i"`
	State json.RawMessage `json:"state,omitempty"`
}

// Loop runs fn over and over as the journaled loop name (RivetKit loop):
// iteration i runs with a W scoped at name#i and the state the previous
// one continued with (init for the first), until an iteration Breaks with
// the loop's value. Each iteration's end is journaled with one commit
// (the loop entry: the next iteration and its state), so a resumed run
// starts at the first unfinished iteration with the recorded state
// instead of replaying them all. Every PruneEvery iterations that commit
// also deletes the journal of the iterations older than the latest Keep,
// so a loop of any length keeps a bounded journal and memory. State and
// value round-trip through JSON, as a Step's result. An error fn returns
// ends the loop with it (the iteration is not committed: a re-execution
// runs it again).
func Loop[S, T any](w *W, name string, init S, fn func(w *W, s S) (LoopResult[S, T], error), opts ...LoopOptions) (T, error) {
	var zero T
	p, v, err := w.enter(KindLoop, name)
	if err != nil {
		return zero, err
	}
	var o LoopOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	o = o.withDefaults()
	if w.ro != nil && v.Found {
		if err := checkIterations(w, p, name, init, fn, v.Entry); err != nil {
			return zero, err
		}
	}
	if v.Found && v.Entry.Status == EntryCompleted {
		w.replay.SkipIterations(p, math.MaxInt)
		w.replay.forgetIterations(p, math.MaxInt)
		return replayLoop[T](w, p, v.Entry)
	}
	i, state := 0, init
	if v.Found {
		var x loopExtra
		if err := json.Unmarshal(v.Entry.Extra, &x); err != nil {
			return zero, w.fail(fmt.Errorf("%w: loop %s: state does not decode: %w", ErrInvalidPath, p, err))
		}
		if err := json.Unmarshal(x.State, &state); err != nil {
			return zero, w.fail(fmt.Errorf("%w: loop %s: state does not decode: %w", ErrInvalidPath, p, err))
		}
		i = x.I
		w.visited(v.Entry)
		w.replay.SkipIterations(p, i)
		w.replay.forgetIterations(p, i)
	}
	for ; ; i++ {
		scope, err := w.scope.Iteration(name, i)
		if err != nil {
			return zero, w.fail(err)
		}
		iw := w.branch(w.ctx, scope)
		res, err := fn(iw, state)
		if f := iw.failed(); f != nil {
			return zero, w.fail(f)
		}
		w.visited(Entry{At: iw.Now()})
		if err != nil {
			return zero, err
		}
		if err := w.replay.Complete(scope); err != nil {
			return zero, w.fail(w.nondeterminism(err))
		}
		e := Entry{Kind: KindLoop, Ord: v.Ord, Status: EntryWaiting}
		x := loopExtra{I: i + 1}
		if res.done {
			e.Status = EntryCompleted
			if e.Output, err = json.Marshal(res.value); err != nil {
				return zero, w.fail(fmt.Errorf("workflow %s run %s: loop %s: value does not encode as JSON: %w", w.c.name, w.runID, p, err))
			}
		} else if x.State, err = json.Marshal(res.state); err != nil {
			return zero, w.fail(fmt.Errorf("workflow %s run %s: loop %s: state does not encode as JSON: %w", w.c.name, w.runID, p, err))
		}
		if e.Extra, err = json.Marshal(x); err != nil {
			return zero, w.fail(err)
		}
		prune := -1
		if (i+1)%o.PruneEvery == 0 || res.done {
			prune = i + 1 - o.Keep
			if res.done {
				prune = i + 1 // a finished loop replays from its entry alone
			}
		}
		if e, err = w.loopDo(p, e, prune); err != nil {
			return zero, w.fail(err)
		}
		if res.done {
			w.replay.forgetIterations(p, math.MaxInt)
			return replayLoop[T](w, p, e)
		}
		w.visited(e)
		if prune > 0 {
			w.replay.forgetIterations(p, prune)
		}
		if err := json.Unmarshal(x.State, &state); err != nil {
			return zero, w.fail(fmt.Errorf("%w: loop %s: state does not decode: %w", ErrInvalidPath, p, err))
		}
	}
}

// checkIterations runs, in a replay-only execution, the iterations the
// loop entry e records as done (all of them for a completed loop), which
// the runtime does not run again, to check their journal (a HistoryCheck
// restores the entries pruning deleted from the history): each must end
// where its journal does, continue or break as recorded, and the loop
// reach the recorded state or value. It does not advance w's Now or Rand,
// as the runtime does not visit them.
func checkIterations[S, T any](w *W, p Path, name string, init S, fn func(w *W, s S) (LoopResult[S, T], error), e Entry) error {
	var x loopExtra
	if json.Unmarshal(e.Extra, &x) != nil {
		return nil // the loop's own decoding reports it
	}
	completed := e.Status == EntryCompleted
	state := init
	for i := 0; i < x.I; i++ {
		scope, err := w.scope.Iteration(name, i)
		if err != nil {
			return w.fail(err)
		}
		what := fmt.Sprintf("iteration %d", i)
		iw := w.branch(w.ctx, scope)
		if at, ok := w.ro.iterationStart(p, i); ok && at.After(iw.now) {
			iw.now = at // the commit of the iteration before
		}
		res, err := fn(iw, state)
		if f := iw.failed(); f != nil {
			err = f
		}
		if err == nil {
			err = iw.nondeterminism(w.replay.Complete(scope))
		}
		if err := w.checkInside(p, scope, what, err); err != nil {
			return err
		}
		last := i == x.I-1
		switch {
		case res.done && !(last && completed):
			return w.divergedInside(p, fmt.Sprintf("%s breaks the loop", what), fmt.Sprintf("the loop goes on (it ran %d iterations)", x.I), "Break")
		case !res.done && last && completed:
			return w.divergedInside(p, fmt.Sprintf("%s continues the loop", what), "Break (the loop's last iteration)", "Continue")
		case res.done:
			return w.checkValue(p, "loop value", res.value, e.Output)
		}
		b, err := json.Marshal(res.state)
		if err != nil {
			return w.divergedInside(p, what+": state does not encode as JSON", "", err.Error())
		}
		if err := json.Unmarshal(b, &state); err != nil {
			return w.divergedInside(p, what+": state does not decode", "", err.Error())
		}
	}
	if completed {
		return nil // recorded with no iteration: replayLoop reports it
	}
	return w.checkValue(p, "state to resume with", state, x.State)
}

// replayLoop returns the value a completed loop entry records.
func replayLoop[T any](w *W, p Path, e Entry) (T, error) {
	var v T
	w.visited(e)
	if err := json.Unmarshal(e.Output, &v); err != nil {
		return v, w.fail(fmt.Errorf("%w: loop %s: value does not decode: %w", ErrInvalidPath, p, err))
	}
	return v, nil
}

// loopDo commits the loop entry e at p (compare-and-set on the iteration
// it records: a retry after an unknown outcome writes nothing twice) and,
// when prune > 0, deletes the journal keys of the loop's iterations before
// prune, at most maxPruneKeys of them.
func (w *W) loopDo(p Path, e Entry, prune int) (Entry, error) {
	if w.ro != nil {
		return e, w.frontier(p)
	}
	key := EntryKey(w.epoch, p)
	iterPrefix := key + "#"
	err := do(w.ctx, w.h, wfArgs{Op: "loop", Entry: p.String(), Status: StatusRunning}, func(ac *actors.Context[RunState]) error {
		if ac.State.Status != StatusRunning || ac.State.Epoch != w.epoch {
			return errStop
		}
		if old, ok := ac.KV().Get(key); ok {
			if prev, err := DecodeEntry(old); err == nil && prev.Status == e.Status && string(prev.Extra) == string(e.Extra) {
				e = prev
				return nil
			}
		}
		e.At = ac.Now()
		b, err := EncodeEntry(p, e)
		if err != nil {
			return err
		}
		ac.KV().Put(key, b)
		if prune > 0 {
			deleted := 0
			for _, kv := range ac.KV().List(iterPrefix) {
				if deleted >= maxPruneKeys {
					break
				}
				seg, _, _ := strings.Cut(kv.Key[len(iterPrefix):], "/")
				if n, err := parseCanonicalInt(seg); err == nil && n < prune {
					ac.KV().Delete(kv.Key)
					deleted++
				}
			}
		}
		ac.State.Current, ac.State.UpdatedAt = p.String(), e.At
		ac.Broadcast("wf.progress", progress{Entry: p.String(), Status: string(e.Status)})
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return e, errStop
		}
		return e, fmt.Errorf("workflow %s run %s: commit loop %s: %w", w.c.name, w.runID, p, err)
	}
	if err := w.replay.Commit(p, e); err != nil {
		return e, err
	}
	return e, nil
}

// forgetIterations drops from memory every entry and scope within the
// iterations before of the loop at path loop, once they are visited: the
// Replay of a long loop then holds only its latest iterations.
func (r *Replay) forgetIterations(loop Path, before int) {
	parent, name := loop.Parent(), loop.Base()
	inOld := func(p Path) bool {
		for q := p; !q.IsRoot(); q = q.Parent() {
			if q.Parent() != parent {
				continue
			}
			n, i, ok := iterationOf(q.Base())
			return ok && n == name && i < before
		}
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, s := range r.entries {
		if s.visited && inOld(p) {
			delete(r.entries, p)
		}
	}
	for p := range r.scopes {
		if inOld(p) {
			delete(r.scopes, p)
		}
	}
}
