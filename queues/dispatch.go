package queues

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A queue's dispatcher stands between enqueue and claim. Producers enqueue
// into the queue's inbox stream; the dispatcher (one per queue across the
// cluster, see leader.go) reads the inbox, holds what is not due, and makes
// messages ready (publishes them to the ready stream, then acks them in the
// inbox) in the order the picker chooses, within the ready window, the
// queue's concurrency and its rate. Workers claim from the ready stream.
// A crash between the publish and the ack makes the message ready twice at
// most within the ready stream's dedup window; the publish carries
// "adm-<id>", so it is stored once.

// DefaultReadyWindow bounds the messages ready and not yet claimed: the
// dispatcher's priorities and key order decide among everything else.
const DefaultReadyWindow = 1000

// MaxReadyWindow bounds Options.ReadyWindow.
const MaxReadyWindow = 100_000

// heldBudget bounds the bodies a dispatcher keeps in memory; beyond it a
// body is read again from the inbox when its message is made ready.
const heldBudget = 64 << 20

// pollEvery is how often a dispatcher with messages it could not make ready
// (window, concurrency or rate full, or keys busy) looks again without a
// wake-up (claims and settles through a Manager wake it at once).
const pollEvery = 50 * time.Millisecond

// held is what a dispatcher keeps of a message it has not made ready.
type held struct {
	reply string // the inbox delivery's ack subject
	body  []byte // nil when over heldBudget
	at    time.Time
	key   string
	prio  int
}

// dispatchStats are what a dispatcher reports (stored with its lease).
type dispatchStats struct {
	Delayed        int64   `json:"delayed"`
	EnqueuedPerSec float64 `json:"enqueuedPerSec"`
	AckedPerSec    float64 `json:"ackedPerSec"`
}

// dispatcher makes one queue's messages ready.
type dispatcher struct {
	m     *Manager
	name  string
	lg    *slog.Logger
	p     *picker
	held  map[uint64]*held
	bytes int
	wake  chan struct{}
	in    chan jetstream.Msg

	// For the rates: messages read from the inbox, made ready, and the
	// ready and in-flight count at the last look.
	enqueued, admitted int64
	outstanding        int64
	tokens             float64
	refilled           time.Time

	// The counts of ready and in-flight messages: read from the consumer
	// at infoAt, then kept from what was made ready and from changes.
	readyN, inFlightN int64
	infoAt            time.Time
	changes           change // since the last cycle (guarded by mu)

	// ready holds the IDs of messages in the ready stream when the
	// dispatcher started (or last looked): the inbox gives them back too.
	ready   map[uint64]bool
	scanned time.Time

	mu      sync.Mutex
	samples []rateSample
	stats   dispatchStats
}

type rateSample struct {
	at                time.Time
	enqueued, settled int64
}

func newDispatcher(m *Manager, name string) *dispatcher {
	return &dispatcher{m: m, name: name, lg: m.lg.With("queue", name), p: newPicker(), held: map[uint64]*held{},
		wake: make(chan struct{}, 1), in: make(chan jetstream.Msg, 4096)}
}

func ctlSubject(q string) string { return "rf.qctl." + q }

// ctlRestart on a queue's control subject makes its dispatcher start over
// (read the inbox again): the inbox was purged.
const ctlRestart = "restart"

var errRestart = errors.New("queues: dispatcher restarts")

// change is what a Manager tells a queue's dispatcher it did, so the
// dispatcher can keep its counts of ready and in-flight messages between
// its reads of the consumer's (which it makes at least every infoEvery).
type change struct {
	claimed  int // ready -> in flight
	dead     int // ready -> dead letters (met past maxDeliveries by a claim)
	settled  int // in flight -> gone
	released int // in flight -> ready (nack, lease released)
}

// notify tells the queue's dispatcher, wherever it runs, what changed and
// to look again. Best effort: it also looks every pollEvery.
func (m *Manager) notify(name string, c change) {
	_ = m.js.Conn().Publish(ctlSubject(name), fmt.Appendf(nil, "%d,%d,%d,%d", c.claimed, c.dead, c.settled, c.released))
}

func parseChange(b []byte) (change, bool) {
	var c change
	_, err := fmt.Sscanf(string(b), "%d,%d,%d,%d", &c.claimed, &c.dead, &c.settled, &c.released)
	return c, err == nil
}

// infoEvery bounds how long a dispatcher goes on its own counts of ready
// and in-flight messages before it reads the consumer's again (changes not
// made through a Manager, such as a lease expiring, show up then).
const infoEvery = 50 * time.Millisecond

// run dispatches until ctx ends (the lease was lost or the Manager stops)
// or the queue is deleted (errQueueGone).
func (d *dispatcher) run(ctx context.Context) error {
	q, err := d.m.load(ctx, d.name, true)
	if err != nil {
		return err
	}
	// Taking over: a fresh consumer gives back every message still in the
	// inbox at once, whatever a previous dispatcher held.
	cons, err := d.recreateConsumer(ctx, q)
	if err != nil {
		return err
	}
	if err := d.scanReady(ctx, q); err != nil {
		return err
	}
	restart := make(chan struct{}, 1)
	sub, err := d.m.js.Conn().Subscribe(ctlSubject(d.name), func(msg *nats.Msg) {
		if string(msg.Data) == ctlRestart {
			select {
			case restart <- struct{}{}:
			default:
			}
		} else if c, ok := parseChange(msg.Data); ok {
			d.mu.Lock()
			d.changes.claimed += c.claimed
			d.changes.dead += c.dead
			d.changes.settled += c.settled
			d.changes.released += c.released
			d.mu.Unlock()
		}
		d.poke()
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	consumeErr := make(chan error, 1)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		select {
		case d.in <- msg:
		case <-ctx.Done():
		}
	}, jetstream.PullMaxMessages(1000), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
			select {
			case consumeErr <- err:
			default:
			}
		}
	}))
	if err != nil {
		return d.m.notFound(d.name, err)
	}
	defer cc.Stop()
	d.lg.Info("dispatching", "node", d.m.nodeID)

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-consumeErr:
			return fmt.Errorf("%w: %s (%w)", ErrNotFound, d.name, err) // deleted, or being replaced: leaseLoop looks again
		case <-restart:
			return errRestart
		case msg := <-d.in:
			d.take(msg)
			for more := true; more; { // take what else arrived
				select {
				case msg := <-d.in:
					d.take(msg)
				default:
					more = false
				}
			}
		case <-d.wake:
		case <-timer.C:
		}
		if fresh, err := d.m.load(ctx, d.name, false); err == nil {
			q = fresh
		} else if errors.Is(err, ErrNotFound) {
			return err
		} else if ctx.Err() == nil {
			d.lg.Warn("dispatch: read the queue", "err", err)
		}
		next, err := d.cycle(ctx, q)
		if err != nil && ctx.Err() == nil {
			d.lg.Warn("dispatch: a round failed; trying again", "err", err)
			next = minTime(next, time.Now().Add(time.Second))
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(max(time.Until(next), 0))
	}
}

func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// take holds a message read from the inbox.
func (d *dispatcher) take(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		return
	}
	seq := md.Sequence.Stream
	if h := d.held[seq]; h != nil {
		h.reply = msg.Reply()
		return
	}
	if md.NumDelivered > 1 && time.Since(d.scanned) > 5*time.Second {
		// Delivered again after a week unsettled: maybe it is ready or in
		// flight. Look (at most every 5 s).
		if q, err := d.m.load(context.Background(), d.name, false); err == nil {
			if err := d.scanReady(context.Background(), q); err != nil {
				d.lg.Warn("dispatch: scan the ready messages", "err", err)
			}
		}
	}
	if d.ready[seq] {
		delete(d.ready, seq) // made ready before: it waits for its settle
		return
	}
	hdr := msg.Headers()
	w := &waiting{seq: seq, key: hdr.Get(hdrKey), priority: DefaultPriority}
	if p, err := strconv.Atoi(hdr.Get(hdrPriority)); err == nil && p >= HighestPriority && p <= LowestPriority {
		w.priority = p
	}
	if ms, err := strconv.ParseInt(hdr.Get(hdrDeliverAt), 10, 64); err == nil {
		w.due = time.UnixMilli(ms)
	}
	h := &held{reply: msg.Reply(), at: md.Timestamp, key: w.key, prio: w.priority}
	if d.bytes+len(msg.Data()) <= heldBudget {
		h.body = msg.Data()
		d.bytes += len(h.body)
	}
	d.held[seq] = h
	d.p.add(w, time.Now())
	d.enqueued++
}

// cycle makes ready what may go now and returns when to look again.
func (d *dispatcher) cycle(ctx context.Context, q *queue) (time.Time, error) {
	now := time.Now()
	next := now.Add(time.Second) // at least every second: the rates' samples
	if due := d.p.release(now); !due.IsZero() {
		next = minTime(next, due)
	}
	d.mu.Lock()
	c := d.changes
	d.changes = change{}
	d.mu.Unlock()
	d.readyN = max(d.readyN-int64(c.claimed+c.dead-c.released), 0)
	d.inFlightN = max(d.inFlightN+int64(c.claimed-c.settled-c.released), 0)
	waiting, _ := d.p.counts()
	stale := now.Sub(d.infoAt)
	if waiting > 0 && (stale >= infoEvery || (stale >= time.Millisecond && !d.hasRoom(q))) {
		ci, err := q.cons.Info(ctx)
		if err != nil {
			return now.Add(time.Second), d.m.notFound(q.name, err)
		}
		d.readyN, d.inFlightN, d.infoAt = int64(ci.NumPending), int64(ci.NumAckPending), now
	}
	ready, inFlight := d.readyN, d.inFlightN
	d.outstanding = ready + inFlight
	d.sample(now)
	if waiting == 0 {
		return next, nil
	}
	room := int64(d.m.window) - ready
	if c := int64(q.cfg.Concurrency); c > 0 {
		room = min(room, c-ready-inFlight)
	}
	if r := q.cfg.RatePerSecond; r > 0 {
		if d.refilled.IsZero() {
			d.tokens, d.refilled = math.Max(1, r/10), now
		}
		d.tokens = math.Min(math.Max(1, r), d.tokens+now.Sub(d.refilled).Seconds()*r)
		d.refilled = now
		room = min(room, int64(d.tokens))
		if room <= 0 && waiting > 0 {
			wait := time.Duration((1 - d.tokens) / r * float64(time.Second))
			return minTime(next, now.Add(max(wait, time.Millisecond))), nil
		}
	}
	if room <= 0 {
		return minTime(next, now.Add(pollEvery)), nil
	}
	busy := func(string) bool { return false }
	if d.p.hasKeyed() {
		ri, err := q.ready.Info(ctx, jetstream.WithSubjectFilter(readyFilter(q.name)))
		if err != nil {
			return now.Add(time.Second), d.m.notFound(q.name, err)
		}
		keys := make(map[string]bool, len(ri.State.Subjects))
		for subj, n := range ri.State.Subjects {
			if k, ok := keyOfReadySubject(q.name, subj); ok && n > 0 {
				keys[k] = true
			}
		}
		busy = func(k string) bool { return keys[k] }
	}
	picked := d.p.pick(int(min(room, int64(MaxBatch))), busy)
	if len(picked) == 0 {
		return minTime(next, now.Add(pollEvery)), nil // every key waiting is busy
	}
	if q.cfg.RatePerSecond > 0 {
		d.tokens -= float64(len(picked))
	}
	n, err := d.admit(ctx, q, picked)
	d.readyN += int64(n)
	if err != nil {
		return now, err
	}
	if waiting > len(picked) {
		return now, nil // more may go: look again at once
	}
	return next, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// admit publishes the picked messages to the ready stream. They stay in
// the inbox until settled (see dispatcherConfig). One that fails stays held
// and goes in a later round.
func (d *dispatcher) admit(ctx context.Context, q *queue, picked []*waiting) (int, error) {
	type pending struct {
		w   *waiting
		h   *held
		ack jetstream.PubAckFuture
	}
	ps := make([]pending, 0, len(picked))
	var firstErr error
	requeue := d.p.putBack
	for _, w := range picked {
		h := d.held[w.seq]
		body := h.body
		if body == nil {
			raw, err := q.stream.GetMsg(ctx, w.seq)
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgNotFound) { // purged meanwhile
					d.drop(w.seq)
					continue
				}
				firstErr = cmpErr(firstErr, err)
				requeue(w)
				continue
			}
			body = raw.Data
		}
		msg := nats.NewMsg(readySubject(q.name, w.key))
		msg.Data = body
		msg.Header.Set(hdrID, strconv.FormatUint(w.seq, 10))
		msg.Header.Set(hdrEnqAt, h.at.UTC().Format(time.RFC3339Nano))
		msg.Header.Set(hdrInboxAck, h.reply)
		if w.key != "" {
			msg.Header.Set(hdrKey, w.key)
		}
		if w.priority != DefaultPriority {
			msg.Header.Set(hdrPriority, strconv.Itoa(w.priority))
		}
		f, err := d.m.js.PublishMsgAsync(msg, jetstream.WithMsgID("adm-"+strconv.FormatUint(w.seq, 10)), jetstream.WithExpectStream(readyStream(q.name)))
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			requeue(w)
			continue
		}
		ps = append(ps, pending{w: w, h: h, ack: f})
	}
	n := 0
	for _, p := range ps {
		select {
		case <-p.ack.Ok():
			d.drop(p.w.seq)
			d.admitted++
			n++
		case err := <-p.ack.Err():
			firstErr = cmpErr(firstErr, err)
			requeue(p.w)
		case <-ctx.Done():
			requeue(p.w)
		}
	}
	if firstErr != nil {
		return n, fmt.Errorf("make ready: %w", firstErr)
	}
	return n, nil
}

// hasRoom says whether the counts kept leave room in the window and the
// queue's concurrency.
func (d *dispatcher) hasRoom(q *queue) bool {
	if d.readyN >= int64(d.m.window) {
		return false
	}
	c := int64(q.cfg.Concurrency)
	return c == 0 || d.readyN+d.inFlightN < c
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// drop forgets a held message.
func (d *dispatcher) drop(seq uint64) {
	if h := d.held[seq]; h != nil {
		d.bytes -= len(h.body)
		delete(d.held, seq)
	}
}

// sample records the counters for the rates (about a minute of samples).
func (d *dispatcher) sample(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	settled := d.admitted - d.outstanding
	if n := len(d.samples); n == 0 || now.Sub(d.samples[n-1].at) >= time.Second {
		d.samples = append(d.samples, rateSample{at: now, enqueued: d.enqueued, settled: settled})
		if len(d.samples) > 61 {
			d.samples = d.samples[len(d.samples)-61:]
		}
	}
	_, delayed := d.p.counts()
	d.stats.Delayed = int64(delayed)
	if first, last := d.samples[0], d.samples[len(d.samples)-1]; last.at.Sub(first.at) > 0 {
		secs := last.at.Sub(first.at).Seconds()
		d.stats.EnqueuedPerSec = round2(float64(last.enqueued-first.enqueued) / secs)
		d.stats.AckedPerSec = round2(math.Max(0, float64(last.settled-first.settled)/secs))
	}
}

// report is the dispatcher's stats, safe from any goroutine.
func (d *dispatcher) report() dispatchStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// scanReady collects the IDs of the messages in the ready stream (ready or
// in flight): at most the ready window plus maxInFlight, read directly.
func (d *dispatcher) scanReady(ctx context.Context, q *queue) error {
	d.ready, d.scanned = map[uint64]bool{}, time.Now()
	si, err := q.ready.Info(ctx)
	if err != nil {
		return d.m.notFound(q.name, err)
	}
	for seq := si.State.FirstSeq; si.State.Msgs > 0 && seq <= si.State.LastSeq; {
		raw, err := q.ready.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(readyFilter(q.name)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return d.m.notFound(q.name, err)
		}
		if id, err := strconv.ParseUint(raw.Header.Get(hdrID), 10, 64); err == nil {
			d.ready[id] = true
		}
		seq = raw.Sequence + 1
	}
	return nil
}

// recreateConsumer replaces the inbox consumer (and sizes the ready stream
// for this node's window), under the Manager's admin lock (Manager.admin).
func (d *dispatcher) recreateConsumer(ctx context.Context, q *queue) (jetstream.Consumer, error) {
	d.m.admin.Lock()
	defer d.m.admin.Unlock()
	// The ready stream's bound follows this node's ready window, which may
	// differ from the one it was made with.
	if want := readyConfig(q.name, q.cfg, d.m.window); q.ready.CachedInfo().Config.MaxMsgs != want.MaxMsgs {
		if _, err := d.m.js.UpdateStream(ctx, want); err != nil {
			return nil, d.m.notFound(d.name, err)
		}
	}
	if err := q.stream.DeleteConsumer(ctx, dispatcherName); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, d.m.notFound(d.name, err)
	}
	cons, err := q.stream.CreateConsumer(ctx, dispatcherConfig(d.name))
	if err != nil {
		return nil, d.m.notFound(d.name, err)
	}
	return cons, nil
}
