package actorstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
)

// Image is what a snapshot's State bytes hold: everything an actor is, as of a
// sequence. Its encoding is deterministic (KV in key order), so the runtime and
// a rebuild from the log produce the same bytes.
//
// Folding state patches keeps the state decoded in memory (decode once, apply
// every patch of a tail, encode once): after Apply folded a patch, State is
// stale until Settle (Encode settles too).
type Image struct {
	Generation uint64
	Exists     bool // false before the first create and after a tombstone
	State      []byte
	KV         map[string][]byte
	// Calls and Keys remember the call IDs and idempotency keys of committed
	// events (bounded: MaxRememberedCalls, MaxRememberedKeys), so a repeat is
	// answered once. They survive sleep and snapshot loss: the fold rebuilds
	// them. A destroy forgets them.
	Calls map[string]Remembered
	Keys  map[string]Remembered
	// Alarms are the actor's pending alarms by ID, Crons its crons by name
	// (alarms.go). The fold rebuilds them from the events' effects; a destroy
	// clears them, as does the create of a new generation.
	Alarms map[string]Alarm
	Crons  map[string]Cron
	// NextAlarmID is the number of the next alarm ID the actor allocates
	// (0 means 1). It is in the image, and the fold advances it past every
	// alarm set, so a replay allocates the same IDs; it never goes back, not
	// even across generations.
	NextAlarmID uint64

	doc *jsonpatch.Doc // the state, decoded, while patches are being folded; State is stale
}

// ErrBadImage reports bytes that are not an encoded Image.
var ErrBadImage = errors.New("bad actor image")

const imageVersion = 1

const (
	imgGeneration protowire.Number = 1
	imgExists     protowire.Number = 2
	imgState      protowire.Number = 3
	imgKV         protowire.Number = 4 // repeated {1: key, 2: value}
	imgCalls      protowire.Number = 5 // repeated Remembered
	imgKeys       protowire.Number = 6 // repeated Remembered
	imgAlarms     protowire.Number = 7 // repeated Alarm, as JSON, in ID order
	imgCrons      protowire.Number = 8 // repeated Cron, as JSON, in name order
	imgNextAlarm  protowire.Number = 9
)

// Apply folds one event into the image. A state patch that does not apply
// (a log this image does not belong to, or a corrupt event) is an error and
// leaves the image unchanged.
func (im *Image) Apply(ev *eventlog.Event) error {
	if ev.Kind != eventlog.KindDestroy && !ev.HasState && ev.Patch != nil {
		if err := im.applyPatch(ev.Patch); err != nil {
			return fmt.Errorf("event %d: state patch: %w", ev.Seq, err)
		}
	}
	im.applyRest(ev)
	im.applyAlarms(ev)
	im.remember(ev)
	return nil
}

// ApplyKnown folds ev like Apply, but takes the state after it from
// stateAfter instead of applying ev's patch: the runtime, which encoded that
// state itself, commits without decoding it.
func (im *Image) ApplyKnown(ev *eventlog.Event, stateAfter []byte) {
	if ev.Kind != eventlog.KindDestroy && !ev.HasState && ev.Patch != nil {
		im.State, im.doc = stateAfter, nil
	}
	im.applyRest(ev)
	im.applyAlarms(ev)
	im.remember(ev)
}

func (im *Image) applyPatch(patch []byte) error {
	if im.doc == nil {
		if im.State == nil {
			return errors.New("a patch to an actor with no state")
		}
		doc, err := jsonpatch.Parse(im.State)
		if err != nil {
			return fmt.Errorf("the state before it is not JSON: %w", err)
		}
		im.doc = doc
	}
	if err := im.doc.Apply(patch); err != nil {
		return err
	}
	im.State = nil // stale until Settle
	return nil
}

// applyRest folds everything but a state patch.
func (im *Image) applyRest(ev *eventlog.Event) {
	switch ev.Kind {
	case eventlog.KindDestroy:
		*im = Image{Generation: im.Generation, NextAlarmID: im.NextAlarmID}
		return
	case eventlog.KindCreate:
		*im = Image{Generation: ev.Generation, Exists: true, NextAlarmID: im.NextAlarmID}
	}
	if ev.HasState {
		im.State, im.doc = ev.State, nil
	}
	for _, w := range ev.KV {
		if w.Delete {
			delete(im.KV, string(w.Key))
			continue
		}
		if im.KV == nil {
			im.KV = map[string][]byte{}
		}
		im.KV[string(w.Key)] = w.Value
	}
}

