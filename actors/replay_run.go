package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
)

// The replay walk: one actor's history, oldest first, against a stand-in
// instance that has the image, the typed holder and the limits, but no log,
// no snapshots, no mailbox and no goroutines. Each event's code runs in a
// run carrying the event's recorded time, seed and caller, whose calls to
// other actors are answered from the event's recorded steps (replayFeed).

// replaying is one history's replay.
type replaying struct {
	rp      *Replayer
	ctx     context.Context
	inst    *instance
	res     *ReplayResult
	prevSeq uint64            // the sequence of the event before the current one: the runs' call base
	kvSeq   map[string]uint64 // KV key -> sequence of its last write
}

// replayed is what a re-run produced: the parts of the event it would record.
type replayed struct {
	err        error
	state      []byte // the state after the run (the state before when unchanged)
	changed    bool
	output     json.RawMessage
	broadcasts []eventlog.Broadcast
	kv         []eventlog.KVWrite
	effects    []eventlog.Effect
	feed       *replayFeed
}

// standIn returns the instance a replay of actor ref runs in: the runtime
// behind it only lends the registry, the limits and the logger, and is
// stopping, so anything that would submit work to it (a Connect from inside
// an action) fails with ErrStopping instead of starting an actor.
func (rp *Replayer) standIn(def Definition, ref eventlog.ActorRef, subject string) *instance {
	opts := rp.opts
	opts.Logger = rp.logger
	opts.Registerer, opts.Enqueuer = nil, nil
	opts = opts.withDefaults()
	clk, ok := opts.Clock.(Clock)
	if !ok {
		clk = nowOnly{opts.Clock}
	}
	rt := &Runtime{reg: rp.reg, opts: opts, clock: clk, logger: rp.logger, limits: make(map[string]limits, len(rp.reg.types))}
	rt.stopping.Store(true)
	for name, d := range rp.reg.types {
		rt.limits[name] = d.limits(opts)
	}
	return &instance{rt: rt, def: def, lim: rt.limits[ref.Type], ref: ref, subject: subject, id: idOf(subject), loaded: true}
}

// walk replays events and fills w.res; an error is an unusable history.
func (w *replaying) walk(events []*eventlog.Event) error {
	inst := w.inst
	var last uint64
	for i, ev := range events { // the order first: a history out of order is no history to replay
		switch {
		case ev == nil:
			return fmt.Errorf("%w: event %d of the history is missing", ErrReplayInput, i)
		case ev.Seq == 0:
			return fmt.Errorf("%w: event %d (%s) has no sequence: give the events as read from the log or exported", ErrReplayInput, i, ev.Action)
		case ev.Seq <= last:
			return fmt.Errorf("%w: events out of order: sequence %d after %d; give the history oldest first", ErrReplayInput, ev.Seq, last)
		}
		last = ev.Seq
	}
	for i := 0; i < len(events); i++ {
		ev := events[i]
		if i&1023 == 0 {
			if err := w.ctx.Err(); err != nil {
				return err
			}
		}
		if err := w.check(i, ev); err != nil {
			return err
		}
		w.res.Events++
		var div *Divergence
		var err error
		switch {
		case ev.Kind == eventlog.KindCreate:
			if ev.Action == ForkAction { // a copy of another actor's image: folded as recorded
				inst.h = inst.def.newHolder()
				err = w.fold(ev)
			} else {
				div, err = w.create(ev)
			}
			if err == nil && div == nil {
				var wake *eventlog.Event
				if i+1 < len(events) && isWakeEvent(events[i+1]) {
					i++
					wake = events[i]
					if err := w.check(i, wake); err != nil {
						return err
					}
					w.res.Events++
				}
				div, err = w.wakeAfterCreate(ev, wake)
			}
		case ev.Kind == eventlog.KindAction:
			div, err = w.action(ev)
		case ev.Kind == eventlog.KindDestroy:
			div, err = w.rerun(ev, func(r *run) (any, error) { return nil, inst.h.destroy(r) })
			if err == nil && div == nil {
				inst.h = nil
			}
		case ev.Kind == eventlog.KindSystem && ev.Action == "$wake":
			div, err = w.wake(ev)
		case ev.Kind == eventlog.KindSystem && ev.Action == "$sleep":
			div, err = w.rerun(ev, func(r *run) (any, error) { return nil, inst.h.sleep(r) })
		case ev.Kind == eventlog.KindSystem && ev.Action == "$migrate":
			div, err = w.migrate(ev)
		case ev.Kind == eventlog.KindSystem && ev.Action == FireAction:
			div, err = w.failedFire(ev)
		case ev.Kind == eventlog.KindSystem:
			err = w.fold(ev) // connection hooks, raw requests, Do closures: not re-runnable
		default:
			return fmt.Errorf("%w: event %d has unknown kind %d; is the history from a newer version?", ErrReplayInput, ev.Seq, ev.Kind)
		}
		if err != nil {
			return err
		}
		if div != nil {
			w.res.Divergence = div
			return nil
		}
	}
	return nil
}

