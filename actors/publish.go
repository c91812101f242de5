package actors

import (
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Publish sends a broadcast to the actor's current subscribers on this node
// without recording it: no event is appended, and it is lost if nobody
// listens or the actor is asleep (Publish never wakes it). It exists for code
// that runs outside the mailbox, such as a workflow runner, to stream live,
// replaceable output (LLM tokens) that is not worth a log entry; a broadcast
// that must survive belongs in an event (Context.Broadcast). args are encoded
// as JSON as Context.Broadcast does, bounded by the type's MaxArgsBytes. A
// subscriber too slow to keep up is closed, as for recorded broadcasts.
func (h *Handle) Publish(name string, args ...any) error {
	if name == "" {
		return errorf(ErrInvalidArgs, "publish: a broadcast needs a name")
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return errorf(ErrInvalidArgs, "publish %s: arguments do not encode as JSON: %v", name, err)
	}
	rt := h.client.rt
	if limit := rt.limits[h.ref.Type].maxArgs; len(raw) > limit {
		return errorf(ErrArgsTooLarge, "publish %s on %s: arguments are %d bytes, limit %d", name, h.ID, len(raw), limit)
	}
	sh := rt.shardFor(h.subj)
	sh.mu.Lock()
	inst := sh.m[h.subj]
	sh.mu.Unlock()
	if inst != nil {
		inst.publish([]eventlog.Broadcast{{Name: name, Args: raw}})
	}
	return nil
}
