package workflows

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
)

// ErrInvalidListQuery: a ListQuery's status is not a run status, or its
// cursor is not one List returned. Compare with errors.Is.
var ErrInvalidListQuery = &Error{Code: errcode.InvalidRequest, Message: "invalid run listing"}

// ErrInvalidListCursor: a ListQuery's cursor is not one List returned for
// this workflow and status (malformed, or another listing's). The error
// matches ErrInvalidListQuery too.
var ErrInvalidListCursor = &Error{Code: errcode.InvalidCursor, Message: "invalid run listing cursor"}

// listCursorError is a cursor List refuses: ErrInvalidListCursor and
// ErrInvalidListQuery, with a message naming the cursor and the listing.
type listCursorError struct{ msg string }

func (e *listCursorError) Error() string { return e.msg }

func (e *listCursorError) Unwrap() []error {
	return []error{ErrInvalidListCursor, ErrInvalidListQuery}
}

// Statuses are the run statuses, in their lifecycle's order.
var Statuses = []Status{StatusRunning, StatusSleeping, StatusWaiting, StatusPaused, StatusCompleted, StatusFailed, StatusCancelled}

// ListQuery selects and pages the runs List returns.
type ListQuery struct {
	// Status keeps only the runs with this status. Defaults to every run.
	Status Status
	// Limit is the page size. Defaults to 100; at most 1,000.
	Limit int
	// Cursor continues a listing: the nextCursor of its previous page
	// (with the same Status). Defaults to the first page.
	Cursor string
	// MaxWait bounds how long List waits for the runs projection to reach
	// the log's head (read-your-writes: a run just started or changed is
	// listed as it is); after it List answers from what the projection
	// holds. Defaults to 2s.
	MaxWait time.Duration
}

// runsIndex is the engine's runs projection and where it reads the log's
// head.
type runsIndex struct {
	projs *projections.Runner
	def   *projections.Definition[RunSummary]
	log   *eventlog.Log
}

// UseRunsProjection registers the runs projection (RunsProjection over
// this engine's workflows) on projs, which must not be started yet, and
// makes List read it; log is the log projs folds (List waits for its
// head). With no workflows it registers nothing (List has nothing to
// list). Call it once, after NewEngine.
func (e *Engine) UseRunsProjection(projs *projections.Runner, log *eventlog.Log) error {
	if projs == nil || log == nil {
		return errors.New("workflows: UseRunsProjection needs a projection runner and its log")
	}
	names := e.Names()
	if len(names) == 0 {
		return nil
	}
	def, err := RunsProjection(names)
	if err != nil {
		return err
	}
	idx := &runsIndex{projs: projs, def: def, log: log}
	if !e.runs.CompareAndSwap(nil, idx) {
		return errors.New("workflows: the engine has a runs projection already")
	}
	if err := projs.Register(def); err != nil {
		e.runs.Store(nil)
		return fmt.Errorf("register the runs projection: %w", err)
	}
	return nil
}

// runsIndex returns e's runs index, nil without UseRunsProjection.
func (e *Engine) runsIndex() *runsIndex { return e.runs.Load() }

