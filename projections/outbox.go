package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/promreg"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// The outbox performs the effects events record (one-way sends,
// actors.Context.Send, and enqueues, actors.Context.Enqueue, which the queue
// deduplicates by effect ID) at least once, from the log, so they happen
// even when the process dies between the append and the runtime's own delivery
// (DESIGN.md, "Effects and the outbox"). The log is the outbox: a durable
// JetStream consumer shared by every node on the cluster (eventlog.Consumer)
// says what is left to perform, and each event goes to one node, which
// acknowledges it once every send it records is delivered or recorded as a
// dead letter. A node that dies holding events has them delivered again to
// another node after AckWait.
//
// Delivery is at least once: the runtime's fast path delivers most sends
// before the outbox sees them (Runtime.DeliverSend then returns at once on
// the sender's node), and an event given back or whose acknowledgement is
// lost is performed again. Receivers remember effect IDs
// (actorstate.MaxRememberedEffects), so a send takes effect once.

// Outbox defaults: the durable consumer's name and the dead-letter
// projection's name.
const (
	OutboxConsumer = "rf-outbox"
	OutboxName     = "outbox"
)

// OutboxDeadPrefix is the prefix of the outbox projection's dead-letter rows:
// then the sequence, zero-padded to 20 digits so rows list in log order, "/"
// and the effect's index (DeadLetterKey).
const OutboxDeadPrefix = "dead/"

// OutboxOptions configures NewOutbox. A nil *OutboxOptions means all
// defaults; every node sharing the consumer should use the same values.
// DefaultOutboxAckWait is OutboxOptions.AckWait's default: short, since the
// outbox renews the lease on an event every third of it while it works.
const DefaultOutboxAckWait = 10 * time.Second

// OutboxOptions configures NewOutbox. The zero value means all defaults.
type OutboxOptions struct {
	// Name is the dead-letter projection's name (Outbox.Projection).
	// Defaults to OutboxName.
	Name string
	// Consumer is the durable consumer's name, shared by the nodes of a
	// cluster. Defaults to OutboxConsumer.
	Consumer string
	// AckWait is how long an event stays with the node it was delivered to
	// without news (the outbox renews it while it works on the event); the
	// events of a node that died wait this long. Defaults to
	// DefaultOutboxAckWait.
	AckWait time.Duration
	// MaxAckPending bounds the events handed to nodes and not yet
	// acknowledged, over the cluster. Defaults to 1000.
	MaxAckPending int
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
	// no calls (not started, or stopping: actors.Unavailable) before it gives
	// the event back (not acknowledged: it is delivered again, maybe to
	// another node). Those waits are not attempts. Defaults to 1m.
	UnavailableWait time.Duration
	// MaxAge: sends recorded longer ago than this are not delivered, only
	// counted (skipped_old). Receivers remember a bounded number of effect
	// IDs, so old history must not be delivered again: it was delivered when
	// it was new. The consumer, when first created, also starts this far
	// back. Defaults to 24h; negative: no limit.
	MaxAge time.Duration
	// FetchWait bounds one pull request for events (see
	// eventlog.ConsumerConfig.FetchWait); a stop waits for the one in flight
	// to expire. Defaults to 1s.
	FetchWait time.Duration
	// PendingInterval is how often the pending gauge is read from the
	// server. Defaults to 10s.
	PendingInterval time.Duration
	// Logger receives dead letters and retries. Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the outbox's metrics (rivetflow_outbox_*).
	// Defaults to nil: no metrics.
	Registerer prometheus.Registerer
}

