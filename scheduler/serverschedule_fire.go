package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Ticks, fires and their outcomes.

// fireDoneHook, set by tests only, is called with each fire's outcome once
// its fireDone event is appended (Outcome TickStale for a reply that found
// its fire no longer running), or, for a queue target's fire, once the
// event of the fire is: tests wait on it instead of polling.
var fireDoneHook atomic.Pointer[func(name string, f Fire)]

// TickResult is the output of tick.
type TickResult struct {
	// Status is "ticked", or "stale" for a tick the schedule has moved past
	// (a second tick for the same occurrence): it changed nothing.
	Status string `json:"status"`
	// Fired, Buffered and Skipped count the occurrences the tick fired,
	// buffered and skipped (overlap); Missed those it did not fire
	// (catch-up).
	Fired    int  `json:"fired,omitempty"`
	Buffered int  `json:"buffered,omitempty"`
	Skipped  int  `json:"skipped,omitempty"`
	Missed   int  `json:"missed,omitempty"`
	Capped   bool `json:"capped,omitempty"`
	// Next is the occurrence the next tick fires for.
	Next time.Time `json:"next,omitzero"`
}

// TickStale is TickResult.Status of a tick that changed nothing.
const TickStale = "stale"

// tick fires the occurrence nominal, the one the armed tick was for, and
// arms the next. It takes calls from the scheduler only (the tick alarm),
// and ignores a nominal time that is not the armed one: that is the fence
// against a second tick for the same occurrence, which finds the schedule
// moved on. A tick more than LateAfter late is catching up: the
// occurrences from nominal to now are fired or missed under the catch-up
// policy, the missed ones recorded as one entry with their count. The next
// tick is armed whatever the fires came to.
func tick(c *actors.Context[ScheduleState], nominal time.Time) (TickResult, error) {
	if c.Caller() != actors.SchedulerCaller {
		return TickResult{}, actors.NewUserError("invalid_request", "tick is fired by the scheduler only; use trigger to fire a schedule now", nil)
	}
	s := c.State
	if s.Spec.Paused || s.Next.IsZero() || !nominal.Equal(s.Next) {
		return TickResult{Status: TickStale}, nil
	}
	if a, ok := c.Alarm(); ok && a.ID != s.AlarmID {
		return TickResult{Status: TickStale}, nil
	}
	now, nextAt := c.Now(), s.NextAt
	s.AlarmID, s.Next, s.NextAt, s.UpdatedAt = "", time.Time{}, time.Time{}, now
	cr, err := ParseCron(s.Spec.Cron, s.Spec.Timezone)
	if err != nil {
		// The spec parsed when it was set: the zone database changed under
		// it. Record why the schedule stopped; a configure restarts it.
		record(c, Fire{Nominal: nominal, At: now, Outcome: OutcomeFailed, Code: "invalid_cron", Error: err.Error()})
		return TickResult{Status: "ticked"}, nil
	}
	expire(c)
	res := TickResult{Status: "ticked"}
	keep := 1
	if s.Spec.CatchUp == CatchUpAll {
		keep = s.Spec.MaxCatchUp
	}
	n, due, capped := cr.occurrences(nominal, now, keep+1)
	if n == 0 { // early (the alarm came before its time): it is the occurrence
		n, due = 1, []time.Time{nominal}
	}
	latest := due[len(due)-1]
	late := now.Sub(latest) > LateAfter+time.Duration(s.Spec.JitterMs)*time.Millisecond
	if n == 1 {
		late = now.Sub(nextAt) > LateAfter
	}
	var fires []time.Time
	switch {
	case n == 1 && !late:
		fires = due
	case s.Spec.CatchUp == CatchUpNone:
		if !late {
			fires = due[len(due)-1:]
		}
	case s.Spec.CatchUp == CatchUpAll:
		fires = due[len(due)-min(len(due), keep):]
	default: // latest
		fires = due[len(due)-1:]
	}
	if missed := n - len(fires); missed > 0 {
		lastMissed := latest
		if len(fires) > 0 {
			lastMissed = due[len(due)-len(fires)-1]
		}
		s.Counters.Missed += uint64(missed)
		record(c, Fire{Nominal: nominal.UTC(), Until: lastMissed.UTC(), At: now, Outcome: OutcomeMissed, Count: missed, CountCapped: capped})
		observe(c, metricMissed, "", missed)
		res.Missed, res.Capped = missed, capped
	}
	for _, t := range fires {
		switch f := fireOne(c, t, false); f.Outcome {
		case OutcomeSkipped:
			res.Skipped++
		case OutcomeBuffered:
			res.Buffered++
		default:
			res.Fired++
		}
	}
	if err := arm(c, cr); err != nil {
		// A tick must not fail (a failed fire is recorded and its alarm
		// removed, which would stop the schedule silently): say why it stops.
		code, msg := errorCode(err)
		record(c, Fire{Nominal: nominal.UTC(), At: now, Outcome: OutcomeFailed, Code: code, Error: "the next tick could not be armed: " + msg})
	}
	res.Next = s.Next
	return res, nil
}

