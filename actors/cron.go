package actors

import (
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rivet-flow/rivet-flow/actorstate"
)

// Actor cron: a named, recurring alarm. A cron is stored like alarms (the
// effects actorstate.EffectCronSet, EffectCronDelete, EffectCronFired in the
// actor's events, folded into its image), and its next fire is a pending
// alarm (Alarm.Cron names the cron) that each fire's event re-arms.
//
// Specs are parsed by github.com/robfig/cron/v3 (its parser and
// Schedule.Next only, never its runner): 5 fields (minute hour day-of-month
// month day-of-week), or 6 with seconds first; descriptors (@yearly,
// @monthly, @weekly, @daily, @hourly, and @every <duration>, whose duration
// is cut to whole seconds, at least 1s); and a CRON_TZ=<IANA zone> (or TZ=)
// prefix. Without one, a spec is read in UTC.
//
// Timing: the next fire is computed from the fire's nominal time (the due
// time of the alarm that fired), so a late fire does not shift the schedule.
// When the actor's node was down past several occurrences, the cron fires
// once, late, for the first missed one, and then re-arms from the time of
// that fire: the other missed occurrences are skipped, not replayed.
//
// Daylight saving time, as robfig's Next does it (feature_cron_test.go
// asserts it): an occurrence inside a spring-forward gap does not exist and
// is skipped (CRON_TZ=America/New_York 30 2 * * * does not fire on the day
// the clocks go from 2:00 to 3:00); an occurrence inside a fall-back overlap
// fires twice, once in each offset (30 1 * * * fires at 1:30 EDT and again
// at 1:30 EST).

// cronParser is the one parser of cron specs.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// parseCron parses spec, with ErrInvalidTimezone for an unknown CRON_TZ and
// ErrInvalidCron, carrying the parser's message, for anything else wrong.
func parseCron(spec string) (sched cron.Schedule, err error) {
	spec = strings.TrimSpace(spec)
	if rest, ok := cutTZ(spec); ok {
		zone, fields, ok := strings.Cut(rest, " ")
		if !ok || strings.TrimSpace(fields) == "" {
			return nil, errorf(ErrInvalidCron, "invalid cron spec %q: no fields after the time zone", spec)
		}
		// "Local" would make the schedule depend on the server's zone.
		if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
			return nil, errorf(ErrInvalidTimezone, "invalid cron spec %q: unknown time zone %q", spec, zone)
		}
	}
	defer func() { // the parser panics on some malformed specs
		if p := recover(); p != nil {
			sched, err = nil, errorf(ErrInvalidCron, "invalid cron spec %q: %v", spec, p)
		}
	}()
	if sched, err = cronParser.Parse(spec); err != nil {
		return nil, errorf(ErrInvalidCron, "invalid cron spec %q: %v", spec, err)
	}
	return sched, nil
}

func cutTZ(spec string) (string, bool) {
	if rest, ok := strings.CutPrefix(spec, "CRON_TZ="); ok {
		return rest, true
	}
	return strings.CutPrefix(spec, "TZ=")
}

// cronNext returns the fire after the one due at nominal, or, if that is not
// after now (the node was down past it), the first one after now. A zero
// time means the spec never fires again.
func cronNext(spec string, nominal, now time.Time) (time.Time, error) {
	sched, err := parseCron(spec)
	if err != nil {
		return time.Time{}, err
	}
	next := sched.Next(nominal)
	if !next.IsZero() && !next.After(now) {
		next = sched.Next(now)
	}
	return next, nil
}

// CronTable sets, deletes and lists the actor's crons, from inside an action
// (Context.Cron). Like alarms, changes are part of the call's event and take
// effect only if it is committed.
type CronTable struct{ r *run }

// Cron returns the actor's crons.
func (c *Context[S]) Cron() *CronTable { return &CronTable{r: c.run} }

