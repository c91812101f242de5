package actorwf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// LongSleep is the shortest Sleep that lets the actor sleep meanwhile, with
// a wake alarm at its deadline; shorter ones keep it awake (an alarm per
// tick of a fast loop would cost more than the memory).
const LongSleep = time.Second

// Sleep waits d as the journaled sleep name: its deadline is recorded at
// the first visit, so a resumed workflow waits only what is left.
func Sleep[S any](w *W[S], name string, d time.Duration) error {
	p, v, err := w.enter(workflows.KindSleep, name)
	if err != nil {
		return err
	}
	if v.Found {
		if v.Entry.Status == workflows.EntryCompleted {
			return nil
		}
		return w.idleUntil(v.Entry.NextAt)
	}
	e := workflows.Entry{Kind: workflows.KindSleep, Ord: v.Ord, Status: workflows.EntrySleeping}
	err = w.do(func(c *actors.Context[S]) error {
		e.At = c.Now()
		e.NextAt = e.At.Add(d)
		if d >= LongSleep {
			id, err := c.Schedule().At(e.NextAt, actors.WakeAction)
			if err != nil {
				return err
			}
			e.Alarm = id
		}
		return w.x.put(c, p, e)
	})
	if err != nil {
		return err
	}
	_ = w.x.replay.Commit(p, e)
	return w.idleUntil(e.NextAt)
}

// idleUntil waits until t: awake for a short wait, else letting the actor
// sleep (its wake alarm brings the workflow back).
func (w *W[S]) idleUntil(t time.Time) error {
	w.block()
	if time.Until(t) < LongSleep {
		return wait(w.ctx, t)
	}
	woken, err := w.x.rc.Idle(w.ctx.Done(), t)
	if err != nil || woken {
		return w.stopped()
	}
	return nil
}

// stopped is the error of a wait whose context ended: the execution's
// (the actor stops) or, in a race's losing branch, errStop for it alone.
func (w *W[S]) stopped() error {
	if w.x.rc.Context().Err() != nil {
		return w.x.fail(errStop)
	}
	return errStop
}

// LoopResult is what one iteration of a Loop returns: go on with a new loop
// state (Continue) or end the loop with its value (Break).
type LoopResult[L, T any] struct {
	done  bool
	state L
	value T
}

// Continue ends an iteration; the next one starts with state l.
func Continue[L, T any](l L) LoopResult[L, T] { return LoopResult[L, T]{state: l} }

// Break ends the loop with its value v.
func Break[L, T any](v T) LoopResult[L, T] { return LoopResult[L, T]{done: true, value: v} }

// loopExtra is a loop entry's Extra: the next iteration and its state.
type loopExtra struct {
	I     int             `json:"i"`
	State json.RawMessage `json:"state,omitempty"`
}

