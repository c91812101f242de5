package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/startstop"
)

// Runner runs a process's projections over one event log, with one Pebble
// database for all of them. It is a startstop.Service: Open it, Register the
// user projections, Start it; Stop and Close it in reverse. The built-in
// actor directory is registered by Open. All methods are safe for
// concurrent use.
type Runner struct {
	startstop.BaseStartStop

	log  *eventlog.Log
	opts Options
	lg   *slog.Logger
	m    *metrics
	wopt *pebble.WriteOptions

	// dbMu guards closed: queries hold it (read) while they use db, and
	// Close takes it (write) before closing Pebble.
	dbMu     sync.RWMutex
	closed   bool
	db       *pebble.DB
	fsCloser io.Closer

	mu     sync.Mutex
	projs  map[string]*proj
	order  []*proj
	runCtx context.Context // the current run's context; nil when not running

	head atomic.Uint64 // the log's last sequence, as last seen
	dir  *Directory
}

var _ startstop.Service = (*Runner)(nil)

// Open opens (creating if needed) the projections' database in dir
// (<data-dir>/projections) over log, and registers the actor directory and
// the code versions projection (Versions).
// Pebble locks dir: a second Open of it fails until Close.
func Open(dir string, log *eventlog.Log, opts *Options) (*Runner, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("open projections at %s: %w", dir, err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("open projections at %s: %w", dir, err)
	}
	db, fsCloser, err := openDB(dir, &o)
	if err != nil {
		m.unregister()
		return nil, fmt.Errorf("open projections at %s: %w", dir, err)
	}
	r := &Runner{
		log: log, opts: o, lg: o.Logger.With("component", "projections"), m: m,
		wopt: pebble.NoSync, db: db, fsCloser: fsCloser, projs: map[string]*proj{},
	}
	if o.Sync {
		r.wopt = pebble.Sync
	}
	r.dir = &Directory{r: r}
	if err := r.Register(r.dir); err != nil {
		_ = r.Close()
		return nil, err
	}
	if err := r.Register(r.Versions()); err != nil {
		_ = r.Close()
		return nil, err
	}
	return r, nil
}

// Register adds a projection. Call it before Start; its checkpoint is read
// now, so Status shows it at once.
func (r *Runner) Register(p Projection) error {
	name := p.Name()
	if err := ValidateName(name); err != nil {
		return err
	}
	match, err := p.Filter().compile()
	if err != nil {
		return fmt.Errorf("projection %s: %w", name, err)
	}
	if err := r.acquire(); err != nil {
		return err
	}
	defer r.release()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runCtx != nil {
		return fmt.Errorf("register projection %s: %w", name, ErrRunning)
	}
	if _, ok := r.projs[name]; ok {
		return fmt.Errorf("%w: %s", ErrExists, name)
	}
	m, err := r.readMeta(name)
	if err != nil {
		return fmt.Errorf("projection %s: %w", name, err)
	}
	pr := &proj{r: r, def: p, name: name, match: match, m: r.m.forProjection(name),
		state: StateStopped, meta: m, changed: make(chan struct{})}
	pr.tx = newRawTx(r.db, name, r.opts.RowCacheBytes)
	r.projs[name] = pr
	r.order = append(r.order, pr)
	return nil
}

func (r *Runner) readMeta(name string) (meta, error) {
	v, closer, err := r.db.Get(metaKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return meta{}, nil
	}
	if err != nil {
		return meta{}, err
	}
	defer closer.Close()
	return decodeMeta(v)
}

// Start starts a worker per projection (each catches up from its checkpoint,
// then follows the log) and returns at once. Failed projections are retried.
func (r *Runner) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := r.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if err := r.acquire(); err != nil {
		stopped()
		return err
	}
	r.release()
	r.mu.Lock()
	r.runCtx = ctx
	projs := slices.Clone(r.order)
	r.mu.Unlock()
	go func() {
		defer stopped()
		for _, p := range projs {
			p.ctl.Lock()
			p.clearFailure()
			p.startWorker(ctx)
			p.ctl.Unlock()
		}
		started()
		r.pollHead(ctx, projs)

		r.mu.Lock()
		r.runCtx = nil
		r.mu.Unlock()
		for _, p := range projs {
			p.ctl.Lock()
			p.stopWorker()
			p.ctl.Unlock()
		}
	}()
	return nil
}

