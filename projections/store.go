package projections

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rivet-flow/rivet-flow/internal/pebbledb"
)

// The Pebble keyspace. Projection names are [A-Za-z0-9_-] only, so "/" ends
// a name and no projection's keys can reach into another's.
//
//	F                   the layout version (formatVersion)
//	m/<name>            a projection's meta: checkpoint (u64) and rows (u64), big-endian
//	r/<name>/<key>      its rows (JSON), listed by Runner.Rows
//	i/<name>/<key>      its private index entries (the directory's orderings)
const formatVersion = "1"

var formatKey = []byte("F")

// MaxNameLen bounds a projection name.
const MaxNameLen = 64

// MaxRowKeyLen bounds a row key.
const MaxRowKeyLen = 4096

func metaKey(name string) []byte   { return []byte("m/" + name) }
func rowPrefix(name string) []byte { return []byte("r/" + name + "/") }
func idxPrefix(name string) []byte { return []byte("i/" + name + "/") }

// prefixEnd returns the smallest key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// ValidateName checks that name can name a projection: 1 to 64 characters
// of [A-Za-z0-9_-], starting with a letter.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("%w: name %q must be 1 to %d characters", ErrInvalid, name, MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return fmt.Errorf("%w: name %q must start with a letter", ErrInvalid, name)
		}
		if !letter && !(c >= '0' && c <= '9') && c != '_' && c != '-' {
			return fmt.Errorf("%w: name %q may only contain letters, digits, '_' and '-'", ErrInvalid, name)
		}
	}
	return nil
}

func validRowKey(key string) error {
	if key == "" || len(key) > MaxRowKeyLen {
		return fmt.Errorf("%w: row key must be 1 to %d bytes", ErrInvalid, MaxRowKeyLen)
	}
	return nil
}

// meta is what a projection commits with every batch.
type meta struct {
	checkpoint uint64 // the last stream sequence applied
	rows       int64  // rows in r/<name>/
}

func (m meta) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, m.checkpoint)
	binary.BigEndian.PutUint64(b[8:], uint64(m.rows))
	return b
}

func decodeMeta(b []byte) (meta, error) {
	if len(b) != 16 {
		return meta{}, fmt.Errorf("corrupt projection meta (%d bytes)", len(b))
	}
	return meta{checkpoint: binary.BigEndian.Uint64(b), rows: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// openDB opens (creating if needed) the projections' Pebble database in dir.
// A database with another layout version is cleared: it is a cache of the log.
func openDB(dir string, o *Options) (*pebble.DB, io.Closer, error) {
	// A fold reads each row it changes; most rebuild reads miss: blooms.
	db, fsCloser, err := pebbledb.Open(dir, pebbledb.Options{CacheSize: o.CacheSize, Logger: o.Logger,
		Component: "projections", BloomFilters: true})
	if err != nil {
		return nil, nil, err
	}
	if err := checkFormat(db, o.Logger); err != nil {
		_ = db.Close()
		_ = fsCloser.Close()
		return nil, nil, err
	}
	return db, fsCloser, nil
}

func checkFormat(db *pebble.DB, log *slog.Logger) error {
	v, closer, err := db.Get(formatKey)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		same := string(v) == formatVersion
		_ = closer.Close()
		if same {
			return nil
		}
		log.Warn("projections: layout changed; clearing every projection, they rebuild from the log",
			"stored", string(v), "current", formatVersion)
	}
	b := db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{0}, []byte{0xff}, nil); err != nil {
		return err
	}
	if err := b.Set(formatKey, []byte(formatVersion), nil); err != nil {
		return err
	}
	return b.Commit(pebble.Sync)
}
