package projections

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Page sizes of Rows and Directory.List.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Row is one row of a projection: its key and its JSON value.
type Row struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// RowsPage is a page of rows in key order.
type RowsPage struct {
	Rows []Row `json:"rows"`
	// NextCursor continues the listing; empty on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

var cursorEnc = base64.RawURLEncoding

// ErrInvalidCursor reports a Rows cursor that is not a NextCursor of the
// same listing: malformed, from another projection, or past another prefix.
// It is an ErrInvalid (errors.Is matches both); the message names the
// cursor ("invalid projection argument: cursor %q").
var ErrInvalidCursor = fmt.Errorf("%w: cursor", ErrInvalid)

// rowsCursor is the cursor continuing a listing of projection name after
// row key: the projection's name, a '/' (no name has one) and the key, so
// that a cursor of one projection is refused by another.
func rowsCursor(name, key string) string { return cursorEnc.EncodeToString([]byte(name + "/" + key)) }

// rowsAfter returns the row key a cursor of a listing of name's rows under
// prefix continues after ("" for the first page), or ErrInvalidCursor.
func rowsAfter(name, prefix, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
	raw, err := cursorEnc.DecodeString(cursor)
	after, ok := bytes.CutPrefix(raw, []byte(name+"/"))
	if err != nil || !ok || len(after) == 0 || !bytes.HasPrefix(after, []byte(prefix)) {
		return "", fmt.Errorf("%w %q", ErrInvalidCursor, cursor)
	}
	return string(after), nil
}

// jsonRows is implemented by a projection that stores its rows in its own
// encoding (the directory): Rows and Row serve them as JSON through rowJSON,
// which returns the JSON of the stored row under key (a copy it owns).
type jsonRows interface {
	rowJSON(key string, stored []byte) ([]byte, error)
}

// rowJSON returns the JSON of a stored row of p (a copy).
func (p *proj) rowJSON(key string, stored []byte) ([]byte, error) {
	conv, ok := p.def.(jsonRows)
	if !ok {
		return bytes.Clone(stored), nil
	}
	v, err := conv.rowJSON(key, stored)
	if err != nil {
		return nil, fmt.Errorf("projection %s: row %q: %w", p.name, key, err)
	}
	return v, nil
}

func pageLimit(limit int) int {
	if limit <= 0 {
		return DefaultPageLimit
	}
	return min(limit, MaxPageLimit)
}

// Rows returns up to limit (DefaultPageLimit if 0, at most MaxPageLimit) of
// the projection's committed rows whose key starts with prefix, in key
// order, after cursor (a NextCursor from the previous page; "" for the first
// page). A page costs one seek and limit steps whatever the number of rows.
// A cursor that is not one of this listing (this projection and prefix) is
// ErrInvalidCursor.
func (r *Runner) Rows(name, prefix string, limit int, cursor string) (RowsPage, error) {
	p, err := r.get(name)
	if err != nil {
		return RowsPage{}, err
	}
	limit = pageLimit(limit)
	after, err := rowsAfter(name, prefix, cursor)
	if err != nil {
		return RowsPage{}, err
	}
	if err := r.acquire(); err != nil {
		return RowsPage{}, err
	}
	defer r.release()
	base := rowPrefix(name)
	lower := append(bytes.Clone(base), prefix...)
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return RowsPage{}, fmt.Errorf("projection %s: rows: %w", name, err)
	}
	defer it.Close()
	page := RowsPage{Rows: []Row{}}
	var ok bool
	if len(after) > 0 {
		seek := append(bytes.Clone(base), after...)
		ok = it.SeekGE(seek)
		if ok && bytes.Equal(it.Key(), seek) {
			ok = it.Next()
		}
	} else {
		ok = it.First()
	}
	for ; ok; ok = it.Next() {
		if len(page.Rows) == limit {
			page.NextCursor = rowsCursor(name, page.Rows[limit-1].Key)
			break
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return RowsPage{}, fmt.Errorf("projection %s: rows: %w", name, err)
		}
		key := string(it.Key()[len(base):])
		if v, err = p.rowJSON(key, v); err != nil {
			return RowsPage{}, err
		}
		page.Rows = append(page.Rows, Row{Key: key, Value: v})
	}
	if err := it.Error(); err != nil {
		return RowsPage{}, fmt.Errorf("projection %s: rows: %w", name, err)
	}
	return page, nil
}

// Row returns one committed row of the projection.
func (r *Runner) Row(name, key string) (value json.RawMessage, found bool, err error) {
	p, err := r.get(name)
	if err != nil {
		return nil, false, err
	}
	if err := validRowKey(key); err != nil {
		return nil, false, err
	}
	if err := r.acquire(); err != nil {
		return nil, false, err
	}
	defer r.release()
	v, closer, err := r.db.Get(append(rowPrefix(name), key...))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("projection %s: row %q: %w", name, key, err)
	}
	defer closer.Close()
	if value, err = p.rowJSON(key, v); err != nil {
		return nil, false, err
	}
	return value, true, nil
}