// check validates event i of the history against the image before it.
func (w *replaying) check(i int, ev *eventlog.Event) error {
	im := &w.inst.image
	switch {
	case i == 0 && ev.Kind != eventlog.KindCreate:
		return fmt.Errorf("%w: the history starts at sequence %d with %s, not with the actor's create: give the whole history, from its first event",
			ErrReplayInput, ev.Seq, ev.Action)
	case ev.Kind == eventlog.KindCreate && im.Exists:
		return fmt.Errorf("%w: a create at sequence %d while the actor exists (generation %d): the history is damaged", ErrReplayInput, ev.Seq, im.Generation)
	case ev.Kind == eventlog.KindCreate && ev.Generation != im.Generation+1:
		return fmt.Errorf("%w: the create at sequence %d starts generation %d, want %d: the history is damaged or misses a generation",
			ErrReplayInput, ev.Seq, ev.Generation, im.Generation+1)
	case ev.Kind != eventlog.KindCreate && !im.Exists:
		return fmt.Errorf("%w: %s at sequence %d after the actor was destroyed and before it was created again: the history is damaged",
			ErrReplayInput, ev.Action, ev.Seq)
	}
	return nil
}

func isWakeEvent(ev *eventlog.Event) bool {
	return ev != nil && ev.Kind == eventlog.KindSystem && ev.Action == "$wake"
}

// create re-runs a create: a fresh holder (a new generation starts from
// nothing) and the type's CreateState and OnCreate.
func (w *replaying) create(ev *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	inst.h = inst.def.newHolder()
	return w.rerun(ev, func(r *run) (any, error) { return nil, inst.h.create(r, ev.Args) })
}

// wakeAfterCreate re-runs the wake the runtime runs right after a create,
// against the "$wake" event recorded right after it, or, when there is none,
// against no change at all (a wake that changes nothing records nothing).
func (w *replaying) wakeAfterCreate(create, wake *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	if wake != nil {
		return w.rerun(wake, func(r *run) (any, error) { return nil, inst.h.wake(r) })
	}
	none := &eventlog.Event{Seq: create.Seq, Kind: eventlog.KindSystem, Action: "$wake", Caller: "runtime", Time: create.Time, Seed: create.Seed}
	div, err := w.compareRun(none, func(r *run) (any, error) { return nil, inst.h.wake(r) })
	if div != nil {
		div.Message = "the wake right after the create changed something, where the history recorded no $wake event: " + div.Message
	}
	return div, err
}

// wake re-runs the wake hooks of an actor that came back into memory,
// with the state it was loaded with.
func (w *replaying) wake(ev *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	if err := inst.h.load(inst.image.State); err != nil {
		return nil, fmt.Errorf("%w: the state before sequence %d does not decode with this build's type: %v", ErrReplayInput, ev.Seq, err)
	}
	return w.rerun(ev, func(r *run) (any, error) { return nil, inst.h.wake(r) })
}

// action re-runs an action; a scheduler's fire first removes the fired
// alarm and arms a cron's next fire, as Runtime.FireAlarm does.
func (w *replaying) action(ev *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	a, fire := w.firedAlarm(ev)
	return w.rerun(ev, func(r *run) (any, error) {
		if fire {
			return inst.fire(r, a)
		}
		output, err := inst.h.invoke(r, ev.Action, ev.Args)
		if err == nil {
			output, err = inst.h.beforeResponse(r, ev.Action, output)
		}
		return output, err
	})
}

// firedAlarm finds the alarm a scheduler's action event is the fire of: the
// alarm its first effect removes, else the earliest pending alarm of the
// same action and arguments.
func (w *replaying) firedAlarm(ev *eventlog.Event) (actorstate.Alarm, bool) {
	if ev.Caller != SchedulerCaller {
		return actorstate.Alarm{}, false
	}
	alarms := w.inst.image.Alarms
	if len(ev.Effects) > 0 && ev.Effects[0].Type == actorstate.EffectAlarmCancel {
		var c actorstate.AlarmCancel
		if json.Unmarshal(ev.Effects[0].Data, &c) == nil {
			if a, ok := alarms[c.ID]; ok {
				return a, true
			}
		}
	}
	var found actorstate.Alarm
	ok := false
	for _, a := range alarms {
		if a.Action == ev.Action && jsonEqual(a.Args, ev.Args) && (!ok || a.At.Before(found.At) || (a.At.Equal(found.At) && a.ID < found.ID)) {
			found, ok = a, true
		}
	}
	return found, ok
}

