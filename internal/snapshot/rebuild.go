package snapshot

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// MetaLogIdentity names the metadata that records the identity of the log
// (eventlog.Log.Identity) the snapshots were built from.
const MetaLogIdentity = "log.identity"

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
// sequential scan: the recovery for a deleted or stale snapshot folder.
func Rebuild(ctx context.Context, log *eventlog.Log, store *Store, opts RebuildOptions) (RebuildProgress, error) {
	if opts.MaxPending <= 0 {
		opts.MaxPending = 10_000
	}
	if opts.ProgressEvery == 0 {
		opts.ProgressEvery = 100_000
	}
	start := time.Now()
	type folding struct {
		seq  uint64
		code string
		im   actorstate.Image
	}
	pending := map[string]*folding{}
	var p RebuildProgress
	if err := store.Clear(); err != nil {
		return p, fmt.Errorf("rebuild: clear snapshots: %w", err)
	}
	flush := func() error {
		puts := make([]Snapshot, 0, len(pending))
		for actor, f := range pending {
			puts = append(puts, Snapshot{Actor: actor, Seq: f.seq, CodeVersion: f.code, State: f.im.Encode()})
		}
		if err := store.Write(puts, nil); err != nil {
			return fmt.Errorf("rebuild: write snapshots: %w", err)
		}
		p.Actors += len(puts)
		clear(pending)
		return nil
	}
	last, err := log.Scan(ctx, 1, func(ev *eventlog.Event) error {
		f, ok := pending[ev.Subject]
		if !ok {
			// Written by an earlier batch of this rebuild, or not seen yet (the
			// store was cleared first, so then there is nothing).
			f = &folding{}
			stored, found, err := store.Get(ev.Subject)
			if err != nil {
				return fmt.Errorf("read snapshot of %s: %w", ev.Subject, err)
			}
			if found {
				if f.im, err = actorstate.Decode(stored.State); err != nil {
					return fmt.Errorf("snapshot of %s: %w", ev.Subject, err)
				}
			}
			pending[ev.Subject] = f
		}
		if err := f.im.Apply(ev); err != nil {
			return fmt.Errorf("fold event %d of %s: %w", ev.Seq, ev.Subject, err)
		}
		f.seq, f.code = ev.Seq, ev.CodeVersion
		p.Scanned++
		p.Seq = ev.Seq
		if len(pending) >= opts.MaxPending {
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
	identity, err := log.Identity(ctx)
	if err == nil {
		err = store.SetMeta(MetaLogIdentity, []byte(identity))
	}
	if err != nil {
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
