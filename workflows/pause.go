package workflows

import (
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// pending reports whether a journal entry waits for a time of its own (a
// sleep, a wait with a timeout, a step between attempts).
func pending(e Entry) bool {
	switch e.Status {
	case EntrySleeping, EntryWaiting, EntryRetrying:
		return !e.NextAt.IsZero()
	}
	return false
}

// pause is the pause() action: the run's status becomes paused (the one
// it had is kept), every pending alarm of its journal is cancelled, and an
// active runner stops at its next journaled call.
func (c *core) pause(ac *actors.Context[RunState]) (ControlResult, error) {
	st := ac.State
	if st.Status.Finished() {
		return ControlResult{}, finishedError(st, "paused")
	}
	if st.Status == StatusPaused {
		return ControlResult{Status: st.Status}, nil
	}
	now := ac.Now()
	for _, kv := range ac.KV().List(JournalPrefix(st.Epoch)) {
		e, err := DecodeEntry(kv.Value)
		if err != nil || !pending(e) || e.Alarm == "" {
			continue
		}
		ac.Schedule().Cancel(e.Alarm)
		e.Alarm = ""
		_, p, err := ParseEntryKey(kv.Key)
		if err != nil {
			continue
		}
		if b, err := EncodeEntry(p, e); err == nil {
			ac.KV().Put(kv.Key, b)
		}
	}
	if st.Waiting != nil {
		st.Waiting.Alarm = ""
	}
	st.PausedFrom, st.PausedAt, st.Status, st.UpdatedAt = st.Status, now, StatusPaused, now
	vars(ac).paused.Store(true)
	ac.Broadcast("wf.progress", progress{Status: string(st.Status)})
	return ControlResult{Status: st.Status, Changed: true}, nil
}

// resume is the resume() action: the pending times of the journal move by
// the pause's length and their alarms are armed again; the run takes back
// the status it had, or runs when what it waited for came meanwhile (a
// signal, an alarm that fired before the pause took it).
func (c *core) resume(ac *actors.Context[RunState]) (ControlResult, error) {
	st := ac.State
	if st.Status.Finished() {
		return ControlResult{}, finishedError(st, "resumed")
	}
	if st.Status != StatusPaused {
		return ControlResult{Status: st.Status}, nil
	}
	now := ac.Now()
	shift := now.Sub(st.PausedAt)
	if shift < 0 {
		shift = 0
	}
	waitDone := false
	for _, kv := range ac.KV().List(JournalPrefix(st.Epoch)) {
		e, err := DecodeEntry(kv.Value)
		if err != nil {
			continue
		}
		_, p, err := ParseEntryKey(kv.Key)
		if err != nil {
			continue
		}
		isWait := st.Waiting.waitsOn(p.String())
		if isWait && !pendingOrOpen(e) {
			waitDone = true
		}
		if !pending(e) {
			continue
		}
		e.NextAt = alarmTime(e.NextAt.Add(shift))
		id, err := ac.Schedule().At(e.NextAt, timerAction, p.String())
		if err != nil {
			return ControlResult{}, err
		}
		e.Alarm = id
		b, err := EncodeEntry(p, e)
		if err != nil {
			return ControlResult{}, err
		}
		ac.KV().Put(kv.Key, b)
		if isWait && (st.Waiting.Until.IsZero() || !st.Waiting.Until.Add(shift).After(e.NextAt)) {
			// The parked run's deadline is its earliest wait's.
			st.Waiting.Until, st.Waiting.Alarm = e.NextAt, id
		}
	}
	status := st.PausedFrom
	switch {
	case status != StatusSleeping && status != StatusWaiting:
		status = StatusRunning
	case st.Waiting == nil || waitDone:
		status = StatusRunning
	case status == StatusWaiting && inboxWakes(ac, st.Waiting):
		status = StatusRunning
	}
	if status == StatusRunning {
		st.Waiting = nil
	}
	st.Status, st.PausedFrom, st.PausedAt, st.UpdatedAt = status, "", time.Time{}, now
	vars(ac).paused.Store(false)
	c.startIfIdle(ac)
	ac.Broadcast("wf.progress", progress{Status: string(st.Status)})
	return ControlResult{Status: st.Status, Changed: true}, nil
}

// pendingOrOpen reports whether an entry is not done yet.
func pendingOrOpen(e Entry) bool {
	return e.Status != EntryCompleted && e.Status != EntryFailed
}
