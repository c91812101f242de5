package snapshot

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Each calls fn for every stored snapshot in actor (byte) order and stops at
// the first error, which it returns. It sees only what the Writer has
// flushed: call Flush first for a view that includes recent Puts. fn must
// not call Close (Close waits for Each to return).
func (s *Store) Each(fn func(Snapshot) error) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: snapLower, UpperBound: snapUpper})
	if err != nil {
		return fmt.Errorf("iterate snapshots: %w", err)
	}
	for it.First(); it.Valid(); it.Next() {
		actor := string(it.Key()[len(snapPrefix):])
		v, err := it.ValueAndErr()
		if err != nil {
			_ = it.Close()
			return fmt.Errorf("iterate snapshots at %q: %w", actor, err)
		}
		snap, err := decodeValue(actor, v)
		if err == nil {
			err = fn(snap)
		}
		if err != nil {
			_ = it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("iterate snapshots: %w", err)
	}
	return nil
}

// Count returns the number of stored snapshots. Like Each it sees only
// flushed writes, and it scans every key: it is for tests and tooling, not
// hot paths.
func (s *Store) Count() (int, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.release()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: snapLower, UpperBound: snapUpper})
	if err != nil {
		return 0, fmt.Errorf("count snapshots: %w", err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("count snapshots: %w", err)
	}
	return n, nil
}

// Clear deletes every stored snapshot (metadata stays, but Head starts over)
// with one range tombstone, so it is cheap at any size and works even when
// entries are corrupt, which Each would stop at. Writes still pending in the
// Writer are not cleared and land afterwards.
func (s *Store) Clear() error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if err := s.db.DeleteRange(snapLower, snapUpper, pebble.NoSync); err != nil {
		return fmt.Errorf("clear snapshots: %w", err)
	}
	s.head.Store(0)
	if err := s.db.Delete(metaKey(MetaHead), pebble.NoSync); err != nil {
		return fmt.Errorf("clear snapshots: %w", err)
	}
	return nil
}
