// Package snapshot stores per-actor state snapshots in Pebble.
//
// The store is a cache of the event log: every value can be rebuilt from the
// log, so writes skip fsync, a corrupt entry is reported as ErrCorrupt (treat
// it as a miss), and deleting the directory loses nothing.
//
// All methods are safe for concurrent use.
package snapshot

import (
	"encoding/binary"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/internal/pebbledb"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is one actor's state as of a log sequence. Limits: Actor is
// non-empty and at most MaxActorLen bytes, CodeVersion at most
// MaxCodeVersionLen bytes, Seq never 0.
type Snapshot = actorstate.Snapshot

// Options configures a Store. A nil *Options means all defaults.
type Options struct {
	// Logger receives Pebble's logs and the Writer's dropped-write errors.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the store's metrics (rivetflow_snapshot_*).
	// They are unregistered on Close, so a store can be reopened on the same
	// registry. Defaults to nil: no metrics.
	Registerer prometheus.Registerer
	// CacheSize is Pebble's block cache in bytes. Defaults to 64 MiB.
	CacheSize int64
	// MaxBatch is how many pending snapshots make the Writer flush at once;
	// up to 4*MaxBatch distinct actors may be pending before Put blocks.
	// Defaults to 256.
	MaxBatch int
	// FlushInterval bounds how long a Put waits before it is written.
	// Defaults to 50ms.
	FlushInterval time.Duration

	hooks *testHooks // test signals; nil outside tests
}

// testHooks let tests pause and observe the Writer instead of sleeping.
type testHooks struct {
	beforeBatch  func()               // flusher, before taking a batch; no locks held
	beforeCommit func(n int)          // flusher, batch taken (in flight), not yet committed; no locks held
	afterBatch   func(n int, e error) // flusher, after committing a batch; no locks held
	putBlocked   func()               // Put, about to wait for room; writer lock held
}

const (
	defaultCacheSize     = 64 << 20
	defaultMaxBatch      = 256
	defaultFlushInterval = 50 * time.Millisecond
)

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.CacheSize < 0:
		return r, fmt.Errorf("%w: CacheSize %d < 0", ErrInvalid, r.CacheSize)
	case r.MaxBatch < 0:
		return r, fmt.Errorf("%w: MaxBatch %d < 0", ErrInvalid, r.MaxBatch)
	case r.FlushInterval < 0:
		return r, fmt.Errorf("%w: FlushInterval %s < 0", ErrInvalid, r.FlushInterval)
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.CacheSize == 0 {
		r.CacheSize = defaultCacheSize
	}
	if r.MaxBatch == 0 {
		r.MaxBatch = defaultMaxBatch
	}
	if r.FlushInterval == 0 {
		r.FlushInterval = defaultFlushInterval
	}
	if r.hooks == nil {
		r.hooks = &testHooks{}
	}
	return r, nil
}

// Store is a Pebble-backed snapshot cache with a write-behind Writer.
type Store struct {
	db       *pebble.DB
	fsCloser io.Closer // stops the disk health checker, after db closes
	dir      string
	opts     Options
	log      *slog.Logger
	m        *metrics
	w        *writer

	// mu guards closed and active: calls into Pebble after it closes panic,
	// so each call registers itself and Close waits for them to finish.
	mu        sync.Mutex
	idle      sync.Cond
	closed    bool
	active    int
	closeOnce sync.Once

	// head is the highest Seq ever put or written (persisted as MetaHead with
	// every commit): a log whose last sequence is below it is not the log
	// these snapshots were built from.
	head atomic.Uint64
}

// Open opens (creating if needed) the store in dir. Pebble locks dir, so a
// second Open of the same dir fails until the first store is closed.
func Open(dir string, opts *Options) (*Store, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open snapshot store at %s: %w", dir, err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("open snapshot store at %s: %w", dir, err)
	}
	db, fsCloser, err := pebbledb.Open(dir, pebbledb.Options{CacheSize: o.CacheSize, Logger: o.Logger, Component: "snapshot"})
	if err != nil {
		m.unregister()
		return nil, fmt.Errorf("open snapshot store at %s: %w", dir, err)
	}
	s := &Store{db: db, fsCloser: fsCloser, dir: dir, opts: o, log: o.Logger, m: m}
	s.idle.L = &s.mu
	if v, closer, err := db.Get(metaKey(MetaHead)); err == nil {
		if len(v) == 8 {
			s.head.Store(binary.BigEndian.Uint64(v))
		}
		_ = closer.Close()
	}
	s.w = newWriter(s)
	return s, nil
}

// acquire registers a call that uses Pebble; it fails once Close has begun.
func (s *Store) acquire() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.active++
	return nil
}

func (s *Store) release() {
	s.mu.Lock()
	s.active--
	if s.active == 0 {
		s.idle.Broadcast()
	}
	s.mu.Unlock()
}