func (o *OutboxOptions) withDefaults() OutboxOptions {
	var c OutboxOptions
	if o != nil {
		c = *o
	}
	if c.Name == "" {
		c.Name = OutboxName
	}
	if c.Consumer == "" {
		c.Consumer = OutboxConsumer
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultOutboxAckWait
	}
	if c.MaxAckPending <= 0 {
		c.MaxAckPending = 1000
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.Backoff <= 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	if c.UnavailableWait <= 0 {
		c.UnavailableWait = time.Minute
	}
	if c.MaxAge == 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.FetchWait <= 0 {
		c.FetchWait = time.Second
	}
	if c.PendingInterval <= 0 {
		c.PendingInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// DeadLetter is a send the outbox gave up on: the record it appends
// (DeadLettersType) and the row under OutboxDeadPrefix.
type DeadLetter struct {
	EffectID string          `json:"effectId"`
	From     string          `json:"from"`
	Target   string          `json:"target"`
	Action   string          `json:"action"`
	Args     json.RawMessage `json:"args,omitempty"`
	// ArgsDropped: the arguments were too large to record.
	ArgsDropped bool      `json:"argsDropped,omitempty"`
	Error       string    `json:"error"`
	Code        string    `json:"code,omitempty"`
	Attempts    int       `json:"attempts"`
	At          time.Time `json:"at"`
}

// OutboxCounts are what one node's outbox handled since it was built; each
// send of an acknowledged event counts once, under one result.
type OutboxCounts struct {
	// Events is the events with sends this node acknowledged.
	Events uint64 `json:"events"`
	// Delivered is the sends delivered (by this call, or found delivered by
	// this node's fast path: Runtime.DeliverSend does not say which).
	Delivered uint64 `json:"delivered"`
	// AlreadyDelivered is the sends this outbox had delivered on an earlier
	// try of the same event (one given back, or whose acknowledgement failed).
	AlreadyDelivered uint64 `json:"alreadyDelivered"`
	// DeadLetters is the sends recorded as dead letters.
	DeadLetters uint64 `json:"deadLetters"`
	// SkippedOld is the sends older than MaxAge, not delivered.
	SkippedOld uint64 `json:"skippedOld"`
	// Returned is the events given back unacknowledged (runtime unavailable,
	// stop, a dead letter not recorded), to be delivered again.
	Returned uint64 `json:"returned"`
}

// OutboxStatus is an outbox's state, for the API and the CLI.
type OutboxStatus struct {
	// Consumer is the durable consumer's name.
	Consumer string `json:"consumer"`
	// Running: the outbox is started on this node.
	Running bool `json:"running"`
	// Pending is the events the cluster has not acknowledged yet (not
	// delivered to a node, or delivered and in work), as of the last read.
	Pending uint64 `json:"pending"`
	OutboxCounts
	// LastError is the last error the outbox met, if any, and when.
	LastError   string    `json:"lastError,omitempty"`
	LastErrorAt time.Time `json:"lastErrorAt,omitzero"`
}

// Outbox is the service that performs the sends events record. It is a
// startstop.Service: Start it after the runtime and the projection runner,
// stop it before them.
type Outbox struct {
	startstop.BaseStartStop

	log     *eventlog.Log
	deliver func(ctx context.Context, d actors.Delivery) error
	enqueue func(ctx context.Context, d actors.EnqueueDelivery) error
	client  *actors.Client
	opts    OutboxOptions
	lg      *slog.Logger
	m       *outboxMetrics
	proj    *Definition[DeadLetter]

	mu      sync.Mutex
	cons    *eventlog.Consumer
	running bool
	pending uint64
	counts  OutboxCounts
	lastErr error
	errAt   time.Time
	changed chan struct{} // closed and replaced at every change of counts
	// redone: effect IDs this outbox delivered in events it then gave back
	// or failed to acknowledge (bounded), so a redelivery counts them as
	// already delivered without delivering them again.
	redone map[string]struct{}
}

var _ startstop.Service = (*Outbox)(nil)

// maxRedone bounds Outbox.redone.
const maxRedone = 1 << 14

// NewOutbox returns the outbox over log: for each send an event records, it
// calls rt.DeliverSend until it succeeds, with backoff, at most MaxAttempts
// times; a send that still fails, or can never succeed, becomes a dead
// letter, recorded through rt on the DeadLettersType actor (register it in
// rt's registry: RegisterDeadLetters) before the event is acknowledged.
// Register Outbox.Projection on the node's Runner to read them.
func NewOutbox(log *eventlog.Log, rt *actors.Runtime, opts *OutboxOptions) (*Outbox, error) {
	o := opts.withDefaults()
	if err := o.consumerConfigCheck(); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	m, err := newOutboxMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return &Outbox{
		log: log, deliver: rt.DeliverSend, enqueue: rt.DeliverEnqueue, client: rt.Client().WithCaller(OutboxCaller), opts: o,
		lg: o.Logger.With("component", "outbox", "consumer", o.Consumer), m: m,
		proj: deadLetterProjection(o.Name), changed: make(chan struct{}), redone: map[string]struct{}{},
	}, nil
}

func (o OutboxOptions) consumerConfigCheck() error {
	return eventlog.ConsumerConfig{Name: o.Consumer, AckWait: o.AckWait, MaxAckPending: o.MaxAckPending,
		MaxAge: o.MaxAge, FetchWait: o.FetchWait}.Validate()
}

// Projection returns the projection of the dead letters: register it on the
// node's Runner.
func (o *Outbox) Projection() *Definition[DeadLetter] { return o.proj }

// Start starts the outbox and returns at once: in the background it binds
// to (or creates) the shared consumer, retrying until it can, and consumes.
func (o *Outbox) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := o.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	go func() {
		defer stopped()
		started()
		cons := o.bind(ctx)
		if cons == nil {
			return // stopped before it could bind
		}
		o.mu.Lock()
		o.cons, o.running = cons, true
		o.mu.Unlock()
		var wg sync.WaitGroup
		wg.Go(func() { o.watchPending(ctx, cons) })
		_ = cons.Consume(ctx, o.handle)
		wg.Wait()
		o.mu.Lock()
		o.running = false
		o.mu.Unlock()
	}()
	return nil
}

func (o *Outbox) consumerConfig() eventlog.ConsumerConfig {
	return eventlog.ConsumerConfig{
		Name: o.opts.Consumer, Description: "rivet-flow outbox: performs the effects events record",
		AckWait: o.opts.AckWait, MaxAckPending: o.opts.MaxAckPending, MaxAge: o.opts.MaxAge, FetchWait: o.opts.FetchWait,
		OnError: func(err error) { o.setErr(fmt.Errorf("read the log: %w", err)) },
	}
}

// bind returns the shared consumer, trying again with backoff until ctx
// ends (then nil).
func (o *Outbox) bind(ctx context.Context) *eventlog.Consumer {
	backoff := o.opts.Backoff
	for {
		cons, err := o.log.Consumer(ctx, o.consumerConfig())
		if err == nil {
			return cons
		}
		if ctx.Err() != nil {
			return nil
		}
		o.setErr(err)
		o.lg.Warn("bind the outbox's consumer; retrying", "in", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil
		}
		backoff = min(2*backoff, o.opts.MaxBackoff)
	}
}

// watchPending keeps the pending gauge fresh until ctx ends.
func (o *Outbox) watchPending(ctx context.Context, cons *eventlog.Consumer) {
	t := time.NewTicker(o.opts.PendingInterval)
	defer t.Stop()
	for {
		if n, err := cons.Pending(ctx); err == nil {
			o.setPending(n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *Outbox) setPending(n uint64) {
	o.mu.Lock()
	o.pending = n
	o.mu.Unlock()
	o.m.setPending(n)
}

// Status returns the outbox's status; while it runs, Pending is read from
// the server now.
func (o *Outbox) Status(ctx context.Context) (OutboxStatus, error) {
	o.mu.Lock()
	cons, running := o.cons, o.running
	o.mu.Unlock()
	var err error
	if running {
		var n uint64
		if n, err = cons.Pending(ctx); err == nil {
			o.setPending(n)
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	st := OutboxStatus{Consumer: o.opts.Consumer, Running: o.running, Pending: o.pending, OutboxCounts: o.counts}
	if o.lastErr != nil {
		st.LastError, st.LastErrorAt = o.lastErr.Error(), o.errAt
	}
	return st, err
}

// Progress returns the counts now and a channel closed when they next
// change (an event acknowledged or given back).
func (o *Outbox) Progress() (OutboxCounts, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts, o.changed
}

func (o *Outbox) setErr(err error) {
	o.mu.Lock()
	o.lastErr, o.errAt = err, time.Now().UTC()
	o.mu.Unlock()
}

// tally is what handling one event came to, counted once it is acknowledged.
type tally struct {
	delivered, already, dead, skipped uint64
	done                              []string // effect IDs delivered by this try
}

func (o *Outbox) commit(t tally) {
	o.mu.Lock()
	o.counts.Events++
	o.counts.Delivered += t.delivered
	o.counts.AlreadyDelivered += t.already
	o.counts.DeadLetters += t.dead
	o.counts.SkippedOld += t.skipped
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
	o.m.effects(t)
}

// giveBack returns the event unacknowledged, remembering what this try
// delivered.
func (o *Outbox) giveBack(l *eventlog.Lease, t tally, delay time.Duration, why error) {
	level := slog.LevelWarn
	if delay == 0 {
		level = slog.LevelInfo // stopping
	}
	o.lg.Log(context.Background(), level, "event given back; it will be delivered again", "seq", l.Seq(), "in", delay, "err", why)
	if err := l.Nak(delay); err != nil {
		o.lg.Warn("give the event back", "seq", l.Seq(), "err", err) // it comes back after AckWait
	}
	o.mu.Lock()
	o.remember(t.done)
	o.counts.Returned++
	o.lastErr, o.errAt = why, time.Now().UTC()
	close(o.changed)
	o.changed = make(chan struct{})
	o.mu.Unlock()
}

// remember adds ids to redone; o.mu is held.
func (o *Outbox) remember(ids []string) {
	if len(o.redone)+len(ids) > maxRedone {
		clear(o.redone) // only an optimisation: a redelivery is deduplicated anyway
	}
	for _, id := range ids {
		o.redone[id] = struct{}{}
	}
}

// takeRedone reports (and forgets) whether this outbox delivered id before.
func (o *Outbox) takeRedone(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.redone[id]
	delete(o.redone, id)
	return ok
}

// handle performs the sends of one event, then acknowledges it.
func (o *Outbox) handle(ctx context.Context, l *eventlog.Lease) {
	if l.Err != nil {
		// Unreadable for every reader of the log: there is nothing to perform.
		o.lg.Error("event does not decode; the outbox cannot read its effects", "seq", l.Seq(), "err", l.Err)
		o.setErr(l.Err)
		if err := l.Term("rivet-flow outbox: event does not decode"); err != nil {
			o.lg.Warn("terminate an undecodable event", "seq", l.Seq(), "err", err)
		}
		return
	}
	ev := l.Event
	var sends []int
	for i, e := range ev.Effects {
		if e.Type == actors.EffectSend || e.Type == actors.EffectEnqueue { // other effect kinds have their own performers
			sends = append(sends, i)
		}
	}
	if len(sends) == 0 {
		if err := l.Ack(); err != nil {
			o.lg.Warn("acknowledge an event", "seq", ev.Seq, "err", err) // it comes back after AckWait
		}
		return
	}
	defer o.keepLease(l)()
	var t tally
	old := o.opts.MaxAge > 0 && !ev.Time.IsZero() && time.Since(ev.Time) > o.opts.MaxAge
	for _, i := range sends {
		d, perform, err := o.effect(ev, i)
		attempts := 0
		switch {
		case old:
			t.skipped++
			continue
		case err != nil:
		case o.takeRedone(d.EffectID):
			t.already++
			t.done = append(t.done, d.EffectID)
			continue
		default:
			if attempts, err = perform(ctx); err == nil {
				t.delivered++
				t.done = append(t.done, d.EffectID)
				continue
			}
			var stop *outboxStopped
			if errors.As(err, &stop) {
				o.giveBack(l, t, o.nakDelay(ctx), err)
				return
			}
		}
		if err := o.dead(ctx, d, err, attempts); err != nil {
			o.giveBack(l, t, o.nakDelay(ctx), err)
			return
		}
		t.dead++
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := l.AckSync(actx); err != nil {
		// Delivered, not acknowledged: it comes back after AckWait.
		o.lg.Warn("acknowledge an event", "seq", ev.Seq, "err", err)
		o.mu.Lock()
		o.remember(t.done)
		o.lastErr, o.errAt = fmt.Errorf("acknowledge event %d: %w", ev.Seq, err), time.Now().UTC()
		o.mu.Unlock()
		return
	}
	o.commit(t)
}

// nakDelay: on a stop, another node may take the event at once; otherwise
// it comes back after a backoff.
func (o *Outbox) nakDelay(ctx context.Context) time.Duration {
	if ctx.Err() != nil {
		return 0
	}
	return o.opts.MaxBackoff
}

// keepLease renews l's lease while the outbox works on it; the returned
// func stops that and waits for it.
func (o *Outbox) keepLease(l *eventlog.Lease) func() {
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(max(o.opts.AckWait/3, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := l.InProgress(); err != nil {
					o.lg.Warn("renew an event's lease", "seq", l.Seq(), "err", err)
				}
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// outboxStopped: the runtime stayed unavailable, or the outbox is stopping.
type outboxStopped struct{ err error }

func (e *outboxStopped) Error() string {
	return "outbox: sends not delivered (the event will be delivered again): " + e.err.Error()
}
func (e *outboxStopped) Unwrap() error { return e.err }

// effect decodes the send or enqueue at index i of ev: d describes it (an
// enqueue as a Delivery to "queue:<name>", action "enqueue", for logs and
// dead letters) and perform performs it as attempt does.
func (o *Outbox) effect(ev *eventlog.Event, i int) (d actors.Delivery, perform func(context.Context) (int, error), err error) {
	d = actors.Delivery{EffectID: actors.EffectID(ev.Seq, i), From: actors.SenderID(ev.Subject)}
	if ev.Effects[i].Type != actors.EffectEnqueue {
		d.SendEffect, err = actors.DecodeSend(ev.Effects[i].Data)
		return d, func(ctx context.Context) (int, error) { return o.attempt(ctx, d) }, err
	}
	q, err := actors.DecodeEnqueue(ev.Effects[i].Data)
	d.Target, d.Action, d.Args = "queue:"+q.Queue, actors.EffectEnqueue, q.Body
	e := actors.EnqueueDelivery{EffectID: d.EffectID, From: d.From, EnqueueEffect: q}
	return d, func(ctx context.Context) (int, error) {
		return o.retry(ctx, func(ctx context.Context) error {
			actx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
			defer cancel()
			return o.enqueue(actx, e)
		}, actors.EnqueueUndeliverable, func(attempt int, in time.Duration, err error) {
			o.lg.Warn("enqueue failed; retrying", "effect", d.EffectID, "queue", q.Queue, "attempt", attempt, "in", in, "err", err)
		})
	}, err
}

// attempt delivers d, trying again with backoff; it returns the attempts
// made and the last error, or an *outboxStopped.
func (o *Outbox) attempt(ctx context.Context, d actors.Delivery) (int, error) {
	return o.retry(ctx, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
		defer cancel()
		return o.deliver(actx, d)
	}, func(err error) bool { return actors.Undeliverable(err) }, func(attempt int, in time.Duration, err error) {
		o.lg.Warn("send failed; retrying", "effect", d.EffectID, "target", d.Target, "action", d.Action,
			"attempt", attempt, "in", in, "err", err)
	})
}

// retry runs fn until it succeeds, fails for good (final), fails
// MaxAttempts times or the runtime stays unavailable (an *outboxStopped,
// as when ctx ends). It returns the attempts made and the last error.
func (o *Outbox) retry(ctx context.Context, fn func(context.Context) error, final func(error) bool, warn func(int, time.Duration, error)) (int, error) {
	backoff := o.opts.Backoff
	var unavailable time.Duration
	attempts := 0
	for {
		if err := ctx.Err(); err != nil {
			return attempts, &outboxStopped{err: err}
		}
		err := fn(ctx)
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
			if final(err) || attempts >= o.opts.MaxAttempts {
				return attempts, err
			}
			warn(attempts, backoff, err)
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

// dead records d as a dead letter in the log, retrying as a send is; an
// error means it is not recorded (and the event must not be acknowledged).
func (o *Outbox) dead(ctx context.Context, d actors.Delivery, cause error, attempts int) error {
	dl := newDeadLetter(d, cause, attempts)
	o.lg.Warn("send is a dead letter", "effect", d.EffectID, "from", d.From, "target", d.Target, "action", d.Action,
		"attempts", attempts, "err", cause)
	_, err := o.retry(ctx, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, o.opts.AttemptTimeout)
		defer cancel()
		return recordDeadLetter(actx, o.client, dl)
	}, func(error) bool { return false }, func(attempt int, in time.Duration, err error) {
		o.lg.Warn("record a dead letter failed; retrying", "effect", d.EffectID, "attempt", attempt, "in", in, "err", err)
	})
	if err != nil {
		return fmt.Errorf("record the dead letter of %s: %w", d.EffectID, err)
	}
	return nil
}

// DeadLetterKey returns the row key of the dead letter of the effect at
// index in the event at seq.
func DeadLetterKey(seq uint64, index int) string {
	return fmt.Sprintf("%s%020d/%d", OutboxDeadPrefix, seq, index)
}

// DeadLetters reads a page of the dead letters from r (where Projection is
// registered), in log order (limit and cursor as in Runner.Rows).
func (o *Outbox) DeadLetters(r *Runner, limit int, cursor string) (letters []DeadLetter, next string, err error) {
	rows, next, err := o.proj.List(r, OutboxDeadPrefix, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	letters = make([]DeadLetter, len(rows))
	for i, row := range rows {
		letters[i] = row.Value
	}
	return letters, next, nil
}

// DeadLetter reads the dead letter of one effect ID from r, if there is one.
func (o *Outbox) DeadLetter(r *Runner, effectID string) (DeadLetter, bool, error) {
	seq, index, err := actors.ParseEffectID(effectID)
	if err != nil {
		return DeadLetter{}, false, err
	}
	return o.proj.Get(r, DeadLetterKey(seq, index))
}

// outboxMetrics is nil without a Registerer; its methods are nil-safe.
type outboxMetrics struct {
	delivered, already, dead, skipped prometheus.Counter
	pending                           prometheus.Gauge
}

func newOutboxMetrics(reg prometheus.Registerer) (*outboxMetrics, error) {
	if reg == nil {
		return nil, nil
	}
	effects := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rivetflow_outbox_effects_total",
		Help: "Sends this node's outbox handled, by result (delivered, already_delivered, dead_letter, skipped_old), counted when their event is acknowledged.",
	}, []string{"result"})
	pending := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rivetflow_outbox_pending",
		Help: "Events the cluster's outbox consumer has not acknowledged yet (not delivered plus in work), as last read.",
	})
	if err := promreg.Register(reg, effects, pending); err != nil {
		return nil, err
	}
	return &outboxMetrics{
		delivered: effects.WithLabelValues("delivered"), already: effects.WithLabelValues("already_delivered"),
		dead: effects.WithLabelValues("dead_letter"), skipped: effects.WithLabelValues("skipped_old"),
		pending: pending,
	}, nil
}

func (m *outboxMetrics) effects(t tally) {
	if m == nil {
		return
	}
	m.delivered.Add(float64(t.delivered))
	m.already.Add(float64(t.already))
	m.dead.Add(float64(t.dead))
	m.skipped.Add(float64(t.skipped))
}

func (m *outboxMetrics) setPending(n uint64) {
	if m != nil {
		m.pending.Set(float64(n))
	}
}
