package projections

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// RawTx is a projection's keyspace while it folds a batch of events. Reads
// see the committed rows plus the batch's own writes; writes land together
// with the projection's checkpoint when the batch commits, or not at all.
// The writes of an event whose fold fails are rolled back alone, so the
// events before it in the batch still commit.
//
// A RawTx belongs to one projection's worker: it is not safe for concurrent
// use, and a fold must not keep it (or a value it returned) after it returns.
type RawTx struct {
	db      *pebble.DB
	rowPfx  []byte
	entries map[string]*entry // by Pebble key: the rows the batch read or wrote
	journal []undo            // the current event's first change to each entry
	epoch   uint64            // the current event, for the journal
	keybuf  []byte
	cache   rowCache // committed rows, across batches

	// slab holds the batch's entries, allocated a chunk at a time and
	// reused by the next batch: nothing keeps an entry past flush or reset.
	slab  [][]entry
	inUse int      // entries handed out from slab
	order []string // flush's keys, reused
	idx   indexWriter
}

// slabChunk is how many entries one allocation of the slab holds.
const slabChunk = 512

// entry is one row as the batch sees it.
type entry struct {
	val    []byte
	exists bool   // as of now in the batch
	before bool   // in Pebble when the batch first touched it
	dirty  bool   // written by the batch
	epoch  uint64 // last event that changed it
	// obj is the row decoded (getObj, putObj); when enc is set, val is
	// stale and codec.encode(obj) makes it at flush.
	obj any
	enc bool
	// codec is the row's objCodec, once getObj or putObj named it; it
	// stays for the batch (Put and Delete keep it).
	codec *objCodec
	// base and baseVal are the row as committed (base decoded, if it was
	// before the batch changed it): what the index entries follow from.
	base    any
	baseVal []byte
}

type undo struct {
	e    *entry
	prev entry
}

// objCodec is how a projection keeps decoded rows in a RawTx (getObj,
// putObj): its own encoding of them (served as JSON by Runner.Rows through
// jsonRows), and the private index entries that follow from them.
type objCodec struct {
	// decode decodes the stored row under key.
	decode func(key string, v []byte) (any, error)
	// encode encodes a row, once per batch, at the commit.
	encode func(obj any) ([]byte, error)
	// index, if set, writes the index entries that follow from a row the
	// batch changed, at the commit: before is the row as committed (nil:
	// none), after as the batch leaves it (nil: deleted). So the entries
	// change once per row per batch, with the row, and a fold never writes
	// one.
	index func(w *indexWriter, before, after any)
}

func newRawTx(db *pebble.DB, name string, cacheBytes int) *RawTx {
	return &RawTx{db: db, rowPfx: rowPrefix(name), entries: map[string]*entry{},
		cache: rowCache{budget: cacheBytes / 2}, idx: indexWriter{pfx: idxPrefix(name)}}
}

// Get returns the row stored under key. The value must not be modified.
func (tx *RawTx) Get(key string) (value []byte, found bool, err error) {
	if err := validRowKey(key); err != nil {
		return nil, false, err
	}
	e, err := tx.touch(key)
	if err != nil || !e.exists {
		return nil, false, err
	}
	if err := e.encode(); err != nil {
		return nil, false, err
	}
	return e.val, true, nil
}

// encode makes val current after a putObj.
func (e *entry) encode() error {
	if !e.enc || !e.exists {
		return nil
	}
	v, err := e.codec.encode(e.obj)
	if err != nil {
		return err
	}
	e.val, e.enc = v, false
	return nil
}

// getObj returns the row under key decoded by c, decoding it at most once
// per batch (or not at all while it stays in the row cache). The object is
// shared: treat it as immutable and putObj a modified copy.
func (tx *RawTx) getObj(key string, c *objCodec) (any, bool, error) {
	e, err := tx.touch(key)
	if err != nil {
		return nil, false, err
	}
	e.codec = c
	if !e.exists {
		return nil, false, nil
	}
	if e.obj == nil {
		if e.obj, err = c.decode(key, e.val); err != nil {
			return nil, false, err
		}
		if !e.dirty { // the committed row
			e.base = e.obj
		}
	}
	return e.obj, true, nil
}

