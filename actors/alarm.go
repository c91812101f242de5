package actors

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Durable alarms: setting and cancelling one is an effect of the action's
// event (actorstate.EffectAlarmSet, EffectAlarmCancel), so an alarm exists
// only if the action that set it was committed, and the actor's pending
// alarms are part of its image, rebuilt by the fold after sleep, a restart
// or the loss of the snapshots. The scheduler (package scheduler) indexes
// every actor's pending alarms from the log and calls Runtime.FireAlarm when
// one is due; the fire's event removes the alarm, so a fire delivered twice
// takes effect once.

// SchedulerCaller is the caller of an alarm's (or a cron's) action.
const SchedulerCaller = "scheduler"

// FireAction is the action of the system event that records a fire whose
// action failed (see Runtime.FireAlarm).
const FireAction = "$alarm"

// WakeAction is the action of an alarm that only wakes the actor: every
// type accepts it, and its fire runs no code. A Run handler that waits
// without keeping the actor awake (a workflow's sleep) sets one, so that the
// actor wakes, and its Run handler starts again, when the wait is over.
const WakeAction = "$wake"

// Schedule sets, cancels and lists the actor's alarms, from inside an action
// (Context.Schedule). Changes are part of the call's event: they take effect
// only if it is committed, and Get and List see the call's own changes.
type Schedule struct{ r *run }

// Schedule returns the actor's alarms.
func (c *Context[S]) Schedule() *Schedule { return &Schedule{r: c.run} }

// Alarm returns the alarm this call is the fire of, when the scheduler called
// it (caller "scheduler"); false for any other call.
func (c *Context[S]) Alarm() (actorstate.Alarm, bool) {
	if c.run.fire == nil {
		return actorstate.Alarm{}, false
	}
	return *c.run.fire, true
}

// After sets an alarm that runs action with args (encoded as a JSON array) d
// after the call's recorded time (Context.Now), so a replay computes the same
// due time; d <= 0 is due at once. It returns the alarm's ID, allocated from
// the actor's image (deterministic). The action must exist and the arguments
// encode, or nothing is set; at RuntimeOptions.MaxAlarms pending alarms it
// fails with ErrTooManyAlarms.
func (s *Schedule) After(d time.Duration, action string, args ...any) (string, error) {
	return s.r.setAlarm(s.r.now.Add(d), action, args, "")
}

// At sets an alarm due at t (kept in UTC, to the millisecond), as After does.
// A t in the past fires at once; the zero time is refused (ErrInvalidArgs).
func (s *Schedule) At(t time.Time, action string, args ...any) (string, error) {
	if t.IsZero() {
		return "", errorf(ErrInvalidArgs, "schedule %s on %s: no due time (the zero time)", action, s.r.inst.id)
	}
	return s.r.setAlarm(t, action, args, "")
}

// Cancel cancels the pending alarm id, set earlier or by this very call, and
// reports whether there was one. A cron's alarm is not cancelled here
// (false): delete the cron (Context.Cron).
func (s *Schedule) Cancel(id string) bool {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.overlay()
	a, ok := o.get(id)
	if !ok || a.Cron != "" {
		return false
	}
	r.cancelAlarm(id)
	return true
}

// Get returns the pending alarm id, as this call left it.
func (s *Schedule) Get(id string) (actorstate.Alarm, bool) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.r.overlay().get(id)
}

// List returns the pending alarms, crons' included, as this call left them,
// by due time then ID.
func (s *Schedule) List() []actorstate.Alarm {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	return s.r.overlay().list()
}

// alarmOverlay is the actor's alarms and crons as a run changed them: the
// committed ones (base) plus the run's changes, which its effects record.
type alarmOverlay struct {
	base      map[string]actorstate.Alarm
	set       map[string]actorstate.Alarm // alarms this run set (new IDs only)
	removed   map[string]bool             // committed alarms this run removed
	next      uint64                      // number of the next alarm ID
	baseCrons map[string]actorstate.Cron
	crons     map[string]*actorstate.Cron // crons this run set; nil: deleted
	delta     int                         // change of alarmSize by this run
}

