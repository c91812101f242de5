package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// The outbox: the projection that performs the effects events record (today
// one-way sends, actors.Context.Send) at least once, from the log, so they
// happen even when the process dies between the append and the runtime's
// own delivery (DESIGN.md, "Effects and the outbox"). The log is the outbox:
// the projection's checkpoint says how far it has performed, and its rows
// are only the sends that could not be delivered.
//
// Delivery is at least once: a crash before the checkpoint commits delivers
// a batch again, and the runtime's fast path delivers most sends before the
// outbox sees them. Receivers remember effect IDs
// (actorstate.MaxRememberedEffects), so a send takes effect once.

// OutboxName is the outbox's default projection name.
const OutboxName = "outbox"

// Outbox row keys: dead letters under OutboxDeadPrefix (then the sequence,
// zero-padded to 20 digits so rows list in log order, "/" and the effect's
// index); the count of sends skipped as too old under OutboxSkippedKey.
const (
	OutboxDeadPrefix = "dead/"
	OutboxSkippedKey = "skipped"
)

// OutboxOptions configures Outbox. The zero value means all defaults.
type OutboxOptions struct {
	// Name is the projection's name. Defaults to OutboxName.
	Name string
	// MaxAttempts is how many times a send that fails is tried before it
	// becomes a dead letter. A send the receiver can never take (unknown
	// actor, type or action, bad arguments: actors.Undeliverable) becomes
	// one at once. Defaults to 5.
	MaxAttempts int
	// Backoff is the first wait before a send is tried again; it doubles up
	// to MaxBackoff. Defaults to 100ms.
	Backoff time.Duration
	// MaxBackoff caps Backoff. Defaults to 5s.
	MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt. Defaults to 30s.
	AttemptTimeout time.Duration
	// UnavailableWait is how long the outbox waits for a runtime that takes
	// no calls (not started, or stopping: actors.Unavailable) before the
	// projection stops on the event as failed, to resume from it on the next
	// Start or Resume. Those waits are not attempts. Defaults to 1m.
	UnavailableWait time.Duration
	// MaxAge: sends recorded longer ago than this are not delivered but
	// counted under OutboxSkippedKey. Receivers remember a bounded number of
	// effect IDs, so folding old history again (a rebuild, lost projection
	// data) must not deliver it again: it was delivered when it was new.
	// Defaults to 24h; negative: no limit.
	MaxAge time.Duration
	// Context, when it ends, ends the outbox's waits and attempts: the
	// projection then stops on the current event (failed; it resumes from
	// it). Pass the node's lifetime. Defaults to context.Background().
	Context context.Context
	// Logger receives dead letters and retries. Defaults to slog.Default().
	Logger *slog.Logger
}

