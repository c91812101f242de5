package projections

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Filter selects the events a projection folds. The checkpoint moves past
// every event, folded or not.
type Filter struct {
	// Types are the actor types to fold. Empty: every type.
	Types []string
	// Kinds are the event kinds to fold. Empty: every kind.
	Kinds []eventlog.Kind
}

// matcher is a compiled Filter.
type matcher struct {
	types map[string]struct{} // nil: all
	kinds [8]bool
	all   bool // every kind
}

func (f Filter) compile() (matcher, error) {
	m := matcher{all: len(f.Kinds) == 0}
	if len(f.Types) > 0 {
		m.types = make(map[string]struct{}, len(f.Types))
		for _, t := range f.Types {
			if err := eventlog.ValidateType(t); err != nil {
				return m, fmt.Errorf("%w: filter: %v", ErrInvalid, err)
			}
			m.types[t] = struct{}{}
		}
	}
	for _, k := range f.Kinds {
		if int(k) >= len(m.kinds) {
			return m, fmt.Errorf("%w: filter: unknown event kind %d", ErrInvalid, k)
		}
		m.kinds[k] = true
	}
	return m, nil
}

func (m *matcher) match(ev *eventlog.Event) bool {
	if !m.all && (int(ev.Kind) >= len(m.kinds) || !m.kinds[ev.Kind]) {
		return false
	}
	if m.types == nil {
		return true
	}
	_, ok := m.types[subjectType(ev.Subject)]
	return ok
}

// subjectType returns the actor type of an actor subject, "" for another subject.
func subjectType(subject string) string {
	rest, ok := strings.CutPrefix(subject, eventlog.SubjectPrefix+".")
	if !ok {
		return ""
	}
	typ, _, _ := strings.Cut(rest, ".")
	return typ
}

// Projection is the non-generic core of a projection; Define builds a typed
// one. Name and Filter must return the same values on every call.
type Projection interface {
	// Name names the projection and its keyspace (see ValidateName).
	Name() string
	// Filter selects the events Apply sees.
	Filter() Filter
	// Apply folds one event into tx. Events arrive one at a time in log
	// order, each exactly once across crashes and restarts (the checkpoint
	// commits with the writes). An error (or a panic) stops the projection at
	// this event with its writes undone, and the projection stays failed
	// until Resume or Rebuild. Apply must be deterministic over the log:
	// Rebuild folds the same events again and must reach the same rows.
	Apply(tx *RawTx, ev *eventlog.Event) error
}

// Tx is the typed view of a RawTx that Define's folds receive: rows are
// values of Row, stored as JSON.
type Tx[Row any] struct {
	raw *RawTx
}

// Get decodes the row under key; found is false when there is none.
func (tx Tx[Row]) Get(key string) (row Row, found bool, err error) {
	v, found, err := tx.raw.Get(key)
	if err != nil || !found {
		return row, false, err
	}
	if err := json.Unmarshal(v, &row); err != nil {
		return row, false, fmt.Errorf("decode row %q: %w", key, err)
	}
	return row, true, nil
}

// Put stores row under key (1 to MaxRowKeyLen bytes), encoded as JSON.
func (tx Tx[Row]) Put(key string, row Row) error {
	if err := validRowKey(key); err != nil {
		return err
	}
	v, err := json.Marshal(row)
	if err != nil {
		return fmt.Errorf("encode row %q: %w", key, err)
	}
	return tx.raw.put(tx.raw.rowPfx, key, true, v)
}

// Delete removes the row under key, if any.
func (tx Tx[Row]) Delete(key string) error { return tx.raw.Delete(key) }

// Raw returns the untyped transaction.
func (tx Tx[Row]) Raw() *RawTx { return tx.raw }

// Definition is a typed projection built by Define. Register it on a Runner;
// read its rows with Get and List.
type Definition[Row any] struct {
	name   string
	filter Filter
	fold   func(tx Tx[Row], ev *eventlog.Event) error
}

var _ Projection = (*Definition[struct{}])(nil)

// Define builds a projection named name (see ValidateName) that folds the
// events filter selects with fold, into rows of type Row stored as JSON.
// Go methods cannot take type parameters, so the generics stop here: the
// Runner sees a Projection.
func Define[Row any](name string, filter Filter, fold func(tx Tx[Row], ev *eventlog.Event) error) *Definition[Row] {
	return &Definition[Row]{name: name, filter: filter, fold: fold}
}

// Name implements Projection.
func (d *Definition[Row]) Name() string { return d.name }

// Filter implements Projection.
func (d *Definition[Row]) Filter() Filter { return d.filter }

// Apply implements Projection.
func (d *Definition[Row]) Apply(tx *RawTx, ev *eventlog.Event) error {
	return d.fold(Tx[Row]{raw: tx}, ev)
}

// Get reads one committed row of the projection from r.
func (d *Definition[Row]) Get(r *Runner, key string) (row Row, found bool, err error) {
	v, found, err := r.Row(d.name, key)
	if err != nil || !found {
		return row, false, err
	}
	if err := json.Unmarshal(v, &row); err != nil {
		return row, false, fmt.Errorf("projection %s: decode row %q: %w", d.name, key, err)
	}
	return row, true, nil
}

// TypedRow is one row of a typed projection.
type TypedRow[Row any] struct {
	Key   string
	Value Row
}

// List reads a page of committed rows from r, like Runner.Rows.
func (d *Definition[Row]) List(r *Runner, prefix string, limit int, cursor string) (rows []TypedRow[Row], next string, err error) {
	page, err := r.Rows(d.name, prefix, limit, cursor)
	if err != nil {
		return nil, "", err
	}
	rows = make([]TypedRow[Row], len(page.Rows))
	for i, raw := range page.Rows {
		rows[i].Key = raw.Key
		if err := json.Unmarshal(raw.Value, &rows[i].Value); err != nil {
			return nil, "", fmt.Errorf("projection %s: decode row %q: %w", d.name, raw.Key, err)
		}
	}
	return rows, page.NextCursor, nil
}
