package snapshot

import (
	"fmt"
	"sync"
	"time"
)

// entry is one actor's pending write. val is encoded at Put time (so callers
// may reuse their State buffer) and replaced, never mutated, so readers may
// decode it after dropping the lock.
type entry struct {
	actor string
	seq   uint64
	del   bool
	val   []byte
	id    uint64 // queue position; increases in queue order
}

// writer is the Store's write-behind buffer. Puts coalesce per actor into
// pending (FIFO by first arrival); one flusher goroutine moves up to MaxBatch
// entries at a time into inflight and commits them as one Pebble batch. A
// single flusher keeps per-actor order: a newer entry can only commit in a
// later batch than an older one.
type writer struct {
	s     *Store
	limit int // most distinct pending actors before Put blocks

	mu       sync.Mutex
	cond     sync.Cond // broadcast when room frees, doneID moves, or closing
	pending  map[string]*entry
	queue    []*entry
	inflight map[string]*entry
	lastID   uint64 // id of the newest queued entry
	doneID   uint64 // every entry with id <= doneID has been committed or dropped
	err      error  // first commit error since the last flush()
	closing  bool
	exited   bool

	wake chan struct{} // pending became non-empty: start the interval timer
	now  chan struct{} // flush without waiting for the interval
	quit chan struct{} // closed by stop
	done chan struct{} // closed when run returns
}

func newWriter(s *Store) *writer {
	w := &writer{
		s:        s,
		limit:    4 * s.opts.MaxBatch,
		pending:  make(map[string]*entry),
		inflight: make(map[string]*entry),
		wake:     make(chan struct{}, 1),
		now:      make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	w.cond.L = &w.mu
	go w.run()
	return w
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Put queues snap for a write-behind commit and returns at once unless
// 4*MaxBatch distinct actors are already pending, in which case it blocks
// until the flusher makes room. Per actor only the highest Seq is kept (a
// Put older than a pending or in-flight one is dropped; an equal Seq
// replaces it); already-committed snapshots are not consulted, so callers
// put each actor's snapshots in Seq order, as its single writer does.
// Get sees the snapshot immediately. An invalid snapshot, or one Put after
// Close, is logged and dropped: the log still has the state.
func (s *Store) Put(snap Snapshot) {
	if err := validate(&snap); err != nil {
		s.log.Error("snapshot: dropping invalid Put", "err", err)
		return
	}
	s.noteSeq(snap.Seq)
	val := appendValue(make([]byte, 0, encodedLen(&snap)), &snap)
	s.w.enqueue(&entry{actor: snap.Actor, seq: snap.Seq, val: val})
}

// Delete queues removal of the actor's snapshot, ordered with its Puts: a
// Put after the Delete recreates it. Like Put it may block when the Writer
// is full and is dropped after Close.
func (s *Store) Delete(actor string) {
	if err := validActor(actor); err != nil {
		s.log.Error("snapshot: dropping invalid Delete", "err", err)
		return
	}
	s.w.enqueue(&entry{actor: actor, del: true})
}

func (w *writer) enqueue(e *entry) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		if w.closing {
			w.s.log.Warn("snapshot: dropping write after Close", "actor", e.actor)
			return
		}
		cur := w.pending[e.actor]
		if cur == nil {
			cur = w.inflight[e.actor]
		}
		if !e.del && cur != nil && !cur.del && cur.seq > e.seq {
			return // stale: a newer snapshot is already on its way
		}
		if p := w.pending[e.actor]; p != nil {
			p.seq, p.del, p.val = e.seq, e.del, e.val
			return
		}
		if len(w.pending) < w.limit {
			break
		}
		if h := w.s.opts.hooks.putBlocked; h != nil {
			h()
		}
		signal(w.now)
		w.cond.Wait() // state may have changed: re-check from the top
	}
	w.lastID++
	e.id = w.lastID
	w.pending[e.actor] = e
	w.queue = append(w.queue, e)
	if len(w.pending) == 1 {
		signal(w.wake)
	}
	if len(w.pending) >= w.s.opts.MaxBatch {
		signal(w.now)
	}
}