// Settle encodes the state folded in memory into State (a no-op when no
// patch was folded since the last Settle).
func (im *Image) Settle() {
	if im.doc != nil {
		im.State = im.doc.Encode()
		im.doc = nil
	}
}

// Encode settles the image and returns its deterministic encoding.
func (im *Image) Encode() []byte {
	im.Settle()
	b := make([]byte, 0, 16+len(im.State))
	b = append(b, imageVersion)
	if im.Generation != 0 {
		b = protowire.AppendTag(b, imgGeneration, protowire.VarintType)
		b = protowire.AppendVarint(b, im.Generation)
	}
	if im.Exists {
		b = protowire.AppendTag(b, imgExists, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	if im.State != nil {
		b = protowire.AppendTag(b, imgState, protowire.BytesType)
		b = protowire.AppendBytes(b, im.State)
	}
	for _, k := range sortedKeys(im.KV) {
		v := im.KV[k]
		size := protowire.SizeTag(1) + protowire.SizeBytes(len(k)) + protowire.SizeTag(2) + protowire.SizeBytes(len(v))
		b = protowire.AppendTag(b, imgKV, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	b = appendRemembered(b, imgCalls, im.Calls)
	b = appendRemembered(b, imgKeys, im.Keys)
	for _, id := range sortedKeys(im.Alarms) {
		b = appendJSON(b, imgAlarms, im.Alarms[id])
	}
	for _, name := range sortedKeys(im.Crons) {
		b = appendJSON(b, imgCrons, im.Crons[name])
	}
	if im.NextAlarmID != 0 {
		b = protowire.AppendTag(b, imgNextAlarm, protowire.VarintType)
		b = protowire.AppendVarint(b, im.NextAlarmID)
	}
	return b
}

// appendJSON appends v's JSON as a bytes field. Alarms and crons are plain
// structs of strings, times and JSON: they always encode, deterministically.
func appendJSON(b []byte, num protowire.Number, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("actorstate: encode field %d: %v", num, err))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, raw)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Decode decodes Encode's output. Empty input is the empty image.
func Decode(b []byte) (Image, error) {
	var im Image
	if len(b) == 0 {
		return im, nil
	}
	if b[0] != imageVersion {
		return im, fmt.Errorf("%w: version %d", ErrBadImage, b[0])
	}
	b = b[1:]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return im, fmt.Errorf("%w: %v", ErrBadImage, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == imgGeneration && typ == protowire.VarintType:
			im.Generation, n = protowire.ConsumeVarint(b)
		case num == imgExists && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			im.Exists = v != 0
		case num == imgState && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			im.State = append(make([]byte, 0, len(v)), v...)
		case num == imgKV && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				k, val, err := decodeKV(v)
				if err != nil {
					return im, err
				}
				if im.KV == nil {
					im.KV = map[string][]byte{}
				}
				im.KV[k] = val
			}
		case (num == imgCalls || num == imgKeys) && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				var err error
				if num == imgCalls {
					im.Calls, err = decodeRemembered(im.Calls, v)
				} else {
					im.Keys, err = decodeRemembered(im.Keys, v)
				}
				if err != nil {
					return im, err
				}
			}
		case num == imgAlarms && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				var a Alarm
				if err := json.Unmarshal(v, &a); err != nil {
					return im, fmt.Errorf("%w: alarm: %v", ErrBadImage, err)
				}
				if im.Alarms == nil {
					im.Alarms = map[string]Alarm{}
				}
				im.Alarms[a.ID] = a
			}
		case num == imgCrons && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(b)
			if n >= 0 {
				var c Cron
				if err := json.Unmarshal(v, &c); err != nil {
					return im, fmt.Errorf("%w: cron: %v", ErrBadImage, err)
				}
				if im.Crons == nil {
					im.Crons = map[string]Cron{}
				}
				im.Crons[c.Name] = c
			}
		case num == imgNextAlarm && typ == protowire.VarintType:
			im.NextAlarmID, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return im, fmt.Errorf("%w: field %d: %v", ErrBadImage, num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	return im, nil
}

func decodeKV(b []byte) (string, []byte, error) {
	var key string
	val := []byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return "", nil, fmt.Errorf("%w: kv entry", ErrBadImage)
		}
		b = b[n:]
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return "", nil, fmt.Errorf("%w: kv entry", ErrBadImage)
		}
		b = b[m:]
		switch num {
		case 1:
			key = string(v)
		case 2:
			val = append(val[:0], v...)
		}
	}
	return key, val, nil
}
