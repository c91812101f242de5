package snapshot

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

func validMetaName(name string) error {
	if name == "" || len(name) > MaxMetaNameLen {
		return fmt.Errorf("%w: meta name must be 1..%d bytes, got %d", ErrInvalid, MaxMetaNameLen, len(name))
	}
	return nil
}

// GetMeta returns the named metadata value (a copy), kept apart from
// snapshots so Each and Count never see it.
func (s *Store) GetMeta(name string) ([]byte, bool, error) {
	if err := validMetaName(name); err != nil {
		return nil, false, err
	}
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.release()
	v, closer, err := s.db.Get(metaKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("get meta %q: %w", name, err)
	}
	defer closer.Close()
	return append([]byte{}, v...), true, nil
}

// SetMeta stores a small named metadata value, without fsync like snapshots:
// metadata such as a rebuild checkpoint is also a cache of the log.
func (s *Store) SetMeta(name string, value []byte) error {
	if err := validMetaName(name); err != nil {
		return err
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.release()
	if err := s.db.Set(metaKey(name), value, pebble.NoSync); err != nil {
		return fmt.Errorf("set meta %q: %w", name, err)
	}
	return nil
}
