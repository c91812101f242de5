package projections

import (
	"encoding/json"
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

// Index entries (RawTx index keys), written blind (without a read) with a
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
	var a Actor // a copy: the stored object is shared with the row cache
	cur, found, err := tx.getObj(id, decodeActor)
	if err != nil {
		return err
	}
	if found {
		a = *cur.(*Actor)
	} else {
		ref, err := eventlog.ParseSubject(ev.Subject) // once per actor
		if err != nil {
			return err
		}
		a = Actor{ID: id, Type: ref.Type, Key: ref.Key, Status: ActorActive}
	}
	old := a.Status
	at := ev.Time
	if at.IsZero() {
		at = ev.Stored
	}
	at = at.UTC()
	switch ev.Kind {
	case eventlog.KindCreate:
		a.Status, a.CreatedAt, a.DestroyedAt = ActorActive, at, time.Time{}
	case eventlog.KindDestroy:
		a.Status, a.DestroyedAt = ActorDestroyed, at
	}
	a.Generation = max(a.Generation, ev.Generation)
	a.Events++
	a.LastEventAt, a.LastSeq = at, ev.Seq
	if _, err := tx.putObj(id, &a, encodeActor); err != nil {
		return err
	}
	okey := typeKey(a.Type, a.Key)
	if found && old != a.Status {
		tx.deleteIndex(statusIndex + statusByte(old) + okey)
	}
	v := encodeIndexValue(&a)
	tx.putIndex(orderIndex+okey, v)
	tx.putIndex(statusIndex+statusByte(a.Status)+okey, v)
	return nil
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

func decodeActor(b []byte) (any, error) {
	a := &Actor{}
	if err := json.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("directory row: %w", err)
	}
	return a, nil
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
