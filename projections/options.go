package projections

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rivet-flow/rivet-flow/internal/testsignal"
)

// Errors returned by the runner; match them with errors.Is.
var (
	// ErrNotFound reports an unknown projection name.
	ErrNotFound = errors.New("projection not found")
	// ErrInvalid reports an invalid argument: a projection name, a row key,
	// a cursor, options.
	ErrInvalid = errors.New("invalid projection argument")
	// ErrExists reports a second projection registered under one name.
	ErrExists = errors.New("projection already registered")
	// ErrRunning reports a call that needs the runner stopped (Register).
	ErrRunning = errors.New("projection runner is running")
	// ErrClosed reports a call on a closed runner.
	ErrClosed = errors.New("projection runner is closed")
	// ErrFailed reports that a projection stopped on an error (see Status).
	ErrFailed = errors.New("projection failed")
)

// Options configures a Runner. A nil *Options means all defaults.
type Options struct {
	// Logger receives the runner's and Pebble's logs. Defaults to slog.Default().
	Logger *slog.Logger
	// Registerer, if set, gets the runner's metrics (rivetflow_projection_*).
	// They are unregistered on Close, so a runner can be reopened on the same
	// registry. Defaults to nil: no metrics.
	Registerer prometheus.Registerer
	// BatchSize is the most events a projection folds before it commits them
	// (with its checkpoint) in one Pebble batch. A projection also commits as
	// soon as it has nothing more to read. Defaults to 1000.
	BatchSize int
	// CacheSize is Pebble's block cache in bytes. Defaults to 32 MiB.
	CacheSize int64
	// Sync fsyncs every batch. Projections are rebuilt from the log, so a
	// power loss costs at most a catch-up; the batch stays atomic either way.
	// Defaults to false.
	Sync bool
	// RowCacheBytes bounds, per projection, the memory of recently committed
	// rows its fold keeps so that hot rows are not read back from Pebble in
	// every batch. Defaults to 8 MiB; negative: no cache.
	RowCacheBytes int
	// HeadInterval is how often the runner reads the log's last sequence to
	// compute lag while no events arrive. Defaults to 2s.
	HeadInterval time.Duration
	// RetryBackoff is the first wait before a worker reads the log again after
	// a read error (not a fold error: those stop the projection). It doubles up
	// to 30s. Defaults to 500ms.
	RetryBackoff time.Duration
	// ProgressEvery is how many events a rebuild folds between two calls of
	// its progress function (it is called at each batch commit past that).
	// Defaults to 10,000.
	ProgressEvery uint64

	signals *testSignals // nil outside tests
	hooks   *testHooks   // nil outside tests
}

// testSignals are fired only when a test has initialised them.
type testSignals struct {
	// batchCommitted fires after a projection commits a batch.
	batchCommitted testsignal.Signal[batchSignal]
	// caughtUp fires when a projection has caught up with the log (after its
	// scan) and starts following it.
	caughtUp testsignal.Signal[seqSignal]
	// failed fires when a projection stops on an error.
	failed testsignal.Signal[seqSignal]
}

type batchSignal struct {
	Name   string
	Last   uint64 // checkpoint committed
	Events int    // events in the batch (matching the filter or not)
}

type seqSignal struct {
	Name string
	Seq  uint64
}

// testHooks let tests inject faults.
type testHooks struct {
	// beforeCommit runs before a batch is committed; an error discards the
	// batch as a crash before the commit would.
	beforeCommit func(name string, last uint64) error
	// pageStep counts iterator steps (seeks and nexts) of a directory page.
	pageStep func()
}

const (
	defaultBatchSize     = 1000
	defaultCacheSize     = 32 << 20
	defaultHeadInterval  = 2 * time.Second
	defaultRowCacheBytes = 8 << 20
	defaultRetryBackoff  = 500 * time.Millisecond
	maxRetryBackoff      = 30 * time.Second
	defaultProgressEvery = 10_000
)

func (o *Options) withDefaults() (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	switch {
	case r.BatchSize < 0:
		return r, fmt.Errorf("%w: BatchSize %d < 0", ErrInvalid, r.BatchSize)
	case r.CacheSize < 0:
		return r, fmt.Errorf("%w: CacheSize %d < 0", ErrInvalid, r.CacheSize)
	case r.HeadInterval < 0 || r.RetryBackoff < 0:
		return r, fmt.Errorf("%w: negative interval", ErrInvalid)
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.BatchSize == 0 {
		r.BatchSize = defaultBatchSize
	}
	if r.CacheSize == 0 {
		r.CacheSize = defaultCacheSize
	}
	if r.RowCacheBytes == 0 {
		r.RowCacheBytes = defaultRowCacheBytes
	}
	if r.HeadInterval == 0 {
		r.HeadInterval = defaultHeadInterval
	}
	if r.RetryBackoff == 0 {
		r.RetryBackoff = defaultRetryBackoff
	}
	if r.ProgressEvery == 0 {
		r.ProgressEvery = defaultProgressEvery
	}
	if r.signals == nil {
		r.signals = &testSignals{}
	}
	if r.hooks == nil {
		r.hooks = &testHooks{}
	}
	return r, nil
}
