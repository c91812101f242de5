package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

type opKind uint8

const (
	opAction opKind = iota
	opResolve
	opDestroy
	opSleep
	opConnect
	opDisconnect
	opRequest
	opDo
)

// resolve modes
const (
	resolveGet = iota
	resolveGetOrCreate
	resolveCreate
)

// op is one unit of work in a mailbox.
type op struct {
	kind   opKind
	ctx    context.Context
	reply  chan result
	caller string
	action string
	args   json.RawMessage // action arguments or create input
	mode   int             // resolve mode
	force  bool            // sleep even with connections (runtime stop)
	conn   *Conn
	w      http.ResponseWriter
	req    *http.Request
	fn     func(r *run) error
}

type result struct {
	output     json.RawMessage
	created    bool
	generation uint64
	err        error
}

// instance is one actor in memory. Fields below the mutex are touched only by
// the goroutine draining the mailbox, which exists only while there is work.
type instance struct {
	rt      *Runtime
	def     Definition
	lim     limits
	ref     eventlog.ActorRef
	subject string
	id      string

	mu         sync.Mutex
	queue      []*op
	running    bool
	dead       bool
	lastActive time.Time
	conns      map[uint64]*Conn // guarded by mu: fan-out runs in the mailbox, Close from anywhere
	busy       atomic.Int32     // WaitUntil work and raw WebSocket sessions in progress

	h             holder
	loaded        bool
	lastSeq       uint64
	image         snapshot.Image // committed: the state bytes, KV, generation
	codeVersion   string
	kvBytes       int
	sinceSnapshot int
}

func newInstance(rt *Runtime, def Definition, ref eventlog.ActorRef, subject string) *instance {
	rt.metrics.awake.Inc()
	return &instance{rt: rt, def: def, lim: rt.limits[ref.Type], ref: ref, subject: subject, id: idOf(subject),
		lastActive: rt.clock.Now()}
}

// enqueue adds o to the mailbox, starting the drain goroutine if none runs.
// ok is false if the instance died meanwhile (the caller retries on a new one).
func (inst *instance) enqueue(o *op) (ok bool, err error) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.dead {
		return false, nil
	}
	if len(inst.queue) >= inst.lim.mailbox && o.kind != opSleep && o.kind != opDisconnect {
		return false, errorf(ErrOverloaded, "actor %s has %d calls queued (limit %d); retry later", inst.id, len(inst.queue), inst.lim.mailbox)
	}
	inst.queue = append(inst.queue, o)
	if o.kind != opSleep {
		inst.lastActive = inst.rt.clock.Now()
	}
	if !inst.running {
		inst.running = true
		inst.rt.work.Add(1)
		inst.rt.drains.run(inst.drain)
	}
	return true, nil
}

func (inst *instance) idleSince(now time.Time) bool {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return !inst.running && len(inst.conns) == 0 && inst.busy.Load() == 0 && now.Sub(inst.lastActive) >= inst.lim.idle
}

func (inst *instance) drain() {
	defer inst.rt.work.Done()
	for {
		inst.mu.Lock()
		if len(inst.queue) == 0 {
			inst.running = false
			inst.mu.Unlock()
			return
		}
		o := inst.queue[0]
		inst.queue[0] = nil
		inst.queue = inst.queue[1:]
		inst.mu.Unlock()
		inst.process(o)
	}
}

func (inst *instance) process(o *op) {
	if err := o.ctx.Err(); err != nil && o.kind != opSleep && o.kind != opDisconnect {
		o.reply <- result{err: err} // never started: nothing to undo
		return
	}
	if !inst.loaded && o.kind != opSleep {
		if err := inst.load(o.ctx); err != nil {
			inst.rt.logger.Error("wake failed", "actor", inst.id, "err", err)
			o.reply <- result{err: withCause(ErrInternal, err)}
			return
		}
	}
	var res result
	switch o.kind {
	case opAction:
		res = inst.doAction(o)
	case opResolve:
		res = inst.doResolve(o)
	case opDestroy:
		res.err = inst.doDestroy(o.ctx, o.caller)
	case opSleep:
		inst.doSleep(o.force)
	case opConnect:
		res.err = inst.doConnect(o)
	case opDisconnect:
		inst.doDisconnect(o.conn)
	case opRequest:
		res.err = inst.doRequest(o)
	case opDo:
		res.err = inst.doFn(o)
	}
	res.generation = inst.image.Generation
	o.reply <- res
	if !inst.image.Exists && o.kind != opSleep {
		// Nothing to keep in memory for an actor that does not exist.
		if len(inst.connList()) == 0 && inst.rt.remove(inst) {
			inst.rt.metrics.awake.Dec()
		}
	}
}

