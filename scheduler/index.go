package scheduler

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
)

// IndexName is the name of the alarm index projection.
const IndexName = "alarms"

// The index's rows (projections.Runner.Rows(IndexName, ...)):
//
//	due/<unix ms, 16 digits>/<actor ID>/<alarm ID>   one per pending alarm, in due order
//	act/<actor ID>                                   the actor's pending alarms (actorrow.go)
//	count                                            {"pending": n}
//
// A due row's value is {} when the key's milliseconds are the alarm's due
// time exactly (the runtime keeps alarms to the millisecond), else
// {"at": "<RFC 3339>"}. An actor ID has no '/' (eventlog subjects use
// [A-Za-z0-9_.-]), so the alarm ID is whatever follows the actor's.
//
// The act rows let a fold delete the due rows of an actor that is reset
// (destroyed, or created anew) or of alarms removed or moved, with Get, Put
// and Delete only: a RawTx has no iteration. An actor has at most the
// runtime's bound of alarms (1,000), so its row stays small.
const (
	DuePrefix = "due/"
	actPrefix = "act/"
	countKey  = "count"
	msDigits  = 16 // unix milliseconds up to year 318,857
)

// Pending is one pending alarm as the index holds it.
type Pending struct {
	ActorID string    `json:"actorId"`
	AlarmID string    `json:"alarmId"`
	At      time.Time `json:"at"`
}

// DueKey returns the index row key of an alarm: due/<ms>/<actor>/<alarm>.
// Times before 1970 sort as 1970 (they are overdue anyway).
func DueKey(actorID, alarmID string, at time.Time) string {
	ms := max(at.UnixMilli(), 0)
	var b strings.Builder
	b.Grow(len(DuePrefix) + msDigits + 2 + len(actorID) + len(alarmID))
	b.WriteString(DuePrefix)
	s := strconv.FormatInt(ms, 10)
	for range msDigits - len(s) {
		b.WriteByte('0')
	}
	b.WriteString(s)
	b.WriteByte('/')
	b.WriteString(actorID)
	b.WriteByte('/')
	b.WriteString(alarmID)
	return b.String()
}

// dueValue is a due row's value: {} when the key holds the due time exactly.
func dueValue(at time.Time) ([]byte, error) {
	if ms := at.UnixMilli(); ms >= 0 && time.UnixMilli(ms).Equal(at) {
		return []byte("{}"), nil
	}
	return json.Marshal(struct {
		At time.Time `json:"at"`
	}{at.UTC()})
}

// parseDue decodes a due row.
func parseDue(key string, value []byte) (Pending, error) {
	rest, ok := strings.CutPrefix(key, DuePrefix)
	if !ok || len(rest) < msDigits+3 || rest[msDigits] != '/' {
		return Pending{}, fmt.Errorf("alarm index: malformed due key %q", key)
	}
	ms, err := strconv.ParseInt(rest[:msDigits], 10, 64)
	if err != nil {
		return Pending{}, fmt.Errorf("alarm index: malformed due key %q", key)
	}
	actor, alarm, ok := strings.Cut(rest[msDigits+1:], "/")
	if !ok || actor == "" || alarm == "" {
		return Pending{}, fmt.Errorf("alarm index: malformed due key %q", key)
	}
	p := Pending{ActorID: actor, AlarmID: alarm, At: time.UnixMilli(ms).UTC()}
	if len(value) > 2 {
		var v struct {
			At time.Time `json:"at"`
		}
		if err := json.Unmarshal(value, &v); err != nil {
			return Pending{}, fmt.Errorf("alarm index: due row %q: %w", key, err)
		}
		p.At = v.At
	}
	return p, nil
}