// failedFire re-runs the action of a fire the history recorded as failed:
// it must fail with the recorded error code; then the fire's own record
// (the alarm's removal, a cron's history and next fire) is compared.
func (w *replaying) failedFire(ev *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	var a actorstate.Alarm
	if err := json.Unmarshal(ev.Args, &a); err != nil {
		return nil, fmt.Errorf("%w: the failed fire at sequence %d does not name its alarm: %v", ErrReplayInput, ev.Seq, err)
	}
	if cur, ok := inst.image.Alarms[a.ID]; ok {
		a = cur
	}
	var want firedError
	_ = json.Unmarshal(ev.Output, &want)
	act := &eventlog.Event{Seq: ev.Seq, Kind: eventlog.KindAction, Action: a.Action, Args: a.Args, Caller: SchedulerCaller, Time: ev.Time, Seed: ev.Seed}
	got := w.run(act, func(r *run) (any, error) {
		r.replay.lenient = true
		return inst.fire(r, a)
	})
	w.restore()
	if got.feed.div != nil {
		return w.diverged(ev, got.feed.div), nil
	}
	if got.err == nil {
		return w.diverged(ev, &Divergence{What: "error", Message: fmt.Sprintf("the fired alarm's action %s now succeeds, where the history recorded it failing with %s", a.Action, want.Code),
			Expected: indentJSON(ev.Output), Actual: indentJSON(got.output), Diff: "error: " + want.Code + " -> (none)"}), nil
	}
	var fe firedError
	switch pub := PublicError(got.err).(type) {
	case *UserError:
		fe = firedError{Code: pub.Code, Message: pub.Message}
	case *Error:
		fe = firedError{Code: pub.Code, Message: pub.Message}
	}
	if fe.Code != want.Code {
		return w.diverged(ev, &Divergence{What: "error", Message: fmt.Sprintf("the fired alarm's action %s now fails with %s, where the history recorded %s", a.Action, fe.Code, want.Code),
			Expected: indentJSON(ev.Output), Actual: got.err.Error(), Diff: "error: " + want.Code + " -> " + fe.Code}), nil
	}
	// The same code: the record is compared with the recorded message (a
	// message may name what changed since, such as a limit).
	return w.rerun(ev, func(r *run) (any, error) {
		r.startFire(a)
		r.cronFired(a, &want)
		r.output = ev.Output
		return nil, nil
	})
}

// migrate re-runs the type's Migrate hook over the state before the event.
func (w *replaying) migrate(ev *eventlog.Event) (*Divergence, error) {
	inst := w.inst
	var v struct {
		From string `json:"from"`
		To   string `json:"to"`
	}
	if err := json.Unmarshal(ev.Args, &v); err != nil {
		return nil, fmt.Errorf("%w: the $migrate event at sequence %d has unreadable args: %v", ErrReplayInput, ev.Seq, err)
	}
	var migrated bool
	_, err := inst.safely("Migrate", func() (any, error) {
		var err error
		migrated, err = inst.h.migrate(v.From, inst.image.State)
		return nil, err
	})
	if err != nil {
		w.restore()
		return w.diverged(ev, &Divergence{What: "error", Message: fmt.Sprintf("Migrate from code version %q now fails: %v", v.From, err), Actual: err.Error()}), nil
	}
	if !migrated {
		w.restore()
	}
	return w.rerun(ev, func(*run) (any, error) { return nil, nil })
}

// fold takes an event that cannot be re-run as recorded: the image folds it
// and the holder loads the state it leaves.
func (w *replaying) fold(ev *eventlog.Event) error {
	inst := w.inst
	if err := w.apply(ev, nil); err != nil {
		return err
	}
	if ev.HasState || ev.Patch != nil {
		if err := inst.h.load(inst.image.State); err != nil {
			return fmt.Errorf("%w: the state after sequence %d (%s) does not decode with this build's type: %v", ErrReplayInput, ev.Seq, ev.Action, err)
		}
	}
	return nil
}

// known returns the re-run's state when it is the state ev's patch leads
// to, by the runtime's own test: the patch from the state before to it is
// ev's patch, byte for byte (the differ is deterministic). The fold then
// takes it as is instead of decoding the state, patching and encoding it
// again, the bulk of a replay's cost. nil: fold the patch.
func (w *replaying) known(ev *eventlog.Event, got *replayed) []byte {
	if got.err != nil || !got.changed || ev.HasState || ev.Patch == nil || ev.Kind == eventlog.KindDestroy {
		return nil
	}
	p, err := jsonpatch.DiffTrusted(w.inst.image.State, got.state) // both are json.Marshal output, as in patchState
	if err != nil || !bytes.Equal(p, ev.Patch) {
		return nil
	}
	return got.state
}

