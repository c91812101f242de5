package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
	"github.com/rivet-flow/rivet-flow/internal/dirlock"
)

// nodeSource reads a running node's log through its API: the actor
// directory lists the live actors, the runs listing the finished runs
// (left out), and each history is exported (GET /v1/actors/{id}/export).
type nodeSource struct {
	c       *client.Client
	skipped map[string]int // finished runs targets left out, per type
}

// listedOut is how many of each type's listed actors targets left out:
// the finished workflow runs (destroyed actors are not listed at all).
func (s *nodeSource) listedOut() map[string]int { return s.skipped }

func (s *nodeSource) name() string { return s.c.BaseURL() }

func (s *nodeSource) targets(ctx context.Context, typ string) ([]string, error) {
	var ids []string
	types := map[string]bool{}
	q := &client.ActorQuery{Type: typ, Status: "active", Limit: 1000}
	for {
		page, err := s.c.ListActors(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("list the node's actors: %w", err)
		}
		for _, a := range page.Actors {
			ids = append(ids, a.ID)
			types[a.Type] = true
		}
		if page.NextCursor == "" || page.NextCursor == q.Cursor {
			break
		}
		q.Cursor = page.NextCursor
	}
	// Leave out the finished runs of every type that is a workflow on the
	// node. One listing of all statuses, not one per open status: a run
	// that moves between open statuses while they are listed is not missed.
	finished := map[string]bool{}
	for t := range types {
		if err := s.finishedRuns(ctx, t, finished); err != nil {
			return nil, err
		}
	}
	open := ids[:0]
	s.skipped = map[string]int{}
	for _, id := range ids {
		if !finished[id] {
			open = append(open, id)
		} else if typ, _, err := actors.ParseID(id); err == nil {
			s.skipped[typ]++
		}
	}
	sort.Strings(open)
	return open, nil
}

// finishedRuns adds the actor IDs of workflow typ's finished runs to
// finished; a type that is no workflow on the node adds none.
func (s *nodeSource) finishedRuns(ctx context.Context, typ string, finished map[string]bool) error {
	opts := &client.RunListOptions{Limit: 1000}
	for {
		page, err := s.c.Runs(ctx, typ, opts)
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == string(errcode.WorkflowNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list the runs of workflow %s: %w", typ, err)
		}
		for _, r := range page.Runs {
			if client.RunFinished(r.Status) {
				finished[r.ActorID] = true
			}
		}
		if page.NextCursor == "" || page.NextCursor == opts.Cursor {
			return nil
		}
		opts.Cursor = page.NextCursor
	}
}

func (s *nodeSource) history(ctx context.Context, id string) ([]*eventlog.Event, error) {
	var buf bytes.Buffer
	if _, err := s.c.ExportHistory(ctx, id, &buf, nil); err != nil {
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Code == client.CodeActorNotFound {
			return nil, nil // destroyed since it was listed
		}
		return nil, fmt.Errorf("export: %w", err)
	}
	xs, err := history.ReadAll(&buf)
	if err != nil {
		return nil, err
	}
	evs := make([]*eventlog.Event, 0, len(xs))
	for i := range xs {
		if xs[i].ActorID != id {
			return nil, fmt.Errorf("export: event %d belongs to %q, not %s", xs[i].Seq, xs[i].ActorID, id)
		}
		ev, err := xs[i].LogEvent()
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// dirSource reads the event log of a stopped node from its data dir: it
// holds the dir's lock (no node can start on it meanwhile) and opens the
// embedded JetStream store the way serve does, without a listener.
type dirSource struct {
	dir  string
	lock *dirlock.Lock
	log  *eventlog.Log
}

// openDirSource opens dir's log, with an error that says what to do when
// it cannot: no log there, or a node running on it.
func openDirSource(ctx context.Context, dir string) (*dirSource, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--data-dir %s is not a directory: pass the data dir of a node (serve --data-dir)", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "nats")); err != nil {
		return nil, fmt.Errorf("--data-dir %s holds no event log (no nats/ folder): pass the data dir of a node that has run (serve --data-dir)", dir)
	}
	lock, err := dirlock.Acquire(dir)
	if errors.Is(err, dirlock.ErrLocked) {
		return nil, fmt.Errorf("--data-dir %s: a node is running on it (%v): replay against it with --addr (its URL) instead, or stop it first", dir, err)
	}
	if err != nil {
		return nil, dirlock.Explain(dir, err)
	}
	log, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("open the event log in %s: %w", dir, err)
	}
	return &dirSource{dir: dir, lock: lock, log: log}, nil
}

func (s *dirSource) close() {
	_ = s.log.Close(context.Background())
	s.lock.Release()
}

func (s *dirSource) name() string { return "data dir " + s.dir }

func (s *dirSource) targets(ctx context.Context, typ string) ([]string, error) {
	filter := eventlog.SubjectPrefix + ".>"
	if typ != "" {
		var err error
		if filter, err = eventlog.TypeFilter(typ); err != nil {
			return nil, err
		}
	}
	subjects, err := s.log.Subjects(ctx, filter)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(subjects))
	for subject := range subjects {
		ref, err := eventlog.ParseSubject(subject)
		if err != nil {
			continue // not an actor's subject
		}
		id, err := actors.ActorID(ref.Type, ref.Key)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

func (s *dirSource) history(ctx context.Context, id string) ([]*eventlog.Event, error) {
	subject := eventlog.SubjectPrefix + "." + id
	var evs []*eventlog.Event
	after := uint64(0)
	for {
		page, more, err := s.log.ReadActorPage(ctx, subject, after, 1000)
		if err != nil {
			return nil, fmt.Errorf("read the history: %w", err)
		}
		evs = append(evs, page...)
		if !more || len(page) == 0 {
			return evs, nil
		}
		after = page[len(page)-1].Seq
	}
}
