package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
)

// The commit pipeline: run the user's code, build the event, append it
// fenced, then commit or roll back, reply, and do what the call asked for after.

// execute runs fn as one unit of work and, if it succeeds, appends its event
// (always for actions, creates and destroys; for hooks only when they changed
// something) and commits it. If fn fails, panics, times out or the append
// fails, the state is restored from the committed bytes and nothing is kept.
func (inst *instance) execute(ctx context.Context, kind eventlog.Kind, action string, args json.RawMessage,
	caller string, conn *Conn, always bool, fn func(r *run) (any, error)) (json.RawMessage, error) {
	out, _, err := inst.executeStage(ctx, kind, action, args, caller, conn, always, fn)
	return out, err
}

// executeStage is execute, and also reports logFailed: the call's code ran
// and its event was built, but the log did not take it (a conflict, an
// unknown outcome, a log that refused it). Such a failure says nothing about
// the call; a failure of the call itself (its code, its size) has logFailed
// false. FireAlarm records the latter and retries the former.
func (inst *instance) executeStage(ctx context.Context, kind eventlog.Kind, action string, args json.RawMessage,
	caller string, conn *Conn, always bool, fn func(r *run) (any, error)) (_ json.RawMessage, logFailed bool, _ error) {
	r := newRun(ctx, inst, caller, conn)
	r.kind = kind
	r.deadline = time.Now().Add(inst.lim.actionTimeout)
	defer r.release()
	output, err := inst.safely(action, func() (any, error) { return fn(r) })
	if (err == nil || isCtxErr(err)) && !time.Now().Before(r.deadline) && ctx.Err() == nil {
		err = errorf(ErrActionTimeout, "%s on %s took longer than %s", action, inst.id, inst.lim.actionTimeout)
	}
	var state []byte
	var changed bool
	if err == nil && inst.h != nil {
		state, changed, err = inst.newState(r, kind, action)
	}
	var out json.RawMessage
	if err == nil && kind == eventlog.KindAction {
		if out, err = json.Marshal(output); err != nil {
			err = withCause(ErrInternal, fmt.Errorf("output of %s does not encode as JSON: %w", action, err))
		}
	}
	r.kv.keepQueueCounter(inst.qnext)
	kv := r.kv.events()
	var kvAfter, alarmsAfter int
	if err == nil {
		kvAfter, alarmsAfter, err = inst.checkSize(state, changed, kv, r.alarmBytesDelta())
	}
	if err != nil {
		inst.rollback()
		return nil, false, inst.report(action, err)
	}
	if !always && !changed && len(kv) == 0 && len(r.broadcasts) == 0 && len(r.steps) == 0 && len(r.effects) == 0 {
		inst.after(r)
		return out, false, nil
	}
	if kind == eventlog.KindSystem && r.output != nil {
		out = r.output
	}
	if kind == eventlog.KindSystem && r.eventArgs != nil && json.Valid(r.eventArgs) && len(r.eventArgs) <= inst.lim.maxArgs {
		args = r.eventArgs
	}
	ev := &eventlog.Event{Kind: kind, Generation: inst.image.Generation, Action: action, Args: args, Caller: caller,
		Time: r.now, Seed: r.seed, HasState: changed, State: state, Output: out, CodeVersion: inst.lim.codeVersion,
		Broadcasts: r.broadcasts, KV: kv, Steps: r.steps, Effects: r.effects}
	if kind == eventlog.KindAction {
		ev.CallID, ev.IdempotencyKey = inst.ids.callID, inst.ids.idemKey
	}
	if kind == eventlog.KindCreate {
		ev.Generation++
	}
	if kind == eventlog.KindDestroy {
		ev.HasState, ev.State = false, nil
	}
	if err := inst.patchState(ev); err != nil {
		inst.rollback()
		return nil, false, inst.report(action, err)
	}
	seq, logFailed, err := inst.appendFenced(ev, action)
	if err != nil {
		inst.rollback()
		return nil, logFailed, err
	}
	// Acknowledged: commit, then the side effects.
	ev.Seq, ev.Subject = seq, inst.subject
	inst.image.ApplyKnown(ev, state)
	inst.lastSeq, inst.codeVersion = seq, ev.CodeVersion
	inst.kvBytes, inst.alarmBytes = kvAfter, alarmsAfter
	if !inst.image.Exists {
		inst.kvBytes, inst.alarmBytes = 0, 0
	}
	inst.sinceSnapshot++
	if inst.sinceSnapshot >= inst.lim.snapshotEvery {
		inst.writeSnapshot()
	}
	inst.publish(ev.Broadcasts)
	inst.deliverSends(ev)
	inst.deliverEnqueues(ev)
	inst.after(r)
	return out, false, nil
}

