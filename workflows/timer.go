package workflows

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// timerAction is the internal action the alarms of sleeps and wait timeouts
// call on the run actor (design §3.1). It refuses every caller but the
// scheduler.
const timerAction = "$timer"

// errParked unwinds a runner whose run parked (sleeping or waiting, design
// §1.3): the park is committed, the runner exits without committing
// anything else and without touching the actor again (it may be asleep).
// The next trigger ($timer, signal) starts a new runner.
var errParked = errors.New("workflows: run parked")

// Waiting is what a parked run waits for: the entry (its path), the signal
// names that wake it (none for a sleep) and the deadline its alarm is armed
// for (zero: none).
type Waiting struct {
	Entry string    `json:"entry"`
	Names []string  `json:"names,omitempty"`
	Until time.Time `json:"until,omitzero"`
	Alarm string    `json:"alarm,omitempty"`
}

// TimerResult is what $timer answers: the run's status after the fire.
type TimerResult struct {
	Status Status `json:"status"`
}

// timedOut is the Extra of a message entry whose wait timed out.
var timedOut = json.RawMessage(`{"timedOut":true}`)

// timer is the $timer action: the alarm of the entry at path is due. A
// sleeping sleep entry is completed, a waiting message entry completed as
// timed out; a parked run waiting on that entry runs again (a new
// runner). Every branch is compare-and-set, so a late or repeated fire
// changes nothing.
func (c *core) timer(ac *actors.Context[RunState], path string) (TimerResult, error) {
	if ac.Caller() != actors.SchedulerCaller {
		return TimerResult{}, actors.NewUserError("invalid_request", "$timer is called by the scheduler only", nil)
	}
	st := ac.State
	p, err := ParsePath(path)
	if err != nil || st.Status.Finished() {
		return TimerResult{Status: st.Status}, nil
	}
	key := EntryKey(st.Epoch, p)
	raw, ok := ac.KV().Get(key)
	if !ok {
		return TimerResult{Status: st.Status}, nil
	}
	e, err := DecodeEntry(raw)
	if err != nil {
		return TimerResult{Status: st.Status}, nil
	}
	now := ac.Now()
	switch {
	case e.Kind == KindSleep && e.Status == EntrySleeping:
		e.Status, e.At, e.Alarm = EntryCompleted, now, ""
	case e.Kind == KindMessage && e.Status == EntryWaiting && !e.NextAt.IsZero():
		e.Status, e.At, e.Alarm, e.Output, e.Extra = EntryCompleted, now, "", json.RawMessage("null"), timedOut
	default:
		return TimerResult{Status: st.Status}, nil
	}
	b, err := EncodeEntry(p, e)
	if err != nil {
		return TimerResult{}, err
	}
	ac.KV().Put(key, b)
	st.Current, st.UpdatedAt = path, now
	ac.Broadcast("wf.progress", map[string]any{"entry": path, "status": e.Status})
	if (st.Status == StatusSleeping || st.Status == StatusWaiting) && st.Waiting != nil && st.Waiting.Entry == path {
		st.Status, st.Waiting = StatusRunning, nil
	}
	c.startIfIdle(ac)
	if v := vars(ac); v.active {
		poke(v)
	}
	return TimerResult{Status: st.Status}, nil
}

// poke wakes a runner waiting in memory, without blocking.
func poke(v *runVars) {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// park commits, in the mailbox, that the run waits for the entry at p:
// status st (sleeping or waiting), the runner gone, the actor free to
// sleep (it leaves memory once the runner has unwound).
func park(ac *actors.Context[RunState], st Status, wt *Waiting) {
	ac.State.Status, ac.State.Waiting, ac.State.UpdatedAt = st, wt, ac.Now()
	ac.Broadcast("wf.progress", map[string]any{"entry": wt.Entry, "status": st})
	vars(ac).active = false
	ac.Sleep()
}

// memWait waits in memory until d has passed on the runtime's clock, the
// wake channel (may be nil) is poked, or the execution ends (false).
func (w *W) memWait(d time.Duration, wake <-chan struct{}) bool {
	fired := make(chan struct{})
	t := w.e.rt.Clock().AfterFunc(d, func() { close(fired) })
	defer t.Stop()
	select {
	case <-fired:
	case <-wake:
	case <-w.ctx.Done():
		return false
	}
	return true
}