// fireOne fires the occurrence nominal under the overlap policy: it starts
// a fire, buffers it, or skips it, and returns the entry.
func fireOne(c *actors.Context[ScheduleState], nominal time.Time, manual bool) Fire {
	s := c.State
	if len(s.Running) > 0 {
		switch s.Spec.Overlap {
		case OverlapBufferOne:
			if s.Buffered == nil {
				f := Fire{Nominal: nominal.UTC(), At: c.Now(), Outcome: OutcomeBuffered, Manual: manual}
				s.Buffered = &f
				return f
			}
			return skip(c, nominal, manual, ReasonBufferFull)
		case OverlapAllow:
			if len(s.Running) >= MaxRunning {
				return skip(c, nominal, manual, ReasonTooManyRunning)
			}
		default:
			return skip(c, nominal, manual, ReasonOverlap)
		}
	}
	return start(c, nominal, manual)
}

func skip(c *actors.Context[ScheduleState], nominal time.Time, manual bool, reason string) Fire {
	f := Fire{Nominal: nominal.UTC(), At: c.Now(), Outcome: OutcomeSkipped, Reason: reason, Manual: manual}
	c.State.Counters.Skipped++
	record(c, f)
	observe(c, metricSkipped, reason, 1)
	return f
}

// start fires: for an actor target it sends the target's action with a
// reply to fireDone; a send that cannot be made (the target's type or
// action is gone) is a failed fire at once. For a queue target it records
// the enqueue of the body (startQueue).
func start(c *actors.Context[ScheduleState], nominal time.Time, manual bool) Fire {
	s := c.State
	s.LastFireID++
	f := Fire{ID: s.LastFireID, Nominal: nominal.UTC(), At: c.Now(), Outcome: OutcomeRunning, Manual: manual}
	s.Counters.Fired++
	observe(c, metricFires, "started", 1)
	if s.Spec.Target.IsQueue() {
		return startQueue(c, f)
	}
	err := send(c, FireTag{ID: f.ID, Nominal: f.Nominal})
	if err != nil {
		return failed(c, f, err)
	}
	s.Running = append(s.Running, f)
	record(c, f)
	return f
}

// startQueue fires a queue target: the enqueue of the body is an effect of
// this event, performed once the event is committed (at once, and by the
// outbox after a crash) with the effect ID as the message's dedup ID, so the
// fire enqueues one message however often it is performed. The fire has
// nothing to wait for: it finishes here, succeeded, and never counts as
// running (an overlap policy never holds a queue fire back). Succeeded
// means the enqueue is recorded: a queue that does not exist, or refuses
// the body, when the enqueue is performed makes it one of the outbox's dead
// letters (target "queue:<name>", code queue_not_found), not a failed fire.
// An enqueue that cannot be recorded is a failed fire.
func startQueue(c *actors.Context[ScheduleState], f Fire) Fire {
	s := c.State
	t := s.Spec.Target
	if err := c.Enqueue(t.Queue, t.Body); err != nil {
		return failed(c, f, err)
	}
	f.Outcome, f.Finished = OutcomeSucceeded, c.Now()
	s.Counters.Succeeded++
	record(c, f)
	observe(c, metricFires, OutcomeSucceeded, 1)
	if hook := fireDoneHook.Load(); hook != nil {
		name := s.Name
		c.WaitUntil(func(context.Context) { (*hook)(name, f) })
	}
	return f
}

// failed records f as a fire that failed at once with err.
func failed(c *actors.Context[ScheduleState], f Fire, err error) Fire {
	f.Outcome, f.Finished = OutcomeFailed, c.Now()
	f.Code, f.Error = errorCode(err)
	c.State.Counters.Failed++
	record(c, f)
	observe(c, metricFires, OutcomeFailed, 1)
	return f
}