// appendFenced appends ev after the actor's last event and reports the
// stored sequence, or why not. logFailed: the log did not take it (a
// conflict, an unknown outcome, a closed or full log), which says nothing
// about the call. Failures that leave the actor's image in doubt mark it
// unloaded, so the next call reloads it from the log. The caller rolls back.
func (inst *instance) appendFenced(ev *eventlog.Event, action string) (seq uint64, logFailed bool, _ error) {
	// The append's outcome must be known before anything else happens to this
	// actor, so it does not wait on the caller's context (the log reads no
	// values from it: Background spares a WithoutCancel per call).
	seq, err := inst.rt.log.Append(context.Background(), inst.subject, inst.lastSeq, ev)
	if eventlog.Unknown(err) {
		// The event may be stored: find out from the log before anyone is
		// answered (stored: commit as acknowledged; absent: fail).
		inst.rt.metrics.unknownOutcomes.Inc()
		var rerr error
		if seq, rerr = inst.rt.log.Resolve(context.Background(), inst.subject, inst.lastSeq, ev); rerr == nil {
			err = nil
		} else if errors.Is(rerr, eventlog.ErrOutcomeUnknown) {
			inst.loaded = false // reloaded from the log, which has the answer, before the next call
			return 0, true, inst.report(action, withCause(errorf(ErrUnknownOutcome,
				"the log did not confirm whether %s on %s was stored; retry (an idempotency key makes the retry safe)", action, inst.id), errors.Join(err, rerr)))
		} else {
			err = rerr
		}
	}
	if err == nil {
		return seq, false, nil
	}
	var conflict *eventlog.ConflictError
	switch {
	case errors.As(err, &conflict):
		inst.loaded = false // another writer moved the actor on: reload before the next call
		return 0, true, inst.report(action, withCause(ErrConflict, err))
	case errors.Is(err, eventlog.ErrEventTooLarge):
		return 0, false, inst.report(action, withCause(errorf(ErrStateTooLarge, "the event for %s is too large for the log", action), err))
	}
	// Refused before it reached the log (closed, full): nothing stored,
	// but reload to be safe.
	inst.loaded = false
	return 0, true, inst.report(action, withCause(ErrInternal, err))
}

// smallState is the size (bytes of encoded state) under which an event
// carries the whole state and no patch is computed. A patch is kept only when
// it is at most half the state, and the smallest possible one
// (`[{"op":"remove","path":"/a"}]`) is 29 bytes, so below 58 bytes no patch can
// ever be used, and below 128 bytes the best saves a few dozen bytes: not worth
// a diff on every call of the many actors whose state is a handful of fields
// (a counter's `{"count":5}`).
const smallState = 128

// patchState makes an action's event carry its state change as a JSON Patch
// from the committed state, not the whole new state (events record changes,
// not copies): the log grows with what happened, not with the state. The
// create event, any event whose state is under smallState bytes, and any event
// whose patch would be over half the state's size keep the whole state.
func (inst *instance) patchState(ev *eventlog.Event) error {
	if !ev.HasState || ev.Kind == eventlog.KindCreate || inst.image.State == nil || len(ev.State) < smallState {
		return nil
	}
	patch, err := jsonpatch.DiffTrusted(inst.image.State, ev.State) // both are json.Marshal output
	if err != nil {
		return withCause(ErrInternal, fmt.Errorf("diff the state: %w", err))
	}
	if len(patch) <= len(ev.State)/2 {
		ev.HasState, ev.State, ev.Patch = false, nil, patch
	}
	return nil
}

// newState encodes the state after fn and reports whether it changed,
// running OnStateChange (whose changes join the same event) when it did.
func (inst *instance) newState(r *run, kind eventlog.Kind, action string) ([]byte, bool, error) {
	state, err := inst.h.encode()
	if err != nil {
		return nil, false, withCause(ErrInternal, fmt.Errorf("state does not encode as JSON: %w", err))
	}
	changed := kind == eventlog.KindCreate || !bytes.Equal(state, inst.image.State)
	if changed && notifiesStateChange(kind, action) {
		var hooked bool
		if _, err := inst.safely("OnStateChange", func() (any, error) { hooked = inst.h.stateChanged(r); return nil, nil }); err != nil {
			return nil, false, err
		}
		// Only a hook that ran can have changed the state again: without one,
		// a second encode (the whole state, every call) would be waste.
		if hooked {
			if state, err = inst.h.encode(); err != nil {
				return nil, false, withCause(ErrInternal, err)
			}
		}
	}
	return state, changed, nil
}

// notifiesStateChange says whether a state change in an event of this kind
// and name runs OnStateChange: every change the actor's work makes (actions,
// fires, connection hooks, raw requests and WebSockets, Do), not the
// lifecycle's (create, fork, OnWake, OnSleep, a migration, destroy).
func notifiesStateChange(kind eventlog.Kind, action string) bool {
	switch kind {
	case eventlog.KindAction:
		return true
	case eventlog.KindSystem:
		return action != "$wake" && action != "$sleep" && action != "$migrate"
	}
	return false
}

