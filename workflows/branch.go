package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// maxBranches caps how many branches of one Join run at once
// (Options.MaxBranches, JoinOptions.Concurrency).
const maxBranches = 64

// Branch is one branch of a Join or Race: a name (a path segment, see
// ValidateName) and a function run with a W of its own, whose journaled
// calls live under the scope joinName/branchName.
type Branch[T any] struct {
	Name string
	Run  func(w *W) (T, error)
}

// JoinOptions configure a Join. Fields left zero take their defaults.
type JoinOptions struct {
	// Concurrency bounds how many branches run at once. Defaults to the
	// workflow's Options.MaxBranches (8); at most 64.
	Concurrency int
}

// BranchError is the failure of one branch of a Join or Race.
type BranchError struct {
	Branch string
	Err    error
}

func (e *BranchError) Error() string { return fmt.Sprintf("branch %q failed: %v", e.Branch, e.Err) }

// Unwrap returns the branch's error.
func (e *BranchError) Unwrap() error { return e.Err }

// JoinError is the failure of a Join (the branches that failed, in branch
// order; branches cancelled because of them are not listed) or of a Race
// (the branch that finished first, with an error). It fails the run: its
// code is the first coded error of its branches (a step's, a
// nondeterminism's), its message names every failed branch.
type JoinError struct {
	Kind     Kind   // KindJoin or KindRace
	Path     string // the join's or race's path
	Branches []*BranchError
}

func (e *JoinError) Error() string {
	msgs := make([]string, len(e.Branches))
	for i, b := range e.Branches {
		msgs[i] = b.Error()
	}
	return fmt.Sprintf("%s %q: %s", e.Kind, e.Path, strings.Join(msgs, "; "))
}

// Unwrap returns the branches' errors, for errors.Is and errors.As.
func (e *JoinError) Unwrap() []error {
	errs := make([]error, len(e.Branches))
	for i, b := range e.Branches {
		errs[i] = b.Err
	}
	return errs
}

// Join runs branches concurrently, at most Concurrency at a time, each with
// a W of its own scoped at name/<branch>, and returns their results in
// branch order. The first branch to fail cancels the others' contexts;
// Join then fails the run with a *JoinError naming the failed branches.
// When every branch has completed, Join journals a join entry holding the
// results, so a replay returns them at once without running any branch (a
// result set too large for one entry is not journaled there: a replay then
// re-runs the branches, whose journaled calls return their recorded
// results). Results round-trip through JSON, as a Step's do. A branch
// blocked on a long sleep or wait waits in memory while other branches
// run; once every live branch is blocked so, the run parks on all their
// waits at once (design §3.4), the Join unwinds, and the first wake (an
// alarm, a signal one of them wants) runs it again: completed steps
// replay, so nothing completed runs twice.
func Join[T any](w *W, name string, branches []Branch[T], opts ...JoinOptions) ([]T, error) {
	if err := w.failed(); err != nil {
		return nil, err
	}
	p, scopes, err := branchScopes(w, KindJoin, name, branches)
	if err != nil {
		return nil, w.fail(err)
	}
	v, err := w.replay.Visit(KindJoin, p)
	if err != nil {
		return nil, w.fail(w.nondeterminism(err))
	}
	return join(w, p, scopes, v, branches, opts...)
}

