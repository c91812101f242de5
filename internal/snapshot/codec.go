package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits on identifiers, so keys and values stay bounded (DESIGN invariant 5).
const (
	// MaxActorLen is the longest actor identity, in bytes, a snapshot may carry.
	MaxActorLen = 1024
	// MaxCodeVersionLen is the longest CodeVersion, in bytes.
	MaxCodeVersionLen = 1024
	// MaxMetaNameLen is the longest metadata name, in bytes.
	MaxMetaNameLen = 1024
)

var (
	// ErrCorrupt reports a stored value that cannot be decoded. The store is a
	// cache of the log, so callers treat it as a miss and rebuild the actor
	// from the log (the next write overwrites the bad entry).
	ErrCorrupt = errors.New("snapshot: corrupt cache entry")
	// ErrInvalid reports an argument the store refuses to write (empty actor,
	// over-long names, Seq 0). Nothing is written when it is returned.
	ErrInvalid = errors.New("snapshot: invalid argument")
	// ErrClosed is returned by calls made after Close.
	ErrClosed = errors.New("snapshot: store closed")
)

// Key spaces: snapshots and metadata never collide because the prefix byte
// differs, and the 0 separator keeps each space a contiguous key range.
const (
	snapPrefix = "s\x00"
	metaPrefix = "m\x00"
)

// formatV1 is the first byte of every value, so the encoding can evolve
// without guessing at old data.
const formatV1 = 1

var (
	snapLower = []byte(snapPrefix)
	snapUpper = []byte("s\x01")
)

func snapKey(actor string) []byte {
	k := make([]byte, 0, len(snapPrefix)+len(actor))
	return append(append(k, snapPrefix...), actor...)
}

func metaKey(name string) []byte {
	k := make([]byte, 0, len(metaPrefix)+len(name))
	return append(append(k, metaPrefix...), name...)
}

func validActor(actor string) error {
	switch {
	case actor == "":
		return fmt.Errorf("%w: empty actor", ErrInvalid)
	case len(actor) > MaxActorLen:
		return fmt.Errorf("%w: actor is %d bytes, limit %d", ErrInvalid, len(actor), MaxActorLen)
	}
	return nil
}

func validate(s *Snapshot) error {
	if err := validActor(s.Actor); err != nil {
		return err
	}
	// Stream sequences start at 1, so 0 means the caller never folded an event.
	if s.Seq == 0 {
		return fmt.Errorf("%w: actor %q: Seq 0", ErrInvalid, s.Actor)
	}
	if len(s.CodeVersion) > MaxCodeVersionLen {
		return fmt.Errorf("%w: actor %q: CodeVersion is %d bytes, limit %d",
			ErrInvalid, s.Actor, len(s.CodeVersion), MaxCodeVersionLen)
	}
	return nil
}

// appendValue appends the encoded value of s to dst: version byte, uvarint
// Seq, uvarint-prefixed CodeVersion, then State to the end (no length needed).
func appendValue(dst []byte, s *Snapshot) []byte {
	dst = append(dst, formatV1)
	dst = binary.AppendUvarint(dst, s.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(s.CodeVersion)))
	dst = append(dst, s.CodeVersion...)
	return append(dst, s.State...)
}

func encodedLen(s *Snapshot) int {
	return 1 + 2*binary.MaxVarintLen64 + len(s.CodeVersion) + len(s.State)
}

// decodeValue decodes v, copying everything out so the result never aliases
// v (which may be Pebble-owned memory).
func decodeValue(actor string, v []byte) (Snapshot, error) {
	corrupt := func(why string) (Snapshot, error) {
		return Snapshot{}, fmt.Errorf("%w: actor %q: %s", ErrCorrupt, actor, why)
	}
	if len(v) == 0 {
		return corrupt("empty value")
	}
	if v[0] != formatV1 {
		return corrupt(fmt.Sprintf("unknown format version %d", v[0]))
	}
	rest := v[1:]
	seq, n := binary.Uvarint(rest)
	if n <= 0 {
		return corrupt("truncated seq")
	}
	rest = rest[n:]
	cvLen, n := binary.Uvarint(rest)
	if n <= 0 {
		return corrupt("truncated code version length")
	}
	rest = rest[n:]
	if cvLen > uint64(len(rest)) {
		return corrupt(fmt.Sprintf("code version length %d exceeds remaining %d bytes", cvLen, len(rest)))
	}
	return Snapshot{
		Actor:       actor,
		Seq:         seq,
		CodeVersion: string(rest[:cvLen]),
		State:       append([]byte(nil), rest[cvLen:]...),
	}, nil
}