// alarmSize is what an image's alarms and crons count toward MaxStateBytes:
// their arguments (the rest is bounded by MaxAlarms).
func alarmSize(im *actorstate.Image) int {
	n := 0
	for _, a := range im.Alarms {
		n += len(a.Args)
	}
	for _, c := range im.Crons {
		n += len(c.Args)
	}
	return n
}

// alarmBytesDelta is how much the run changed alarmSize.
func (r *run) alarmBytesDelta() int {
	if r.alarms == nil {
		return 0
	}
	return r.alarms.delta
}

// overlay returns the run's overlay, built on first use; r.mu is held.
func (r *run) overlay() *alarmOverlay {
	if r.alarms == nil {
		im := &r.inst.image
		r.alarms = &alarmOverlay{base: im.Alarms, next: max(im.NextAlarmID, 1), baseCrons: im.Crons}
	}
	return r.alarms
}

func (o *alarmOverlay) get(id string) (actorstate.Alarm, bool) {
	if a, ok := o.set[id]; ok {
		return a, true
	}
	if a, ok := o.base[id]; ok && !o.removed[id] {
		return a, true
	}
	return actorstate.Alarm{}, false
}

func (o *alarmOverlay) count() int { return len(o.base) - len(o.removed) + len(o.set) }

func (o *alarmOverlay) list() []actorstate.Alarm {
	out := make([]actorstate.Alarm, 0, o.count())
	for id, a := range o.base {
		if !o.removed[id] {
			out = append(out, a)
		}
	}
	for _, a := range o.set {
		out = append(out, a)
	}
	actorstate.SortAlarms(out)
	return out
}

// cronAlarm returns the ID of the pending alarm of cron name, if any.
func (o *alarmOverlay) cronAlarm(name string) (string, bool) {
	for id, a := range o.set {
		if a.Cron == name {
			return id, true
		}
	}
	for id, a := range o.base {
		if a.Cron == name && !o.removed[id] {
			return id, true
		}
	}
	return "", false
}

// setAlarm checks and records one alarm (for cron, its next fire).
func (r *run) setAlarm(at time.Time, action string, args []any, cron string) (string, error) {
	raw, err := r.alarmArgs(action, args)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.checkAlarmRoom(1); err != nil {
		return "", err
	}
	return r.addAlarm(at, action, raw, cron), nil
}

// alarmArgs checks that a run may set an alarm for action and encodes args.
func (r *run) alarmArgs(action string, args []any) (json.RawMessage, error) {
	inst := r.inst
	if r.kind == eventlog.KindDestroy {
		return nil, errorf(ErrNotFound, "actor %s is being destroyed: its alarms and crons go with it", inst.id)
	}
	if !inst.def.hasAction(action) && action != WakeAction {
		return nil, errorf(ErrActionNotFound, "schedule on %s: actor type %s has no action %q", inst.id, inst.ref.Type, action)
	}
	if args == nil {
		args = []any{}
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, errorf(ErrInvalidArgs, "schedule %s on %s: arguments do not encode as JSON: %v", action, inst.id, err)
	}
	if len(raw) > inst.lim.maxArgs {
		return nil, errorf(ErrArgsTooLarge, "schedule %s on %s: arguments are %d bytes, limit %d", action, inst.id, len(raw), inst.lim.maxArgs)
	}
	return raw, nil
}

// checkAlarmRoom fails with ErrTooManyAlarms unless n more alarms fit; r.mu
// is held.
func (r *run) checkAlarmRoom(n int) error {
	limit := r.inst.rt.opts.MaxAlarms
	if have := r.overlay().count(); have+n > limit {
		return errorf(ErrTooManyAlarms, "actor %s has %d pending alarms (crons' included), limit %d", r.inst.id, have, limit)
	}
	return nil
}