// Loop runs fn as the journaled loop name (RivetKit loop): iteration i
// with a W scoped at name#i and the state the previous one continued with
// (init first), until one Breaks. Each iteration's end is committed (the
// next iteration and its state), and the journal of the iteration before
// is deleted then, so a loop of any length keeps a small journal and a
// resumed workflow starts at the first unfinished iteration. State and
// value round-trip through JSON.
func Loop[S, L, T any](w *W[S], name string, init L, fn func(w *W[S], l L) (LoopResult[L, T], error)) (T, error) {
	var zero T
	p, v, err := w.enter(workflows.KindLoop, name)
	if err != nil {
		return zero, err
	}
	if v.Found && v.Entry.Status == workflows.EntryCompleted {
		w.x.replay.SkipIterations(p, math.MaxInt)
		var out T
		if err := decode(v.Entry.Output, &out); err != nil {
			return zero, w.x.fail(fmt.Errorf("workflow loop %s: the recorded value does not decode: %w", p, err))
		}
		return out, nil
	}
	i, st := 0, init
	if v.Found && len(v.Entry.Extra) > 0 {
		var x loopExtra
		if err := json.Unmarshal(v.Entry.Extra, &x); err != nil {
			return zero, w.x.fail(fmt.Errorf("workflow loop %s: the recorded iteration does not decode: %w", p, err))
		}
		i = x.I
		if err := decode(x.State, &st); err != nil {
			return zero, w.x.fail(fmt.Errorf("workflow loop %s: the recorded state does not decode: %w", p, err))
		}
	}
	w.x.replay.SkipIterations(p, i)
	for {
		scope, err := w.scope.Iteration(name, i)
		if err != nil {
			return zero, w.x.fail(err)
		}
		res, err := fn(w.child(w.ctx, scope), st)
		if err != nil {
			return zero, err
		}
		if f := w.x.failed(); f != nil {
			return zero, f
		}
		if err := w.x.replay.Complete(scope); err != nil {
			return zero, w.x.fail(w.x.nondeterminism(err))
		}
		e := workflows.Entry{Kind: workflows.KindLoop, Ord: v.Ord, Status: workflows.EntryWaiting}
		if res.done {
			e.Status = workflows.EntryCompleted
			if e.Output, err = json.Marshal(res.value); err != nil {
				return zero, w.x.fail(fmt.Errorf("workflow loop %s: its value does not encode: %w", p, err))
			}
			e.Extra, _ = json.Marshal(loopExtra{I: i + 1})
		} else {
			s, err := json.Marshal(res.state)
			if err != nil {
				return zero, w.x.fail(fmt.Errorf("workflow loop %s: its state does not encode: %w", p, err))
			}
			e.Extra, _ = json.Marshal(loopExtra{I: i + 1, State: s})
		}
		err = w.do(func(c *actors.Context[S]) error {
			e.At = c.Now()
			if i > 0 {
				prev, _ := w.scope.Iteration(name, i-1)
				kv := c.ReservedKV(ns)
				for _, old := range kv.List(entryKey(prev) + "/") {
					kv.Delete(old.Key)
				}
			}
			return w.x.put(c, p, e)
		})
		if err != nil {
			return zero, err
		}
		_ = w.x.replay.Commit(p, e)
		if res.done {
			return res.value, nil
		}
		st = res.state
		i++
	}
}

// Forever runs fn as the journaled loop name until fn fails: a Loop with
// no state that never breaks (a workflow serving its queue).
func Forever[S any](w *W[S], name string, fn func(w *W[S]) error) error {
	_, err := Loop(w, name, struct{}{}, func(w *W[S], _ struct{}) (LoopResult[struct{}, struct{}], error) {
		return Continue[struct{}, struct{}](struct{}{}), fn(w)
	})
	return err
}

// JoinError is a Join's failure: its branches' errors by branch name.
type JoinError struct {
	Name     string
	Branches map[string]string
}

func (e *JoinError) Error() string {
	names := make([]string, 0, len(e.Branches))
	for n := range e.Branches {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + ": " + e.Branches[n]
	}
	return fmt.Sprintf("workflow join %s failed: %s", e.Name, strings.Join(parts, "; "))
}

// joinRecord is a failed join's journaled branch errors.
type joinRecord struct {
	Branches map[string]string `json:"branches"`
}

