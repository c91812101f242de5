package workflows

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// errParked unwinds a runner whose run parked (sleeping or waiting, design
// §1.3): the park is committed, the runner exits without committing
// anything else and without touching the actor again (it may be asleep).
// The next trigger ($timer, signal) starts a new runner.
var errParked = errors.New("workflows: run parked")

// Waiting is what a parked run waits for: the entry (its path), the signal
// names that wake it (none for a sleep) and the deadline its alarm is armed
// for (zero: none). A run whose Join or Race branches all blocked parks on
// all their waits at once: Entries lists every entry (Entry is the first),
// Names is the union of their names, Until and Alarm are the earliest
// deadline's.
type Waiting struct {
	Entry   string    `json:"entry"`
	Entries []string  `json:"entries,omitempty"`
	Names   []string  `json:"names,omitempty"`
	Until   time.Time `json:"until,omitzero"`
	Alarm   string    `json:"alarm,omitempty"`
}

// waitsOn reports whether a run parked on wt runs again when the entry at
// path completes (its alarm fired). A nil wt waits on nothing.
func (wt *Waiting) waitsOn(path string) bool {
	return wt != nil && (wt.Entry == path || slices.Contains(wt.Entries, path))
}

// wantsSignal reports whether a run parked on wt runs again when a signal
// or message named name arrives. A nil wt wants none.
func (wt *Waiting) wantsSignal(name string) bool {
	return wt != nil && slices.Contains(wt.Names, name)
}

// progress is a wf.progress broadcast: a journaled call's entry and its
// status, or the run's status. A struct, not a map: it is encoded at every
// step.
type progress struct {
	Entry  string `json:"entry,omitempty"`
	Status string `json:"status"`
}

