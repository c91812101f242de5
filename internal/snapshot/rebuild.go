package snapshot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Fold applies one event to an actor's snapshot: the single definition of what
// a snapshot is, shared by the actor runtime and the rebuild scan so that both
// produce the same bytes. It reports deleted when the event ends the actor.
func Fold(snap Snapshot, ev *eventlog.Event) (next Snapshot, deleted bool) {
	if ev.Kind == eventlog.KindDestroy {
		return Snapshot{Actor: ev.Subject, Seq: ev.Seq}, true
	}
	snap.Actor = ev.Subject
	snap.Seq = ev.Seq
	snap.CodeVersion = ev.CodeVersion
	if ev.HasState {
		snap.State = ev.State
	}
	return snap, false
}

// MetaRebuiltTo names the metadata that records the log sequence up to which
// the store was last rebuilt, and the stream it was rebuilt from.
const MetaRebuiltTo = "rebuild.to"

// RebuildProgress is reported while a rebuild runs.
type RebuildProgress struct {
	Scanned uint64 // events read so far
	Seq     uint64 // sequence of the last event read
	Last    uint64 // the log's last sequence when the rebuild began
	Actors  int    // snapshots written so far
	Elapsed time.Duration
}

// RebuildOptions tunes Rebuild. The zero value works.
type RebuildOptions struct {
	// MaxPending bounds the actors held in memory before they are written to
	// Pebble in one batch. Defaults to 10,000.
	MaxPending int
	// Progress, when set, is called every ProgressEvery events and at the end.
	Progress      func(RebuildProgress)
	ProgressEvery uint64 // Defaults to 100,000.
}

// Rebuild replaces every snapshot with one rebuilt from the log in a single
// sequential scan: the recovery for a deleted or stale snapshot folder. Actors
// whose last event is a tombstone have no snapshot afterwards.
func Rebuild(ctx context.Context, log *eventlog.Log, store *Store, opts RebuildOptions) (RebuildProgress, error) {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10_000
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 100_000
	}
	start := time.Now()
	pending := map[string]Snapshot{}
	deleted := map[string]bool{}
	var p RebuildProgress
	if err := store.Clear(); err != nil {
		return p, fmt.Errorf("rebuild: clear snapshots: %w", err)
	}
	flush := func() error {
		puts := make([]Snapshot, 0, len(pending))
		for _, s := range pending {
			puts = append(puts, s)
		}
		dels := make([]string, 0, len(deleted))
		for a := range deleted {
			dels = append(dels, a)
		}
		if err := store.Write(puts, dels); err != nil {
			return fmt.Errorf("rebuild: write snapshots: %w", err)
		}
		p.Actors += len(puts)
		clear(pending)
		clear(deleted)
		return nil
	}
	last, err := log.Scan(ctx, 1, func(ev *eventlog.Event) error {
		prev, ok := pending[ev.Subject]
		if !ok && !deleted[ev.Subject] {
			// Written by an earlier batch of this rebuild, or not seen yet (the
			// store was emptied first, so then there is nothing).
			stored, found, err := store.Get(ev.Subject)
			if err != nil {
				return fmt.Errorf("read snapshot of %s: %w", ev.Subject, err)
			}
			if found {
				prev = stored
			}
		}
		next, gone := Fold(prev, ev)
		if gone {
			delete(pending, ev.Subject)
			deleted[ev.Subject] = true
		} else {
			pending[ev.Subject] = next
			delete(deleted, ev.Subject)
		}
		p.Scanned++
		p.Seq = ev.Seq
		if len(pending)+len(deleted) >= opts.MaxPending {
			if err := flush(); err != nil {
				return err
			}
		}
		if opts.Progress != nil && p.Scanned%opts.ProgressEvery == 0 {
			p.Elapsed = time.Since(start)
			opts.Progress(p)
		}
		return ctx.Err()
	})
	p.Last = last
	if err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	if err := flush(); err != nil {
		return p, err
	}
	if err := store.SetMeta(MetaRebuiltTo, strconv.AppendUint(nil, last, 10)); err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	if err := store.Flush(); err != nil {
		return p, fmt.Errorf("rebuild: %w", err)
	}
	p.Elapsed = time.Since(start)
	if opts.Progress != nil {
		opts.Progress(p)
	}
	return p, nil
}
