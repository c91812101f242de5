package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Wake and sleep: an actor comes into memory from its snapshot plus the
// events after it, and leaves it with a snapshot.

// load wakes the actor: its snapshot, then the events after it. A snapshot
// the log does not reach is not trusted: the actor is folded from the log
// alone. A state that no longer decodes leaves the actor unloaded (nothing
// can be appended over it) and fails the call with state_decode_failed.
func (inst *instance) load(ctx context.Context) error {
	wm := inst.beginWake() // the inspector's startup metrics (inspect.go)
	defer wm.end()
	im, seq, read, err := inst.fold(ctx, true)
	if errors.Is(err, errSnapshotAhead) {
		inst.rt.logger.Warn("snapshot is newer than the actor's log (was the log replaced?); folding the actor from the log", "actor", inst.id, "err", err)
		im, seq, read, err = inst.fold(ctx, false)
	}
	if err != nil {
		return err
	}
	var h holder
	var migrated bool
	if im.Exists {
		h = inst.def.newHolder()
		if migrated, err = inst.migrate(h, im.State, seq); err != nil {
			return err
		}
		if !migrated {
			if err := h.load(im.State); err != nil {
				return withCause(errorf(ErrStateDecodeFailed, "the state of actor %s at log sequence %d does not decode (code version %q): %v",
					inst.id, seq, inst.codeVersion, err), err)
			}
		}
	}
	inst.image, inst.lastSeq, inst.sinceSnapshot, inst.loaded = im, seq, read, true
	inst.qnext = 0
	inst.kvBytes, inst.alarmBytes = kvSize(im.KV), alarmSize(&im)
	inst.h = h
	wm.loaded(read, im.Exists)
	if migrated {
		if err := inst.recordMigration(ctx, seq); err != nil {
			inst.loaded = false
			return err
		}
	}
	if im.Exists {
		inst.rt.metrics.wakes.Inc()
		if _, err := inst.execute(ctx, eventlog.KindSystem, "$wake", nil, "runtime", nil, false, func(r *run) (any, error) {
			return nil, inst.wakeHooks(r)
		}); err != nil {
			inst.loaded = false
			return fmt.Errorf("wake hooks of %s: %w", inst.id, err)
		}
		inst.startRun()
	}
	return nil
}

// migrate runs the type's Migrate hook on the stored state when the code
// version recorded for the actor differs from the type's, and reports
// whether it did (the holder then holds the migrated state). A failed hook is
// state_decode_failed: the actor stays unloaded and nothing is appended.
func (inst *instance) migrate(h holder, state []byte, seq uint64) (bool, error) {
	from, to := inst.codeVersion, inst.lim.codeVersion
	if from == to {
		return false, nil
	}
	var migrated bool
	_, err := inst.safely("Migrate", func() (any, error) {
		var err error
		migrated, err = h.migrate(from, state)
		return nil, err
	})
	if err == nil {
		return migrated, nil
	}
	detail := err
	var re *Error
	if errors.As(err, &re) && re.cause != nil {
		detail = re.cause // a panic: its stack goes to the log, not to callers
	}
	inst.rt.logger.Error("Migrate failed; the actor stays unloaded", "actor", inst.id, "seq", seq, "from", from, "to", to, "err", detail)
	return true, withCause(errorf(ErrStateDecodeFailed, "migrating the state of actor %s at log sequence %d from code version %q to %q failed: %v",
		inst.id, seq, from, to, err), err)
}

// recordMigration appends the "$migrate" system event: the change Migrate
// made (a patch or the state, as for any action) under the new code version,
// with the versions in its args. It is appended even when the state's bytes
// did not change, so the new code version is recorded and Migrate runs once.
func (inst *instance) recordMigration(ctx context.Context, seq uint64) error {
	from, to := inst.codeVersion, inst.lim.codeVersion
	args, err := json.Marshal(struct {
		From string `json:"from"`
		To   string `json:"to"`
	}{from, to})
	if err != nil {
		return err
	}
	if _, err := inst.execute(ctx, eventlog.KindSystem, "$migrate", args, "runtime", nil, true, func(*run) (any, error) {
		return nil, nil
	}); err != nil {
		if errors.Is(err, ErrStateTooLarge) { // permanent, like a failed hook
			return withCause(errorf(ErrStateDecodeFailed, "the state of actor %s migrated from code version %q to %q at log sequence %d cannot be recorded: %v",
				inst.id, from, to, seq, err), err)
		}
		return fmt.Errorf("record the migration of %s from code version %q to %q: %w", inst.id, from, to, err)
	}
	inst.rt.logger.Info("actor state migrated", "actor", inst.id, "from", from, "to", to, "seq", inst.lastSeq)
	return nil
}

