package scheduler

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The schedule actor's actions. configure, pause, resume and trigger are
// the API's; tick comes from the scheduler (the tick alarm's fire), fireDone
// from the runtime (a fire's reply). Outputs are small: they are recorded
// in each event; read the state for the rest.

// ScheduleDef is the server schedule actor type; the node registers it.
var ScheduleDef = actors.NewType(ScheduleType, actors.Options[ScheduleState]{
	State:       ScheduleState{Running: []Fire{}, Recent: []Fire{}},
	CreateState: createSchedule,
}).
	Action("configure", actors.Act(configure)).
	Action("pause", actors.Act0(pause)).
	Action("resume", actors.Act0(resume)).
	Action("trigger", actors.Act0(trigger)).
	Action("tick", actors.Act(tick)).
	Action("fireDone", actors.Act2(fireDone))

// ActionResult is the output of configure, pause and resume.
type ActionResult struct {
	// Changed is false when the action found nothing to do (pause of a
	// paused schedule).
	Changed bool `json:"changed"`
	// Next is the occurrence the next tick fires for (zero while paused).
	Next time.Time `json:"next,omitzero"`
	// Skipped counts the occurrences a resume found passed while paused.
	Skipped int `json:"skipped,omitempty"`
}

// createSchedule checks the create input (a ScheduleSpec) so that a bad
// spec creates nothing; configure arms the first tick.
func createSchedule(c *actors.Context[ScheduleState], input json.RawMessage) (ScheduleState, error) {
	st := ScheduleState{Running: []Fire{}, Recent: []Fire{}}
	key := c.Key()
	if len(key) != 1 {
		return st, actors.NewUserError("invalid_request", fmt.Sprintf("a schedule's key is its name alone, got %d parts", len(key)), nil)
	}
	if err := ValidateName(key[0]); err != nil {
		return st, err
	}
	var spec ScheduleSpec
	if len(input) == 0 || string(input) == "null" {
		return st, actors.NewUserError("invalid_request", "creating a schedule needs its spec as the input", nil)
	}
	if err := json.Unmarshal(input, &spec); err != nil {
		return st, actors.NewUserError("invalid_request", "schedule spec: "+err.Error(), nil)
	}
	spec, _, err := validateIn(c, spec)
	if err != nil {
		return st, err
	}
	st.Name, st.Spec, st.UpdatedAt = key[0], spec, c.Now()
	if spec.Paused {
		st.PausedAt = c.Now()
	}
	return st, nil
}

// configure replaces the spec (checked in full: nothing changes if it is
// bad), cancels the armed tick and arms the next one under the new spec.
// Fires in flight go on and count; a schedule paused by the spec records
// nothing further until resumed.
func configure(c *actors.Context[ScheduleState], spec ScheduleSpec) (ActionResult, error) {
	spec, cr, err := validateIn(c, spec)
	if err != nil {
		return ActionResult{}, err
	}
	s := c.State
	wasPaused := s.Spec.Paused
	s.Spec = spec
	s.UpdatedAt = c.Now()
	res := ActionResult{Changed: true}
	if err := disarm(c); err != nil {
		return res, err
	}
	if spec.Paused {
		if !wasPaused {
			s.PausedAt = c.Now()
		}
		return res, nil
	}
	if wasPaused {
		res.Skipped = skipPaused(c, cr)
	}
	if err := arm(c, cr); err != nil {
		return res, err
	}
	res.Next = s.Next
	return res, nil
}

// pause stops the ticks: the armed tick is cancelled.
func pause(c *actors.Context[ScheduleState]) (ActionResult, error) {
	s := c.State
	if s.Spec.Paused {
		return ActionResult{}, nil
	}
	if err := disarm(c); err != nil {
		return ActionResult{}, err
	}
	s.Spec.Paused, s.PausedAt, s.UpdatedAt = true, c.Now(), c.Now()
	return ActionResult{Changed: true}, nil
}

// resume arms the next tick after now; the occurrences that passed while
// paused are counted as skipped, in this one event.
func resume(c *actors.Context[ScheduleState]) (ActionResult, error) {
	s := c.State
	if !s.Spec.Paused {
		return ActionResult{Next: s.Next}, nil
	}
	cr, err := ParseCron(s.Spec.Cron, s.Spec.Timezone)
	if err != nil {
		return ActionResult{}, userError(err)
	}
	res := ActionResult{Changed: true, Skipped: skipPaused(c, cr)}
	s.Spec.Paused, s.UpdatedAt = false, c.Now()
	if err := arm(c, cr); err != nil {
		return res, err
	}
	res.Next = s.Next
	return res, nil
}

// skipPaused records the occurrences between the pause and now as skipped
// (one entry) and clears PausedAt.
func skipPaused(c *actors.Context[ScheduleState], cr *Cron) int {
	s := c.State
	if s.PausedAt.IsZero() {
		return 0
	}
	first := cr.Next(s.PausedAt)
	n, last, capped := cr.occurrences(first, c.Now(), 1)
	s.PausedAt = time.Time{}
	if n == 0 {
		return 0
	}
	s.Counters.Skipped += uint64(n)
	record(c, Fire{Nominal: first.UTC(), At: c.Now(), Outcome: OutcomeSkipped, Reason: ReasonPaused, Count: n,
		Until: last[0].UTC(), CountCapped: capped})
	observe(c, metricSkipped, ReasonPaused, n)
	return n
}

// TriggerResult is the output of trigger.
type TriggerResult struct {
	// Status is "fired", "buffered" or "skipped" (under the overlap policy).
	Status string `json:"status"`
	// Fire is the fire, or the skip.
	Fire Fire `json:"fire"`
}

// trigger fires now, outside the cron sequence, under the overlap policy.
// It works while paused too, and leaves the next tick as it is.
func trigger(c *actors.Context[ScheduleState]) (TriggerResult, error) {
	expire(c)
	f := fireOne(c, c.Now(), true)
	status := "fired"
	switch f.Outcome {
	case OutcomeSkipped:
		status = "skipped"
	case OutcomeBuffered:
		status = "buffered"
	}
	c.State.UpdatedAt = c.Now()
	return TriggerResult{Status: status, Fire: f}, nil
}

// disarm cancels the armed tick, if any.
func disarm(c *actors.Context[ScheduleState]) error {
	s := c.State
	if s.AlarmID != "" {
		c.Schedule().Cancel(s.AlarmID)
	}
	s.AlarmID, s.Next, s.NextAt = "", time.Time{}, time.Time{}
	return nil
}

// arm arms the tick of the first occurrence after now, delayed by the
// jitter (from the call's recorded random source).
func arm(c *actors.Context[ScheduleState], cr *Cron) error {
	s := c.State
	next := cr.Next(c.Now())
	if next.IsZero() {
		s.AlarmID, s.Next, s.NextAt = "", time.Time{}, time.Time{}
		return nil // no occurrence left: nothing to arm
	}
	next = next.UTC()
	at := next
	if j := s.Spec.JitterMs; j > 0 {
		at = at.Add(time.Duration(c.Rand().Int64N(j+1)) * time.Millisecond)
	}
	id, err := c.Schedule().At(at, "tick", next)
	if err != nil {
		return err
	}
	s.AlarmID, s.Next, s.NextAt = id, next, at
	return nil
}

// RegisterType adds the server schedule type (ScheduleDef) to reg, unless
// reg serves a type of its name already. The node calls it on its registry.
func RegisterType(reg *actors.Registry) error {
	if _, ok := reg.Actions(ScheduleType); ok {
		return nil
	}
	return reg.Register(ScheduleDef)
}