// Set sets the cron name to run action with args (a JSON array) at each
// occurrence of spec (see the package's cron notes), replacing a cron of the
// same name (whose history it keeps). Its first fire is the first occurrence
// after the call's time. An invalid spec fails with ErrInvalidCron (the
// parser's message), an unknown CRON_TZ with ErrInvalidTimezone, a spec that
// never fires with ErrInvalidCron; an unknown action, arguments that do not
// encode and MaxAlarms pending alarms fail as Schedule.After does. Nothing
// is recorded on failure.
func (t *CronTable) Set(name, spec, action string, args ...any) error {
	r := t.r
	if name == "" {
		return errorf(ErrInvalidArgs, "cron on %s: the name is empty", r.inst.id)
	}
	sched, err := parseCron(spec)
	if err != nil {
		return err
	}
	next := sched.Next(r.now)
	if next.IsZero() {
		return errorf(ErrInvalidCron, "invalid cron spec %q: it never fires", spec)
	}
	raw, err := r.alarmArgs(action, args)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overlay()
	old, replacing := o.cronAlarm(name)
	if !replacing {
		if err := r.checkAlarmRoom(1); err != nil {
			return err
		}
	} else {
		r.cancelAlarm(old)
	}
	if prev, ok := o.cron(name); ok {
		o.delta -= len(prev.Args)
	}
	o.delta += len(raw)
	c := actorstate.Cron{Name: name, Spec: spec, Action: action, Args: raw, Next: alarmTime(next)}
	if o.crons == nil {
		o.crons = map[string]*actorstate.Cron{}
	}
	o.crons[name] = &c
	r.effect(actorstate.EffectCronSet, c)
	r.addAlarm(next, action, raw, name)
	return nil
}

// Delete deletes the cron name and its pending fire, and reports whether
// there was one.
func (t *CronTable) Delete(name string) bool {
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overlay()
	prev, ok := o.cron(name)
	if !ok {
		return false
	}
	o.delta -= len(prev.Args)
	if id, ok := o.cronAlarm(name); ok {
		r.cancelAlarm(id)
	}
	if o.crons == nil {
		o.crons = map[string]*actorstate.Cron{}
	}
	o.crons[name] = nil
	r.effect(actorstate.EffectCronDelete, actorstate.CronDelete{Name: name})
	return true
}

// List returns the actor's crons, as this call left them, by name, without
// their history.
func (t *CronTable) List() []actorstate.Cron {
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overlay()
	names := make([]string, 0, len(o.baseCrons)+len(o.crons))
	for n := range o.baseCrons {
		names = append(names, n)
	}
	for n := range o.crons {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]actorstate.Cron, 0, len(names))
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		if c, ok := o.cron(n); ok {
			c.History = nil
			out = append(out, c)
		}
	}
	return out
}

// History returns the recent fires of the cron name, oldest first (at most
// actorstate.MaxCronHistory), with the outcome of each: Error and Code are
// set when its action failed. Fires of the running call are not in it yet.
func (t *CronTable) History(name string) []actorstate.CronFire {
	r := t.r
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.overlay().cron(name)
	if !ok {
		return nil
	}
	return slices.Clone(c.History)
}

// cron returns the cron name as the run left it; its Next follows its
// pending alarm, and a cron the run replaced keeps its history.
func (o *alarmOverlay) cron(name string) (actorstate.Cron, bool) {
	base, inBase := o.baseCrons[name]
	c, changed := o.crons[name]
	switch {
	case changed && c == nil:
		return actorstate.Cron{}, false
	case changed:
		out := *c
		out.History = base.History
		base, inBase = out, true
	}
	if !inBase {
		return actorstate.Cron{}, false
	}
	if id, ok := o.cronAlarm(name); ok {
		base.Next = o.alarmAt(id)
	}
	return base, true
}

func (o *alarmOverlay) alarmAt(id string) time.Time {
	a, _ := o.get(id)
	return a.At
}
