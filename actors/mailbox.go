package actors

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"
)

// The mailbox: one op at a time per actor, in arrival order, drained by a
// pooled goroutine only while there is work.

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
	opFire
	opQueueSend
)

// resolve modes
const (
	resolveGet = iota
	resolveGetOrCreate
	resolveCreate
)

// op is one unit of work in a mailbox. Fields past caller belong to some
// kinds only, as noted.
type op struct {
	kind   opKind
	ctx    context.Context
	reply  chan result
	caller string
	action string             // opAction; opDo: its system event's name
	args   json.RawMessage    // opAction arguments, opResolve create input, opDo recorded args
	mode   int                // opResolve: resolveGet, resolveGetOrCreate, resolveCreate
	force  bool               // opSleep: sleep even with connections (runtime stop)
	asked  bool               // opSleep: the actor asked (Context.ForceSleep): sleep with connections open, after its WaitUntil work
	conn   *Conn              // opAction over a connection, opConnect, opDisconnect
	resp   *responseBuffer    // opRequest: where OnRequest writes (sent after the commit)
	req    *http.Request      // opRequest
	fn     func(r *run) error // opDo
	done   chan queueDone     // opQueueSend (action: the queue, args: the body): the waiting sender's, for the completion
	ids    callIDs            // opAction: call ID, idempotency key, call chain
	alarm  string             // opFire: the alarm's ID
	at     time.Time          // opFire: the alarm's due time
	pooled bool               // from newOp: submit recycles it once answered
}

// opPool recycles the ops of client calls (each with its reply channel) once
// their caller has the answer; an op whose caller gave up (its context ended)
// is left to the collector, since the mailbox may still answer it.
var opPool = sync.Pool{New: func() any { return &op{reply: make(chan result, 1), pooled: true} }}

// newOp returns a cleared op with a reply channel, for submit to recycle.
func newOp() *op { return opPool.Get().(*op) }

func (o *op) recycle() {
	*o = op{reply: o.reply, pooled: true}
	opPool.Put(o)
}

// callIDs is what identifies an action call beyond its name and arguments.
type callIDs struct {
	callID  string   // from an actor's Client: caller/expected-seq/step
	idemKey string   // the caller's idempotency key
	chain   []string // the actors whose actions are waiting on this call, outermost first
	// recorded: the call was recorded in its sender's event before it was
	// delivered (a send effect, a reply), so its arguments are decoded as
	// when they were recorded (lenientArgs).
	recorded bool
}

type result struct {
	output     json.RawMessage
	created    bool
	fired      bool // opFire: the alarm was fired (and its fire recorded)
	generation uint64
	err        error
}

// enqueue adds o to the mailbox, starting the drain goroutine if none runs.
// ok is false if the instance died meanwhile (the caller retries on a new one).
func (inst *instance) enqueue(o *op) (ok bool, err error) {
	ok, _, err = inst.push(o, false)
	return ok, err
}

// push is enqueue. With mayInline, when no drain runs, it starts none and
// reports inline: the caller then runs o itself with drainInline.
func (inst *instance) push(o *op, mayInline bool) (ok, inline bool, err error) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.dead {
		return false, false, nil
	}
	queued := len(inst.queue)
	if inst.qwait != nil {
		queued += len(inst.qwait.sends)
	}
	if queued >= inst.lim.mailbox && o.kind != opSleep && o.kind != opDisconnect {
		return false, false, errorf(ErrOverloaded, "actor %s has %d calls queued (limit %d); retry later", inst.id, queued, inst.lim.mailbox)
	}
	if inst.handOver(o) {
		inst.lastActive = inst.rt.clock.Now()
		return true, false, nil
	}
	inst.queue = append(inst.queue, o)
	if o.kind != opSleep {
		inst.lastActive = inst.rt.clock.Now()
	}
	if !inst.running {
		inst.running = true
		inst.rt.work.Add(1)
		if mayInline {
			return true, true, nil
		}
		inst.rt.drains.runJob(inst)
	}
	return true, false, nil
}

// drainInline runs, on the caller's goroutine, the op that push just queued
// on an idle mailbox (so it is the first), then hands whatever queued behind
// it to a pool worker: the caller waits for its own call only.
func (inst *instance) drainInline() {
	inst.mu.Lock()
	o := inst.pop()
	inst.mu.Unlock()
	inst.process(o)
	inst.mu.Lock()
	if len(inst.queue) == 0 {
		inst.running = false
		inst.mu.Unlock()
		inst.rt.work.Done()
		return
	}
	inst.mu.Unlock()
	inst.rt.drains.runJob(inst) // still running: the worker's drain ends the work
}

// pop takes the first op off the queue; inst.mu is held and the queue is not
// empty.
func (inst *instance) pop() *op {
	o := inst.queue[0]
	inst.queue[0] = nil
	if len(inst.queue) == 1 && cap(inst.queue) <= 4 {
		// Keep the small backing array: a call at a time to an idle actor
		// then queues without allocating.
		inst.queue = inst.queue[:0]
	} else {
		inst.queue = inst.queue[1:]
	}
	return o
}

func (inst *instance) idleSince(now time.Time) bool {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return !inst.running && len(inst.conns) == 0 && inst.busy.Load() == 0 && now.Sub(inst.lastActive) >= inst.lim.idle
}

func (inst *instance) pending() int {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return len(inst.queue)
}

// runJob drains the mailbox on a pool worker.
func (inst *instance) runJob() { inst.drain() }

func (inst *instance) drain() {
	defer inst.rt.work.Done()
	for {
		inst.mu.Lock()
		if len(inst.queue) == 0 {
			inst.running = false
			inst.mu.Unlock()
			return
		}
		o := inst.pop()
		inst.mu.Unlock()
		inst.process(o)
	}
}

func (inst *instance) process(o *op) {
	if o.kind == opDestroy || (o.kind == opSleep && o.force) {
		inst.mu.Lock()
		inst.aborting = false // its turn: the waits it ended are over
		inst.mu.Unlock()
	}
	if err := o.ctx.Err(); err != nil && o.kind != opSleep && o.kind != opDisconnect {
		o.reply <- result{err: err} // never started: nothing to undo
		return
	}
	if !inst.loaded && o.kind != opSleep {
		if err := inst.load(o.ctx); err != nil {
			inst.rt.logger.Error("wake failed", "actor", inst.id, "err", err)
			if !errors.Is(err, ErrStateDecodeFailed) {
				err = withCause(ErrInternal, err)
			}
			o.reply <- result{err: err}
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
		inst.doSleep(o.force, o.asked)
	case opConnect:
		res.err = inst.doConnect(o)
	case opDisconnect:
		inst.doDisconnect(o.conn)
	case opRequest:
		res.err = inst.doRequest(o)
	case opDo:
		res.err = inst.doFn(o)
	case opFire:
		res = inst.doFire(o)
	case opQueueSend:
		res = inst.doQueueSend(o, false)
	}
	res.generation = inst.image.Generation
	kind := o.kind // o is not ours once answered: its caller may recycle it
	o.reply <- res
	if !inst.image.Exists && kind != opSleep {
		// Nothing to keep in memory for an actor that does not exist.
		if len(inst.connList()) == 0 && inst.rt.remove(inst) {
			inst.rt.metrics.awake.Dec()
		}
	}
}