// Join runs the branches concurrently as the journaled join name (RivetKit
// join), each with a W scoped at name/branch, and returns their values by
// name once all have returned. Branches that fail make it a *JoinError,
// journaled like its values.
func Join[S, R any](w *W[S], name string, branches map[string]func(w *W[S]) (R, error)) (map[string]R, error) {
	p, v, err := w.enter(workflows.KindJoin, name)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(branches))
	for n := range branches {
		names = append(names, n)
	}
	slices.Sort(names)
	if v.Found && (v.Entry.Status == workflows.EntryCompleted || v.Entry.Status == workflows.EntryFailed) {
		for _, n := range names {
			if scope, err := w.scope.Branch(name, n); err == nil {
				w.x.replay.Skip(scope)
			}
		}
		if v.Entry.Status == workflows.EntryFailed {
			var jr joinRecord
			_ = json.Unmarshal(v.Entry.Extra, &jr)
			return nil, &JoinError{Name: name, Branches: jr.Branches}
		}
		out := map[string]R{}
		if err := decode(v.Entry.Output, &out); err != nil {
			return nil, w.x.fail(fmt.Errorf("workflow join %s: the recorded values do not decode: %w", p, err))
		}
		return out, nil
	}
	out := make(map[string]R, len(names))
	failed := map[string]string{}
	var mu sync.Mutex
	scopes := make([]workflows.Path, len(names))
	for i, n := range names {
		if scopes[i], err = w.scope.Branch(name, n); err != nil {
			return nil, w.x.fail(err)
		}
	}
	w.startInOrder(len(names), func(i int, blocked func()) {
		n := names[i]
		var r R
		bw := &W[S]{x: w.x, ctx: w.ctx, scope: scopes[i], blocked: blocked}
		err := call(func() (err error) { r, err = branches[n](bw); return err })
		if err == nil {
			if cerr := w.x.replay.Complete(scopes[i]); cerr != nil {
				err = w.x.fail(w.x.nondeterminism(cerr)) // not a branch failure: Try must not catch it
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed[n] = err.Error()
			return
		}
		out[n] = r
	})
	if err := w.x.failed(); err != nil {
		return nil, err
	}
	e := workflows.Entry{Kind: workflows.KindJoin, Ord: v.Ord, Status: workflows.EntryCompleted}
	var jerr *JoinError
	if len(failed) > 0 {
		jerr = &JoinError{Name: name, Branches: failed}
		e.Status = workflows.EntryFailed
		e.Error = &workflows.EntryError{Kind: workflows.FailureExhausted, Code: string(errcode.JoinFailed), Message: workflows.TruncateMessage(jerr.Error())}
		e.Extra, _ = json.Marshal(joinRecord{Branches: failed})
	} else if e.Output, err = json.Marshal(out); err != nil {
		return nil, w.x.fail(fmt.Errorf("workflow join %s: its values do not encode: %w", p, err))
	}
	if err := w.commit(p, e); err != nil {
		return nil, err
	}
	if jerr != nil {
		return nil, jerr
	}
	return out, nil
}

// branchStartGrace bounds how long a branch that neither queues a turn,
// waits nor returns holds back the next one.
const branchStartGrace = 50 * time.Millisecond

// startInOrder runs branch 0..n-1 on goroutines and waits for them: each
// starts once the one before has blocked (queued its first mailbox turn,
// or waits) or returned, or after branchStartGrace, so that the branches'
// first turns reach the mailbox in their order, as RivetKit's (one
// JavaScript thread) do. A branch's blocked also blocks w.
func (w *W[S]) startInOrder(n int, branch func(i int, blocked func())) {
	var wg sync.WaitGroup
	for i := range n {
		ch := make(chan struct{})
		var once sync.Once
		blocked := func() {
			once.Do(func() { close(ch) })
			w.block()
		}
		wg.Go(func() {
			defer once.Do(func() { close(ch) })
			branch(i, blocked)
		})
		t := time.NewTimer(branchStartGrace)
		select {
		case <-ch:
		case <-t.C:
		}
		t.Stop()
	}
	wg.Wait()
}

// Branch is one branch of a Race.
type Branch[S, R any] struct {
	Name string
	Run  func(w *W[S]) (R, error)
}

// RaceError is a Race whose every branch failed.
type RaceError struct {
	Name     string
	Branches map[string]string
}

func (e *RaceError) Error() string {
	return fmt.Sprintf("workflow race %s: every branch failed: %v", e.Name, e.Branches)
}