// checkSize enforces MaxStateBytes on the state plus KV plus the arguments
// of pending alarms and crons after a call, and returns the KV bytes and the
// alarm bytes after it, both kept incrementally (no walk of the KV or the
// alarms per call).
func (inst *instance) checkSize(state []byte, changed bool, kv []eventlog.KVWrite, alarmDelta int) (kvAfter, alarmsAfter int, err error) {
	kvAfter = inst.kvBytes
	for _, w := range kv {
		if old, ok := inst.image.KV[string(w.Key)]; ok {
			kvAfter -= len(w.Key) + len(old)
		}
		if !w.Delete {
			kvAfter += len(w.Key) + len(w.Value)
		}
	}
	alarmsAfter = inst.alarmBytes + alarmDelta
	size := len(inst.image.State)
	if changed {
		size = len(state)
	}
	if size+kvAfter+alarmsAfter > inst.lim.maxState {
		if alarmsAfter > 0 {
			return 0, 0, errorf(ErrStateTooLarge, "actor %s would hold %d bytes of state, KV and pending alarm and cron arguments (%d of them), limit %d",
				inst.id, size+kvAfter+alarmsAfter, alarmsAfter, inst.lim.maxState)
		}
		return 0, 0, errorf(ErrStateTooLarge, "actor %s would hold %d bytes of state and KV, limit %d", inst.id, size+kvAfter, inst.lim.maxState)
	}
	return kvAfter, alarmsAfter, nil
}

// rollback restores the state from the committed bytes.
func (inst *instance) rollback() {
	if inst.h == nil || !inst.image.Exists {
		return
	}
	if err := inst.h.load(inst.image.State); err != nil {
		inst.rt.logger.Error("restore state after a failed call", "actor", inst.id, "err", err)
		inst.loaded = false
	}
}

// report logs internal errors with detail; user errors and the errors of
// Do's closures (the in-process caller gets them back) pass through.
func (inst *instance) report(action string, err error) error {
	var ue *UserError
	var re *Error
	var de *doError
	if errors.As(err, &ue) || (errors.As(err, &re) && re.cause == nil) || isCtxErr(err) || errors.As(err, &de) {
		return err
	}
	detail := err
	if errors.As(err, &re) && re.cause != nil {
		detail = re.cause // the wrapper only says "internal error"
	}
	inst.rt.logger.Error("call failed", "actor", inst.id, "action", action, "err", detail)
	if errors.As(err, &re) {
		return err
	}
	return withCause(ErrInternal, err)
}

// safely runs user code, turning a panic into an internal error.
func (inst *instance) safely(what string, fn func() (any, error)) (out any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if ue, ok := p.(*UserError); ok {
				err = ue
				return
			}
			if re, ok := p.(*Error); ok { // the runtime refusing a misuse (a reserved KV key)
				err = re
				return
			}
			err = withCause(ErrInternal, fmt.Errorf("panic in %s: %v\n%s", what, p, debug.Stack()))
		}
	}()
	return fn()
}

// after runs what a committed call asked for: background work, sleep, destroy.
func (inst *instance) after(r *run) {
	for _, fn := range r.commits {
		fn()
	}
	for _, fn := range r.waits {
		inst.busy.Add(1)
		inst.waits.Add(1)
		inst.rt.work.Add(1)
		go func() {
			defer inst.rt.work.Done()
			defer func() {
				// The last WaitUntil of an actor that asked to sleep asks again.
				if inst.waits.Add(-1) == 0 && inst.sleepAsked.Load() {
					inst.askSleep()
				}
			}()
			defer inst.busy.Add(-1)
			defer func() {
				if p := recover(); p != nil {
					inst.rt.logger.Error("panic in WaitUntil", "actor", inst.id, "panic", p)
				}
			}()
			fn(inst.rt.ctx)
		}()
	}
	if r.destroy {
		r.destroy = false
		if err := inst.doDestroy(context.WithoutCancel(r.parent), "actor:"+inst.id); err != nil {
			inst.rt.logger.Error("destroy requested by the actor failed", "actor", inst.id, "err", err)
		}
		return
	}
	if r.forceSleep {
		inst.askSleep()
		return
	}
	if r.sleep {
		inst.mu.Lock()
		inst.lastActive = time.Time{} // idle at once; the sleep runs after queued calls
		inst.mu.Unlock()
		// Queued behind calls already waiting; enqueue never blocks the mailbox.
		_, _ = inst.enqueue(&op{kind: opSleep, ctx: inst.rt.ctx, reply: make(chan result, 1)})
	}
}