// load wakes the actor: its snapshot, then the events after it.
func (inst *instance) load(ctx context.Context) error {
	snap, found, err := inst.rt.snaps.Get(inst.subject)
	if err != nil {
		inst.rt.logger.Warn("snapshot unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
		found = false
	}
	var im snapshot.Image
	var seq uint64
	if found {
		if im, err = snapshot.DecodeImage(snap.State); err != nil {
			inst.rt.logger.Warn("snapshot image unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
			im, found = snapshot.Image{}, false
		} else {
			seq = snap.Seq
			inst.codeVersion = snap.CodeVersion
		}
	}
	read := 0
	for more := true; more; {
		var evs []*eventlog.Event
		// Pages sized to the expected tail (at most SnapshotEvery events).
		evs, more, err = inst.rt.log.ReadActorPage(ctx, inst.subject, seq, inst.lim.snapshotEvery+1)
		if err != nil {
			return fmt.Errorf("read %s: %w", inst.id, err)
		}
		for _, ev := range evs {
			im.Apply(ev)
			seq, inst.codeVersion = ev.Seq, ev.CodeVersion
		}
		read += len(evs)
		more = more && len(evs) > 0
	}
	inst.image, inst.lastSeq, inst.sinceSnapshot, inst.loaded = im, seq, read, true
	inst.kvBytes = kvSize(im.KV)
	inst.h = nil
	if im.Exists {
		inst.rt.metrics.wakes.Inc()
		inst.h = inst.def.newHolder()
		if err := inst.h.load(im.State); err != nil {
			return err
		}
		if _, err := inst.execute(ctx, eventlog.KindSystem, "$wake", nil, "runtime", nil, false, func(r *run) (any, error) {
			return nil, inst.h.wake(r)
		}); err != nil {
			inst.loaded = false
			return fmt.Errorf("wake hooks of %s: %w", inst.id, err)
		}
	}
	return nil
}

func kvSize(kv map[string][]byte) int {
	n := 0
	for k, v := range kv {
		n += len(k) + len(v)
	}
	return n
}

func (inst *instance) doResolve(o *op) result {
	if inst.image.Exists {
		if o.mode == resolveCreate {
			return result{err: errorf(ErrExists, "actor %s already exists", inst.id)}
		}
		return result{}
	}
	if o.mode == resolveGet {
		return result{err: errorf(ErrNotFound, "actor %s does not exist", inst.id)}
	}
	if len(o.args) > inst.lim.maxArgs {
		return result{err: errorf(ErrArgsTooLarge, "create input is %d bytes, limit %d", len(o.args), inst.lim.maxArgs)}
	}
	inst.h = inst.def.newHolder()
	if _, err := inst.execute(o.ctx, eventlog.KindCreate, "$create", o.args, o.caller, nil, true, func(r *run) (any, error) {
		return nil, inst.h.create(r, o.args)
	}); err != nil {
		inst.h = nil
		return result{err: err}
	}
	if _, err := inst.execute(o.ctx, eventlog.KindSystem, "$wake", nil, "runtime", nil, false, func(r *run) (any, error) {
		return nil, inst.h.wake(r)
	}); err != nil {
		inst.rt.logger.Error("wake hooks failed after create", "actor", inst.id, "err", err)
	}
	return result{created: true}
}

func (inst *instance) doAction(o *op) result {
	start := time.Now()
	if !inst.image.Exists {
		return result{err: errorf(ErrNotFound, "actor %s does not exist", inst.id)}
	}
	if len(o.args) > inst.lim.maxArgs {
		return result{err: errorf(ErrArgsTooLarge, "arguments are %d bytes, limit %d", len(o.args), inst.lim.maxArgs)}
	}
	if !inst.def.hasAction(o.action) {
		return result{err: errorf(ErrActionNotFound, "actor type %s has no action %q", inst.ref.Type, o.action)}
	}
	out, err := inst.execute(o.ctx, eventlog.KindAction, o.action, o.args, o.caller, o.conn, true, func(r *run) (any, error) {
		output, err := inst.h.invoke(r, o.action, o.args)
		if err != nil {
			return nil, err
		}
		return inst.h.beforeResponse(r, o.action, output)
	})
	inst.lim.metrics.duration.Observe(time.Since(start).Seconds())
	var ue *UserError
	switch {
	case err == nil:
		inst.lim.metrics.ok.Inc()
	case errors.As(err, &ue):
		inst.lim.metrics.userErr.Inc()
	default:
		inst.lim.metrics.failed.Inc()
	}
	return result{output: out, err: err}
}

func (inst *instance) doDestroy(ctx context.Context, caller string) error {
	if !inst.image.Exists {
		return errorf(ErrNotFound, "actor %s does not exist", inst.id)
	}
	if _, err := inst.execute(ctx, eventlog.KindDestroy, "$destroy", nil, caller, nil, true, func(r *run) (any, error) {
		return nil, inst.h.destroy(r)
	}); err != nil {
		return err
	}
	inst.closeConns(errorf(ErrNotFound, "actor %s was destroyed", inst.id), false)
	inst.h = nil
	inst.writeSnapshot()
	return nil
}

// doSleep runs OnSleep, writes the snapshot and leaves memory, unless work
// arrived or connections keep the actor awake.
func (inst *instance) doSleep(force bool) {
	if !force && (len(inst.connList()) > 0 || inst.busy.Load() > 0 || inst.pending() > 0) {
		return
	}
	if force {
		inst.closeConns(ErrStopping, inst.loaded && inst.image.Exists)
	}
	if inst.loaded && inst.image.Exists {
		ctx, cancel := inst.rt.ctxForSleep()
		_, err := inst.execute(ctx, eventlog.KindSystem, "$sleep", nil, "runtime", nil, false, func(r *run) (any, error) {
			return nil, inst.h.sleep(r)
		})
		cancel()
		if err != nil {
			inst.rt.logger.Error("OnSleep failed", "actor", inst.id, "err", err)
		}
	}
	if inst.loaded && inst.sinceSnapshot > 0 {
		inst.writeSnapshot()
	}
	if inst.rt.remove(inst) {
		inst.rt.metrics.awake.Dec()
		inst.rt.metrics.sleeps.Inc()
	} else {
		inst.loaded = false // work arrived after OnSleep: the next call wakes it again
	}
}

func (inst *instance) pending() int {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return len(inst.queue)
}

// ctxForSleep is the context for sleep and disconnect hooks: they run during
// Stop too, after the runtime's own context has ended, so it gets a bounded
// one. Call cancel when the hook is done (a lingering timer per sleep would
// hold memory for ActionTimeout).
func (rt *Runtime) ctxForSleep() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(rt.ctx), rt.opts.ActionTimeout)
}

