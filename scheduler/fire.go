package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// fire delivers one alarm, retrying failures with backoff.
func (s *Scheduler) fire(ctx context.Context, draining <-chan struct{}, f *fire) {
	defer s.fires.Done()
	backoff := s.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		fired, err := s.rt.FireAlarm(ctx, f.ActorID, f.AlarmID, f.At)
		switch {
		case err == nil && fired:
			s.finish(f, ResultFired)
			return
		case err == nil:
			s.finish(f, ResultDropped)
			return
		case ctx.Err() != nil:
			s.finish(f, ResultCancelled)
			return
		case permanent(err):
			s.lg.Error("scheduler: the alarm cannot fire; it is tried again later", "actor", f.ActorID, "alarm", f.AlarmID,
				"at", f.At, "err", err, "in", doneTTL)
			s.finish(f, ResultFailed)
			return
		}
		s.m.fire(ResultRetried)
		s.retried.Add(1)
		if attempt == 1 && errors.Is(err, actors.ErrConflict) {
			// Another writer (a second node firing it too) appended first;
			// the runtime reloads the actor, and the next attempt finds the
			// alarm fired or still pending.
			continue
		}
		lvl := slog.LevelWarn
		if errors.Is(err, actors.ErrStopping) {
			lvl = slog.LevelDebug
		}
		s.lg.Log(ctx, lvl, "scheduler: firing an alarm failed; retrying", "actor", f.ActorID, "alarm", f.AlarmID,
			"err", err, "in", backoff)
		if !s.sleep(ctx, draining, backoff, func() {
			if h := s.opts.hooks.retrying; h != nil {
				h(f.Pending, err)
			}
		}) {
			s.finish(f, ResultCancelled)
			return
		}
		backoff = min(2*backoff, s.opts.MaxRetryBackoff)
	}
}

// permanent reports an error a retry cannot fix until the code or the
// registry changes (a type gone from the registry, a state that no longer
// decodes): such a fire is tried again after doneTTL, not in a loop that
// would hold a fire slot.
func permanent(err error) bool {
	return errors.Is(err, actors.ErrUnknownType) || errors.Is(err, actors.ErrInvalidID) ||
		errors.Is(err, actors.ErrStateDecodeFailed) || errors.Is(err, actors.ErrActionNotFound) ||
		errors.Is(err, actors.ErrInvalidArgs)
}

// sleep waits d on the clock; false if ctx ended or the run is draining.
// armed is called once the wait's timer is armed.
func (s *Scheduler) sleep(ctx context.Context, draining <-chan struct{}, d time.Duration, armed func()) bool {
	ch := make(chan struct{})
	t := s.clock.AfterFunc(d, func() { close(ch) })
	armed()
	select {
	case <-ch:
		return true
	case <-ctx.Done():
	case <-draining:
	}
	t.Stop()
	return false
}

func (s *Scheduler) finish(f *fire, result string) {
	s.m.fire(result)
	switch result {
	case ResultFired:
		s.fired.Add(1)
	case ResultDropped:
		s.dropped.Add(1)
	case ResultFailed:
		s.failed.Add(1)
	}
	s.mu.Lock()
	s.inFlight--
	f.inFlight = false
	f.doneAt = time.Now()
	s.done++
	if f.removed || result == ResultCancelled {
		f.removed = true
		s.purge = append(s.purge, f.key)
	}
	s.changedLocked()
	if result == ResultCancelled {
		s.resetResume() // still pending: fire it again
	}
	// A loop stopped at the limit of fires in flight reads again once a
	// quarter of them finished, not at each: a read per fire would cost
	// more than the fire when a backlog is due.
	poke := s.blocked && s.inFlight <= s.opts.MaxConcurrentFires*3/4
	if poke {
		s.blocked = false
	}
	s.mu.Unlock()
	select {
	case s.finished <- struct{}{}:
	default:
	}
	if h := s.opts.hooks.finished; h != nil {
		h(f.Pending, result)
	}
	if poke {
		s.pokeLoop()
	}
}
