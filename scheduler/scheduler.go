package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
	"github.com/rivet-flow/rivet-flow/projections"
)

// Scheduler fires a node's pending alarms when they come due. It is a
// startstop.Service: New registers its index on the runner (before the
// runner starts); Start it after the runtime and the runner, Stop it before
// them. All methods are safe for concurrent use.
type Scheduler struct {
	startstop.BaseStartStop

	rt     *actors.Runtime
	runner *projections.Runner
	opts   Options
	clock  clock.Clock
	lg     *slog.Logger
	m      *metrics

	poke     chan struct{} // wakes the loop: the timer, a finished fire, the waker
	finished chan struct{} // wakes a drain: a fire finished
	kick     chan struct{} // wakes the waker: the index noted changes

	fired, dropped, failed, retried atomic.Uint64

	mu       sync.Mutex
	tracked  map[string]*fire // by due key: fires in flight, and done ones whose row the index still holds
	inFlight int
	done     int           // tracked entries not in flight
	draining chan struct{} // the current run's; closed by Stop's drain
	blocked  bool          // the loop stopped at a limit: a finished fire or a removal wakes it
	armedAll bool          // no timer armed (or the loop is reading): any new alarm wakes it
	armedAt  time.Time     // the armed timer's due time, when !armedAll
	notes    notes         // from the index's fold; committed once its checkpoint reaches notes.seq
	// purge holds tracked keys whose rows the index deleted (committed) and
	// whose fires are over. They are untracked at the start of the next
	// read: the read in progress may hold a page from before the deletion.
	purge []string
	fires sync.WaitGroup
	// idle is closed at each change a WaitIdle may be waiting for (a fire
	// finished, the index's notes applied, a read); nil when none waits.
	idle chan struct{}

	// resume is the cursor of the first index page the next read needs:
	// every row before it was due and is fired or tracked. Rows that may
	// land before it or need a fire again (an alarm set due by readNow, a
	// fire cancelled, a finished fire's row outliving doneTTL) reset it.
	resume    string
	resumeGen uint64    // counts resets, so a read in progress does not undo one
	readNow   time.Time // the time of the latest read: rows before resume are due by it
	fullAt    time.Time // wall time of the last read from the start

	timer     clock.Timer // owned by the loop
	wallTimer *time.Timer // owned by the loop: the next read from the start, while fires are done
}

// notes are what the index's fold saw since the waker last looked.
type notes struct {
	seq     uint64    // the last event noted
	due     time.Time // the earliest alarm set
	hasDue  bool
	deleted []string // due rows deleted that were tracked
}

// fire is one alarm the scheduler fired (or is firing) and whose due row
// the index has not yet been seen to delete.
type fire struct {
	Pending
	key      string
	inFlight bool
	removed  bool      // the index deleted the row (committed)
	doneAt   time.Time // when it finished, on the wall clock
}

const (
	// doneTTL is how long a finished fire's row may stay in the index
	// before the scheduler fires it again, on the wall clock (it measures
	// the index's progress, not the alarms' time). The index deletes the
	// row within its lag in the normal course; one still there after this
	// (a failed or rebuilding index, a fire dropped by a runtime with a
	// stale view) is fired again, which takes effect at most once (the
	// runtime checks that the alarm is pending, under the actor's fence).
	doneTTL = time.Minute
	// maxDonePerFire bounds the finished fires awaiting the index, per
	// MaxConcurrentFires: past it the scheduler waits for the index to catch
	// up instead of firing more.
	maxDonePerFire = 8
	// pageSize is the rows a read of the index asks for at a time.
	pageSize = 32
)

// New returns a scheduler firing the alarms of rt's actors, from an index
// it registers on runner as the projection IndexName: call it before the
// runner starts.
func New(rt *actors.Runtime, runner *projections.Runner, opts *Options) (*Scheduler, error) {
	if rt == nil || runner == nil {
		return nil, errors.New("scheduler: New needs a runtime and a projection runner")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = rt.Clock()
	}
	s := &Scheduler{rt: rt, runner: runner, opts: o, clock: o.Clock, lg: o.Logger.With("component", "scheduler"),
		poke: make(chan struct{}, 1), kick: make(chan struct{}, 1), finished: make(chan struct{}, 1), tracked: map[string]*fire{}, armedAll: true}
	if s.m, err = newMetrics(o.Registerer, s.pendingGauge, s.inFlightGauge); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	if err := runner.Register(&index{note: s.note, lg: s.lg}); err != nil {
		s.m.unregister()
		return nil, fmt.Errorf("scheduler: register the alarm index: %w", err)
	}
	return s, nil
}

