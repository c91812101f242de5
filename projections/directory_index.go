package projections

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// The directory's index values: what an Actor holds besides its type and
// key (which are in the index key), as uvarints:
//
//	version (1), generation, status (0 active, 1 destroyed),
//	created, destroyed, last event (Unix nanoseconds + 1; 0 = zero time),
//	events, last sequence
const indexValueVersion = 1

var errCorruptIndex = errors.New("corrupt directory index entry")

func encodeIndexValue(a *Actor) []byte {
	b := make([]byte, 0, 48)
	b = binary.AppendUvarint(b, indexValueVersion)
	b = binary.AppendUvarint(b, a.Generation)
	status := uint64(0)
	if a.Status == ActorDestroyed {
		status = 1
	}
	b = binary.AppendUvarint(b, status)
	for _, t := range []time.Time{a.CreatedAt, a.DestroyedAt, a.LastEventAt} {
		n := uint64(0)
		if !t.IsZero() {
			n = uint64(t.UnixNano()) + 1
		}
		b = binary.AppendUvarint(b, n)
	}
	b = binary.AppendUvarint(b, a.Events)
	return binary.AppendUvarint(b, a.LastSeq)
}

// decodeIndexEntry rebuilds an Actor from an index key's type and ordered
// key (k: <type> 0x00 <orderedKey>) and its value.
func decodeIndexEntry(k, v []byte) (Actor, error) {
	var a Actor
	sep := 0
	for sep < len(k) && k[sep] != 0 {
		sep++
	}
	if sep == 0 || sep == len(k) {
		return a, errCorruptIndex
	}
	a.Type = string(k[:sep])
	key, ok := decodeOrderedKey(k[sep+1:])
	if !ok {
		return a, errCorruptIndex
	}
	a.Key = key
	subj, err := eventlog.ActorRef{Type: a.Type, Key: a.Key}.Subject()
	if err != nil {
		return a, errCorruptIndex
	}
	a.ID = subj[len(eventlog.SubjectPrefix)+1:]
	var f [8]uint64
	for i := range f {
		n, w := binary.Uvarint(v)
		if w <= 0 {
			return a, errCorruptIndex
		}
		f[i], v = n, v[w:]
	}
	if f[0] != indexValueVersion || len(v) != 0 {
		return a, errCorruptIndex
	}
	a.Generation, a.Status = f[1], ActorActive
	if f[2] == 1 {
		a.Status = ActorDestroyed
	}
	for i, t := range []*time.Time{&a.CreatedAt, &a.DestroyedAt, &a.LastEventAt} {
		if n := f[3+i]; n != 0 {
			*t = time.Unix(0, int64(n-1)).UTC()
		}
	}
	a.Events, a.LastSeq = f[6], f[7]
	return a, nil
}

// decodeOrderedKey is the inverse of appendOrderedKey.
func decodeOrderedKey(b []byte) ([]string, bool) {
	key := []string{}
	var part []byte
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			part = append(part, b[i])
			continue
		}
		if i+1 == len(b) {
			return nil, false
		}
		i++
		switch b[i] {
		case 0xff:
			part = append(part, 0)
		case 1:
			key = append(key, string(part))
			part = part[:0]
		default:
			return nil, false
		}
	}
	return key, len(part) == 0
}
