package actors

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

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
	conns      map[uint64]*Conn       // guarded by mu: fan-out runs in the mailbox, Close from anywhere
	busy       atomic.Int32           // WaitUntil work, raw WebSocket sessions and the Run handler in progress
	waits      atomic.Int32           // WaitUntil work in progress
	sleepAsked atomic.Bool            // Context.ForceSleep waits for the WaitUntil work
	sockets    map[WebSocket]struct{} // guarded by mu: open raw WebSockets, closed when the actor sleeps on request
	qwait      *queueWaiter           // guarded by mu: the call waiting in Queue().Next, holding the mailbox
	qsig       chan struct{}          // guarded by mu: closed at the next committed queue send
	aborting   bool                   // guarded by mu: a destroy is queued; queue waits fail with ErrAborted

	h             holder
	loaded        bool
	lastSeq       uint64
	ids           callIDs          // of the action being executed (the mailbox runs one at a time)
	image         actorstate.Image // committed: the state bytes, KV, generation
	codeVersion   string
	kvBytes       int
	alarmBytes    int // arguments of the pending alarms and crons (alarmSize), counted with the state
	sinceSnapshot int
	qnext         uint64 // the next queue message ID (0: not computed since the last load)
	runCancel     context.CancelFunc
	runDone       chan struct{} // closed when the Run handler has returned

	// wakeStats is how the last wake went, for the inspector (inspect.go).
	// Mailbox goroutine only.
	wakeStats wakeMetrics
}

func newInstance(rt *Runtime, def Definition, ref eventlog.ActorRef, subject string) *instance {
	rt.metrics.awake.Inc()
	return &instance{rt: rt, def: def, lim: rt.limits[ref.Type], ref: ref, subject: subject, id: idOf(subject),
		lastActive: rt.clock.Now()}
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
	action := "$create"
	if o.action != "" { // a fork's create is "$fork" (ForkAction): a replay folds it
		action = o.action
	}
	if _, err := inst.execute(o.ctx, eventlog.KindCreate, action, o.args, o.caller, nil, true, func(r *run) (any, error) {
		return nil, inst.createHooks(r, o.args)
	}); err != nil {
		inst.h = nil
		return result{err: err}
	}
	if _, err := inst.execute(o.ctx, eventlog.KindSystem, "$wake", nil, "runtime", nil, false, func(r *run) (any, error) {
		return nil, inst.wakeHooks(r)
	}); err != nil {
		inst.rt.logger.Error("wake hooks failed after create", "actor", inst.id, "err", err)
	}
	inst.startRun()
	return result{created: true}
}

func (inst *instance) doAction(o *op) result {
	if o.conn != nil && o.conn.stateless {
		return inst.doStatelessAction(o)
	}
	return inst.doConnAction(o)
}

// doConnAction runs an action, over o.conn if it has one.
func (inst *instance) doConnAction(o *op) result {
	start := time.Now()
	if o.ids.callID != "" || o.ids.idemKey != "" {
		if res, done := inst.repeat(o); done {
			return res
		}
	}
	inst.ids = o.ids
	defer func() { inst.ids = callIDs{} }()
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
	inst.lim.metrics.count(err)
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
	inst.stopRun(false) // a destroy from the handler's own Do must not wait for the handler
	inst.rt.queueWaits.drop(inst.subject)
	inst.closeConns(errorf(ErrNotFound, "actor %s was destroyed", inst.id), false)
	inst.h = nil
	inst.writeSnapshot()
	return nil
}
