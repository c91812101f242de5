package projections

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RebuildProgress is reported while Rebuild runs.
type RebuildProgress struct {
	Name string
	// Checkpoint is the sequence folded up to (committed).
	Checkpoint uint64
	// Target is the log's last sequence when the rebuild began; the rebuild
	// is done when Checkpoint reaches it.
	Target uint64
	// Rows is the number of rows so far.
	Rows int64
	// Elapsed is the time since the rebuild began.
	Elapsed time.Duration
	// Done is set on the last report, once Checkpoint reached Target.
	Done bool
}

// errRebuildStopped reports a rebuild whose worker stopped before it was done.
var errRebuildStopped = errors.New("the projection stopped before the rebuild finished; it continues from its checkpoint at the next start")

// Rebuild clears the projection's rows and checkpoint and folds the whole log
// again. It returns once the projection has caught up with the log's head as
// of the call, calling progress (if not nil) from the calling goroutine about
// every Options.ProgressEvery events and once at the end.
//
// While the runner runs, the rebuild is its worker's job: if ctx ends first,
// Rebuild returns ctx's error and the rebuild goes on (Status shows it as
// rebuilding). While the runner is stopped, Rebuild folds under ctx and stops
// with it; either way the checkpoint commits with the rows, so an interrupted
// rebuild resumes where it stopped. Reads during a rebuild see partial rows.
// A projection that fails during the rebuild returns an error matching
// ErrFailed.
func (r *Runner) Rebuild(ctx context.Context, name string, progress func(RebuildProgress)) error {
	p, err := r.get(name)
	if err != nil {
		return err
	}
	start := time.Now()
	target, err := r.log.LastSeq(ctx)
	if err != nil {
		return fmt.Errorf("rebuild projection %s: %w", name, err)
	}
	if err := r.acquire(); err != nil {
		return err
	}
	p.ctl.Lock()
	p.stopWorker()
	if err := r.clear(name); err != nil {
		p.ctl.Unlock()
		r.release()
		return fmt.Errorf("rebuild projection %s: clear: %w", name, err)
	}
	p.update(func() {
		p.meta, p.rebuilding = meta{}, true
		p.failedSeq, p.errMsg, p.failedAt = 0, "", time.Time{}
		p.head = max(p.head, target)
		p.state = StateStopped
	})
	r.mu.Lock()
	runCtx := r.runCtx
	r.mu.Unlock()
	var mine *worker
	if runCtx != nil {
		p.startWorker(runCtx)
	} else {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		p.startWorker(wctx)
		mine = p.w
	}
	p.ctl.Unlock()
	r.release()

	err = p.waitRebuild(ctx, target, start, progress)
	if mine != nil {
		p.ctl.Lock()
		if p.w == mine {
			p.stopWorker()
		}
		p.ctl.Unlock()
	}
	if err != nil {
		return fmt.Errorf("rebuild projection %s: %w", name, err)
	}
	return nil
}

// clear deletes a projection's rows, index entries and checkpoint in one batch.
func (r *Runner) clear(name string) error {
	b := r.db.NewBatch()
	defer b.Close()
	for _, pfx := range [][]byte{rowPrefix(name), idxPrefix(name)} {
		if err := b.DeleteRange(pfx, prefixEnd(pfx), nil); err != nil {
			return err
		}
	}
	if err := b.Delete(metaKey(name), nil); err != nil {
		return err
	}
	return b.Commit(r.wopt)
}

func (p *proj) waitRebuild(ctx context.Context, target uint64, start time.Time, progress func(RebuildProgress)) error {
	var reported uint64
	report := func(st Status, done bool) {
		if progress != nil {
			progress(RebuildProgress{Name: p.name, Checkpoint: st.Checkpoint, Target: target, Rows: st.Rows,
				Elapsed: time.Since(start), Done: done})
		}
		reported = st.Checkpoint
	}
	for {
		st, changed := p.watch()
		switch {
		case st.Checkpoint >= target:
			report(st, true)
			return nil
		case st.State == StateFailed:
			return fmt.Errorf("%w at sequence %d: %s", ErrFailed, st.FailedSeq, st.Error)
		case st.State == StateStopped:
			// Between two workers (the runner started) or stopped for good:
			// the control lock settles which.
			p.ctl.Lock()
			stopped := p.w == nil || isDone(p.w.done)
			p.ctl.Unlock()
			if stopped {
				if err := ctx.Err(); err != nil {
					return context.Cause(ctx)
				}
				return errRebuildStopped
			}
			continue
		}
		if st.Checkpoint-reported >= p.r.opts.ProgressEvery {
			report(st, false)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func isDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