// putObj stores obj as the row under key; c encodes it once, at the commit.
// obj must not change afterwards.
func (tx *RawTx) putObj(key string, obj any, c *objCodec) error {
	e, err := tx.touch(key)
	if err != nil {
		return err
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.codec, e.exists, e.dirty = nil, obj, true, c, true, true
	return nil
}

// Put stores value, which must be valid JSON, as the row under key (1 to
// MaxRowKeyLen bytes). The value is copied.
func (tx *RawTx) Put(key string, value []byte) error {
	if err := validRowKey(key); err != nil {
		return err
	}
	if !json.Valid(value) {
		return fmt.Errorf("%w: row %q is not valid JSON", ErrInvalid, key)
	}
	return tx.put(tx.rowPfx, key, true, append([]byte(nil), value...))
}

// Delete removes the row under key, if any.
func (tx *RawTx) Delete(key string) error {
	if err := validRowKey(key); err != nil {
		return err
	}
	return tx.del(key)
}

// put stores value (owned by the RawTx from now on) as the row under key.
// The keyspace is always the projection's rows (pfx is rowPfx and row true:
// Tx.Put's call stays as it was when a RawTx also held index entries).
func (tx *RawTx) put(pfx []byte, key string, row bool, value []byte) error {
	if !row || !bytes.Equal(pfx, tx.rowPfx) {
		return fmt.Errorf("%w: a RawTx writes rows only", ErrInvalid)
	}
	e, err := tx.touch(key)
	if err != nil {
		return err
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.exists, e.dirty = value, nil, false, true, true
	return nil
}

func (tx *RawTx) del(key string) error {
	e, err := tx.touch(key)
	if err != nil {
		return err
	}
	if !e.exists {
		return nil
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.exists, e.dirty = nil, nil, false, false, true
	return nil
}

// touch returns the batch's entry for the row under key, reading it from
// the row cache or Pebble the first time.
func (tx *RawTx) touch(key string) (*entry, error) {
	tx.keybuf = append(append(tx.keybuf[:0], tx.rowPfx...), key...)
	if e, ok := tx.entries[string(tx.keybuf)]; ok {
		return e, nil
	}
	var e *entry
	if c, ok := tx.cache.get(tx.keybuf); ok {
		e = tx.newEntry()
		e.val, e.obj, e.exists, e.before = c.val, c.obj, c.found, c.found
	} else {
		v, closer, err := tx.db.Get(tx.keybuf)
		switch {
		case errors.Is(err, pebble.ErrNotFound):
			e = tx.newEntry()
		case err != nil:
			return nil, fmt.Errorf("read %q: %w", key, err)
		default:
			e = tx.newEntry()
			e.val = append([]byte(nil), v...)
			e.exists, e.before = true, true
			_ = closer.Close()
		}
	}
	e.base, e.baseVal = e.obj, e.val
	tx.entries[string(tx.keybuf)] = e
	return e, nil
}

// newEntry returns a zeroed entry from the slab.
func (tx *RawTx) newEntry() *entry {
	c, i := tx.inUse/slabChunk, tx.inUse%slabChunk
	if c == len(tx.slab) {
		tx.slab = append(tx.slab, make([]entry, slabChunk))
	}
	tx.inUse++
	return &tx.slab[c][i]
}

// record saves e as it was before the current event first changed it.
func (tx *RawTx) record(e *entry) {
	if e.epoch != tx.epoch {
		tx.journal = append(tx.journal, undo{e: e, prev: *e})
		e.epoch = tx.epoch
	}
}

// beginEvent starts the writes of one event (what rollback undoes).
func (tx *RawTx) beginEvent() {
	tx.epoch++
	clear(tx.journal)
	tx.journal = tx.journal[:0]
}

// rollback undoes the current event's writes.
func (tx *RawTx) rollback() {
	for i := len(tx.journal) - 1; i >= 0; i-- {
		*tx.journal[i].e = tx.journal[i].prev
	}
	clear(tx.journal)
	tx.journal = tx.journal[:0]
}

// flush writes the batch's changes into b and returns the change in the
// number of rows; the RawTx is empty afterwards. It writes the rows, then
// the index entries that follow from them, each in key order: Pebble
// inserts a batch into its memtable in the batch's order, and sorted keys
// let each insert start from the previous one's place.
func (tx *RawTx) flush(b *pebble.Batch) (rowsDelta int64, err error) {
	defer tx.reset()
	order := tx.order[:0]
	for k := range tx.entries {
		order = append(order, k)
	}
	slices.Sort(order)
	defer func() { clear(order); tx.order = order[:0] }()
	for _, k := range order {
		e := tx.entries[k]
		if err := e.encode(); err != nil {
			return 0, fmt.Errorf("encode row %q: %w", k[len(tx.rowPfx):], err)
		}
		tx.cache.put(k, cached{val: e.val, obj: e.obj, found: e.exists})
		if !e.dirty || (!e.exists && !e.before) {
			continue
		}
		tx.keybuf = append(tx.keybuf[:0], k...) // the batch copies it
		if e.exists {
			err = b.Set(tx.keybuf, e.val, nil)
		} else {
			err = b.Delete(tx.keybuf, nil)
		}
		if err != nil {
			return 0, err
		}
		if e.exists != e.before {
			if e.exists {
				rowsDelta++
			} else {
				rowsDelta--
			}
		}
		if e.codec != nil && e.codec.index != nil {
			if err := tx.index(k[len(tx.rowPfx):], e); err != nil {
				return 0, err
			}
		}
	}
	if err := tx.idx.writeTo(b); err != nil {
		return 0, err
	}
	return rowsDelta, nil
}

// index derives the index entries of a changed row into tx.idx.
func (tx *RawTx) index(key string, e *entry) error {
	before := e.base
	if before == nil && e.before {
		var err error
		if before, err = e.codec.decode(key, e.baseVal); err != nil {
			return fmt.Errorf("index row %q: %w", key, err)
		}
	}
	var after any
	if e.exists {
		after = e.obj
		if after == nil { // written raw (Put)
			var err error
			if after, err = e.codec.decode(key, e.val); err != nil {
				return fmt.Errorf("index row %q: %w", key, err)
			}
		}
	}
	e.codec.index(&tx.idx, before, after)
	return nil
}

// reset drops everything the batch read or wrote.
func (tx *RawTx) reset() {
	clear(tx.entries)
	clear(tx.journal)
	tx.journal = tx.journal[:0]
	for c := 0; c*slabChunk < tx.inUse; c++ { // drop what they pointed to
		clear(tx.slab[c][:min(slabChunk, tx.inUse-c*slabChunk)])
	}
	tx.inUse = 0
	tx.idx.reset()
}

// indexWriter collects a batch's private index entries (written by
// objCodec.index at the commit) and writes them in key order.
type indexWriter struct {
	pfx    []byte
	ops    []indexOp
	keybuf []byte
}

type indexOp struct {
	kind, key string
	val       []byte // nil: delete
}

// put sets the index entry kind+key to val. kind names the index; no kind
// may be a prefix of another (the entries are sorted by kind, then key).
// The strings and val must not change until the commit.
func (w *indexWriter) put(kind, key string, val []byte) {
	w.ops = append(w.ops, indexOp{kind: kind, key: key, val: val})
}

// delete removes the index entry kind+key.
func (w *indexWriter) delete(kind, key string) { w.put(kind, key, nil) }

func (w *indexWriter) writeTo(b *pebble.Batch) error {
	slices.SortFunc(w.ops, func(x, y indexOp) int {
		if c := strings.Compare(x.kind, y.kind); c != 0 {
			return c
		}
		return strings.Compare(x.key, y.key)
	})
	for _, op := range w.ops {
		w.keybuf = append(append(append(w.keybuf[:0], w.pfx...), op.kind...), op.key...)
		var err error
		if op.val != nil {
			err = b.Set(w.keybuf, op.val, nil) // copied into the batch
		} else {
			err = b.Delete(w.keybuf, nil)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *indexWriter) reset() {
	clear(w.ops)
	w.ops = w.ops[:0]
}

// rowCache keeps recently committed rows (or their absence) so that a hot
// row is decoded from memory rather than read from Pebble in every batch. It
// has two generations of up to budget bytes each: when the young one is
// full it becomes the old one and the old one is dropped. Only the worker
// writes a projection's keyspace, so the cache stays coherent; it is
// dropped whenever a worker starts (after a Rebuild cleared the keyspace).
type rowCache struct {
	budget     int
	young, old map[string]cached
	size       int
}

type cached struct {
	val   []byte
	obj   any // decoded, if known
	found bool
}

func (c *rowCache) get(key []byte) (cached, bool) {
	if v, ok := c.young[string(key)]; ok {
		return v, true
	}
	v, ok := c.old[string(key)]
	return v, ok
}

// put records a committed row; its value and object must not change
// afterwards (the RawTx never modifies one in place).
func (c *rowCache) put(key string, v cached) {
	if c.budget <= 0 {
		return
	}
	if c.size >= c.budget {
		c.old, c.young, c.size = c.young, make(map[string]cached, len(c.young)), 0
	}
	if c.young == nil {
		c.young = map[string]cached{}
	}
	c.young[key] = v
	c.size += len(key) + 2*len(v.val) + 64
}

func (c *rowCache) reset() { c.young, c.old, c.size = nil, nil, 0 }
