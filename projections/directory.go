package projections

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// DirectoryName is the name of the built-in actor directory projection.
const DirectoryName = "actors"

// ActorStatus says whether an actor's current generation is alive.
type ActorStatus string

// Actor statuses.
const (
	// ActorActive: created (or with events) and not destroyed since.
	ActorActive ActorStatus = "active"
	// ActorDestroyed: its last event is a tombstone; a create starts a new
	// generation and makes it active again.
	ActorDestroyed ActorStatus = "destroyed"
)

// Actor is one actor as the directory knows it.
type Actor struct {
	// ID is the actor's subject without the "rf.ev." prefix (as actors.ParseID reads it).
	ID   string   `json:"id"`
	Type string   `json:"type"`
	Key  []string `json:"key"`
	// Generation counts the actor's creates after a destroy.
	Generation uint64      `json:"generation"`
	Status     ActorStatus `json:"status"`
	// CreatedAt is the time of the current generation's create event.
	CreatedAt time.Time `json:"createdAt,omitzero"`
	// DestroyedAt is the time of the tombstone, when destroyed.
	DestroyedAt time.Time `json:"destroyedAt,omitzero"`
	// LastEventAt is the time of the actor's last event.
	LastEventAt time.Time `json:"lastEventAt"`
	// Events counts every event of the actor, all generations.
	Events uint64 `json:"events"`
	// LastSeq is the stream sequence of its last event.
	LastSeq uint64 `json:"lastSeq"`
}

// Directory is the built-in projection of every actor in the log: its rows
// (Runner.Rows) are keyed by actor ID, and two ordered indexes (by type and
// key, and by status, type and key) serve List with bounded work per page.
// It belongs to a Runner (Runner.Directory).
type Directory struct {
	r *Runner
}

var _ Projection = (*Directory)(nil)

// Name implements Projection.
func (d *Directory) Name() string { return DirectoryName }

// Filter implements Projection: every event.
func (d *Directory) Filter() Filter { return Filter{} }

// Index entries (the keyspace's i/ keys), written blind (without a read)
// once per changed actor per batch, at the commit (indexDirRow), with a
// compact copy of the actor's fields (encodeIndexValue; the type and key are
// in the index key), so that a page is a plain iteration:
//
//	o <type> 0x00 <key>            by type and key
//	s <status> <type> 0x00 <key>   by status ('a' or 'd'), type and key
//
// <key> is orderedKey: ordered as the key arrays are, and a key prefix
// (whole parts) is a byte prefix.
const (
	orderIndex  = "o"
	statusIndex = "s"
)

func statusByte(s ActorStatus) string {
	if s == ActorDestroyed {
		return "d"
	}
	return "a"
}

// Apply implements Projection.
func (d *Directory) Apply(tx *RawTx, ev *eventlog.Event) error {
	id, ok := strings.CutPrefix(ev.Subject, eventlog.SubjectPrefix+".")
	if !ok {
		return fmt.Errorf("%q is not an actor subject", ev.Subject)
	}
	at := ev.Time
	if at.IsZero() {
		at = ev.Stored
	}
	// The log keeps Unix nanoseconds: years 1678 to 2262, which JSON shows.
	at = at.UTC()
	var row *dirRow // a copy: the stored one is shared with the row cache
	cur, found, err := tx.getObj(id, &dirCodec)
	if err != nil {
		return err
	}
	if found {
		c := *cur.(*dirRow)
		row = &c
	} else {
		ref, err := eventlog.ParseSubject(ev.Subject) // once per actor
		if err != nil {
			return err
		}
		row = &dirRow{Actor: Actor{ID: id, Type: ref.Type, Key: ref.Key, Status: ActorActive}, okey: typeKey(ref.Type, ref.Key)}
	}
	a := &row.Actor
	switch ev.Kind {
	case eventlog.KindCreate:
		a.Status, a.CreatedAt, a.DestroyedAt = ActorActive, at, time.Time{}
	case eventlog.KindDestroy:
		a.Status, a.DestroyedAt = ActorDestroyed, at
	}
	a.Generation = max(a.Generation, ev.Generation)
	a.Events++
	a.LastEventAt, a.LastSeq = at, ev.Seq
	return tx.putObj(id, row, &dirCodec) // the index entries follow at the commit
}

// dirCodec keeps the directory's rows in a RawTx: binary rows, and the two
// index entries of each row.
var dirCodec = objCodec{decode: decodeDirRow, encode: encodeDirRow, index: indexDirRow}