func (o OutboxOptions) withDefaults() OutboxOptions {
	if o.Name == "" {
		o.Name = OutboxName
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 30 * time.Second
	}
	if o.UnavailableWait <= 0 {
		o.UnavailableWait = time.Minute
	}
	if o.MaxAge == 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// DeadLetter is a send the outbox gave up on: a row under OutboxDeadPrefix.
type DeadLetter struct {
	EffectID string          `json:"effectId"`
	From     string          `json:"from"`
	Target   string          `json:"target"`
	Action   string          `json:"action"`
	Args     json.RawMessage `json:"args,omitempty"`
	Error    string          `json:"error"`
	Code     string          `json:"code,omitempty"`
	Attempts int             `json:"attempts"`
	At       time.Time       `json:"at"`
}

// OutboxSkipped is the row under OutboxSkippedKey: sends older than MaxAge
// when the outbox reached them.
type OutboxSkipped struct {
	Count    uint64 `json:"count"`
	FirstSeq uint64 `json:"firstSeq"`
	LastSeq  uint64 `json:"lastSeq"`
}

// OutboxProjection is the outbox; register it on a Runner.
type OutboxProjection struct {
	deliver func(ctx context.Context, d actors.Delivery) error
	opts    OutboxOptions
	lg      *slog.Logger
}

var _ Projection = (*OutboxProjection)(nil)

// Outbox returns the outbox projection: for each send an event records, in
// log order, it calls deliver (actors.Runtime.DeliverSend) until it
// succeeds, with backoff, at most MaxAttempts times; a send that still
// fails, or can never succeed, becomes a dead-letter row (DeadLetter) and
// the outbox moves on. It never fails on a bad send; it stops (failed, to
// resume from the same event) only when the runtime stays unavailable or
// Context ends. Its rows depend on what deliveries returned, so unlike other
// projections a rebuild need not reach the same rows.
func Outbox(deliver func(ctx context.Context, d actors.Delivery) error, opts OutboxOptions) *OutboxProjection {
	opts = opts.withDefaults()
	return &OutboxProjection{deliver: deliver, opts: opts, lg: opts.Logger.With("component", "outbox", "projection", opts.Name)}
}

// Name implements Projection.
func (o *OutboxProjection) Name() string { return o.opts.Name }

// Filter implements Projection: every event (any kind may record effects).
func (o *OutboxProjection) Filter() Filter { return Filter{} }

// Apply implements Projection: it performs ev's sends.
func (o *OutboxProjection) Apply(tx *RawTx, ev *eventlog.Event) error {
	for i, e := range ev.Effects {
		if e.Type != actors.EffectSend {
			continue // other effect kinds have their own performers
		}
		s, err := actors.DecodeSend(e.Data)
		d := actors.Delivery{EffectID: actors.EffectID(ev.Seq, i), From: actors.SenderID(ev.Subject), SendEffect: s}
		if err != nil {
			if err := o.dead(tx, ev.Seq, i, d, err, 0); err != nil {
				return err
			}
			continue
		}
		if o.opts.MaxAge > 0 && !ev.Time.IsZero() && time.Since(ev.Time) > o.opts.MaxAge {
			if err := o.skip(tx, ev.Seq); err != nil {
				return err
			}
			continue
		}
		attempts, err := o.attempt(d)
		if err == nil {
			continue
		}
		var stop *outboxStopped
		if errors.As(err, &stop) {
			return err
		}
		if err := o.dead(tx, ev.Seq, i, d, err, attempts); err != nil {
			return err
		}
	}
	return nil
}

// outboxStopped stops the projection on an event: the runtime stayed
// unavailable, or the outbox's Context ended.
type outboxStopped struct{ err error }

func (e *outboxStopped) Error() string {
	return "outbox: sends not delivered (resumes from this event on the next start): " + e.err.Error()
}
func (e *outboxStopped) Unwrap() error { return e.err }

// attempt delivers d, trying again with backoff; it returns the attempts
// made and the last error, or an *outboxStopped.
func (o *OutboxProjection) attempt(d actors.Delivery) (int, error) {
	ctx := o.opts.Context
	backoff := o.opts.Backoff
	var unavailable time.Duration
	attempts := 0
	for {
		if err := ctx.Err(); err != nil {
			return attempts, &outboxStopped{err: err}
		}
		actx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
		err := o.deliver(actx, d)
		cancel()
		switch {
		case err == nil:
			return attempts + 1, nil
		case ctx.Err() != nil:
			return attempts, &outboxStopped{err: ctx.Err()}
		case actors.Unavailable(err):
			if unavailable >= o.opts.UnavailableWait {
				return attempts, &outboxStopped{err: err}
			}
			unavailable += backoff
		default:
			attempts++
			if actors.Undeliverable(err) || attempts >= o.opts.MaxAttempts {
				return attempts, err
			}
			o.lg.Warn("send failed; retrying", "effect", d.EffectID, "target", d.Target, "action", d.Action,
				"attempt", attempts, "in", backoff, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return attempts, &outboxStopped{err: ctx.Err()}
		}
		backoff = min(2*backoff, o.opts.MaxBackoff)
	}
}

// DeadLetterKey returns the row key of the dead letter of the effect at
// index in the event at seq.
func DeadLetterKey(seq uint64, index int) string {
	return fmt.Sprintf("%s%020d/%d", OutboxDeadPrefix, seq, index)
}

func (o *OutboxProjection) dead(tx *RawTx, seq uint64, index int, d actors.Delivery, err error, attempts int) error {
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
	if len(row.Args) > 0 && !json.Valid(row.Args) {
		row.Args = nil
	}
	o.lg.Warn("send is a dead letter", "effect", d.EffectID, "from", d.From, "target", d.Target, "action", d.Action,
		"attempts", attempts, "err", err)
	v, merr := json.Marshal(row)
	if merr != nil {
		return merr
	}
	return tx.Put(DeadLetterKey(seq, index), v)
}

func (o *OutboxProjection) skip(tx *RawTx, seq uint64) error {
	var s OutboxSkipped
	v, found, err := tx.Get(OutboxSkippedKey)
	if err != nil {
		return err
	}
	if found {
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode row %s: %w", OutboxSkippedKey, err)
		}
	}
	if s.Count == 0 {
		s.FirstSeq = seq
	}
	s.Count++
	s.LastSeq = seq
	v, err = json.Marshal(s)
	if err != nil {
		return err
	}
	return tx.Put(OutboxSkippedKey, v)
}

// DeadLetters reads a page of the outbox's dead letters from r, in log
// order (limit and cursor as in Runner.Rows).
func (o *OutboxProjection) DeadLetters(r *Runner, limit int, cursor string) (letters []DeadLetter, next string, err error) {
	page, err := r.Rows(o.opts.Name, OutboxDeadPrefix, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	letters = make([]DeadLetter, len(page.Rows))
	for i, row := range page.Rows {
		if err := json.Unmarshal(row.Value, &letters[i]); err != nil {
			return nil, "", fmt.Errorf("outbox: decode row %q: %w", row.Key, err)
		}
	}
	return letters, page.NextCursor, nil
}

// DeadLetter reads the dead letter of one effect ID, if there is one.
func (o *OutboxProjection) DeadLetter(r *Runner, effectID string) (DeadLetter, bool, error) {
	seq, index, err := actors.ParseEffectID(effectID)
	if err != nil {
		return DeadLetter{}, false, err
	}
	v, found, err := r.Row(o.opts.Name, DeadLetterKey(seq, index))
	if err != nil || !found {
		return DeadLetter{}, false, err
	}
	var d DeadLetter
	if err := json.Unmarshal(v, &d); err != nil {
		return DeadLetter{}, false, fmt.Errorf("outbox: decode dead letter %s: %w", effectID, err)
	}
	return d, true, nil
}