// addAlarm allocates the next alarm ID and records the alarm; r.mu is held.
func (r *run) addAlarm(at time.Time, action string, args json.RawMessage, cron string) string {
	o := r.overlay()
	id := actorstate.AlarmID(o.next)
	o.next++
	a := actorstate.Alarm{ID: id, At: alarmTime(at), Action: action, Args: args, Cron: cron}
	if o.set == nil {
		o.set = map[string]actorstate.Alarm{}
	}
	o.set[id] = a
	o.delta += len(args)
	r.effect(actorstate.EffectAlarmSet, a)
	return id
}

// cancelAlarm removes a pending alarm; r.mu is held.
func (r *run) cancelAlarm(id string) {
	o := r.overlay()
	if a, ok := o.get(id); ok {
		o.delta -= len(a.Args)
	}
	if _, ok := o.set[id]; ok {
		delete(o.set, id)
	} else {
		if o.removed == nil {
			o.removed = map[string]bool{}
		}
		o.removed[id] = true
	}
	r.effect(actorstate.EffectAlarmCancel, actorstate.AlarmCancel{ID: id})
}

// effect records an effect whose data is v as JSON; r.mu is held. The values
// are this package's structs of strings, times and JSON: they always encode.
func (r *run) effect(typ string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		panic(withCause(ErrInternal, err))
	}
	r.effects = append(r.effects, eventlog.Effect{Type: typ, Data: data})
}

// alarmTime is t as alarms keep it: UTC, to the millisecond.
func alarmTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// FireAlarm fires alarm alarmID of actor actorID if it is still pending with
// due time at (to the millisecond); an alarm re-armed, cancelled or already
// fired is not fired (fired=false, err=nil), nor is one of an actor that no
// longer exists. The caller (the scheduler) decides when an alarm is due.
//
// It wakes the actor, runs the alarm's action with the caller "scheduler"
// (Context.Alarm tells the action which alarm), and commits an event that
// removes the alarm (EffectAlarmCancel) and, for a cron's alarm, records the
// fire in the cron's history (EffectCronFired) and arms the cron's next fire.
// The removal makes a second delivery of the same fire (a crash between the
// fire and its record, two nodes) a no-op: the mailbox runs one at a time and
// the log's fencing lets one of two nodes append.
//
// A fire whose action fails (an error, a panic, a timeout, an unknown action,
// a state too large) is still recorded, as a system event FireAction whose
// Args are the alarm and whose Output is the error ({"code", "message"}, as a
// remote caller would see it): the action's changes are discarded, the alarm
// is removed, a cron records the error in its history and is re-armed. So a
// failing alarm never fires again by accident; fired is true and err nil.
//
// err is non-nil only when nothing was recorded: the log did not take the
// event (a conflict, an unknown outcome), the runtime is stopping, ctx ended,
// or the actor could not wake. The alarm is then still pending: retry later.
func (rt *Runtime) FireAlarm(ctx context.Context, actorID, alarmID string, at time.Time) (fired bool, err error) {
	typ, key, err := ParseID(actorID)
	if err != nil {
		return false, err
	}
	def, ref, subj, err := rt.resolve(typ, key)
	if err != nil {
		return false, err
	}
	o := newOp()
	o.kind, o.caller, o.alarm, o.at = opFire, SchedulerCaller, alarmID, at
	res, err := rt.submit(ctx, def, ref, subj, o)
	return res.fired, err
}