// pollHead keeps the log's head (for lag) fresh until ctx ends.
func (r *Runner) pollHead(ctx context.Context, projs []*proj) {
	t := time.NewTicker(r.opts.HeadInterval)
	defer t.Stop()
	for {
		if seq, err := r.log.LastSeq(ctx); err == nil {
			r.observeHead(seq)
			for _, p := range projs {
				p.m.setLag(p.status().Lag)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runner) observeHead(seq uint64) {
	for {
		cur := r.head.Load()
		if seq <= cur || r.head.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Close stops the runner (without a drain deadline) and closes Pebble.
// Calls after Close return ErrClosed.
func (r *Runner) Close() error {
	r.dbMu.Lock() // waits for queries in progress; later ones fail
	if r.closed {
		r.dbMu.Unlock()
		return nil
	}
	r.closed = true
	r.dbMu.Unlock()

	_ = r.Stop(context.Background())
	r.mu.Lock()
	projs := slices.Clone(r.order)
	r.mu.Unlock()
	for _, p := range projs { // an offline Rebuild's worker
		p.ctl.Lock()
		p.stopWorker()
		p.ctl.Unlock()
	}
	err := r.db.Close()
	_ = r.fsCloser.Close()
	r.m.unregister()
	if err != nil {
		return fmt.Errorf("close projections: %w", err)
	}
	return nil
}

func (r *Runner) acquire() error {
	r.dbMu.RLock()
	if r.closed {
		r.dbMu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (r *Runner) release() { r.dbMu.RUnlock() }

func (r *Runner) get(name string) (*proj, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.projs[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return p, nil
}

// Directory returns the built-in actor directory.
func (r *Runner) Directory() *Directory { return r.dir }

// List returns the status of every projection, in registration order (the
// directory first).
func (r *Runner) List() []Status {
	r.mu.Lock()
	projs := slices.Clone(r.order)
	r.mu.Unlock()
	out := make([]Status, len(projs))
	for i, p := range projs {
		out[i] = p.status()
	}
	return out
}

// Status returns one projection's status.
func (r *Runner) Status(name string) (Status, error) {
	p, err := r.get(name)
	if err != nil {
		return Status{}, err
	}
	return p.status(), nil
}

// Wait waits until the projection has committed the event at sequence seq
// (for example one just appended): reads then see it. It returns an error
// matching ErrFailed if the projection fails first, and ctx's error if ctx
// ends first.
func (r *Runner) Wait(ctx context.Context, name string, seq uint64) error {
	p, err := r.get(name)
	if err != nil {
		return err
	}
	for {
		st, changed := p.watch()
		switch {
		case st.Checkpoint >= seq:
			return nil
		case st.State == StateFailed:
			return fmt.Errorf("projection %s: %w at sequence %d: %s", name, ErrFailed, st.FailedSeq, st.Error)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("projection %s at %d, waiting for %d: %w", name, st.Checkpoint, seq, context.Cause(ctx))
		}
	}
}

// Resume restarts a failed projection from its checkpoint, for example
// after a fix to its fold: the event it failed on is folded again. It is a
// no-op for a projection that has not failed. A stopped runner resumes every
// projection at its next Start anyway.
func (r *Runner) Resume(name string) error {
	p, err := r.get(name)
	if err != nil {
		return err
	}
	p.ctl.Lock()
	defer p.ctl.Unlock()
	if p.status().State != StateFailed {
		return nil
	}
	p.clearFailure()
	r.mu.Lock()
	ctx := r.runCtx
	r.mu.Unlock()
	if ctx != nil {
		p.startWorker(ctx)
	}
	return nil
}