func send(c *actors.Context[ScheduleState], tag FireTag) error {
	t := c.State.Spec.Target
	id, err := t.TargetID()
	if err != nil {
		return err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(t.Args, &raw); err != nil {
		return actors.NewUserError("invalid_args", "target args: "+err.Error(), nil)
	}
	args := make([]any, len(raw))
	for i, a := range raw {
		args[i] = a
	}
	return c.SendReply(id, t.Action, args, "fireDone", tag)
}

// errorCode returns an error's code and message.
func errorCode(err error) (string, string) {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return ue.Code, ue.Message
	}
	var re *actors.Error
	if errors.As(err, &re) {
		return re.Code, re.Message
	}
	return "internal_error", err.Error()
}

// fireDone is a fire's reply: the fire finishes with the target's outcome,
// and a buffered fire starts. A reply for a fire that is no longer running
// (it counted as unknown after the run timeout) changes nothing. Only the
// runtime's reply may call it.
func fireDone(c *actors.Context[ScheduleState], tag FireTag, o actors.Outcome) (string, error) {
	if !actors.IsReply(c.Caller()) {
		return "", actors.NewUserError("invalid_request", "fireDone is the runtime's reply to a fire, not to be called", nil)
	}
	s := c.State
	i := slices.IndexFunc(s.Running, func(f Fire) bool { return f.ID == tag.ID })
	if i < 0 {
		if hook := fireDoneHook.Load(); hook != nil {
			name := s.Name
			c.WaitUntil(func(context.Context) { (*hook)(name, Fire{ID: tag.ID, Nominal: tag.Nominal, Outcome: TickStale}) })
		}
		return TickStale, nil
	}
	f := s.Running[i]
	s.Running = slices.Delete(s.Running, i, i+1)
	f.Finished, f.Effect = c.Now(), o.EffectID
	if o.OK {
		f.Outcome = OutcomeSucceeded
		s.Counters.Succeeded++
	} else {
		f.Outcome, f.Code, f.Error = OutcomeFailed, o.Code, o.Message
		s.Counters.Failed++
	}
	update(c, f)
	observe(c, metricFires, f.Outcome, 1)
	if hook := fireDoneHook.Load(); hook != nil {
		name := s.Name
		c.WaitUntil(func(context.Context) { (*hook)(name, f) })
	}
	startBuffered(c)
	s.UpdatedAt = c.Now()
	return f.Outcome, nil
}

// expire finishes, with outcome unknown, the fires with no reply after the
// run timeout (the outbox gave up on the send, or the reply was lost), then
// starts a buffered fire if none is left running.
func expire(c *actors.Context[ScheduleState]) {
	s := c.State
	limit := time.Duration(s.Spec.RunTimeoutMs) * time.Millisecond
	now := c.Now()
	s.Running = slices.DeleteFunc(s.Running, func(f Fire) bool {
		if now.Sub(f.At) < limit {
			return false
		}
		f.Outcome, f.Finished = OutcomeUnknown, now
		f.Error = fmt.Sprintf("no reply within runTimeoutMs (%d)", s.Spec.RunTimeoutMs)
		s.Counters.Unknown++
		update(c, f)
		observe(c, metricFires, OutcomeUnknown, 1)
		return true
	})
	startBuffered(c)
}

// startBuffered starts the buffered fire once none is running.
func startBuffered(c *actors.Context[ScheduleState]) {
	s := c.State
	if s.Buffered == nil || len(s.Running) > 0 {
		return
	}
	b := *s.Buffered
	s.Buffered = nil
	start(c, b.Nominal, b.Manual)
}

// record appends an entry to the recent fires, dropping the oldest past
// RecentFires.
func record(c *actors.Context[ScheduleState], f Fire) {
	s := c.State
	s.Recent = append(s.Recent, f)
	if over := len(s.Recent) - RecentFires; over > 0 {
		s.Recent = slices.Delete(s.Recent, 0, over)
	}
}

// update replaces the recent entry of fire f.ID, or records f if it has
// left the list.
func update(c *actors.Context[ScheduleState], f Fire) {
	s := c.State
	if i := slices.IndexFunc(s.Recent, func(r Fire) bool { return r.ID == f.ID }); i >= 0 {
		s.Recent[i] = f
		return
	}
	record(c, f)
}