func (inst *instance) writeSnapshot() {
	inst.rt.snaps.Put(snapshot.Snapshot{Actor: inst.subject, Seq: inst.lastSeq, CodeVersion: inst.codeVersion, State: inst.image.Encode()})
	inst.sinceSnapshot = 0
}

// execute runs fn as one unit of work and, if it succeeds, appends its event
// (always for actions, creates and destroys; for hooks only when they changed
// something) and commits it. If fn fails, panics, times out or the append
// fails, the state is restored from the committed bytes and nothing is kept.
func (inst *instance) execute(ctx context.Context, kind eventlog.Kind, action string, args json.RawMessage,
	caller string, conn *Conn, always bool, fn func(r *run) (any, error)) (json.RawMessage, error) {
	r := newRun(ctx, inst, caller, conn)
	r.deadline = time.Now().Add(inst.lim.actionTimeout)
	defer r.release()
	output, err := inst.safely(action, func() (any, error) { return fn(r) })
	if (err == nil || isCtxErr(err)) && !time.Now().Before(r.deadline) && ctx.Err() == nil {
		err = errorf(ErrActionTimeout, "%s on %s took longer than %s", action, inst.id, inst.lim.actionTimeout)
	}
	var state []byte
	var changed bool
	if err == nil && inst.h != nil {
		state, changed, err = inst.newState(r, kind)
	}
	var out json.RawMessage
	if err == nil && kind == eventlog.KindAction {
		if out, err = json.Marshal(output); err != nil {
			err = withCause(ErrInternal, fmt.Errorf("output of %s does not encode as JSON: %w", action, err))
		}
	}
	kv := r.kv.events()
	var kvAfter int
	if err == nil {
		kvAfter, err = inst.checkSize(state, changed, kv)
	}
	if err != nil {
		inst.rollback()
		return nil, inst.report(action, err)
	}
	if !always && !changed && len(kv) == 0 && len(r.broadcasts) == 0 && len(r.steps) == 0 {
		inst.after(r)
		return out, nil
	}
	ev := &eventlog.Event{Kind: kind, Generation: inst.image.Generation, Action: action, Args: args, Caller: caller,
		Time: r.now, Seed: r.seed, HasState: changed, State: state, Output: out, CodeVersion: inst.lim.codeVersion,
		Broadcasts: r.broadcasts, KV: kv, Steps: r.steps}
	if kind == eventlog.KindCreate {
		ev.Generation++
	}
	if kind == eventlog.KindDestroy {
		ev.HasState, ev.State = false, nil
	}
	// The append's outcome must be known before anything else happens to this
	// actor, so it does not wait on the caller's context.
	seq, err := inst.rt.log.Append(context.WithoutCancel(ctx), inst.subject, inst.lastSeq, ev)
	if err != nil {
		inst.rollback()
		var conflict *eventlog.ConflictError
		switch {
		case errors.As(err, &conflict):
			inst.loaded = false // another writer moved the actor on: reload before the next call
			return nil, inst.report(action, withCause(ErrConflict, err))
		case errors.Is(err, eventlog.ErrEventTooLarge):
			return nil, inst.report(action, withCause(errorf(ErrStateTooLarge, "the event for %s is too large for the log", action), err))
		}
		// Outcome unknown (a lost ack, a dropped connection): the event may
		// be in the log, so the next call reloads before it appends.
		inst.loaded = false
		return nil, inst.report(action, withCause(ErrInternal, err))
	}
	// Acknowledged: commit, then the side effects.
	ev.Seq, ev.Subject = seq, inst.subject
	inst.image.Apply(ev)
	inst.lastSeq, inst.codeVersion = seq, ev.CodeVersion
	inst.kvBytes = kvAfter
	if !inst.image.Exists {
		inst.kvBytes = 0
	}
	inst.sinceSnapshot++
	if inst.sinceSnapshot >= inst.lim.snapshotEvery {
		inst.writeSnapshot()
	}
	inst.publish(ev.Broadcasts)
	inst.after(r)
	return out, nil
}

