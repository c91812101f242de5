package actors

import (
	"context"
	"encoding/json"
)

// RunInspector shows a Run handler built on actors (a workflow of
// workflows/actorwf) in the actor inspector, from the records it keeps in
// the actor's reserved KV (Context.ReservedKV). Both methods run in the
// actor's mailbox; kv returns a reserved namespace.
type RunInspector interface {
	// History returns the handler's records as the inspector shows them.
	History(kv func(ns string) *KV) (any, error)
	// Reset deletes the records a run from the beginning must not find;
	// its writes are recorded in the event of the restart.
	Reset(kv func(ns string) *KV)
}

// RunFinisher is an optional method of a RunInspector: whether its records
// say the handler's work is over, so that RestartRun may replace a handler
// that a wake started and that is on its way out.
type RunFinisher interface {
	Finished(kv func(ns string) *KV) bool
}

// RunHistory returns what the type's RunInspector shows of the actor, read
// in its mailbox; enabled is false (and history nil) for a type without one.
func (h *Handle) RunHistory(ctx context.Context) (history json.RawMessage, enabled bool, err error) {
	ri := h.def.runInspector()
	if ri == nil {
		return nil, false, nil
	}
	err = h.inspectDo(ctx, "$inspect", func(r *run) error {
		v, err := ri.History(r.reservedKV)
		if err != nil {
			return err
		}
		history, err = json.Marshal(v)
		return err
	})
	return history, err == nil, err
}

// RestartRun runs the actor's Run handler again from the beginning (the
// inspector's workflow replay): in its mailbox, RunInspector.Reset deletes
// the handler's records, recorded as the system event RestartRunEvent, and
// once that is committed the handler starts again. A handler still running
// is ErrRunInFlight and changes nothing; a type without a RunInspector is
// ErrNoRunInspector.
func (h *Handle) RestartRun(ctx context.Context) error {
	ri := h.def.runInspector()
	if ri == nil {
		return errorf(ErrNoRunInspector, "actor type %s has no workflow to replay", h.ref.Type)
	}
	return h.inspectDo(ctx, RestartRunEvent, func(r *run) error {
		inst := r.inst
		if done := inst.runDone; done != nil {
			select {
			case <-done:
			default:
				if f, ok := ri.(RunFinisher); !ok || !f.Finished(r.reservedKV) {
					return errorf(ErrRunInFlight, "cannot replay the workflow of %s while it is in flight", h.ID)
				}
				// Finished: the handler a wake started only reads that and
				// returns; the restart replaces it.
			}
		}
		ri.Reset(r.reservedKV)
		r.commits = append(r.commits, func() {
			inst.stopRun(false)
			inst.startRun()
		})
		return nil
	})
}

// RestartRunEvent is the action name of the system event RestartRun
// appends.
const RestartRunEvent = "$run.restart"

// reservedKV is Context.ReservedKV for a run.
func (r *run) reservedKV(ns string) *KV {
	if !validReservedNS(ns) {
		panic(errorf(ErrInvalidArgs, "reserved KV namespace %q: 1 to 32 letters or digits, not \"q\"", ns))
	}
	return &KV{o: &r.kv, ns: reservedKVPrefix + ns + "/"}
}
