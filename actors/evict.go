package actors

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// The awake limit (RuntimeOptions.MaxAwakeActors): a call that would bring
// one more actor into memory at the limit puts the least recently used idle
// actors to sleep early, through their normal sleep (OnSleep, snapshot), and
// takes a slot one of them frees. Only such calls scan the table, and each
// scan sends a batch (1% of the limit) to sleep, so the calls after it find
// room without scanning.

// maxEvictWait bounds how long a call waits for room (for the actors sent to
// sleep to leave memory: OnSleep runs then) before it gives up with
// ErrOverloaded.
const maxEvictWait = 5 * time.Second

// evictor is the state of the awake limit's evictions.
type evictor struct {
	mu       sync.Mutex    // one scan at a time; guards batches
	batches  []*sleepBatch // sent to sleep, not all answered yet
	inFlight atomic.Int64  // sleeps in batches not answered yet
	waiters  atomic.Int64  // calls waiting for room
}

// sleepBatch is the actors one scan sent to sleep; each sleep answers on left
// once it ran (the actor left memory, unless work arrived for it).
type sleepBatch struct {
	left chan result
	out  int
}

// admitAtLimit is admit when MaxAwakeActors are in memory. Unless the actors
// already on their way out are enough for the calls waiting for room, it
// sends the least recently used idle actors to sleep; then it takes the first
// slot that comes free. If no actor can sleep and none is leaving, it fails at
// once with ErrOverloaded and changes nothing.
func (rt *Runtime) admitAtLimit(ctx context.Context, def Definition, ref eventlog.ActorRef, subject string) (*instance, error) {
	ev := &rt.evictor
	ev.waiters.Add(1)
	defer ev.waiters.Add(-1)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, time.Millisecond) {
		leaving := rt.makeRoom()
		if inst, ok := rt.tryAdmit(def, ref, subject); ok {
			return inst, nil
		}
		if !leaving {
			return nil, rt.overloaded()
		}
		if timer == nil {
			timer = time.NewTimer(min(maxEvictWait, rt.opts.ActionTimeout))
		}
		if err := rt.pause(ctx, timer, pause); err != nil {
			return nil, err
		}
		// Take a freed slot before counting answers: a counted answer
		// with no slot taken would send one more actor to sleep.
		if inst, ok := rt.tryAdmit(def, ref, subject); ok {
			return inst, nil
		}
	}
}

// makeRoom counts the sleeps that answered and, if the free slots and the
// sleeps still out are fewer than the calls waiting for room, sends a batch
// of idle actors to sleep. It reports whether room may come: actors on their
// way out, or free slots.
func (rt *Runtime) makeRoom() (leaving bool) {
	ev := &rt.evictor
	ev.mu.Lock()
	defer ev.mu.Unlock()
	kept := ev.batches[:0]
	for _, b := range ev.batches {
	drain:
		for b.out > 0 {
			select {
			case <-b.left:
				b.out--
				ev.inFlight.Add(-1)
			default:
				break drain
			}
		}
		if b.out > 0 {
			kept = append(kept, b)
		}
	}
	clear(ev.batches[len(kept):])
	ev.batches = kept
	// Room is needed for the waiting calls, less the slots free already
	// (a waiter takes one soon) and the actors on their way out.
	free := max(0, int64(rt.opts.MaxAwakeActors)-rt.awake.Load())
	if ev.inFlight.Load()+free < ev.waiters.Load() {
		if b := rt.evict(rt.evictBatch()); b != nil {
			ev.batches = append(ev.batches, b)
			ev.inFlight.Add(int64(b.out))
		}
	}
	return ev.inFlight.Load() > 0 || free > 0 // a free slot taken meanwhile: look again
}

// pause waits d, unless ctx ends (its error) or timer fires (overloaded).
func (rt *Runtime) pause(ctx context.Context, timer *time.Timer, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return rt.overloaded()
	}
}

func (rt *Runtime) overloaded() error {
	rt.metrics.awakeRejected.Inc()
	return errorf(ErrOverloaded, "%d actors are in memory, the limit (MaxAwakeActors, --max-awake-actors %d), and none is idle to sleep early; retry later",
		rt.awake.Load(), rt.opts.MaxAwakeActors)
}

// evictBatch is how many actors one scan sends to sleep: 1% of the limit.
func (rt *Runtime) evictBatch() int { return max(1, rt.opts.MaxAwakeActors/100) }

// evict sends up to n of the least recently used idle actors to sleep (no
// queued work, no connections, no WaitUntil work), oldest first, and returns
// them as a batch (nil if none). rt.evictor.mu is held: an actor a scan
// picked has work queued (its sleep), so the next scan skips it.
func (rt *Runtime) evict(n int) *sleepBatch {
	var h victims
	for i := range rt.shards {
		sh := &rt.shards[i]
		sh.mu.Lock()
		for _, inst := range sh.m {
			at, ok := inst.evictable()
			if !ok {
				continue
			}
			if len(h) < n {
				heap.Push(&h, victim{inst, at})
			} else if at.Before(h[0].at) {
				h[0] = victim{inst, at}
				heap.Fix(&h, 0)
			}
		}
		sh.mu.Unlock()
	}
	if len(h) == 0 {
		return nil
	}
	b := &sleepBatch{left: make(chan result, len(h))} // never blocks a mailbox
	for _, v := range h {
		// A sleep leaves an actor that got work meanwhile awake (doSleep).
		if ok, _ := v.inst.enqueue(&op{kind: opSleep, ctx: rt.ctx, reply: b.left}); ok {
			b.out++
		}
	}
	if b.out == 0 {
		return nil
	}
	rt.metrics.evictions.Add(float64(b.out))
	return b
}

// evictable reports whether the actor could sleep now (the conditions of
// idleSince, without the idle timeout) and when it was last active.
func (inst *instance) evictable() (time.Time, bool) {
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.dead || inst.running || len(inst.queue) > 0 || len(inst.conns) > 0 || inst.busy.Load() > 0 {
		return time.Time{}, false
	}
	return inst.lastActive, true
}

type victim struct {
	inst *instance
	at   time.Time
}

// victims is a max-heap on the last activity: the root is the most recently
// active of the oldest seen so far, the first to give way to an older one.
type victims []victim

func (h victims) Len() int           { return len(h) }
func (h victims) Less(i, j int) bool { return h[i].at.After(h[j].at) }
func (h victims) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *victims) Push(x any)        { *h = append(*h, x.(victim)) }
func (h *victims) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
