package scheduler

import (
	"context"
	"fmt"
	"time"
)

// WaitIdle returns once the scheduler has nothing left to do at the
// clock's current time: no fire is in flight, and every alarm the index
// holds that is due by now has been fired (or dropped: the runtime found it
// no longer pending, or failed for good). It is for tests that hold the
// clock still (clock.Fake, rivetflowtest's Advance): with a real clock
// more alarms keep coming due. Call it once the index has folded the log
// up to the events that matter (projections.Runner.Wait for IndexName):
// an alarm set but not yet indexed is not seen. It waits on the
// scheduler's own changes, never on a timer; ctx bounds it. The scheduler
// must be started, or only ctx ends the wait.
func (s *Scheduler) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.idle == nil {
			s.idle = make(chan struct{})
		}
		changed, inFlight := s.idle, s.inFlight
		s.mu.Unlock()
		if inFlight == 0 {
			busy, err := s.dueUnfired(s.clock.Now())
			if err != nil {
				return fmt.Errorf("scheduler: read the alarm index: %w", err)
			}
			if !busy {
				return nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("scheduler: alarms still due or firing at %s: %w", s.clock.Now().Format(time.RFC3339Nano), context.Cause(ctx))
		}
	}
}

// NextAfter returns the earliest alarm in the index due after t, if any:
// where a test clock must go next to fire it.
func (s *Scheduler) NextAfter(t time.Time) (Pending, bool, error) {
	// The rows due by t are few in a test (fired ones the index has not
	// dropped yet): read past them.
	cursor := ""
	for {
		page, err := s.runner.Rows(IndexName, DuePrefix, pageSize, cursor)
		if err != nil {
			return Pending{}, false, err
		}
		for _, row := range page.Rows {
			p, err := parseDue(row.Key, row.Value)
			if err != nil {
				return Pending{}, false, err
			}
			if p.At.After(t) {
				return p, true, nil
			}
		}
		if page.NextCursor == "" {
			return Pending{}, false, nil
		}
		cursor = page.NextCursor
	}
}

// dueUnfired reports whether the index holds an alarm due by now whose
// fire has not started or is in flight. A row whose fire is over but that
// the index still holds (its deletion not folded yet, or a dropped fire)
// does not count: the scheduler has done its part.
func (s *Scheduler) dueUnfired(now time.Time) (bool, error) {
	cursor := ""
	for {
		page, err := s.runner.Rows(IndexName, DuePrefix, pageSize, cursor)
		if err != nil {
			return false, err
		}
		for _, row := range page.Rows {
			p, err := parseDue(row.Key, row.Value)
			if err != nil {
				continue // the loop skips it too (and logs it)
			}
			if p.At.After(now) {
				return false, nil
			}
			s.mu.Lock()
			f, ok := s.tracked[row.Key]
			over := ok && !f.inFlight
			s.mu.Unlock()
			if !over {
				return true, nil
			}
		}
		if page.NextCursor == "" {
			return false, nil
		}
		cursor = page.NextCursor
	}
}

// changedLocked wakes the WaitIdle calls in progress, if any: cheap when
// there are none (a nil check), so the hot path does not pay for it. s.mu
// is held.
func (s *Scheduler) changedLocked() {
	if s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
}