// apply folds a recorded event into the image (settled: State is current);
// stateAfter, when not nil, is the state after it, known to be the one its
// patch leads to.
func (w *replaying) apply(ev *eventlog.Event, stateAfter []byte) error {
	inst := w.inst
	if stateAfter != nil {
		inst.image.ApplyKnown(ev, stateAfter)
	} else if err := inst.image.Apply(ev); err != nil {
		return fmt.Errorf("%w: %v", ErrReplayInput, err)
	}
	inst.image.Settle()
	for _, kv := range ev.KV {
		w.kvSeq[string(kv.Key)] = ev.Seq
	}
	if len(ev.KV) > 0 || len(ev.Effects) > 0 || ev.Kind == eventlog.KindCreate || ev.Kind == eventlog.KindDestroy {
		inst.kvBytes, inst.alarmBytes = kvSize(inst.image.KV), alarmSize(&inst.image)
	}
	w.prevSeq = ev.Seq
	return nil
}

// restore puts the holder back to the state before the event, as a failed
// call's rollback does.
func (w *replaying) restore() {
	if inst := w.inst; inst.h != nil && inst.image.State != nil {
		if err := inst.h.load(inst.image.State); err != nil {
			inst.rt.logger.Error("replay: restore the state after a failed call", "actor", inst.id, "err", err)
		}
	}
}

// rerun runs fn as the code of event ev, compares what it produced with ev
// and folds ev.
func (w *replaying) rerun(ev *eventlog.Event, fn func(r *run) (any, error)) (*Divergence, error) {
	div, err := w.compareRun(ev, fn)
	if err == nil && div == nil {
		w.res.Rerun++
	}
	return div, err
}

// compareRun runs fn as the code of ev, folds ev and returns the first
// difference.
func (w *replaying) compareRun(ev *eventlog.Event, fn func(r *run) (any, error)) (*Divergence, error) {
	got := w.run(ev, fn)
	if got.err != nil {
		w.restore()
	}
	if err := w.apply(ev, w.known(ev, got)); err != nil {
		return nil, err
	}
	after := w.inst.image.State // the state the event leaves
	if div := compare(ev, after, got); div != nil {
		return w.diverged(ev, div), nil
	}
	if ev.Kind != eventlog.KindDestroy && got.changed && !bytes.Equal(after, got.state) {
		// JSON-equal, other bytes: the holder takes the recorded bytes, as a
		// load would, so later events compare against what the log holds.
		if err := w.inst.h.load(after); err != nil {
			return nil, fmt.Errorf("%w: the state after sequence %d does not decode with this build's type: %v", ErrReplayInput, ev.Seq, err)
		}
	}
	return nil, nil
}

// run runs fn as the code of ev, as executeStage does, without appending.
func (w *replaying) run(ev *eventlog.Event, fn func(r *run) (any, error)) *replayed {
	inst := w.inst
	inst.image.Settle()
	feed := &replayFeed{steps: ev.Steps}
	r := &run{parent: w.ctx, inst: inst, now: ev.Time.UTC(), seed: ev.Seed, caller: ev.Caller, kind: ev.Kind,
		kv: kvOverlay{base: inst.image.KV}, callBase: w.prevSeq, replay: feed,
		deadline: time.Now().Add(inst.lim.actionTimeout)}
	defer r.release()
	got := &replayed{feed: feed}
	output, err := inst.safely(ev.Action, func() (any, error) { return fn(r) })
	got.state = inst.image.State
	if err == nil && inst.h != nil {
		var state []byte
		if state, got.changed, err = inst.newState(r, ev.Kind, ev.Action); err == nil && got.changed {
			got.state = state
		}
	}
	if err == nil && ev.Kind == eventlog.KindAction {
		if got.output, err = json.Marshal(output); err != nil {
			err = withCause(ErrInternal, fmt.Errorf("output of %s does not encode as JSON: %w", ev.Action, err))
		}
	}
	if ev.Kind == eventlog.KindSystem && r.output != nil {
		got.output = r.output
	}
	got.kv = r.kv.events()
	if err == nil {
		_, _, err = inst.checkSize(got.state, got.changed, got.kv, r.alarmBytesDelta())
	}
	got.err = err
	got.broadcasts, got.effects = r.broadcasts, r.effects
	return got
}

// diverged names the event in div.
func (w *replaying) diverged(ev *eventlog.Event, div *Divergence) *Divergence {
	div.Seq, div.Action = ev.Seq, ev.Action
	return div
}