// Race runs the branches concurrently as the journaled race name (RivetKit
// race): the first to return a value wins, the others' contexts end
// (W.Context) and Race waits for them to return. The winner and its value
// are journaled; a replay returns them without running any branch.
func Race[S, R any](w *W[S], name string, branches []Branch[S, R]) (winner string, value R, err error) {
	p, v, err := w.enter(workflows.KindRace, name)
	if err != nil {
		return "", value, err
	}
	scopes := make([]workflows.Path, len(branches))
	for i, b := range branches {
		if scopes[i], err = w.scope.Branch(name, b.Name); err != nil {
			return "", value, w.x.fail(err)
		}
	}
	if v.Found && v.Entry.Status == workflows.EntryCompleted {
		for _, s := range scopes {
			w.x.replay.Skip(s)
		}
		if err := json.Unmarshal(v.Entry.Extra, &winner); err != nil {
			return "", value, w.x.fail(fmt.Errorf("workflow race %s: the recorded winner does not decode: %w", p, err))
		}
		if err := decode(v.Entry.Output, &value); err != nil {
			return "", value, w.x.fail(fmt.Errorf("workflow race %s: the recorded value does not decode: %w", p, err))
		}
		return winner, value, nil
	}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	type result struct {
		i   int
		r   R
		err error
	}
	results := make(chan result, len(branches))
	go w.startInOrder(len(branches), func(i int, blocked func()) {
		var r R
		bw := &W[S]{x: w.x, ctx: ctx, scope: scopes[i], blocked: blocked}
		err := call(func() (err error) { r, err = branches[i].Run(bw); return err })
		results <- result{i, r, err}
	})
	win := -1
	failed := map[string]string{}
	for range branches {
		res := <-results
		switch {
		case res.err == nil && win < 0 && ctx.Err() == nil:
			win, value = res.i, res.r
			cancel()
		case res.err != nil && win < 0:
			failed[branches[res.i].Name] = res.err.Error()
		}
	}
	if err := w.x.failed(); err != nil {
		return "", value, err
	}
	if win < 0 {
		if w.ctx.Err() != nil {
			return "", value, errStop
		}
		return "", value, &RaceError{Name: name, Branches: failed}
	}
	for i, s := range scopes {
		if i != win {
			w.x.replay.Skip(s)
		}
	}
	if err := w.x.nondeterminism(w.x.replay.Complete(scopes[win])); err != nil {
		return "", value, w.x.fail(err)
	}
	winner = branches[win].Name
	e := workflows.Entry{Kind: workflows.KindRace, Ord: v.Ord, Status: workflows.EntryCompleted}
	e.Extra, _ = json.Marshal(winner)
	if e.Output, err = json.Marshal(value); err != nil {
		return "", value, w.x.fail(fmt.Errorf("workflow race %s: its value does not encode: %w", p, err))
	}
	if err := w.commit(p, e); err != nil {
		return "", value, err
	}
	return winner, value, nil
}

// TryFailure is what Try caught: the failure's source ("step", "join",
// "race" or "block"), the name of what failed and its error.
type TryFailure struct {
	Source string
	Name   string
	Err    error
}

// Try runs fn in the scope name and returns, instead of failing the
// workflow with it, a terminal failure of its calls (a step's, a join's or
// race's) or fn's own error (RivetKit try). err is set only when the
// workflow cannot go on (it is stopping, or diverged from its journal):
// return it.
func Try[S, R any](w *W[S], name string, fn func(w *W[S]) (R, error)) (r R, f *TryFailure, err error) {
	scope, err := w.scope.Child(name)
	if err != nil {
		return r, nil, w.x.fail(err)
	}
	ferr := call(func() (err error) { r, err = fn(w.child(w.ctx, scope)); return err })
	if err := w.x.failed(); err != nil {
		return r, nil, err
	}
	if ferr == nil {
		return r, nil, nil
	}
	if errors.Is(ferr, errStop) || errors.Is(ferr, errRestart) {
		return r, nil, ferr
	}
	var sf *StepFailure
	var je *JoinError
	var re *RaceError
	f = &TryFailure{Source: "block", Name: name, Err: ferr}
	switch {
	case errors.As(ferr, &sf):
		f.Source, f.Name = "step", lastSegment(sf.Step)
	case errors.As(ferr, &je):
		f.Source, f.Name = "join", je.Name
	case errors.As(ferr, &re):
		f.Source, f.Name = "race", re.Name
	}
	return r, f, nil
}

// lastSegment is the last segment of a path's string.
func lastSegment(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// decode decodes a recorded value; an empty one leaves v as it is.
func decode(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}
