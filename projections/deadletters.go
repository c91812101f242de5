package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Dead letters are shared by every node, so they live in the log: the
// outbox records one by calling the action record on the built-in actor type
// DeadLettersType (one actor per sender type), and the outbox's projection
// (Outbox.Projection, named OutboxName) folds those events into rows under
// OutboxDeadPrefix. Every node's projection holds every dead letter, and a
// rebuild reaches the same rows.

// DeadLettersType is the built-in actor type that records dead letters. A
// node registers it in its registry (RegisterDeadLetters). Its actors are
// keyed by the sender's actor type; their action "record" takes a
// DeadLetter and returns how many that actor recorded. Only the outbox may
// call it (caller OutboxCaller).
const DeadLettersType = "rf_deadletters"

// OutboxCaller is the caller the outbox records dead letters as.
const OutboxCaller = "outbox"

// Dead-letter size bounds: arguments larger than deadLetterMaxArgs are
// left out of the record (ArgsDropped), and errors are cut to
// deadLetterMaxError bytes, so a record always fits in an event.
const (
	deadLetterMaxArgs  = 256 << 10
	deadLetterMaxError = 4 << 10
)

// DeadLettersState is the state of a DeadLettersType actor.
type DeadLettersState struct {
	// Count is how many dead letters the actor recorded (a record repeated
	// after its idempotency window counts again).
	Count uint64 `json:"count"`
}

// DeadLettersActor returns the definition of DeadLettersType.
func DeadLettersActor() *actors.Type[DeadLettersState] {
	return actors.NewType(DeadLettersType, actors.Options[DeadLettersState]{MaxArgsBytes: deadLetterMaxArgs + 64<<10}).
		Action("record", actors.Act(func(c *actors.Context[DeadLettersState], d DeadLetter) (uint64, error) {
			if c.Caller() != OutboxCaller {
				return 0, actors.NewUserError("forbidden", "only the outbox records dead letters", nil)
			}
			if _, _, err := actors.ParseEffectID(d.EffectID); err != nil {
				return 0, err
			}
			c.State.Count++
			return c.State.Count, nil
		}))
}

// RegisterDeadLetters adds DeadLettersActor to reg; a node calls it on its
// registry. It is a no-op when reg has it already (a node started again
// with the same registry), and an error when reg has another type of that
// name.
func RegisterDeadLetters(reg *actors.Registry) error {
	if acts, ok := reg.Actions(DeadLettersType); ok {
		if !slices.Equal(acts, []string{"record"}) {
			return fmt.Errorf("actor type %s is reserved for the outbox's dead letters", DeadLettersType)
		}
		return nil
	}
	return reg.Register(DeadLettersActor())
}

// deadLetterProjection folds DeadLettersType's record events into rows
// keyed by DeadLetterKey of the effect: a dead letter recorded twice (a
// redelivered event) is one row.
func deadLetterProjection(name string) *Definition[DeadLetter] {
	filter := Filter{Types: []string{DeadLettersType}, Kinds: []eventlog.Kind{eventlog.KindAction}}
	return Define(name, filter, func(tx Tx[DeadLetter], ev *eventlog.Event) error {
		if ev.Action != "record" {
			return nil
		}
		var args []DeadLetter
		if err := json.Unmarshal(ev.Args, &args); err != nil || len(args) != 1 {
			return fmt.Errorf("dead letter record at %d: arguments %.200q do not decode (%v)", ev.Seq, ev.Args, err)
		}
		seq, index, err := actors.ParseEffectID(args[0].EffectID)
		if err != nil {
			return fmt.Errorf("dead letter record at %d: %w", ev.Seq, err)
		}
		return tx.Put(DeadLetterKey(seq, index), args[0])
	})
}

// newDeadLetter builds the record of a send that failed with err after
// attempts.
func newDeadLetter(d actors.Delivery, err error, attempts int) DeadLetter {
	row := DeadLetter{EffectID: d.EffectID, From: d.From, Target: d.Target, Action: d.Action, Args: d.Args,
		Error: err.Error(), Attempts: attempts, At: time.Now().UTC()}
	var ae *actors.Error
	if errors.As(err, &ae) {
		row.Code = ae.Code
		if cause := ae.Unwrap(); cause != nil {
			row.Error += ": " + cause.Error() // the wrapper may only say "internal error"
		}
	}
	var ue *actors.UserError
	if errors.As(err, &ue) {
		row.Code, row.Error = ue.Code, ue.Error()
	}
	if len(row.Error) > deadLetterMaxError {
		row.Error = row.Error[:deadLetterMaxError] + "..."
	}
	if len(row.Args) > 0 && !json.Valid(row.Args) {
		row.Args = nil
	}
	if len(row.Args) > deadLetterMaxArgs {
		row.Args, row.ArgsDropped = nil, true
	}
	return row
}

// recordDeadLetter appends dl to the log through the DeadLettersType actor
// of the sender's type, under an idempotency key of the effect, so a record
// repeated within the actor's idempotency window appends nothing.
func recordDeadLetter(ctx context.Context, client *actors.Client, dl DeadLetter) error {
	key := "_"
	if typ, _, err := actors.ParseID(dl.From); err == nil {
		key = typ
	}
	h, _, err := client.GetOrCreate(ctx, DeadLettersType, []string{key}, nil)
	if err != nil {
		return err
	}
	_, err = h.Action(actors.WithIdempotencyKey(ctx, "rf-deadletter:"+dl.EffectID), "record", dl)
	if errors.Is(err, actors.ErrIdempotencyKeyReused) {
		return nil // recorded already, by an earlier delivery of the same event
	}
	return err
}