// indexDirRow writes the index entries of a row the batch changed: a
// compact copy of the actor under both orderings, and the removal of the
// status entry it had if its status changed.
func indexDirRow(w *indexWriter, before, after any) {
	var was, now *dirRow
	if before != nil {
		was = before.(*dirRow)
	}
	if after != nil {
		now = after.(*dirRow)
	}
	if was != nil && (now == nil || now.Status != was.Status) {
		w.delete(statusIndexOf(was.Status), was.okey)
	}
	if now == nil { // the directory never deletes a row; for completeness
		if was != nil {
			w.delete(orderIndex, was.okey)
		}
		return
	}
	v := encodeIndexValue(&now.Actor)
	w.put(orderIndex, now.okey, v)
	w.put(statusIndexOf(now.Status), now.okey, v)
}

// statusIndexOf is the status index's prefix for s: statusIndex + statusByte(s).
func statusIndexOf(s ActorStatus) string {
	if s == ActorDestroyed {
		return statusIndex + "d"
	}
	return statusIndex + "a"
}

// ActorCursor returns the ActorQuery.Cursor that continues a listing after
// the actor of this type and key (as a page's NextCursor does after its last
// actor), for a caller that stops in the middle of a page.
func ActorCursor(typ string, key []string) string {
	return cursorEnc.EncodeToString([]byte(typeKey(typ, key)))
}

// typeKey is <type> 0x00 <orderedKey(key)>.
func typeKey(typ string, key []string) string {
	return string(appendOrderedKey(append([]byte(typ), 0), key))
}

// appendOrderedKey appends key so that byte order is the order of the key
// arrays (part by part) and the encoding of a key's first parts is a byte
// prefix of the key's: each part has 0x00 escaped as 0x00 0xff and ends
// with 0x00 0x01.
func appendOrderedKey(b []byte, key []string) []byte {
	for _, part := range key {
		for i := 0; i < len(part); i++ {
			if part[i] == 0 {
				b = append(b, 0, 0xff)
			} else {
				b = append(b, part[i])
			}
		}
		b = append(b, 0, 1)
	}
	return b
}

// dirRow is a directory row as the fold keeps it (in RawTx and its row
// cache): the actor and its part of the index keys, typeKey(Type, Key).
type dirRow struct {
	Actor
	okey string
}

// Directory rows are stored in a compact binary form, not as JSON: the fold
// encodes one per changed actor per batch and decodes one per actor missing
// from the row cache, and both cost a fraction of JSON's; the rows are
// smaller too. Runner.Rows and Runner.Row serve them as JSON (rowJSON). The
// row key is the actor's ID; the value is
//
//	dirRowTag
//	generation, status (0 active, 1 destroyed), events, last sequence   uvarints
//	created, destroyed, last event   per time a uvarint n: 0 for the zero
//	                                 time, else nanoseconds+1 followed by the
//	                                 Unix seconds as a varint
//	type                             uvarint length, bytes
//	key                              uvarint parts+1 (0: nil), then per part
//	                                 a uvarint length and its bytes
//
// Rows written as JSON by earlier versions start with '{' and are still
// read (they are rewritten in binary when their actor next changes), so an
// existing data dir needs no rebuild.
const dirRowTag = 0x01

var errCorruptRow = errors.New("corrupt directory row")

// encodeDirRow encodes a *dirRow (RawTx.putObj's encoder).
func encodeDirRow(obj any) ([]byte, error) {
	a := &obj.(*dirRow).Actor
	n := 48 + len(a.Type) // the tag, numbers and times of a typical row: it stays in the row cache
	for _, part := range a.Key {
		n += 2 + len(part)
	}
	b := make([]byte, 0, n)
	b = append(b, dirRowTag)
	b = binary.AppendUvarint(b, a.Generation)
	status := uint64(0)
	if a.Status == ActorDestroyed {
		status = 1
	}
	b = binary.AppendUvarint(b, status)
	b = binary.AppendUvarint(b, a.Events)
	b = binary.AppendUvarint(b, a.LastSeq)
	b = appendRowTime(b, a.CreatedAt)
	b = appendRowTime(b, a.DestroyedAt)
	b = appendRowTime(b, a.LastEventAt)
	b = binary.AppendUvarint(b, uint64(len(a.Type)))
	b = append(b, a.Type...)
	if a.Key == nil {
		return binary.AppendUvarint(b, 0), nil
	}
	b = binary.AppendUvarint(b, uint64(len(a.Key))+1)
	for _, part := range a.Key {
		b = binary.AppendUvarint(b, uint64(len(part)))
		b = append(b, part...)
	}
	return b, nil
}

func appendRowTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(t.Nanosecond())+1)
	return binary.AppendVarint(b, t.Unix())
}

// decodeDirRow decodes the row of the actor with ID id into a *dirRow
// (RawTx.getObj's decoder): binary, or JSON from an earlier version.
func decodeDirRow(id string, v []byte) (any, error) {
	a, err := decodeRow(id, v)
	if err != nil {
		return nil, err
	}
	return &dirRow{Actor: a, okey: typeKey(a.Type, a.Key)}, nil
}

func decodeRow(id string, v []byte) (Actor, error) {
	var a Actor
	if len(v) > 0 && v[0] == '{' {
		if err := json.Unmarshal(v, &a); err != nil {
			return a, fmt.Errorf("directory row %s: %w", id, err)
		}
		return a, nil
	}
	d := rowDecoder{b: v}
	if len(v) == 0 || d.byte() != dirRowTag {
		return a, fmt.Errorf("directory row %s: %w", id, errCorruptRow)
	}
	a.ID = id
	a.Generation = d.uvarint()
	a.Status = ActorActive
	if d.uvarint() == 1 {
		a.Status = ActorDestroyed
	}
	a.Events, a.LastSeq = d.uvarint(), d.uvarint()
	a.CreatedAt, a.DestroyedAt, a.LastEventAt = d.time(), d.time(), d.time()
	a.Type = d.string()
	if parts := d.uvarint(); parts > 0 && !d.bad {
		if parts-1 > uint64(len(d.b)) { // each part takes a byte at least
			d.bad = true
		} else {
			a.Key = make([]string, parts-1)
			for i := range a.Key {
				a.Key[i] = d.string()
			}
		}
	}
	if d.bad || len(d.b) != 0 {
		return Actor{}, fmt.Errorf("directory row %s: %w", id, errCorruptRow)
	}
	return a, nil
}

// rowDecoder reads a binary row; bad is set at the first malformed field.
type rowDecoder struct {
	b   []byte
	bad bool
}

func (d *rowDecoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *rowDecoder) uvarint() uint64 {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[w:]
	return n
}

func (d *rowDecoder) time() time.Time {
	ns := d.uvarint()
	if ns == 0 {
		return time.Time{}
	}
	sec, w := binary.Varint(d.b)
	if w <= 0 || ns > 1e9 {
		d.bad, d.b = true, nil
		return time.Time{}
	}
	d.b = d.b[w:]
	return time.Unix(sec, int64(ns-1)).UTC()
}

func (d *rowDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// rowJSON implements jsonRows: a stored row as JSON, as json.Marshal
// writes an Actor.
func (d *Directory) rowJSON(key string, stored []byte) ([]byte, error) {
	if len(stored) > 0 && stored[0] == '{' {
		return bytes.Clone(stored), nil
	}
	a, err := decodeRow(key, stored)
	if err != nil {
		return nil, err
	}
	return encodeActor(&a)
}

// encodeActor is json.Marshal for an *Actor, byte for byte, without
// reflection: the directory encodes one per changed actor per batch.
func encodeActor(obj any) ([]byte, error) {
	a := obj.(*Actor)
	b := make([]byte, 0, 192+len(a.ID)+16*len(a.Key))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, a.Type)
	b = append(b, `,"key":`...)
	if a.Key == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, part := range a.Key {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, part)
		}
		b = append(b, ']')
	}
	b = append(b, `,"generation":`...)
	b = strconv.AppendUint(b, a.Generation, 10)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, string(a.Status))
	var err error
	if !a.CreatedAt.IsZero() {
		b = append(b, `,"createdAt":`...)
		if b, err = appendJSONTime(b, a.CreatedAt); err != nil {
			return nil, err
		}
	}
	if !a.DestroyedAt.IsZero() {
		b = append(b, `,"destroyedAt":`...)
		if b, err = appendJSONTime(b, a.DestroyedAt); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"lastEventAt":`...)
	if b, err = appendJSONTime(b, a.LastEventAt); err != nil {
		return nil, err
	}
	b = append(b, `,"events":`...)
	b = strconv.AppendUint(b, a.Events, 10)
	b = append(b, `,"lastSeq":`...)
	b = strconv.AppendUint(b, a.LastSeq, 10)
	return append(b, '}'), nil
}

// appendJSONString appends s as encoding/json would: plain printable ASCII
// as it is, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONTime appends t as time.Time.MarshalJSON would.
func appendJSONTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		q, err := t.MarshalJSON() // fails: out of RFC 3339's range
		return append(b, q...), err
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}