// lookup reports the newest not-yet-committed write for actor, if any.
func (w *writer) lookup(actor string) (val []byte, deleted, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.pending[actor]
	if e == nil {
		e = w.inflight[actor]
	}
	if e == nil {
		return nil, false, false
	}
	return e.val, e.del, true
}

// run is the flusher: after the first pending write it waits up to
// FlushInterval (less if asked), then commits everything pending.
func (w *writer) run() {
	defer close(w.done)
	t := time.NewTimer(w.s.opts.FlushInterval)
	t.Stop()
	for {
		select {
		case <-w.wake:
			t.Reset(w.s.opts.FlushInterval)
			select {
			case <-t.C:
			case <-w.now:
			case <-w.quit:
			}
			t.Stop()
		case <-w.now:
		case <-w.quit:
		}
		// This drain takes everything queued so far, which answers any
		// request already made; a stale one would only cause an early commit.
		select {
		case <-w.now:
		default:
		}
		w.drain()
		select {
		case <-w.quit:
			// closing was set before quit closed, so this catches every
			// write queued after the last take.
			w.drain()
			w.mu.Lock()
			w.exited = true
			w.cond.Broadcast()
			w.mu.Unlock()
			return
		default:
		}
	}
}

// drain commits batches until nothing is pending.
func (w *writer) drain() {
	for {
		if h := w.s.opts.hooks.beforeBatch; h != nil {
			h()
		}
		batch := w.take()
		if len(batch) == 0 {
			return
		}
		if h := w.s.opts.hooks.beforeCommit; h != nil {
			h(len(batch))
		}
		err := w.commit(batch)
		w.mu.Lock()
		for _, e := range batch {
			if w.inflight[e.actor] == e {
				delete(w.inflight, e.actor)
			}
		}
		w.doneID = batch[len(batch)-1].id
		if err != nil {
			// Dropping is safe: Get falls back to the older snapshot, which
			// plus the log's tail is still the actor's state. Retrying could
			// block every actor on a broken cache disk.
			w.s.log.Error("snapshot: dropping batch after commit error", "count", len(batch), "err", err)
			if w.err == nil {
				w.err = err
			}
		}
		w.cond.Broadcast()
		w.mu.Unlock()
		if h := w.s.opts.hooks.afterBatch; h != nil {
			h(len(batch), err)
		}
	}
}

// take moves up to MaxBatch of the oldest pending entries to inflight.
func (w *writer) take() []*entry {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), w.s.opts.MaxBatch)
	if n == 0 {
		return nil
	}
	batch := make([]*entry, n)
	copy(batch, w.queue)
	// Shift rather than reslice so the backing array doesn't grow forever.
	w.queue = w.queue[:copy(w.queue, w.queue[n:])]
	clear(w.queue[len(w.queue) : len(w.queue)+n])
	for _, e := range batch {
		delete(w.pending, e.actor)
		w.inflight[e.actor] = e
	}
	w.cond.Broadcast() // room for blocked Puts
	return batch
}

func (w *writer) commit(batch []*entry) error {
	size := 0
	for _, e := range batch {
		size += len(snapPrefix) + len(e.actor) + len(e.val) + 16
	}
	b := w.s.db.NewBatchWithSize(size)
	defer b.Close()
	var key []byte
	for _, e := range batch {
		key = append(append(key[:0], snapPrefix...), e.actor...)
		var err error
		if e.del {
			err = b.Delete(key, nil)
		} else {
			err = b.Set(key, e.val, nil)
		}
		if err != nil {
			return fmt.Errorf("batch snapshot %q: %w", e.actor, err)
		}
	}
	return w.s.commit(b, len(batch))
}

// flush waits until every write queued before the call is committed or
// dropped, and returns (and clears) the first commit error since last time.
func (w *writer) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	target := w.lastID
	for w.doneID < target && !w.exited {
		signal(w.now)
		w.cond.Wait()
	}
	err := w.err
	w.err = nil
	return err
}

// stop drains the queue, ends the flusher, and returns any unreported
// commit error. Puts blocked for room are released and dropped.
func (w *writer) stop() error {
	w.mu.Lock()
	w.closing = true
	w.cond.Broadcast()
	w.mu.Unlock()
	close(w.quit)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.err
	w.err = nil
	return err
}