// index is the alarm index projection. It folds actorstate.AlarmChanges of
// every event, the function the actors' own fold uses, so the index holds
// exactly the alarms the actors' images hold (as of its checkpoint).
type index struct {
	// note, if set, hears of every alarm set and every due row deleted, with
	// the event's sequence; they are committed once the projection's
	// checkpoint reaches it (the scheduler waits for that).
	note func(seq uint64, set []time.Time, deleted []string)
	lg   *slog.Logger
}

var _ projections.Projection = (*index)(nil)

// Name implements projections.Projection.
func (ix *index) Name() string { return IndexName }

// Filter implements projections.Projection: every event (any event may set
// or cancel alarms, and creates and destroys reset them).
func (ix *index) Filter() projections.Filter { return projections.Filter{} }

// Apply implements projections.Projection.
func (ix *index) Apply(tx *projections.RawTx, ev *eventlog.Event) error {
	set, removed, reset, cerr := actorstate.AlarmChanges(ev)
	if cerr != nil && ix.lg != nil {
		// The actors' fold skips an effect that does not decode; so does the
		// index, so that both agree (the runtime never writes one).
		ix.lg.Warn("alarm index: skipping an alarm effect that does not decode", "subject", ev.Subject, "err", cerr)
	}
	if !reset && len(set) == 0 && len(removed) == 0 {
		return nil
	}
	actor, ok := strings.CutPrefix(ev.Subject, eventlog.SubjectPrefix+".")
	if !ok || actor == "" || strings.Contains(actor, "/") {
		return nil // not an actor's event: it has no alarms
	}
	alarms, err := getActor(tx, actor)
	if err != nil {
		return err
	}
	before := len(alarms)
	var deleted []string
	del := func(id string, at time.Time) error {
		k := DueKey(actor, id, at)
		deleted = append(deleted, k)
		return tx.Delete(k)
	}
	if reset {
		for _, e := range alarms {
			if err := del(e.id, e.at); err != nil {
				return err
			}
		}
		alarms = alarms[:0]
	}
	for _, id := range removed {
		if at, ok := alarms.remove(id); ok {
			if err := del(id, at); err != nil {
				return err
			}
		}
	}
	var setAt []time.Time
	for _, a := range set {
		if i, ok := alarms.find(a.ID); ok {
			if alarms[i].at.Equal(a.At) {
				continue
			}
			if err := del(a.ID, alarms[i].at); err != nil {
				return err
			}
		}
		v, err := dueValue(a.At)
		if err != nil {
			return fmt.Errorf("alarm %s of %s: %w", a.ID, actor, err)
		}
		if err := tx.Put(DueKey(actor, a.ID, a.At), v); err != nil {
			return err
		}
		alarms.put(a.ID, a.At)
		setAt = append(setAt, a.At)
	}
	if err := putActor(tx, actor, alarms); err != nil {
		return err
	}
	if d := len(alarms) - before; d != 0 {
		if err := addCount(tx, d); err != nil {
			return err
		}
	}
	if ix.note != nil && (len(setAt) > 0 || len(deleted) > 0) {
		ix.note(ev.Seq, setAt, deleted)
	}
	return nil
}

func getActor(tx *projections.RawTx, actor string) (actorAlarms, error) {
	v, found, err := tx.Get(actPrefix + actor)
	if err != nil || !found {
		return nil, err
	}
	a, err := decodeActorAlarms(v)
	if err != nil {
		return nil, fmt.Errorf("alarm index: actor row %s: %w", actor, err)
	}
	return a, nil
}

func putActor(tx *projections.RawTx, actor string, alarms actorAlarms) error {
	if len(alarms) == 0 {
		return tx.Delete(actPrefix + actor)
	}
	return tx.Put(actPrefix+actor, alarms.encode())
}

func addCount(tx *projections.RawTx, d int) error {
	var n int64
	v, found, err := tx.Get(countKey)
	if err != nil {
		return err
	}
	if found {
		if n, err = decodeCount(v); err != nil {
			return err
		}
	}
	return tx.Put(countKey, encodeCount(n+int64(d)))
}