var _ startstop.Service = (*Scheduler)(nil)

// Start starts the scheduler and returns at once; Started is closed once it
// has read the index and armed its timer. It runs until Stop or until ctx
// ends.
func (s *Scheduler) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	draining := make(chan struct{})
	s.mu.Lock()
	s.draining = draining
	s.mu.Unlock()
	go func() {
		defer stopped()
		var wg sync.WaitGroup
		wg.Go(func() { s.wake(ctx) })
		s.loop(ctx, draining, started)
		wg.Wait()
		s.fires.Wait()
		s.mu.Lock()
		clear(s.tracked)
		s.purge = nil
		s.resetResume()
		s.inFlight, s.done, s.blocked, s.armedAll = 0, 0, false, true
		s.mu.Unlock()
	}()
	return nil
}

// Stop stops firing, waits (bounded by ctx) for the fires in flight, then
// cancels those left. Fires waiting to retry end at once; their alarms stay
// pending and fire at the next start (on this node or another).
func (s *Scheduler) Stop(ctx context.Context) error { return s.StopDrain(ctx, s.drain) }

func (s *Scheduler) drain(ctx context.Context) error {
	s.mu.Lock()
	select {
	case <-s.draining:
	default:
		close(s.draining) // under mu: no fire starts after this
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		n := s.inFlight
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-s.finished:
		case <-ctx.Done():
			return fmt.Errorf("scheduler: %d fires in flight: %w", n, context.Cause(ctx))
		}
	}
}

// Close stops the scheduler at once if it still runs (fires in flight are
// cancelled and their alarms stay pending: call Stop first to drain them)
// and unregisters its metrics. The index stays registered on the runner.
func (s *Scheduler) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Stop(ctx) // a drain cut short reports an error: that is the point here
	s.m.unregister()
	return nil
}

func (s *Scheduler) pokeLoop() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// loop reads the index whenever poked, fires what is due and arms the one
// timer for the earliest alarm that is not.
func (s *Scheduler) loop(ctx context.Context, draining <-chan struct{}, started func()) {
	defer s.disarm()
	backoff := s.opts.RetryBackoff
	for {
		next, err := s.dispatch(ctx, draining)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.lg.Warn("scheduler: reading the alarm index failed; retrying", "err", err, "in", backoff)
			next = s.clock.Now().Add(backoff)
			backoff = min(2*backoff, s.opts.MaxRetryBackoff)
		default:
			backoff = s.opts.RetryBackoff
		}
		s.arm(next)
		started()
		select {
		case <-ctx.Done():
			return
		case <-s.poke:
		}
	}
}

// arm arms the timer for next (none if zero), replacing the armed one, and
// the wall-clock timer for a recheck of the finished fires if one is due.
func (s *Scheduler) arm(next time.Time) {
	s.disarm()
	if !next.IsZero() {
		s.timer = s.clock.AfterFunc(next.Sub(s.clock.Now()), s.pokeLoop)
	}
	s.mu.Lock()
	s.armedAll, s.armedAt = next.IsZero(), next
	s.changedLocked() // the loop read the index: a WaitIdle looks again
	var full time.Time
	if s.done > 0 {
		full = s.fullAt.Add(doneTTL)
	}
	s.mu.Unlock()
	if !full.IsZero() {
		s.wallTimer = time.AfterFunc(time.Until(full), s.pokeLoop)
	}
	if h := s.opts.hooks.armed; h != nil {
		h(next)
	}
}

// disarm stops the loop's timers.
func (s *Scheduler) disarm() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.wallTimer != nil {
		s.wallTimer.Stop()
		s.wallTimer = nil
	}
}

