package actors

import (
	"context"
	"encoding/json"
	"net/http"
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
	action string             // opAction
	args   json.RawMessage    // opAction arguments, opResolve create input
	mode   int                // opResolve: resolveGet, resolveGetOrCreate, resolveCreate
	force  bool               // opSleep: sleep even with connections (runtime stop)
	conn   *Conn              // opAction over a connection, opConnect, opDisconnect
	resp   *responseBuffer    // opRequest: where OnRequest writes (sent after the commit)
	req    *http.Request      // opRequest
	fn     func(r *run) error // opDo
}

type result struct {
	output     json.RawMessage
	created    bool
	generation uint64
	err        error
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

func (inst *instance) pending() int {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	return len(inst.queue)
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