// poke wakes a runner waiting in memory, without blocking.
func poke(v *runVars) {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// park commits, in the mailbox, that the run waits for wt: status st
// (sleeping or waiting), the runner gone, the actor free to sleep (it
// leaves memory once the runner has unwound). It reports whether it
// parked; when it did not, the caller goes on waiting in memory.
//
// With Join or Race branches running (design §3.4), the run parks only
// when the caller's wait is the last thing anything waits on: every other
// branch is blocked on a wait that could park too (or on a nested Join of
// such). Until then the caller is recorded as blocked and declines; the
// last one to block parks on all the waits (Waiting.Entries), and every
// blocked branch unwinds with errParked. A wait already due, or a signal
// some wait wants already in the inbox, declines too: that branch is
// about to run on.
func (w *W) park(ac *actors.Context[RunState], st Status, wt *Waiting) bool {
	if w.ctx.Err() != nil {
		return false // a late Do of an execution that ended (a Race lost)
	}
	if t := trackerOf(w); t != nil {
		var ok bool
		if st, wt, ok = t.parkAll(ac, w.scope, st, wt); !ok {
			return false
		}
	}
	ac.State.Status, ac.State.Waiting, ac.State.UpdatedAt = st, wt, ac.Now()
	ac.Broadcast("wf.progress", progress{Entry: wt.Entry, Status: string(st)})
	vars(ac).active = false
	ac.Sleep()
	return true
}

// memWait waits in memory until d has passed on the runtime's clock, the
// wake channel (may be nil) is poked, or the execution ends (false). With
// branches running it also returns early when their state changed (a
// branch ended, a poke another branch received: every waiter re-checks),
// and returns false, failing w with errParked, when the run parked.
func (w *W) memWait(d time.Duration, wake <-chan struct{}) bool {
	if w.ro != nil {
		w.frontier(Path{})
		return false
	}
	t := trackerOf(w)
	var nudge, parked <-chan struct{}
	if t != nil {
		var again bool
		if nudge, parked, again = t.waitChans(w.scope); again {
			return true
		}
		defer t.unblock(w.scope)
	}
	// Waiting for the clock or a poke is not working (Engine.WaitIdle).
	// The timer counts the runner back in from its callback, which a fake
	// clock runs before Set returns: whoever moved the clock then sees the
	// runner working, not idle before it woke.
	counted := d > 0
	if counted {
		w.working(-1)
	}
	var back sync.Once
	up := func() {
		if counted {
			back.Do(func() { w.working(1) })
		}
	}
	defer up()
	fired := make(chan struct{})
	tm := w.e.rt.Clock().AfterFunc(d, func() { up(); close(fired) })
	defer tm.Stop()
	select {
	case <-fired:
	case <-wake:
		if t != nil {
			t.broadcast() // the poke may be for another branch's wait
		}
	case <-nudge:
	case <-parked:
		w.fail(errParked)
		return false
	case <-w.ctx.Done():
		return false
	}
	return true
}

// trackers holds the branch tracker of each execution while it has Join
// or Race branches running, by the execution's Replay (one per
// execution); the first fan-out creates it, the last one to end drops it.
var trackers sync.Map // *Replay -> *tracker

// trackerOf returns the branch tracker of w's execution, nil when no
// branches run.
func trackerOf(w *W) *tracker {
	if t, ok := trackers.Load(w.replay); ok {
		return t.(*tracker)
	}
	return nil
}

// tracker follows which parts of one execution run and which are blocked
// on a wait that could park the run (design §3.4): a tree of units (the
// run function's goroutine, each branch's), a unit running a fan-out
// owning a group of branch units.
type tracker struct {
	replay *Replay

	mu     sync.Mutex
	groups int // fan-outs in progress
	units  map[Path]*unit
	// parked is closed when the run parked: blocked branches unwind.
	parked   chan struct{}
	isParked bool
	// nudge is closed (and replaced) to make every memWait re-check.
	nudge chan struct{}
}

// unit is a goroutine running workflow code: the run function (scope the
// root) or a branch (its scope).
type unit struct {
	scope Path
	// ctx is the branch's context (nil for the root): a cancelled branch
	// (a Race lost, a Join failed) is unwinding, not blocked.
	ctx context.Context
	// wait and status are set while the unit is blocked in memory on a
	// wait that declined to park.
	wait   *Waiting
	status Status
	// nudged: a nudge came while the unit was not in memWait.
	nudged bool
	// group is the fan-out the unit is in, if any.
	group *group
	// futures are the fan-outs of the unit's Go calls not awaited yet.
	futures map[*group]struct{}
}

// group is one fan-out: its bound, the branches not yet started and the
// running ones.
type group struct {
	// future: a Go's fan-out, ended by endFuture.
	future  bool
	owner   *unit
	limit   int
	pending int
	running map[*unit]struct{}
}

// enterGroup registers a fan-out of n branches at most limit at a time,
// run by the code of w, creating the execution's tracker if needed.
func enterGroup(w *W, n, limit int) (*tracker, *group) {
	fresh := &tracker{replay: w.replay, units: map[Path]*unit{{}: {}}, parked: make(chan struct{}), nudge: make(chan struct{})}
	v, _ := trackers.LoadOrStore(w.replay, fresh)
	t := v.(*tracker)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.groups++
	owner := t.unitOf(w.scope)
	g := &group{owner: owner, limit: max(limit, 1), pending: n, running: map[*unit]struct{}{}}
	if h := w.future; h != nil {
		// A Go: its owner runs on meanwhile; Await attaches it. It ends
		// with its goroutine (endFuture), after its join entry's commit.
		g.future = true
		if owner.futures == nil {
			owner.futures = map[*group]struct{}{}
		}
		owner.futures[g] = struct{}{}
		h.set(t, g)
	} else {
		owner.group = g
	}
	return t, g
}

// leaveGroup ends a fan-out whose branches have all returned; the last
// one drops the tracker.
func (t *tracker) leaveGroup(g *group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if g.future {
		return // endFuture, once the Go's join is committed
	}
	t.endGroupLocked(g)
}

// endFuture ends the fan-out of a Go whose goroutine returned.
func (t *tracker) endFuture(g *group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endGroupLocked(g)
	t.changed()
}

// endGroupLocked removes fan-out g; the last one drops the tracker.
// Called with t.mu held.
func (t *tracker) endGroupLocked(g *group) {
	if g.owner.group == g {
		g.owner.group = nil
	}
	delete(g.owner.futures, g)
	t.groups--
	if t.groups == 0 {
		trackers.CompareAndDelete(t.replay, t)
	}
}

// startUnit registers a branch of g at scope about to start; nil when the
// run parked meanwhile (the branch must not start).
func (t *tracker) startUnit(g *group, scope Path, ctx context.Context) *unit {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.isParked {
		return nil
	}
	g.pending--
	u := &unit{scope: scope, ctx: ctx}
	g.running[u] = struct{}{}
	t.units[scope] = u
	return u
}

// endUnit removes a branch that returned; if what is left is all blocked,
// the blocked branches re-check, so that one of them parks the run.
func (t *tracker) endUnit(g *group, u *unit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(g.running, u)
	delete(t.units, u.scope)
	t.changed()
}

// stopStarting records that g starts no more branches.
func (t *tracker) stopStarting(g *group) {
	t.mu.Lock()
	defer t.mu.Unlock()
	g.pending = 0
	t.changed()
}

// runParked reports whether the run parked.
func (t *tracker) runParked() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.isParked
}

// changed nudges the blocked units when everything is blocked. Called
// with t.mu held.
func (t *tracker) changed() {
	if !t.isParked && t.stuck(t.units[Path{}]) {
		t.broadcastLocked()
	}
}