// dispatch reads the index from where the last read left it (from its
// earliest row, now and then), starts a fire for each due alarm not
// tracked yet, and returns the due time of the earliest alarm not due
// (zero: none, or the loop waits for a fire or the index instead). The rows
// are in key order, due time to the millisecond, so a read costs a seek and
// a page or two, whatever the number of pending alarms.
func (s *Scheduler) dispatch(ctx context.Context, draining <-chan struct{}) (time.Time, error) {
	s.mu.Lock()
	s.armedAll, s.blocked = true, false // until armed again, any new alarm wakes the loop
	for _, k := range s.purge {
		if f, ok := s.tracked[k]; ok && !f.inFlight {
			delete(s.tracked, k)
			s.done--
		}
	}
	clear(s.purge)
	s.purge = s.purge[:0]
	s.changedLocked()
	if time.Since(s.fullAt) >= doneTTL {
		s.resetResume() // fire again the rows of finished fires that outlived doneTTL
	}
	if s.resume == "" {
		s.fullAt = time.Now()
	}
	now := s.clock.Now()
	cursor, gen := s.resume, s.resumeGen
	s.readNow = now
	s.mu.Unlock()
	for {
		page, err := s.runner.Rows(IndexName, DuePrefix, pageSize, cursor)
		if err != nil {
			return time.Time{}, err
		}
		for _, row := range page.Rows {
			p, err := parseDue(row.Key, row.Value)
			if err != nil {
				s.lg.Error("scheduler: skipping a malformed alarm index row", "err", err)
				continue
			}
			if p.At.After(now) {
				return p.At, nil
			}
			if stop := s.start(ctx, draining, row.Key, p, now); stop {
				return time.Time{}, nil
			}
		}
		if page.NextCursor == "" {
			return time.Time{}, nil
		}
		cursor = page.NextCursor
		s.mu.Lock()
		if s.resumeGen == gen { // every row so far is fired or tracked
			s.resume = cursor
		}
		s.mu.Unlock()
	}
}

// resetResume makes the next read start from the earliest row; s.mu is held.
func (s *Scheduler) resetResume() {
	s.resume = ""
	s.resumeGen++
}

// start starts a fire of the due alarm p unless it is tracked; stop says
// the loop must wait: draining, or at a limit (a finished fire, a removal
// or the wall timer wakes it).
func (s *Scheduler) start(ctx context.Context, draining <-chan struct{}, key string, p Pending, now time.Time) (stop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.tracked[key]; ok {
		if f.inFlight || f.removed || time.Since(f.doneAt) < doneTTL {
			return false // in flight, or fired and its row not yet seen deleted
		}
		delete(s.tracked, key) // its row outlived doneTTL: fire it again
		s.done--
	}
	select {
	case <-draining:
		return true
	default:
	}
	if s.inFlight >= s.opts.MaxConcurrentFires {
		s.blocked = true
		return true
	}
	if s.done >= maxDonePerFire*s.opts.MaxConcurrentFires {
		// Wait for the index to delete the rows of finished fires (the
		// waker pokes), or for them to outlive doneTTL (the wall timer).
		s.blocked = true
		return true
	}
	f := &fire{Pending: p, key: key, inFlight: true}
	s.tracked[key] = f
	s.inFlight++
	s.fires.Add(1)
	s.m.late(now.Sub(p.At))
	go s.fire(ctx, draining, f)
	return false
}

// note is the index's report of one event's changes, before they commit.
func (s *Scheduler) note(seq uint64, set []time.Time, deleted []string) {
	s.mu.Lock()
	s.notes.seq = max(s.notes.seq, seq)
	for _, at := range set {
		if !s.notes.hasDue || at.Before(s.notes.due) {
			s.notes.due, s.notes.hasDue = at, true
		}
	}
	for _, k := range deleted {
		if _, ok := s.tracked[k]; ok {
			s.notes.deleted = append(s.notes.deleted, k)
		}
	}
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// wake acts on the index's notes once they are committed (readable): a new
// alarm earlier than the armed timer wakes the loop; a deleted row of a
// finished fire ends its tracking.
func (s *Scheduler) wake(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		}
		s.mu.Lock()
		n := s.notes
		s.notes = notes{}
		s.mu.Unlock()
		err := s.runner.Wait(ctx, IndexName, n.seq)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		poke := err != nil // the index failed: read it again anyway
		if err != nil {
			s.resetResume()
		} else {
			for _, k := range n.deleted {
				if f, ok := s.tracked[k]; ok && !f.removed {
					f.removed = true
					if !f.inFlight {
						s.purge = append(s.purge, k)
						poke = poke || s.blocked
					}
				}
			}
		}
		if n.hasDue && !n.due.After(s.readNow) {
			s.resetResume() // an alarm that may sort before where reads resume
			poke = true
		}
		if n.hasDue && (s.armedAll || n.due.Before(s.armedAt)) {
			poke = true
		}
		s.changedLocked()
		s.mu.Unlock()
		if poke {
			s.pokeLoop()
		}
	}
}
