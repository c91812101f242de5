package workflows

import (
	"fmt"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Sleep waits d durably, as the journaled call name (design §3.1): the
// deadline (the runtime's clock at the first execution, plus d) is
// journaled with an actor alarm armed for it, so a crash or a restart
// resumes the wait where it was, and a replay past the deadline returns at
// once. A sleep shorter than Options.ParkAfter waits in memory (the alarm
// is the fallback); a longer one parks the run (status sleeping): the
// runner exits, the run's actor leaves memory, and the alarm runs the run
// again. Sleep returns nil, or the error that ended the execution.
func (w *W) Sleep(name string, d time.Duration) error {
	return w.sleep(name, func() time.Time { return w.e.rt.Clock().Now().Add(d) })
}

// SleepUntil waits until t durably, as Sleep does. A t in the past returns
// at once (still journaled).
func (w *W) SleepUntil(name string, t time.Time) error {
	return w.sleep(name, func() time.Time { return t })
}

// sleep is Sleep and SleepUntil; deadline is called once, for a sleep the
// journal does not record yet.
func (w *W) sleep(name string, deadline func() time.Time) error {
	p, v, err := w.enter(KindSleep, name)
	if err != nil {
		return err
	}
	if v.Found && v.Entry.Status == EntryCompleted {
		w.visited(v.Entry)
		return nil
	}
	// The deadline to write if the journal has no entry: to the
	// millisecond, as the alarm keeps it.
	until := alarmTime(deadline())
	if v.Found {
		until = v.Entry.NextAt
	}
	for {
		remaining := until.Sub(w.e.rt.Clock().Now())
		e, parked, err := w.sleepDo(p, v.Ord, until, remaining >= w.c.opts.ParkAfter)
		if err != nil {
			return w.fail(err)
		}
		if parked {
			return w.fail(errParked)
		}
		if e.Status == EntryCompleted {
			w.visited(e)
			return nil
		}
		until = e.NextAt
		if !w.memWait(until.Sub(w.e.rt.Clock().Now()), nil) {
			return w.fail(errStop)
		}
	}
}

// sleepDo is one compare-and-set Do on the sleep entry at p: it writes the
// entry (sleeping until, with its alarm) if missing, completes it once
// due (cancelling the alarm), and otherwise parks the run when parkIt. It
// returns the entry as it stands.
func (w *W) sleepDo(p Path, ord int, until time.Time, parkIt bool) (Entry, bool, error) {
	if w.ro != nil {
		return Entry{}, false, w.frontier(p)
	}
	key := EntryKey(w.epoch, p)
	// The closure may still run after do returned early (the execution's
	// context ended while it was in the mailbox): it publishes what it
	// saw under mu, and the caller reads it only after a successful do.
	var mu sync.Mutex
	var out Entry
	outParked := false
	args := wfArgs{Op: "sleep", Entry: p.String(), Status: StatusRunning}
	if parkIt {
		args.Status = StatusSleeping
	}
	err := do(w.ctx, w.h, args, func(ac *actors.Context[RunState]) error {
		var e Entry
		parked := false
		defer func() {
			mu.Lock()
			out, outParked = e, parked
			mu.Unlock()
		}()
		if ac.State.Status != StatusRunning || ac.State.Epoch != w.epoch {
			return errStop
		}
		now := ac.Now()
		dirty := false
		if raw, ok := ac.KV().Get(key); ok {
			var err error
			if e, err = DecodeEntry(raw); err != nil {
				return err
			}
		} else {
			e = Entry{Kind: KindSleep, Ord: ord, Status: EntrySleeping, At: now, NextAt: until}
			id, err := ac.Schedule().At(until, timerAction, p.String())
			if err != nil {
				return err
			}
			e.Alarm, dirty = id, true
		}
		if e.Status == EntrySleeping && !now.Before(e.NextAt) {
			if e.Alarm != "" {
				ac.Schedule().Cancel(e.Alarm)
			}
			e.Status, e.At, e.Alarm, dirty = EntryCompleted, now, "", true
		}
		if dirty {
			b, err := EncodeEntry(p, e)
			if err != nil {
				return err
			}
			ac.KV().Put(key, b)
			ac.State.Current, ac.State.UpdatedAt = p.String(), now
			ac.Broadcast("wf.progress", progress{Entry: p.String(), Status: string(e.Status)})
		}
		if e.Status == EntrySleeping && parkIt {
			parked = w.park(ac, StatusSleeping, &Waiting{Entry: p.String(), Until: e.NextAt, Alarm: e.Alarm})
		}
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return Entry{}, false, errStop
		}
		return Entry{}, false, fmt.Errorf("workflow %s run %s: sleep %s: %w", w.c.name, w.runID, p, err)
	}
	mu.Lock()
	e, parked := out, outParked
	mu.Unlock()
	if err := w.replay.Commit(p, e); err != nil {
		return e, false, err
	}
	return e, parked, nil
}

// alarmTime is t as alarms keep it: UTC, to the millisecond.
func alarmTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }
