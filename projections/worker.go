package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// worker is one run of a projection's fold loop.
type worker struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// startWorker (re)starts the projection's worker under ctx. Hold p.ctl.
func (p *proj) startWorker(ctx context.Context) {
	p.stopWorker()
	wctx, cancel := context.WithCancel(ctx)
	w := &worker{cancel: cancel, done: make(chan struct{})}
	p.w = w
	p.update(func() {
		p.state = StateCatchingUp
		if p.rebuilding {
			p.state = StateRebuilding
		}
	})
	go func() {
		defer close(w.done)
		p.run(wctx)
	}()
}

// stopWorker stops the worker, if any, and waits for it. Hold p.ctl.
func (p *proj) stopWorker() {
	if p.w == nil {
		return
	}
	p.w.cancel()
	<-p.w.done
	p.w = nil
}

// permanentError stops a worker for good (state failed).
type permanentError struct {
	seq uint64 // the event it failed on; 0 if none
	err error
}

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// item is what the reader hands the applier: events in log order, or
// (evs empty) the news that the scan reached upTo, the log's head when it
// began.
type item struct {
	evs  []*eventlog.Event
	upTo uint64
}

// The events read ahead of the fold are bounded: at most itemBuffer items
// of up to scanChunk events each wait in the channel. The scan hands events
// over scanChunk at a time, so the reader and the fold meet once per chunk
// rather than once per event; the tail hands each one over as it comes.
const (
	itemBuffer = 4
	scanChunk  = 128
)

// run folds the log until ctx ends or the projection fails, retrying read
// errors from the checkpoint with backoff.
func (p *proj) run(ctx context.Context) {
	backoff := p.r.opts.RetryBackoff
	for {
		before := p.status().Checkpoint
		err := p.pass(ctx)
		if ctx.Err() != nil {
			p.setStopped()
			return
		}
		if perr := (*permanentError)(nil); errors.As(err, &perr) {
			p.fail(perr.seq, err)
			return
		}
		if p.status().Checkpoint > before {
			backoff = p.r.opts.RetryBackoff
		}
		p.r.lg.Warn("projection: reading the log failed; retrying", "projection", p.name, "err", err, "in", backoff)
		p.update(func() { p.state, p.errMsg = StateRetrying, err.Error() })
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			p.setStopped()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxRetryBackoff)
		p.update(func() { p.state, p.errMsg = StateCatchingUp, "" })
	}
}

func (p *proj) setStopped() {
	p.update(func() {
		if p.state != StateFailed {
			p.state = StateStopped
		}
	})
}

func (p *proj) fail(seq uint64, err error) {
	p.r.lg.Error("projection failed; it stays stopped until resumed or rebuilt", "projection", p.name, "seq", seq, "err", err)
	p.m.failed()
	p.update(func() {
		p.state, p.failedSeq, p.errMsg, p.failedAt = StateFailed, seq, err.Error(), time.Now()
		p.rebuilding = false
	})
	p.r.opts.signals.failed.Signal(seqSignal{Name: p.name, Seq: seq})
}

// pass reads the log from the checkpoint (a scan to the head, then a tail)
// and folds it until ctx ends or an error.
func (p *proj) pass(ctx context.Context) error {
	from := p.status().Checkpoint
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	items := make(chan item, itemBuffer)
	var readErr error
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		defer close(items)
		readErr = p.read(ctx, from, items)
	}()
	err := p.apply(ctx, items)
	cancel()
	for range items { // unblock the reader
	}
	<-readDone
	if err != nil {
		return err
	}
	return readErr
}

// read sends every event after checkpoint: a scan up to the head as of its
// start, then a tail from the next sequence, so none falls in between.
func (p *proj) read(ctx context.Context, checkpoint uint64, items chan<- item) error {
	send := func(evs []*eventlog.Event) error {
		select {
		case items <- item{evs: evs}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var chunk []*eventlog.Event // handed over whole: the applier owns it
	last, err := p.r.log.Scan(ctx, checkpoint+1, func(ev *eventlog.Event) error {
		if chunk == nil {
			chunk = make([]*eventlog.Event, 0, scanChunk)
		}
		if chunk = append(chunk, ev); len(chunk) < scanChunk {
			return nil
		}
		evs := chunk
		chunk = nil
		return send(evs)
	})
	if err == nil && len(chunk) > 0 {
		err = send(chunk)
	}
	if err != nil {
		return err
	}
	if last < checkpoint {
		return &permanentError{err: fmt.Errorf("checkpoint %d is ahead of the log's last sequence %d "+
			"(was the log replaced or restored?): rebuild the projection", checkpoint, last)}
	}
	select {
	case items <- item{upTo: last}:
	case <-ctx.Done():
		return ctx.Err()
	}
	return p.r.log.Tail(ctx, nil, last+1, func(ev *eventlog.Event) error { return send([]*eventlog.Event{ev}) })
}

// apply folds items in batches: it commits after BatchSize events, when the
// scan reaches the head, and whenever nothing more is ready to fold.
func (p *proj) apply(ctx context.Context, items <-chan item) error {
	b := batcher{p: p, tx: p.tx, checkpoint: p.status().Checkpoint}
	p.tx.cache.reset() // a Rebuild may have cleared the keyspace
	defer p.tx.reset()
	for {
		var it item
		var ok bool
		select {
		case it, ok = <-items:
		default:
			if err := b.commit(); err != nil {
				return err
			}
			select {
			case it, ok = <-items:
			case <-ctx.Done():
				return nil
			}
		}
		if !ok {
			return b.commit()
		}
		if len(it.evs) == 0 {
			if err := b.commit(); err != nil {
				return err
			}
			p.caughtUp(it.upTo)
			continue
		}
		for _, ev := range it.evs {
			if err := b.add(ev); err != nil {
				return err
			}
			if b.events >= p.r.opts.BatchSize {
				if err := b.commit(); err != nil {
					return err
				}
			}
		}
	}
}

func (p *proj) caughtUp(upTo uint64) {
	p.update(func() {
		p.state, p.rebuilding = StateLive, false
		p.head = max(p.head, upTo)
	})
	p.r.opts.signals.caughtUp.Signal(seqSignal{Name: p.name, Seq: upTo})
}

// batcher accumulates one batch of events in the projection's RawTx.
type batcher struct {
	p          *proj
	tx         *RawTx
	checkpoint uint64 // committed
	last       uint64 // the last event added
	events     int    // events added since the last commit
	applied    int    // of which folded
}

func (b *batcher) add(ev *eventlog.Event) error {
	if ev.Seq <= max(b.checkpoint, b.last) {
		return nil // already applied: a redelivery never folds twice
	}
	if b.p.match.match(ev) {
		b.tx.beginEvent()
		if err := b.p.safeApply(b.tx, ev); err != nil {
			b.tx.rollback()
			if cerr := b.commit(); cerr != nil {
				return cerr
			}
			return &permanentError{seq: ev.Seq, err: fmt.Errorf("event %d on %s: %w", ev.Seq, ev.Subject, err)}
		}
		b.applied++
	}
	b.last = ev.Seq
	b.events++
	return nil
}

func (p *proj) safeApply(tx *RawTx, ev *eventlog.Event) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return p.def.Apply(tx, ev)
}

// commit writes the batch's rows and its checkpoint in one Pebble batch.
func (b *batcher) commit() error {
	if b.events == 0 {
		return nil
	}
	p := b.p
	start := time.Now()
	pb := p.r.db.NewBatch()
	defer pb.Close()
	delta, err := b.tx.flush(pb)
	p.mu.Lock()
	m := meta{checkpoint: b.last, rows: p.meta.rows + delta}
	p.mu.Unlock()
	if err == nil {
		err = pb.Set(metaKey(p.name), m.encode(), nil)
	}
	if err == nil && p.r.opts.hooks.beforeCommit != nil {
		err = p.r.opts.hooks.beforeCommit(p.name, b.last)
	}
	if err == nil {
		err = pb.Commit(p.r.wopt)
	}
	if err != nil {
		return &permanentError{err: fmt.Errorf("commit a batch up to sequence %d: %w", b.last, err)}
	}
	events, applied := b.events, b.applied
	b.checkpoint, b.events, b.applied = b.last, 0, 0
	var lag uint64
	p.update(func() {
		p.meta = m
		p.applied += uint64(applied)
		p.head = max(p.head, m.checkpoint)
		lag = max(p.head, p.r.head.Load()) - m.checkpoint
	})
	p.m.batch(applied, m.checkpoint, lag, time.Since(start))
	p.r.opts.signals.batchCommitted.Signal(batchSignal{Name: p.name, Last: m.checkpoint, Events: events})
	return nil
}