// broadcast makes every memWait of the execution return and re-check.
func (t *tracker) broadcast() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.broadcastLocked()
}

func (t *tracker) broadcastLocked() {
	for _, u := range t.units {
		u.nudged = true
	}
	close(t.nudge)
	t.nudge = make(chan struct{})
}

// unitOf returns the unit running the code of scope: the branch whose
// scope is the longest prefix of it, else the root. Called with t.mu held.
func (t *tracker) unitOf(scope Path) *unit {
	for q := scope; ; q = q.Parent() {
		if u, ok := t.units[q]; ok {
			return u
		}
		if q.IsRoot() {
			panic("workflows: branch tracker without its root")
		}
	}
}

// stuck reports whether u can do nothing until a wake: it is blocked on a
// parkable wait, or runs a fan-out all of whose running branches are
// stuck and that cannot start another. Called with t.mu held.
func (t *tracker) stuck(u *unit) bool {
	if u.ctx != nil && u.ctx.Err() != nil {
		return false
	}
	for fg := range u.futures {
		if len(fg.running) == 0 || !t.groupStuck(fg) {
			return false // a future (Go) of u still runs or commits
		}
	}
	if u.wait != nil {
		return true
	}
	g := u.group
	if g == nil || len(g.running) == 0 {
		return false
	}
	return t.groupStuck(g)
}

// groupStuck reports whether every running branch of g is stuck and g
// cannot start another. Called with t.mu held.
func (t *tracker) groupStuck(g *group) bool {
	for b := range g.running {
		if !t.stuck(b) {
			return false
		}
	}
	return g.pending == 0 || len(g.running) >= g.limit
}

// waitChans returns the channels a memWait of the unit of scope selects
// on; again reports a nudge that came before it waited (re-check at once).
func (t *tracker) waitChans(scope Path) (nudge, parked <-chan struct{}, again bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.unitOf(scope)
	if u.nudged {
		u.nudged, u.wait = false, nil
		return nil, nil, true
	}
	return t.nudge, t.parked, false
}

// unblock records that the unit of scope runs again.
func (t *tracker) unblock(scope Path) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.unitOf(scope)
	u.nudged, u.wait = false, nil
}

// parkAll records the unit of scope as blocked on wt (status st) and, if
// the whole run is now stuck, returns what the run parks on: every
// blocked unit's wait, merged. ok is false when the run must not park.
// It runs in the mailbox, so ac.State's inbox is current.
func (t *tracker) parkAll(ac *actors.Context[RunState], scope Path, st Status, wt *Waiting) (Status, *Waiting, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.unitOf(scope)
	u.wait, u.status, u.nudged = wt, st, false
	if t.isParked || !t.stuck(t.units[Path{}]) {
		return st, wt, false
	}
	merged := &Waiting{Entry: wt.Entry}
	status := StatusSleeping
	now := ac.Now()
	for _, b := range t.blocked() {
		if !b.wait.Until.IsZero() && !now.Before(b.wait.Until) {
			return st, wt, false // due: that branch runs on
		}
		if b != u && entryDone(ac, b.wait.Entry) {
			return st, wt, false // completed (a child's outcome came): that branch runs on
		}
		merged.Entries = append(merged.Entries, b.wait.Entry)
		for _, n := range b.wait.Names {
			if !slices.Contains(merged.Names, n) {
				merged.Names = append(merged.Names, n)
			}
		}
		if !b.wait.Until.IsZero() && (merged.Until.IsZero() || b.wait.Until.Before(merged.Until)) {
			merged.Until, merged.Alarm = b.wait.Until, b.wait.Alarm
		}
		if b.status == StatusWaiting {
			status = StatusWaiting
		}
	}
	if inboxWakes(ac, merged) {
		return st, wt, false // taken by the branch it woke
	}
	slices.Sort(merged.Entries)
	t.isParked = true
	close(t.parked)
	return status, merged, true
}

// entryDone reports whether the journal entry at path (of the run's
// epoch) is no longer waiting: something completed it since its branch
// blocked, and that branch is about to see it.
func entryDone(ac *actors.Context[RunState], path string) bool {
	raw, ok := ac.KV().Get(JournalPrefix(ac.State.Epoch) + path)
	if !ok {
		return false
	}
	e, err := DecodeEntry(raw)
	return err == nil && (e.Status == EntryCompleted || e.Status == EntryFailed)
}

// blocked returns the units blocked on a wait, by scope. Called with t.mu
// held.
func (t *tracker) blocked() []*unit {
	var us []*unit
	for _, u := range t.units {
		if u.wait != nil && t.stuck(u) {
			us = append(us, u)
		}
	}
	slices.SortFunc(us, func(a, b *unit) int { return strings.Compare(a.scope.s, b.scope.s) })
	return us
}
