package actors

import (
	"context"
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/actorstate"
)

type idemKeyCtx struct{}

// MaxIdempotencyKeyLen bounds an idempotency key.
const MaxIdempotencyKeyLen = 256

// WithIdempotencyKey returns a context whose action calls (through a Client
// outside an actor) carry key: the first committed call with it is
// remembered by the actor (its last MaxRememberedKeys keys, for
// RuntimeOptions.IdempotencyWindow), and a repeat gets that call's recorded
// output and appends nothing. The same key with another action or other
// arguments fails with ErrIdempotencyKeyReused. Failed calls are not
// remembered: a retry runs again.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idemKeyCtx{}, key)
}

// IdempotencyKey returns the key WithIdempotencyKey put in ctx, or "".
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idemKeyCtx{}).(string)
	return k
}

// repeat answers an action whose call ID or idempotency key the actor
// remembers, from the recorded event, without running it again.
func (inst *instance) repeat(o *op) (result, bool) {
	var rem actorstate.Remembered
	var found bool
	kind := "call"
	if o.ids.idemKey != "" {
		if len(o.ids.idemKey) > MaxIdempotencyKeyLen {
			return result{err: errorf(ErrInvalidArgs, "idempotency key is %d bytes, limit %d", len(o.ids.idemKey), MaxIdempotencyKeyLen)}, true
		}
		rem, found = inst.image.Keys[o.ids.idemKey]
		if found && inst.rt.clock.Now().Sub(rem.At) > inst.rt.opts.IdempotencyWindow {
			found = false // expired: the key names a new call
		}
		kind = "idempotency key"
	} else {
		rem, found = inst.image.Calls[o.ids.callID]
	}
	if !found {
		return result{}, false
	}
	if rem.Hash != actorstate.CallHash(o.action, o.args) {
		if o.ids.idemKey != "" {
			return result{err: errorf(ErrIdempotencyKeyReused, "idempotency key %q was first used for another call on %s (action or arguments differ); use a new key", o.ids.idemKey, inst.id)}, true
		}
		return result{}, false // the caller's slot holds another call: run this one
	}
	ev, err := inst.rt.log.EventAt(o.ctx, inst.subject, rem.Seq)
	if err != nil {
		inst.rt.logger.Error("read the recorded answer of a repeated call", "actor", inst.id, kind, o.ids.callID+o.ids.idemKey, "seq", rem.Seq, "err", err)
		return result{err: withCause(ErrInternal, err)}, true
	}
	return result{output: json.RawMessage(ev.Output)}, true
}