// newState encodes the state after fn and reports whether it changed,
// running OnStateChange (whose changes join the same event) when it did.
func (inst *instance) newState(r *run, kind eventlog.Kind) ([]byte, bool, error) {
	state, err := inst.h.encode()
	if err != nil {
		return nil, false, withCause(ErrInternal, fmt.Errorf("state does not encode as JSON: %w", err))
	}
	changed := kind == eventlog.KindCreate || !bytes.Equal(state, inst.image.State)
	if changed && kind == eventlog.KindAction {
		if _, err := inst.safely("OnStateChange", func() (any, error) { inst.h.stateChanged(r); return nil, nil }); err != nil {
			return nil, false, err
		}
		if state, err = inst.h.encode(); err != nil {
			return nil, false, withCause(ErrInternal, err)
		}
	}
	return state, changed, nil
}

// checkSize enforces MaxStateBytes on the state plus KV after a call and
// returns the KV bytes after it, kept incrementally (no walk of the KV per call).
func (inst *instance) checkSize(state []byte, changed bool, kv []eventlog.KVWrite) (int, error) {
	kvAfter := inst.kvBytes
	for _, w := range kv {
		if old, ok := inst.image.KV[string(w.Key)]; ok {
			kvAfter -= len(w.Key) + len(old)
		}
		if !w.Delete {
			kvAfter += len(w.Key) + len(w.Value)
		}
	}
	size := len(inst.image.State)
	if changed {
		size = len(state)
	}
	if size+kvAfter > inst.lim.maxState {
		return 0, errorf(ErrStateTooLarge, "actor %s would hold %d bytes of state and KV, limit %d", inst.id, size+kvAfter, inst.lim.maxState)
	}
	return kvAfter, nil
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

// report logs internal errors with detail; user errors pass through.
func (inst *instance) report(action string, err error) error {
	var ue *UserError
	var re *Error
	if errors.As(err, &ue) || (errors.As(err, &re) && re.cause == nil) || isCtxErr(err) {
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
			err = withCause(ErrInternal, fmt.Errorf("panic in %s: %v\n%s", what, p, debug.Stack()))
		}
	}()
	return fn()
}

// after runs what a committed call asked for: background work, sleep, destroy.
func (inst *instance) after(r *run) {
	for _, fn := range r.waits {
		inst.busy.Add(1)
		inst.rt.work.Add(1)
		go func() {
			defer inst.rt.work.Done()
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
	if r.sleep {
		inst.mu.Lock()
		inst.lastActive = time.Time{} // idle at once; the sleep runs after queued calls
		inst.mu.Unlock()
		// Queued behind calls already waiting; enqueue never blocks the mailbox.
		_, _ = inst.enqueue(&op{kind: opSleep, ctx: inst.rt.ctx, reply: make(chan result, 1)})
	}
}