// Get returns the actor's snapshot, including one still pending in the
// Writer (read-your-writes). found is false when there is none. A value
// that cannot be decoded returns an error matching ErrCorrupt: treat it as
// a miss and rebuild from the log. The result never aliases store memory.
func (s *Store) Get(actor string) (snap Snapshot, found bool, err error) {
	if err := validActor(actor); err != nil {
		return Snapshot{}, false, err
	}
	defer func() { s.m.read(found, err) }()
	if val, deleted, pending := s.w.lookup(actor); pending {
		if deleted {
			return Snapshot{}, false, nil
		}
		snap, err = decodeValue(actor, val)
		return snap, err == nil, err
	}
	if err := s.acquire(); err != nil {
		return Snapshot{}, false, err
	}
	defer s.release()
	v, closer, err := s.db.Get(snapKey(actor))
	if errors.Is(err, pebble.ErrNotFound) {
		return Snapshot{}, false, nil
	}
	if err != nil {
		return Snapshot{}, false, fmt.Errorf("get snapshot %q: %w", actor, err)
	}
	defer closer.Close()
	snap, err = decodeValue(actor, v)
	if err != nil {
		return Snapshot{}, false, err
	}
	return snap, true, nil
}

// Write commits puts and then deletes as one Pebble batch, bypassing the
// Writer (so an actor in both ends up deleted). It is meant for bulk loads
// such as a rebuild: don't mix it with Put/Delete for the same actor, since a
// pending Writer entry may land later and win. If any argument is invalid,
// nothing is written. The batch is not fsynced: the log is the durable copy.
func (s *Store) Write(puts []Snapshot, deletes []string) error {
	size := 0
	for i := range puts {
		if err := validate(&puts[i]); err != nil {
			return err
		}
		s.noteSeq(puts[i].Seq)
		size += len(snapPrefix) + len(puts[i].Actor) + encodedLen(&puts[i])
	}
	for _, a := range deletes {
		if err := validActor(a); err != nil {
			return err
		}
		size += len(snapPrefix) + len(a)
	}
	if len(puts)+len(deletes) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	b := s.db.NewBatchWithSize(size + 16*(len(puts)+len(deletes)))
	defer b.Close()
	var key, val []byte
	for i := range puts {
		key = append(append(key[:0], snapPrefix...), puts[i].Actor...)
		val = appendValue(val[:0], &puts[i])
		if err := b.Set(key, val, nil); err != nil { // Set copies key and value
			return fmt.Errorf("write snapshots: %w", err)
		}
	}
	for _, a := range deletes {
		key = append(append(key[:0], snapPrefix...), a...)
		if err := b.Delete(key, nil); err != nil {
			return fmt.Errorf("write snapshots: %w", err)
		}
	}
	return s.commit(b, len(puts)+len(deletes))
}

// MetaHead names the metadata holding Head.
const MetaHead = "snap.head"

// Head is the highest sequence of any snapshot put or written since the store
// was created or cleared: a log whose last sequence is below it was replaced
// (a restored backup, a deleted stream), and these snapshots must not be
// trusted.
func (s *Store) Head() uint64 { return s.head.Load() }

func (s *Store) noteSeq(seq uint64) {
	for {
		h := s.head.Load()
		if seq <= h || s.head.CompareAndSwap(h, seq) {
			return
		}
	}
}

// commit applies b, with the current Head, without fsync and records metrics.
func (s *Store) commit(b *pebble.Batch, n int) error {
	if err := b.Set(metaKey(MetaHead), binary.BigEndian.AppendUint64(nil, s.head.Load()), nil); err != nil {
		return fmt.Errorf("commit %d snapshot writes: %w", n, err)
	}
	start := time.Now()
	err := b.Commit(pebble.NoSync)
	s.m.batch(n, time.Since(start), err)
	if err != nil {
		return fmt.Errorf("commit %d snapshot writes: %w", n, err)
	}
	return nil
}

// Flush waits until every Put and Delete made before the call is committed,
// then flushes Pebble's memtable to disk, so a clean shutdown keeps the
// snapshots. It returns any Writer commit error since the previous Flush.
func (s *Store) Flush() error {
	werr := s.w.flush()
	if err := s.acquire(); err != nil {
		return errors.Join(werr, err)
	}
	defer s.release()
	if err := s.db.Flush(); err != nil {
		return errors.Join(werr, fmt.Errorf("flush snapshot store at %s: %w", s.dir, err))
	}
	return werr
}

// Close drains the Writer, waits for calls in progress, and closes Pebble
// (which syncs its log). Later calls return nil; a nil Store is fine too.
// Other methods return ErrClosed afterwards, and Put and Delete are dropped.
func (s *Store) Close() error {
	if s == nil {
		return nil
	}
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Store) close() error {
	werr := s.w.stop()
	s.mu.Lock()
	s.closed = true
	for s.active > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
	var cerr error
	if err := s.db.Close(); err != nil {
		cerr = fmt.Errorf("close snapshot store at %s: %w", s.dir, err)
	}
	_ = s.fsCloser.Close() // only stops a ticker; cannot fail
	s.m.unregister()
	return errors.Join(werr, cerr)
}
