package snapshot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// MetaLogIdentity names the metadata that records the identity of the log
// (eventlog.Log.Identity) the snapshots were built from.
const MetaLogIdentity = "log.identity"

// MetaRebuiltTo names the metadata that records the log sequence up to which
// the store was last rebuilt, and the stream it was rebuilt from.
const MetaRebuiltTo = "rebuild.to"

// RebuildProgress is reported while a rebuild runs.
type RebuildProgress struct {
	Scanned uint64 // events read so far
	Seq     uint64 // sequence of the last event read
	Last    uint64 // the log's last sequence when the rebuild began
	Actors  int    // snapshots written so far
	Elapsed time.Duration
}

// RebuildOptions tunes Rebuild. The zero value works.
type RebuildOptions struct {
	// MaxPending bounds the actors changed since the last write to Pebble:
	// when that many are, they are written in one batch. Defaults to 10,000.
	MaxPending int
	// MaxCached bounds the folded actors kept in memory across those
	// writes, so that an actor's next event folds into its image in memory
	// instead of reading its snapshot back from Pebble and decoding it.
	// After each write, the least recently folded actors are dropped until at
	// most MaxCached remain (between writes up to MaxCached+MaxPending are
	// held). Defaults to 4*MaxPending.
	MaxCached int
	// MaxCachedBytes bounds the same actors by the size of their snapshots as
	// last written (their decoded states take a few times that). Defaults to
	// 128 MiB.
	MaxCachedBytes int64
	// Progress, when set, is called every ProgressEvery events and at the end.
	Progress      func(RebuildProgress)
	ProgressEvery uint64 // Defaults to 100,000.
}

// folding is one actor being folded by Rebuild: its image (the state kept
// decoded while patches fold into it), the last event's sequence and code
// version, and its place in the least-recently-folded list.
type folding struct {
	actor      string
	seq        uint64
	code       string
	im         actorstate.Image
	size       int64 // bytes of the snapshot as last written
	dirty      bool  // changed since last written
	prev, next *folding
}

// foldCache holds Rebuild's folded actors: all the changed ones, and clean
// ones (already written) up to a bound, dropped least recently folded first.
type foldCache struct {
	m     map[string]*folding
	root  folding // sentinel of the list: root.next is the most recent
	dirty []*folding
	bytes int64 // sum of size over m
}

func newFoldCache() *foldCache {
	c := &foldCache{m: map[string]*folding{}}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

func (c *foldCache) unlink(f *folding) {
	f.prev.next, f.next.prev = f.next, f.prev
}

func (c *foldCache) pushFront(f *folding) {
	f.prev, f.next = &c.root, c.root.next
	c.root.next.prev = f
	c.root.next = f
}

// touch marks f as the most recently folded actor.
func (c *foldCache) touch(f *folding) {
	if c.root.next != f {
		c.unlink(f)
		c.pushFront(f)
	}
}

// evict drops the least recently folded clean actors until at most max
// remain and their sizes sum to at most maxBytes.
func (c *foldCache) evict(max int, maxBytes int64) {
	for f := c.root.prev; f != &c.root && (len(c.m) > max || c.bytes > maxBytes); {
		prev := f.prev
		if !f.dirty {
			c.unlink(f)
			delete(c.m, f.actor)
			c.bytes -= f.size
		}
		f = prev
	}
}

// Rebuild replaces every snapshot with one rebuilt from the log in a single
// sequential scan: the recovery for a deleted or stale snapshot folder. It
// first waits for the store's pending writes (Store.Flush), so none lands
// after the store is cleared. Each actor's image stays decoded in memory
// while events fold into it (see RebuildOptions for the bounds), and the
// actors changed since the last write are written in one batch every
// MaxPending of them and at the end.
func Rebuild(ctx context.Context, log *eventlog.Log, store *Store, opts RebuildOptions) (RebuildProgress, error) {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10_000
	}
	if opts.MaxCached <= 0 {
		opts.MaxCached = 4 * opts.MaxPending
	}
	if opts.MaxCachedBytes <= 0 {
		opts.MaxCachedBytes = 128 << 20
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 100_000
	}
	start := time.Now()
	var p RebuildProgress
	// A Put still pending in the Writer would land after Clear (and Get
	// would read it back below as if this rebuild had written it).
	if err := store.Flush(); err != nil {
		return p, fmt.Errorf("rebuild: flush pending snapshots: %w", err)
	}
	if err := store.Clear(); err != nil {
		return p, fmt.Errorf("rebuild: clear snapshots: %w", err)
	}
	cache := newFoldCache()
	written := false // whether this rebuild wrote anything yet
	flush := func() error {
		puts := make([]Snapshot, 0, len(cache.dirty))
		for _, f := range cache.dirty {
			// Encode settles the image it is called on: encode a copy, so
			// f keeps its state decoded for the patches still to come.
			im := f.im
			state := im.Encode()
			puts = append(puts, Snapshot{Actor: f.actor, Seq: f.seq, CodeVersion: f.code, State: state})
			cache.bytes += int64(len(state)) - f.size
			f.size, f.dirty = int64(len(state)), false
		}
		clear(cache.dirty)
		cache.dirty = cache.dirty[:0]
		if err := store.Write(puts, nil); err != nil {
			return fmt.Errorf("rebuild: write snapshots: %w", err)
		}
		written = written || len(puts) > 0
		p.Actors += len(puts)
		cache.evict(opts.MaxCached, opts.MaxCachedBytes)
		return nil
	}
	last, err := log.Scan(ctx, 1, func(ev *eventlog.Event) error {
		f := cache.m[ev.Subject]
		if f == nil {
			// Not seen yet (the store was cleared first, so it has nothing
			// until this rebuild writes), or written and then evicted.
			f = &folding{actor: ev.Subject}
			if written {
				stored, found, err := store.Get(ev.Subject)
				if err != nil {
					return fmt.Errorf("read snapshot of %s: %w", ev.Subject, err)
				}
				if found {
					if f.im, err = actorstate.Decode(stored.State); err != nil {
						return fmt.Errorf("snapshot of %s: %w", ev.Subject, err)
					}
					f.size = int64(len(stored.State))
					cache.bytes += f.size
				}
			}
			cache.m[ev.Subject] = f
			cache.pushFront(f)
		} else {
			cache.touch(f)
		}
		if err := f.im.Apply(ev); err != nil {
			return fmt.Errorf("fold event %d of %s: %w", ev.Seq, ev.Subject, err)
		}
		f.seq, f.code = ev.Seq, ev.CodeVersion
		if !f.dirty {
			f.dirty = true
			cache.dirty = append(cache.dirty, f)
		}
		p.Scanned++
		p.Seq = ev.Seq
		if len(cache.dirty) >= opts.MaxPending {
			if err := flush(); err != nil {
				return err
			}
		}
		if opts.Progress != nil && p.Scanned%opts.ProgressEvery == 0 {
			p.Elapsed = time.Since(start)
			opts.Progress(p)
		}
		return ctx.Err()
	})
	p.Last = last
	if err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	if err := flush(); err != nil {
		return p, err
	}
	if err := store.SetMeta(MetaRebuiltTo, strconv.AppendUint(nil, last, 10)); err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	identity, err := log.Identity(ctx)
	if err == nil {
		err = store.SetMeta(MetaLogIdentity, []byte(identity))
	}
	if err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	if err := store.Flush(); err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	p.Elapsed = time.Since(start)
	if opts.Progress != nil {
		opts.Progress(p)
	}
	return p, nil
}