// Names are the names of the engine's workflows, sorted.
func (e *Engine) Names() []string {
	names := make([]string, 0, len(e.defs))
	for n := range e.defs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// List returns a page of the runs of workflow name in run ID order, from
// the runs projection (UseRunsProjection), and the cursor of the next page
// ("" on the last). With a Status it reads that status's index, so the
// page holds exactly the runs with that status (a run that changed status
// between the index and its row is left out). Unknown workflow:
// ErrWorkflowNotFound; a bad status or cursor: ErrInvalidListQuery.
func (e *Engine) List(ctx context.Context, name string, q ListQuery) ([]RunSummary, string, error) {
	if _, ok := e.defs[name]; !ok {
		return nil, "", fmt.Errorf("%w: %q", ErrWorkflowNotFound, name)
	}
	if q.Status != "" && !slices.Contains(Statuses, q.Status) {
		return nil, "", fmt.Errorf("%w: status %q is not one of running, sleeping, waiting, paused, completed, failed, cancelled", ErrInvalidListQuery, q.Status)
	}
	idx := e.runsIndex()
	if idx == nil {
		return nil, "", errors.New("workflows: List needs the runs projection (Engine.UseRunsProjection)")
	}
	idx.catchUp(ctx, e.opts.Logger.Warn, q.MaxWait)
	limit := q.Limit
	if limit <= 0 {
		limit = projections.DefaultPageLimit
	}
	limit = min(limit, projections.MaxPageLimit)
	if q.Status == "" {
		rows, next, err := idx.def.List(idx.projs, runPrefix(name), limit, q.Cursor)
		if err != nil {
			return nil, "", listError(name, q, err)
		}
		runs := make([]RunSummary, len(rows))
		for i, r := range rows {
			runs[i] = r.Value
		}
		return runs, next, nil
	}
	page, err := idx.projs.Rows(RunsProjectionName, statusPrefix(q.Status, name), limit, q.Cursor)
	if err != nil {
		return nil, "", listError(name, q, err)
	}
	prefix := statusPrefix(q.Status, name)
	runs := make([]RunSummary, 0, len(page.Rows))
	for _, r := range page.Rows {
		runID := r.Key[len(prefix):]
		run, found, err := idx.def.Get(idx.projs, runKey(name, runID))
		if err != nil {
			return nil, "", listError(name, q, err)
		}
		// The index and the rows are read apart: a run that moved on
		// since is not in this status any more.
		if found && run.Status == q.Status {
			runs = append(runs, run)
		}
	}
	return runs, page.NextCursor, nil
}

// catchUp waits, at most maxWait (2s if 0) and while ctx lasts, until the
// projection has folded the log up to its head as of now.
func (idx *runsIndex) catchUp(ctx context.Context, warn func(string, ...any), maxWait time.Duration) {
	if maxWait <= 0 {
		maxWait = 2 * time.Second
	}
	last, err := idx.log.LastSeq(ctx)
	if err != nil {
		if ctx.Err() == nil {
			warn("list workflow runs: cannot read the log's head; listing the runs projection as it is", "err", err)
		}
		return
	}
	wctx, cancel := context.WithTimeout(ctx, maxWait)
	defer cancel()
	if err := idx.projs.Wait(wctx, RunsProjectionName, last); err != nil && ctx.Err() == nil {
		warn("list workflow runs: the runs projection is behind the log; listing what it holds", "err", err)
	}
}

// listError names the listing in a projection error: a cursor the
// projection refuses (not of this listing: the runs projection's rows are
// keyed by workflow and status, so another listing's cursor is outside its
// prefix) is a *listCursorError, another bad argument ErrInvalidListQuery.
func listError(name string, q ListQuery, err error) error {
	if errors.Is(err, projections.ErrInvalidCursor) {
		listing := "the runs of workflow " + name
		if q.Status != "" {
			listing += " with status " + string(q.Status)
		}
		return &listCursorError{msg: fmt.Sprintf("cursor %q is not a cursor of this listing (%s)", q.Cursor, listing)}
	}
	if errors.Is(err, projections.ErrInvalid) {
		return fmt.Errorf("%w: %v; pass the nextCursor of the previous page", ErrInvalidListQuery, err)
	}
	return fmt.Errorf("list the runs of %s: %w", name, err)
}

// forEachRunning calls fn with the ID of each run of workflow name that the
// runs projection holds as running, once the projection has folded the log
// up to its head (bounded by ctx only: at startup the projection may have
// the whole log to fold). ok is false without a runs projection
// (UseRunsProjection). It is what Engine.Start needs to resume the running
// runs without scanning the log's subjects (design §1.6).
func (e *Engine) forEachRunning(ctx context.Context, name string, fn func(runID string) error) (ok bool, err error) {
	idx := e.runsIndex()
	if idx == nil {
		return false, nil
	}
	last, err := idx.log.LastSeq(ctx)
	if err != nil {
		return true, fmt.Errorf("list the running runs of %s: %w", name, err)
	}
	if err := idx.projs.Wait(ctx, RunsProjectionName, last); err != nil {
		return true, fmt.Errorf("list the running runs of %s: %w", name, err)
	}
	prefix := statusPrefix(StatusRunning, name)
	for cursor := ""; ; {
		page, err := idx.projs.Rows(RunsProjectionName, prefix, projections.MaxPageLimit, cursor)
		if err != nil {
			return true, fmt.Errorf("list the running runs of %s: %w", name, err)
		}
		for _, r := range page.Rows {
			if err := fn(r.Key[len(prefix):]); err != nil {
				return true, err
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			return true, nil
		}
	}
}
