package workflows

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// W is a run's workflow context, passed to the workflow function: the run's
// identity, its context and its deterministic clock. Journaled calls
// (Step) take it as their first argument. A W is valid for one execution
// of the function.
type W struct {
	ctx     context.Context
	c       *core
	e       *Engine
	h       *actors.Handle
	runID   string
	actorID string
	epoch   int
	seed    uint64
	replay  *Replay
	// scope is the path the W's calls live under: the root for the run
	// function's W, name/branch for a Join or Race branch's.
	scope Path

	mu  sync.Mutex
	now time.Time
	// visits counts the journaled calls this W visited, rands the Rand
	// calls since the last: together they place a Rand call in the code.
	visits, rands uint64
	// comp is the run's compensation stack, shared by the run's Ws.
	comp *compensations
	// pausedFlag is the run's pause request (runVars.paused).
	pausedFlag *atomic.Bool
	// future is set on a Go's W: its fan-out registers as a future of the
	// caller, not as a fan-out the caller waits in.
	future *futureHook
	// cancelling: this execution only replays, to rebuild the
	// compensation stack (its ctx is ended; new work ends it).
	cancelling bool
	// ro is set on a replay-only execution (a HistoryCheck): there is no
	// runtime (e and h are nil) and the first call that would do new work
	// ends it with errFrontier.
	ro *replayOnly
	// fatal ends the execution: a failure of the run (a step's final
	// failure, nondeterminism) or errStop (the runner must exit without
	// committing: the runtime stops, or another writer owns the run).
	fatal error
}

// RunID returns the run's ID.
func (w *W) RunID() string { return w.runID }

// Workflow returns the workflow's name.
func (w *W) Workflow() string { return w.c.name }

// Context returns the execution's context: it ends when the runtime stops
// (the run resumes at the next start).
func (w *W) Context() context.Context { return w.ctx }

// Now returns the run's deterministic time (design §3.2): the commit time
// of the last journaled call this execution visited, or the run's create
// time before any. It is the same on every replay, and costs no append;
// call it after the step whose time you need.
func (w *W) Now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

// visited advances Now to the commit time of an entry.
func (w *W) visited(e Entry) {
	w.mu.Lock()
	if e.At.After(w.now) {
		w.now = e.At
	}
	w.visits++
	w.rands = 0
	w.mu.Unlock()
}

// Rand returns a random source that draws the same numbers on every
// replay (design §3.2): it is seeded from the run's seed, its epoch, the
// W's scope, and where the call is in the code (the journaled calls
// visited before it, and the Rand calls since). It costs no append; do not
// share it between goroutines.
func (w *W) Rand() *rand.Rand {
	w.mu.Lock()
	w.rands++
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%s/%d/%d", w.seed, w.epoch, w.scope, w.visits, w.rands)
	w.mu.Unlock()
	s := h.Sum64()
	return rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15))
}

// fail records the error that ends the execution (the first one wins) and
// returns it.
func (w *W) fail(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fatal == nil {
		w.fatal = err
	}
	return w.fatal
}

// failed returns the error that ended the execution, if any.
func (w *W) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fatal
}

// nondeterminism fills in what the engine knows of a *NondeterminismError.
func (w *W) nondeterminism(err error) error {
	if nd, ok := err.(*NondeterminismError); ok {
		nd.RunID, nd.Workflow = w.runID, w.c.name
		if w.ro != nil {
			w.ro.diverged(nd)
		}
	}
	return err
}

// branch returns the W of a Join or Race branch: the same run and journal,
// calls under scope, the context ctx (derived from w's), Now starting at
// w's, and a failure of its own (the Join or Race decides what it means
// for w).
func (w *W) branch(ctx context.Context, scope Path) *W {
	return &W{
		ctx: ctx, c: w.c, e: w.e, h: w.h, runID: w.runID, actorID: w.actorID, epoch: w.epoch, seed: w.seed,
		replay: w.replay, scope: scope, now: w.Now(), comp: w.comp, pausedFlag: w.pausedFlag, cancelling: w.cancelling,
		ro: w.ro,
	}
}

// enter begins a journaled call of kind named name: the execution's
// failure if it has one, else the call's path in w's scope and what the
// journal records there (a divergence fails w).
func (w *W) enter(kind Kind, name string) (Path, Visit, error) {
	if err := w.failed(); err != nil {
		return Path{}, Visit{}, err
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return Path{}, Visit{}, w.fail(err)
	}
	v, err := w.replay.Visit(kind, p)
	if err != nil {
		return Path{}, Visit{}, w.fail(w.nondeterminism(err))
	}
	if w.ro != nil && !replayable(kind, v) {
		return Path{}, Visit{}, w.frontier(p)
	}
	return p, v, nil
}
