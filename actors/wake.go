package actors

import (
	"context"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Wake and sleep: an actor comes into memory from its snapshot plus the
// events after it, and leaves it with a snapshot.

// load wakes the actor: its snapshot, then the events after it.
func (inst *instance) load(ctx context.Context) error {
	snap, found, err := inst.rt.snaps.Get(inst.subject)
	if err != nil {
		inst.rt.logger.Warn("snapshot unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
		found = false
	}
	var im actorstate.Image
	var seq uint64
	if found {
		if im, err = actorstate.Decode(snap.State); err != nil {
			inst.rt.logger.Warn("snapshot image unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
			im, found = actorstate.Image{}, false
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
			if err := im.Apply(ev); err != nil {
				return fmt.Errorf("fold event %d of %s: %w", ev.Seq, inst.id, err)
			}
			seq, inst.codeVersion = ev.Seq, ev.CodeVersion
		}
		read += len(evs)
		more = more && len(evs) > 0
	}
	im.Settle() // the patches of the tail were folded in memory: encode once
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

// ctxForSleep is the context for sleep and disconnect hooks: they run during
// Stop too, after the runtime's own context has ended, so it gets a bounded
// one. Call cancel when the hook is done (a lingering timer per sleep would
// hold memory for ActionTimeout).
func (rt *Runtime) ctxForSleep() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(rt.ctx), rt.opts.ActionTimeout)
}

func (inst *instance) writeSnapshot() {
	inst.rt.snaps.Put(actorstate.Snapshot{Actor: inst.subject, Seq: inst.lastSeq, CodeVersion: inst.codeVersion, State: inst.image.Encode()})
	inst.sinceSnapshot = 0
}
