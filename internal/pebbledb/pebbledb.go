// Package pebbledb opens the Pebble databases rivet-flow keeps as caches of
// the event log (snapshots, projections) one way: a disk health check whose
// goroutine never leaks, a block cache, Pebble's logs in slog, and the newest
// format (a cache has no older readers to stay compatible with).
package pebbledb

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures Open.
type Options struct {
	// CacheSize is the block cache in bytes.
	CacheSize int64
	// Logger receives Pebble's logs and slow-disk warnings.
	Logger *slog.Logger
	// Component names the store in its logs ("snapshots", "projections").
	Component string
	// BloomFilters adds bloom filters to every level: for stores whose reads
	// mostly miss.
	BloomFilters bool
}

// slowDisk is Pebble's default threshold for a slow-disk warning.
const slowDisk = 5 * time.Second

// Open opens (creating if needed) a Pebble database in dir. Close the
// returned closer after the database: it stops the disk health checker.
func Open(dir string, o Options) (*pebble.DB, io.Closer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	// Wrapped here (as Pebble would by default) because Pebble leaks the
	// health checker's goroutine when its Open fails.
	fs, fsCloser := vfs.WithDiskHealthChecks(vfs.Default, slowDisk, nil, func(info vfs.DiskSlowInfo) {
		o.Logger.Warn(o.Component+": slow disk", "dir", dir, "info", info.String())
	})
	cache := pebble.NewCache(o.CacheSize)
	defer cache.Unref() // the DB holds its own reference
	opts := &pebble.Options{
		FS:                 fs,
		Cache:              cache,
		Logger:             NewLogger(o.Logger.With("component", "pebble", "dir", dir)),
		FormatMajorVersion: pebble.FormatNewest,
	}
	if o.BloomFilters {
		for i := range opts.Levels {
			opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
		}
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		_ = fsCloser.Close()
		return nil, nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	return db, fsCloser, nil
}