// firedError is the Output of a FireAction event.
type firedError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// doFire runs in the mailbox: see Runtime.FireAlarm.
func (inst *instance) doFire(o *op) result {
	a, ok := inst.image.Alarms[o.alarm]
	if !inst.image.Exists || !ok || a.At.UnixMilli() != o.at.UnixMilli() {
		// Not pending here; but this copy may be stale (another node wrote
		// the actor since, and set the alarm there). Check the log before
		// dropping the fire: the rare path pays one direct get.
		last, err := inst.rt.log.LastSubjectSeq(o.ctx, inst.subject)
		if err != nil {
			return result{err: err}
		}
		if last <= inst.lastSeq {
			return result{}
		}
		if err := inst.load(o.ctx); err != nil {
			inst.loaded = false
			return result{err: err}
		}
		a, ok = inst.image.Alarms[o.alarm]
		if !inst.image.Exists || !ok || a.At.UnixMilli() != o.at.UnixMilli() {
			return result{}
		}
	}
	out, logFailed, err := inst.executeStage(o.ctx, eventlog.KindAction, a.Action, a.Args, SchedulerCaller, nil, true, func(r *run) (any, error) {
		output, err := inst.fire(r, a)
		crashInFireAt(crashBeforeRecord)
		return output, err
	})
	if err == nil {
		inst.lim.metrics.ok.Inc()
		crashInFireAt(crashAfterRecord)
		return result{fired: true, output: out}
	}
	if logFailed || (isCtxErr(err) && o.ctx.Err() != nil) || errors.Is(err, ErrStopping) || !inst.loaded {
		return result{err: err} // nothing recorded: the alarm is still pending
	}
	// The action failed: record the fire with its error, so it is not retried.
	inst.lim.metrics.count(err)
	var fe firedError
	switch pub := PublicError(err).(type) {
	case *UserError:
		fe = firedError{Code: pub.Code, Message: pub.Message}
	case *Error:
		fe = firedError{Code: pub.Code, Message: pub.Message}
	}
	args, merr := json.Marshal(a)
	output, oerr := json.Marshal(fe)
	if merr != nil || oerr != nil {
		return result{err: withCause(ErrInternal, errors.Join(merr, oerr))}
	}
	inst.rt.logger.Info("alarm action failed; the fire is recorded with its error", "actor", inst.id, "alarm", a.ID,
		"action", a.Action, "code", fe.Code, "err", err)
	if _, err := inst.execute(o.ctx, eventlog.KindSystem, FireAction, args, SchedulerCaller, nil, true, func(r *run) (any, error) {
		r.startFire(a)
		r.cronFired(a, &fe)
		r.output = output
		return nil, nil
	}); err != nil {
		return result{err: err}
	}
	return result{fired: true, output: output}
}

// fire runs alarm a's action in r as its fire: the alarm removed (and a
// cron's next fire armed) first, then the action, and on success the
// cron's record of the fire. A replay of a fire runs this very code.
func (inst *instance) fire(r *run, a actorstate.Alarm) (any, error) {
	r.startFire(a)
	if a.Action == WakeAction {
		return nil, nil // the fire's event removes the alarm; waking was the point
	}
	if !inst.def.hasAction(a.Action) {
		return nil, errorf(ErrActionNotFound, "actor type %s has no action %q", inst.ref.Type, a.Action)
	}
	output, err := inst.h.invoke(r, a.Action, a.Args)
	if err == nil {
		output, err = inst.h.beforeResponse(r, a.Action, output)
	}
	if err == nil {
		r.cronFired(a, nil)
	}
	return output, err
}

// startFire begins a fire's run: the fired alarm is removed (the run's first
// effect) and, for a cron's alarm, the cron's next fire is armed, so the
// action sees both and may still delete or replace the cron.
func (r *run) startFire(a actorstate.Alarm) {
	r.fire = &a
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cancelAlarm(a.ID)
	if a.Cron == "" {
		return
	}
	c, ok := r.inst.image.Crons[a.Cron]
	if !ok {
		return
	}
	next, err := cronNext(c.Spec, a.At, r.now)
	if err != nil {
		// The spec parsed when it was set; a parser that changed since is
		// logged and leaves the cron without a next fire.
		r.inst.rt.logger.Error("cron spec no longer parses; not re-armed", "actor", r.inst.id, "cron", c.Name, "spec", c.Spec, "err", err)
		return
	}
	if !next.IsZero() {
		r.addAlarm(next, c.Action, c.Args, c.Name)
	}
}

// cronFired records a cron's fire in its history (fe: the action's error).
func (r *run) cronFired(a actorstate.Alarm, fe *firedError) {
	if a.Cron == "" {
		return
	}
	f := actorstate.CronFire{Nominal: a.At, At: r.now}
	if fe != nil {
		f.Code, f.Error = fe.Code, fe.Message
	}
	r.mu.Lock()
	r.effect(actorstate.EffectCronFired, actorstate.CronFired{Name: a.Cron, Fire: f})
	r.mu.Unlock()
}
