package projections

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// ActorQuery selects a page of the directory. The zero value lists the first
// DefaultPageLimit actors of every type, in type then key order.
type ActorQuery struct {
	// Type restricts the listing to one actor type. Empty: every type.
	Type string
	// Prefix restricts it to keys that start with these whole parts:
	// ["org-acme"] matches ["org-acme"] and ["org-acme", "doc-1"].
	Prefix []string
	// Status restricts it to active or destroyed actors. Empty: both.
	Status ActorStatus
	// Limit is the page size: DefaultPageLimit if 0, at most MaxPageLimit.
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// ActorPage is a page of the directory.
type ActorPage struct {
	Actors []Actor `json:"actors"`
	// NextCursor continues the listing; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// List returns a page of actors in type, then key order (key arrays compare
// part by part). The work per page is bounded whatever the number of actors:
// one seek and Limit+1 steps of a Pebble iterator over an index, plus, for a
// key prefix across every type, up to two seeks per actor type.
// It reads committed rows: Status(DirectoryName) shows how far they are.
func (d *Directory) List(q ActorQuery) (ActorPage, error) {
	limit := pageLimit(q.Limit)
	if q.Type != "" {
		if err := eventlog.ValidateType(q.Type); err != nil {
			return ActorPage{}, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	base := append(idxPrefix(DirectoryName), orderIndex...)
	switch q.Status {
	case "":
	case ActorActive, ActorDestroyed:
		base = append(idxPrefix(DirectoryName), statusIndex+statusByte(q.Status)...)
	default:
		return ActorPage{}, fmt.Errorf("%w: actor status %q (want %q or %q)", ErrInvalid, q.Status, ActorActive, ActorDestroyed)
	}
	after, err := cursorEnc.DecodeString(q.Cursor)
	if err != nil || (len(after) > 0 && bytes.IndexByte(after, 0) < 1) {
		return ActorPage{}, fmt.Errorf("%w: cursor %q", ErrInvalid, q.Cursor)
	}
	encPrefix := appendOrderedKey(nil, q.Prefix)
	lower := bytes.Clone(base)
	if q.Type != "" {
		lower = append(append(append(lower, q.Type...), 0), encPrefix...)
	}
	if err := d.r.acquire(); err != nil {
		return ActorPage{}, err
	}
	defer d.r.release()
	it, err := d.r.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return ActorPage{}, fmt.Errorf("list actors: %w", err)
	}
	defer it.Close()
	step := d.r.opts.hooks.pageStep
	if step == nil {
		step = func() {}
	}

	page := ActorPage{Actors: []Actor{}}
	var ok bool
	step()
	if len(after) > 0 {
		seek := append(bytes.Clone(base), after...)
		ok = it.SeekGE(seek)
		if ok && bytes.Equal(it.Key(), seek) {
			step()
			ok = it.Next()
		}
	} else {
		ok = it.First()
	}
	// Across every type, a key prefix matches a run of keys per type: skip
	// from one run to the next with seeks.
	skipTypes := q.Type == "" && len(q.Prefix) > 0
	for ok {
		k := it.Key()[len(base):]
		typEnd := bytes.IndexByte(k, 0)
		if typEnd < 1 {
			return ActorPage{}, fmt.Errorf("list actors: corrupt index key %q", it.Key())
		}
		if skipTypes && !bytes.HasPrefix(k[typEnd+1:], encPrefix) {
			run := append(append(bytes.Clone(base), k[:typEnd+1]...), encPrefix...)
			step()
			if bytes.Compare(it.Key(), run) < 0 {
				ok = it.SeekGE(run)
			} else { // past this type's run: the next type
				ok = it.SeekGE(append(append(bytes.Clone(base), k[:typEnd]...), 1))
			}
			continue
		}
		if len(page.Actors) == limit {
			last := page.Actors[limit-1]
			page.NextCursor = cursorEnc.EncodeToString([]byte(typeKey(last.Type, last.Key)))
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return ActorPage{}, fmt.Errorf("list actors: %w", err)
		}
		a, err := decodeIndexEntry(k, v)
		if err != nil {
			return ActorPage{}, fmt.Errorf("list actors: %w at %q", err, it.Key())
		}
		page.Actors = append(page.Actors, a)
		step()
		ok = it.Next()
	}
	if err := it.Error(); err != nil {
		return ActorPage{}, fmt.Errorf("list actors: %w", err)
	}
	return page, nil
}

// Get returns one actor by ID (see Actor.ID), as committed.
func (d *Directory) Get(id string) (Actor, bool, error) {
	v, found, err := d.r.Row(DirectoryName, id)
	if err != nil || !found {
		return Actor{}, false, err
	}
	var a Actor
	if err := json.Unmarshal(v, &a); err != nil {
		return Actor{}, false, fmt.Errorf("directory row %s: %w", id, err)
	}
	return a, true, nil
}