// errSnapshotAhead reports a snapshot at a sequence the actor's log does not
// reach: the log was replaced or restored from an older backup.
var errSnapshotAhead = errors.New("snapshot ahead of the log")

// fold reads the actor's image: from its snapshot (when useSnapshot and one
// is readable) plus the events after it, or from the log alone.
func (inst *instance) fold(ctx context.Context, useSnapshot bool) (im actorstate.Image, seq uint64, read int, err error) {
	inst.codeVersion = ""
	if useSnapshot {
		inst.wakeStats.Reads++
		snap, found, err := inst.rt.snaps.Get(inst.subject)
		if err != nil {
			inst.rt.logger.Warn("snapshot unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
			found = false
		}
		if found {
			if im, err = actorstate.Decode(snap.State); err != nil {
				inst.rt.logger.Warn("snapshot image unreadable, rebuilding the actor from the log", "actor", inst.id, "err", err)
				im = actorstate.Image{}
			} else {
				seq, inst.codeVersion = snap.Seq, snap.CodeVersion
			}
		}
	}
	for more := true; more; {
		var evs []*eventlog.Event
		// Pages sized to the expected tail (at most SnapshotEvery events).
		evs, more, err = inst.rt.log.ReadActorPage(ctx, inst.subject, seq, inst.lim.snapshotEvery+1)
		inst.wakeStats.Reads++
		if err != nil {
			return im, 0, 0, fmt.Errorf("read %s: %w", inst.id, err)
		}
		for _, ev := range evs {
			if err := im.Apply(ev); err != nil {
				return im, 0, 0, fmt.Errorf("fold event %d of %s: %w", ev.Seq, inst.id, err)
			}
			seq, inst.codeVersion = ev.Seq, ev.CodeVersion
		}
		read += len(evs)
		more = more && len(evs) > 0
	}
	if read == 0 && seq > 0 {
		// Nothing after the snapshot: make sure the log reaches it at all.
		last, err := inst.rt.log.LastSubjectSeq(ctx, inst.subject)
		inst.wakeStats.Reads++
		if err != nil {
			return im, 0, 0, fmt.Errorf("read %s: %w", inst.id, err)
		}
		if last < seq {
			return im, 0, 0, fmt.Errorf("%w: %s snapshot at %d, log at %d", errSnapshotAhead, inst.id, seq, last)
		}
	}
	im.Settle() // the patches of the tail were folded in memory: encode once
	return im, seq, read, nil
}

func kvSize(kv map[string][]byte) int {
	n := 0
	for k, v := range kv {
		n += len(k) + len(v)
	}
	return n
}

// doSleep runs OnSleep, writes the snapshot and leaves memory, unless work
// arrived or connections keep the actor awake. An asked sleep
// (Context.ForceSleep, as RivetKit's c.sleep()) waits only for the actor's
// WaitUntil work: OnSleep runs with the connections and raw WebSockets
// still open (it may still send to them), then they are closed (a client
// that reconnects wakes the actor). force (runtime stop) closes them first.
func (inst *instance) doSleep(force, asked bool) {
	switch {
	case force:
	case asked:
		inst.sleepAsked.Store(true) // before the count: the last WaitUntil to end sees it
		if inst.waits.Load() > 0 {
			return // asked again when the work is done
		}
		inst.sleepAsked.Store(false)
	case len(inst.connList()) > 0 || inst.busy.Load() > 0 || inst.pending() > 0:
		return
	}
	if force {
		inst.closeConns(ErrStopping, inst.loaded && inst.image.Exists)
	}
	inst.stopRun(true) // its last changes land before OnSleep
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
	if asked && !force {
		inst.closeConns(errorf(ErrStopping, "actor %s went to sleep; reconnect to wake it", inst.id), inst.loaded && inst.image.Exists)
		inst.closeSockets()
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

// askSleep queues an asked sleep (Context.ForceSleep) behind the calls
// already waiting; enqueue never blocks the mailbox.
func (inst *instance) askSleep() {
	_, _ = inst.enqueue(&op{kind: opSleep, asked: true, ctx: inst.rt.ctx, reply: make(chan result, 1)})
}

// closeSockets closes the actor's raw WebSockets (an asked sleep): their
// OnWebSocket sessions then end on their own.
func (inst *instance) closeSockets() {
	inst.mu.Lock()
	wss := make([]WebSocket, 0, len(inst.sockets))
	for ws := range inst.sockets {
		wss = append(wss, ws)
	}
	inst.mu.Unlock()
	for _, ws := range wss {
		_ = ws.Close(1001, "the actor went to sleep")
	}
}
