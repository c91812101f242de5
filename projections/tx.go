package projections

import (
	"encoding/json"
	"errors"
	"fmt"

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
	idxPfx  []byte
	entries map[string]*entry // by Pebble key: what the batch read or wrote
	journal []undo            // the current event's first change to each entry
	epoch   uint64            // the current event, for the journal
	keybuf  []byte
	cache   rowCache // committed rows, across batches
}

// entry is one Pebble key as the batch sees it.
type entry struct {
	val    []byte
	exists bool   // as of now in the batch
	before bool   // in Pebble when the batch first touched it
	dirty  bool   // written by the batch
	row    bool   // a row (counted), not an index entry
	blind  bool   // an index entry written without reading it: before is unknown
	epoch  uint64 // last event that changed it
	// obj is the row decoded (getObj, putObj); when enc is set, val is
	// stale and enc(obj) makes it at flush.
	obj any
	enc func(any) ([]byte, error)
}

type undo struct {
	e    *entry
	prev entry
}

func newRawTx(db *pebble.DB, name string, cacheBytes int) *RawTx {
	return &RawTx{db: db, rowPfx: rowPrefix(name), idxPfx: idxPrefix(name), entries: map[string]*entry{},
		cache: rowCache{budget: cacheBytes / 2}}
}

// Get returns the row stored under key. The value must not be modified.
func (tx *RawTx) Get(key string) (value []byte, found bool, err error) {
	if err := validRowKey(key); err != nil {
		return nil, false, err
	}
	e, err := tx.touch(tx.rowPfx, key, true)
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
	if e.enc == nil || !e.exists {
		return nil
	}
	v, err := e.enc(e.obj)
	if err != nil {
		return err
	}
	e.val, e.enc = v, nil
	return nil
}

// getObj returns the row under key decoded by decode, decoding it at most
// once per batch (or not at all while it stays in the row cache). The
// object is shared: treat it as immutable and putObj a modified copy.
func (tx *RawTx) getObj(key string, decode func([]byte) (any, error)) (any, bool, error) {
	e, err := tx.touch(tx.rowPfx, key, true)
	if err != nil || !e.exists {
		return nil, false, err
	}
	if e.obj == nil {
		if e.obj, err = decode(e.val); err != nil {
			return nil, false, err
		}
	}
	return e.obj, true, nil
}

// putObj stores obj as the row under key; enc encodes it (as JSON) once, at
// the commit. obj must not change afterwards.
func (tx *RawTx) putObj(key string, obj any, enc func(any) ([]byte, error)) (*entry, error) {
	e, err := tx.touch(tx.rowPfx, key, true)
	if err != nil {
		return nil, err
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.exists, e.dirty = nil, obj, enc, true, true
	return e, nil
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
	return tx.del(tx.rowPfx, key, true)
}

// putIndex and deleteIndex write a private index entry blind (without
// reading it first): the directory's orderings.
func (tx *RawTx) putIndex(key string, value []byte) {
	e := tx.touchBlind(tx.idxPfx, key)
	tx.record(e)
	e.val, e.exists, e.dirty = value, true, true
}

func (tx *RawTx) deleteIndex(key string) {
	e := tx.touchBlind(tx.idxPfx, key)
	tx.record(e)
	e.val, e.exists, e.dirty = nil, false, true
}

func (tx *RawTx) touchBlind(pfx []byte, key string) *entry {
	tx.keybuf = append(append(tx.keybuf[:0], pfx...), key...)
	e, ok := tx.entries[string(tx.keybuf)]
	if !ok {
		e = &entry{blind: true}
		tx.entries[string(tx.keybuf)] = e
	}
	return e
}

func (tx *RawTx) put(pfx []byte, key string, row bool, value []byte) error {
	e, err := tx.touch(pfx, key, row)
	if err != nil {
		return err
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.exists, e.dirty = value, nil, nil, true, true
	return nil
}

func (tx *RawTx) del(pfx []byte, key string, row bool) error {
	e, err := tx.touch(pfx, key, row)
	if err != nil {
		return err
	}
	if !e.exists {
		return nil
	}
	tx.record(e)
	e.val, e.obj, e.enc, e.exists, e.dirty = nil, nil, nil, false, true
	return nil
}

// touch returns the batch's entry for pfx+key, reading it from Pebble the
// first time.
func (tx *RawTx) touch(pfx []byte, key string, row bool) (*entry, error) {
	tx.keybuf = append(append(tx.keybuf[:0], pfx...), key...)
	if e, ok := tx.entries[string(tx.keybuf)]; ok {
		return e, nil
	}
	e := &entry{row: row}
	if c, ok := tx.cache.get(tx.keybuf); ok {
		e.val, e.obj, e.exists, e.before = c.val, c.obj, c.found, c.found
		tx.entries[string(tx.keybuf)] = e
		return e, nil
	}
	v, closer, err := tx.db.Get(tx.keybuf)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("read %q: %w", key, err)
	default:
		e.val = append([]byte(nil), v...)
		e.exists, e.before = true, true
		_ = closer.Close()
	}
	tx.entries[string(tx.keybuf)] = e
	return e, nil
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
// number of rows; the RawTx is empty afterwards.
func (tx *RawTx) flush(b *pebble.Batch) (rowsDelta int64, err error) {
	for k, e := range tx.entries {
		if err := e.encode(); err != nil {
			return 0, fmt.Errorf("encode row %q: %w", k, err)
		}
		if e.row {
			tx.cache.put(k, cached{val: e.val, obj: e.obj, found: e.exists})
		}
		if !e.dirty || (!e.exists && !e.before && !e.blind) {
			continue
		}
		if e.exists {
			err = b.Set([]byte(k), e.val, nil)
		} else {
			err = b.Delete([]byte(k), nil)
		}
		if err != nil {
			return 0, err
		}
		if e.row && e.exists != e.before {
			if e.exists {
				rowsDelta++
			} else {
				rowsDelta--
			}
		}
	}
	tx.reset()
	return rowsDelta, nil
}

// reset drops everything the batch read or wrote.
func (tx *RawTx) reset() {
	clear(tx.entries)
	clear(tx.journal)
	tx.journal = tx.journal[:0]
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
		c.old, c.young, c.size = c.young, nil, 0
	}
	if c.young == nil {
		c.young = map[string]cached{}
	}
	c.young[key] = v
	c.size += len(key) + 2*len(v.val) + 64
}

func (c *rowCache) reset() { c.young, c.old, c.size = nil, nil, 0 }
