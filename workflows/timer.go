package workflows

import (
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/actors"
)

// timerAction is the internal action the alarms of sleeps and wait timeouts
// call on the run actor (design §3.1). It refuses every caller but the
// scheduler.
const timerAction = "$timer"

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
	case e.Kind == KindStep && e.Status == EntryRetrying:
		e.Alarm = "" // the next attempt is due: the runner makes it
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
	ac.Broadcast("wf.progress", progress{Entry: path, Status: string(e.Status)})
	if (st.Status == StatusSleeping || st.Status == StatusWaiting) && st.Waiting.waitsOn(path) {
		st.Status, st.Waiting = StatusRunning, nil
	}
	c.startIfIdle(ac)
	if v := vars(ac); v.active {
		poke(v)
	}
	return TimerResult{Status: st.Status}, nil
}
