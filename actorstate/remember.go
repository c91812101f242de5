package actorstate

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Remembered is a call the actor committed under an ID (a call ID from
// another actor, or a caller's idempotency key): a repeat with the same ID is
// answered from the event at Seq instead of running again.
type Remembered struct {
	Seq  uint64    // the event that answered it; its Output is the answer
	Hash uint64    // of the action and its arguments (CallHash): a repeat must match
	At   time.Time // the event's recorded time, for windows
}

// How many IDs an image remembers; past these the oldest (lowest Seq) go.
// The fold applies the bounds, so every fold of a log remembers the same.
// Effect IDs (of one-way sends, "<seq>/<index>": they start with a digit,
// call IDs with an actor type's letter) share Calls with call IDs but have
// their own bound: a redelivery by the outbox after a crash comes up to a
// batch of the log late, and a busy receiver must still know it.
const (
	MaxRememberedCalls   = 256
	MaxRememberedEffects = 1024
	MaxRememberedKeys    = 1000
)

// IsEffectID reports whether a call ID is an effect ID: a one-way send's
// "<stream sequence>/<effect index>".
func IsEffectID(id string) bool { return id != "" && id[0] >= '0' && id[0] <= '9' }

// CallHash identifies an action and its arguments, ignoring insignificant
// whitespace in the JSON: what a repeat of a remembered call must match.
func CallHash(action string, args []byte) uint64 {
	h := fnv.New64a()
	h.Write([]byte(action))
	h.Write([]byte{0})
	var buf bytes.Buffer
	if json.Compact(&buf, args) == nil {
		args = buf.Bytes()
	}
	h.Write(args)
	return h.Sum64()
}

// remember notes ev's call ID and idempotency key.
func (im *Image) remember(ev *eventlog.Event) {
	if ev.CallID == "" && ev.IdempotencyKey == "" {
		return
	}
	r := Remembered{Seq: ev.Seq, Hash: CallHash(ev.Action, ev.Args), At: ev.Time}
	if ev.CallID != "" {
		im.Calls = rememberCall(im.Calls, ev.CallID, r)
	}
	if ev.IdempotencyKey != "" {
		im.Keys = rememberIn(im.Keys, ev.IdempotencyKey, r, MaxRememberedKeys)
	}
}

func rememberIn(m map[string]Remembered, id string, r Remembered, limit int) map[string]Remembered {
	if m == nil {
		m = map[string]Remembered{}
	}
	m[id] = r
	if len(m) > limit {
		oldest, first := "", true
		for k, v := range m {
			if first || v.Seq < m[oldest].Seq {
				oldest, first = k, false
			}
		}
		delete(m, oldest)
	}
	return m
}

// rememberCall adds a call or effect ID to m, then drops the oldest of its
// kind if that kind is over its bound. Under MaxRememberedCalls entries in
// all, neither can be: the common case costs no walk of m.
func rememberCall(m map[string]Remembered, id string, r Remembered) map[string]Remembered {
	if m == nil {
		m = map[string]Remembered{}
	}
	m[id] = r
	if len(m) <= min(MaxRememberedCalls, MaxRememberedEffects) {
		return m
	}
	effect := IsEffectID(id)
	limit := MaxRememberedCalls
	if effect {
		limit = MaxRememberedEffects
	}
	n, oldest := 0, ""
	for k, v := range m {
		if IsEffectID(k) != effect {
			continue
		}
		if n == 0 || v.Seq < m[oldest].Seq {
			oldest = k
		}
		n++
	}
	if n > limit {
		delete(m, oldest)
	}
	return m
}

// appendRemembered encodes m in key order (deterministic) as repeated
// {1: id, 2: seq, 3: hash, 4: unix nanos}.
func appendRemembered(b []byte, num protowire.Number, m map[string]Remembered) []byte {
	for _, k := range sortedKeys(m) {
		v := m[k]
		var e []byte
		e = protowire.AppendTag(e, 1, protowire.BytesType)
		e = protowire.AppendString(e, k)
		e = protowire.AppendTag(e, 2, protowire.VarintType)
		e = protowire.AppendVarint(e, v.Seq)
		e = protowire.AppendTag(e, 3, protowire.VarintType)
		e = protowire.AppendVarint(e, v.Hash)
		e = protowire.AppendTag(e, 4, protowire.VarintType)
		e = protowire.AppendVarint(e, protowire.EncodeZigZag(v.At.UnixNano()))
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, e)
	}
	return b
}

func decodeRemembered(m map[string]Remembered, b []byte) (map[string]Remembered, error) {
	var id string
	var r Remembered
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return m, ErrBadImage
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			id = string(v)
		case typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			switch num {
			case 2:
				r.Seq = v
			case 3:
				r.Hash = v
			case 4:
				r.At = time.Unix(0, protowire.DecodeZigZag(v)).UTC()
			}
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return m, ErrBadImage
		}
		b = b[n:]
	}
	if m == nil {
		m = map[string]Remembered{}
	}
	m[id] = r
	return m, nil
}