// join is Join once its entry is visited (Go visits it in the caller's
// turn, then joins on its own goroutine).
func join[T any](w *W, p Path, scopes []Path, v Visit, branches []Branch[T], opts ...JoinOptions) ([]T, error) {
	done := v.Found && v.Entry.Status == EntryCompleted
	// A replay for compensation runs the branches (replays only) so that
	// their completed steps' compensations are on the stack; a replay-only
	// check runs them to check their journal.
	check := done && w.ro != nil
	if done && len(v.Entry.Output) > 0 && !w.cancelling && !check {
		w.comp.skip()
		w.replay.Skip(p)
		return replayJoin[T](w, p, v.Entry)
	}
	limit := w.c.opts.MaxBranches
	if len(opts) > 0 && opts[0].Concurrency > 0 {
		limit = min(opts[0].Concurrency, maxBranches)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	results := make([]T, len(branches))
	errs := make([]error, len(branches))
	var mu sync.Mutex
	first, parked, frontier := -1, false, false
	runParked := fanOut(w, ctx, branches, scopes, limit, func(i int, r T, err error) {
		results[i], errs[i] = r, err
		if errors.Is(err, errParked) || errors.Is(err, errFrontier) {
			// A parked branch unwinds the join once the others are done
			// (or parked too); it does not cancel them. A replay-only
			// branch at its frontier is one still at work.
			mu.Lock()
			parked = parked || errors.Is(err, errParked)
			frontier = frontier || errors.Is(err, errFrontier)
			mu.Unlock()
			return
		}
		if err != nil && !check { // a check runs every branch to its end
			mu.Lock()
			if first < 0 {
				first = i
			}
			mu.Unlock()
			cancel()
		}
	})
	if w.ctx.Err() != nil {
		return nil, w.fail(errStop)
	}
	if parked || runParked {
		// The run parked: every branch was blocked; all of it resumes at
		// the wake.
		return nil, w.fail(errParked)
	}
	if check {
		return checkJoin(w, p, v.Entry, branches, scopes, results, errs)
	}
	if first >= 0 && unwinding(errs[first]) {
		return nil, w.fail(errs[first])
	}
	if first >= 0 {
		je := &JoinError{Kind: KindJoin, Path: p.String()}
		for i, err := range errs {
			// Branches that ended because the join cancelled them are not
			// failures of their own.
			if err != nil && (i == first || !(unwinding(err) || errors.Is(err, context.Canceled))) {
				je.Branches = append(je.Branches, &BranchError{Branch: branches[i].Name, Err: err})
			}
		}
		return nil, w.fail(je)
	}
	if frontier {
		return nil, w.fail(errFrontier)
	}
	if done {
		w.visited(v.Entry) // journaled without its results: replayed from the branches
		return results, nil
	}
	out, err := json.Marshal(results)
	if err != nil {
		return nil, w.fail(fmt.Errorf("workflow %s run %s: join %s: results do not encode as JSON: %w", w.c.name, w.runID, p, err))
	}
	if len(out) > MaxEntryBytes-4096 {
		out = nil
	}
	e, err := w.commit(p, Entry{Kind: KindJoin, Ord: v.Ord, Status: EntryCompleted, Output: out})
	if err != nil {
		return nil, w.fail(err)
	}
	if len(e.Output) == 0 {
		w.visited(e)
		return results, nil
	}
	return replayJoin[T](w, p, e)
}

// checkJoin ends a replay-only execution's visit of a completed join,
// whose branches it ran: each must end where its journal does, and their
// results be the recorded ones, which it returns as the runtime does.
func checkJoin[T any](w *W, p Path, e Entry, branches []Branch[T], scopes []Path, results []T, errs []error) ([]T, error) {
	for i, err := range errs {
		if err := w.checkInside(p, scopes[i], fmt.Sprintf("branch %q", branches[i].Name), err); err != nil {
			return nil, err
		}
	}
	w.replay.Skip(p)
	if len(e.Output) == 0 {
		w.visited(e) // journaled without its results
		return results, nil
	}
	if err := w.checkValue(p, "result set", results, e.Output); err != nil {
		return nil, err
	}
	return replayJoin[T](w, p, e)
}

// replayJoin returns the results a completed join entry records.
func replayJoin[T any](w *W, p Path, e Entry) ([]T, error) {
	w.visited(e)
	var rs []T
	if err := json.Unmarshal(e.Output, &rs); err != nil {
		return nil, w.fail(fmt.Errorf("%w: join %s: results do not decode: %w", ErrInvalidPath, p, err))
	}
	return rs, nil
}

// raceExtra is a race entry's Extra: the winning branch.
type raceExtra struct {
	Winner string `json:"winner"`
}

// Race runs branches concurrently, each with a W of its own scoped at
// name/<branch>; the first branch to finish decides the race. If it
// completed, it wins: the other branches' contexts are cancelled, Race
// waits for them to return, journals a race entry (its winner in Extra,
// its value in Output) and returns the winner's name and value. A replay
// returns them at once, runs no branch, and skips whatever the losers
// journaled before they were cancelled. If the first branch to finish
// failed, Race fails the run with a *JoinError naming it. A branch
// blocked on a long sleep or wait has not finished; when every branch is
// blocked so, the run parks on all their waits at once and Race resumes
// at the first wake. Values round-trip through JSON.
func Race[T any](w *W, name string, branches []Branch[T]) (winner string, value T, err error) {
	var zero T
	if err := w.failed(); err != nil {
		return "", zero, err
	}
	if len(branches) == 0 {
		return "", zero, w.fail(fmt.Errorf("%w: race %q has no branches", ErrInvalidName, name))
	}
	p, scopes, err := branchScopes(w, KindRace, name, branches)
	if err != nil {
		return "", zero, w.fail(err)
	}
	v, err := w.replay.Visit(KindRace, p)
	if err != nil {
		return "", zero, w.fail(w.nondeterminism(err))
	}
	if v.Found && v.Entry.Status == EntryCompleted {
		if w.ro != nil {
			if err := checkRace(w, p, v.Entry, branches, scopes); err != nil {
				return "", zero, err
			}
		}
		w.replay.Skip(p) // the losers'
		return replayRace[T](w, p, v.Entry)
	}
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	var mu sync.Mutex
	first, firstErr, parked, frontier := -1, error(nil), false, false
	var firstVal T
	runParked := fanOut(w, ctx, branches, scopes, len(branches), func(i int, r T, err error) {
		mu.Lock()
		defer mu.Unlock()
		// A parked branch has not finished: the others may still win. Nor
		// has a replay-only branch at its frontier.
		parked = parked || errors.Is(err, errParked)
		frontier = frontier || errors.Is(err, errFrontier)
		if first < 0 && !errors.Is(err, errParked) && !errors.Is(err, errFrontier) {
			first, firstVal, firstErr = i, r, err
			cancel()
		}
	})
	switch {
	case w.ctx.Err() != nil:
		return "", zero, w.fail(errStop)
	case frontier && first < 0:
		return "", zero, w.fail(errFrontier)
	case runParked || first < 0 || (parked && unwinding(firstErr)): // the run parked
		return "", zero, w.fail(errParked)
	case unwinding(firstErr):
		return "", zero, w.fail(firstErr)
	case firstErr != nil:
		return "", zero, w.fail(&JoinError{Kind: KindRace, Path: p.String(),
			Branches: []*BranchError{{Branch: branches[first].Name, Err: firstErr}}})
	}
	out, err := json.Marshal(firstVal)
	if err == nil && len(out) > MaxEntryBytes-4096 {
		err = &SizeError{Err: ErrEntryTooLarge, Path: p.String(), Size: len(out), Limit: MaxEntryBytes - 4096}
	}
	if err != nil {
		return "", zero, w.fail(fmt.Errorf("workflow %s run %s: race %s: winner %q: %w", w.c.name, w.runID, p, branches[first].Name, err))
	}
	x, err := json.Marshal(raceExtra{Winner: branches[first].Name})
	if err != nil {
		return "", zero, w.fail(err)
	}
	e, err := w.commit(p, Entry{Kind: KindRace, Ord: v.Ord, Status: EntryCompleted, Output: out, Extra: x})
	if err != nil {
		return "", zero, w.fail(err)
	}
	return replayRace[T](w, p, e)
}

// checkRace runs, in a replay-only execution, every branch of a
// completed race to check their journal: the winner must end where its
// journal does with the recorded value; a loser, which the runtime
// cancelled, only replays what it recorded (its end is not checked).
func checkRace[T any](w *W, p Path, e Entry, branches []Branch[T], scopes []Path) error {
	var x raceExtra
	if json.Unmarshal(e.Extra, &x) != nil {
		return nil // replayRace reports it
	}
	results := make([]T, len(branches))
	errs := make([]error, len(branches))
	fanOut(w, w.ctx, branches, scopes, len(branches), func(i int, r T, err error) {
		results[i], errs[i] = r, err
	})
	if w.ctx.Err() != nil {
		return w.fail(errStop)
	}
	for i, err := range errs {
		if branches[i].Name == x.Winner {
			if err := w.checkInside(p, scopes[i], fmt.Sprintf("winning branch %q", x.Winner), err); err != nil {
				return err
			}
			if err := w.checkValue(p, "winning value", results[i], e.Output); err != nil {
				return err
			}
			continue
		}
		var nd *NondeterminismError
		if errors.As(err, &nd) || errors.Is(err, errDivergedInside) || unwinding(err) && !errors.Is(err, errFrontier) {
			return w.fail(err)
		}
	}
	return nil
}

// replayRace returns the winner and value a completed race entry records.
func replayRace[T any](w *W, p Path, e Entry) (string, T, error) {
	var v T
	w.visited(e)
	var x raceExtra
	if err := json.Unmarshal(e.Extra, &x); err != nil || x.Winner == "" {
		return "", v, w.fail(fmt.Errorf("%w: race %s: no winner recorded (%v)", ErrInvalidPath, p, err))
	}
	if err := json.Unmarshal(e.Output, &v); err != nil {
		return "", v, w.fail(fmt.Errorf("%w: race %s: value does not decode: %w", ErrInvalidPath, p, err))
	}
	return x.Winner, v, nil
}

// branchScopes returns the path of the join or race name in w's scope and
// the scope of each branch, checking that every branch has a valid,
// distinct name and a function.
func branchScopes[T any](w *W, kind Kind, name string, branches []Branch[T]) (Path, []Path, error) {
	p, err := w.scope.Child(name)
	if err != nil {
		return Path{}, nil, err
	}
	scopes := make([]Path, len(branches))
	seen := make(map[string]bool, len(branches))
	for i, b := range branches {
		if seen[b.Name] {
			return Path{}, nil, fmt.Errorf("%w: %s %s has two branches named %q", ErrInvalidName, kind, p, b.Name)
		}
		seen[b.Name] = true
		if b.Run == nil {
			return Path{}, nil, fmt.Errorf("workflows: %s %s: branch %q has no function", kind, p, b.Name)
		}
		if scopes[i], err = p.Child(b.Name); err != nil {
			return Path{}, nil, fmt.Errorf("%s %s: branch: %w", kind, p, err)
		}
	}
	return p, scopes, nil
}

// fanOut runs each branch on a goroutine of its own, at most limit at a
// time, with a W scoped at its scope under ctx, and calls done with its
// outcome (from the branch's goroutine). Branches not yet started when ctx
// ends, or when the run parks, never start. fanOut returns when every
// started branch has returned, and reports whether the run parked: when
// every live branch blocked on a wait that parks (W.park), the last one
// parked the run and the others unwound with errParked.
func fanOut[T any](w *W, ctx context.Context, branches []Branch[T], scopes []Path, limit int, done func(i int, r T, err error)) (parked bool) {
	t, g := enterGroup(w, len(branches), limit)
	defer t.leaveGroup(g)
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	fan := &fanIn{w: w} // Engine.WaitIdle's count of the branches
	for i, b := range branches {
		if w.cancelling || w.ro != nil {
			// The branches only replay: every one of them runs (a
			// cancelling execution's ctx is ended on purpose).
			sem <- struct{}{}
		} else {
			if ctx.Err() != nil {
				break
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		u := t.startUnit(g, scopes[i], ctx)
		if u == nil {
			break
		}
		bw := w.branch(ctx, scopes[i])
		fan.start()
		wg.Go(func() {
			defer fan.done()
			defer func() { <-sem }()
			r, err := runBranch(bw, b)
			done(i, r, err) // first: a Race's winner cancels the others
			t.endUnit(g, u)
		})
	}
	t.stopStarting(g)
	fan.wait(wg.Wait) // the caller only waits for its branches now
	return t.runParked()
}

// runBranch runs one branch with its W bw: its outcome is the W's failure
// if it has one (a step's final failure, nondeterminism, errStop), else
// what the function returned, and, when it completed, the completion check
// of its scope. A panic is the branch's failure.
func runBranch[T any](bw *W, b Branch[T]) (r T, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("branch %s panicked: %v", bw.scope, p)
		}
	}()
	r, err = b.Run(bw)
	if f := bw.failed(); f != nil {
		err = f
	}
	if err == nil {
		err = bw.nondeterminism(bw.replay.Complete(bw.scope))
	}
	return r, err
}

// unwinding reports whether a branch's error unwinds the whole execution
// rather than failing the branch: errStop (the runtime stops, the run
// moved on), errParked or errContinued (a branch called ContinueAsNew).
// It is passed to the Join's or Race's W as it is.
func unwinding(err error) bool {
	return errors.Is(err, errStop) || errors.Is(err, errParked) || errors.Is(err, errContinued)
}
