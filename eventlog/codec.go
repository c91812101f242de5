package eventlog

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// ErrCorruptEvent reports an event envelope that cannot be decoded.
var ErrCorruptEvent = errors.New("corrupt event envelope")

// The envelope is a version byte followed by protobuf wire-format fields, written
// by hand with protowire: BenchmarkCodec measured it several times faster and
// smaller than encoding/json for the same Event, and unknown fields are skipped,
// so later versions can add fields that older readers ignore.
const (
	fKind        protowire.Number = 1
	fGeneration  protowire.Number = 2
	fAction      protowire.Number = 3
	fArgs        protowire.Number = 4
	fCaller      protowire.Number = 5
	fTime        protowire.Number = 6 // unix nanoseconds
	fSeed        protowire.Number = 7
	fHasState    protowire.Number = 8
	fState       protowire.Number = 9
	fOutput      protowire.Number = 10
	fCodeVersion protowire.Number = 11
	fBroadcast   protowire.Number = 12
	fKV          protowire.Number = 13
	fStep        protowire.Number = 14
	fEffect      protowire.Number = 15
	fPatch       protowire.Number = 16
	fCallID      protowire.Number = 17
	fIdemKey     protowire.Number = 18

	fSubName   protowire.Number = 1 // name / key / type of a nested record
	fSubData   protowire.Number = 2 // args / value / data
	fSubDelete protowire.Number = 3
)

var fieldTypes = map[protowire.Number]protowire.Type{
	fKind: protowire.VarintType, fGeneration: protowire.VarintType, fTime: protowire.VarintType,
	fSeed: protowire.VarintType, fHasState: protowire.VarintType,
	fAction: protowire.BytesType, fArgs: protowire.BytesType, fCaller: protowire.BytesType,
	fState: protowire.BytesType, fOutput: protowire.BytesType, fCodeVersion: protowire.BytesType,
	fBroadcast: protowire.BytesType, fKV: protowire.BytesType, fStep: protowire.BytesType,
	fEffect: protowire.BytesType, fPatch: protowire.BytesType,
	fCallID: protowire.BytesType, fIdemKey: protowire.BytesType,
}

// MarshalEvent encodes ev's envelope (everything but Seq, Subject and Stored).
func MarshalEvent(ev *Event) []byte {
	return AppendEvent(make([]byte, 0, sizeHint(ev)), ev)
}

// sizeHint bounds ev's encoded size from above (for small fields; large ones
// may need a few bytes more), so MarshalEvent allocates once.
func sizeHint(ev *Event) int {
	// Version, kind, generation, time, seed, has-state: at most 40 bytes;
	// every bytes field and record: a tag and a length of at most 6.
	n := 40 + 8*6 + len(ev.Action) + len(ev.Args) + len(ev.Caller) + len(ev.State) + len(ev.Patch) + len(ev.Output) + len(ev.CodeVersion)
	for _, x := range ev.Broadcasts {
		n += 18 + len(x.Name) + len(x.Args)
	}
	for _, x := range ev.KV {
		n += 20 + len(x.Key) + len(x.Value)
	}
	for _, x := range ev.Steps {
		n += 18 + len(x.Name) + len(x.Data)
	}
	for _, x := range ev.Effects {
		n += 18 + len(x.Type) + len(x.Data)
	}
	return n
}

// AppendEvent appends ev's encoded envelope to b.
func AppendEvent(b []byte, ev *Event) []byte {
	b = append(b, EnvelopeVersion)
	b = appendVarint(b, fKind, uint64(ev.Kind))
	b = appendVarint(b, fGeneration, ev.Generation)
	b = appendString(b, fAction, ev.Action)
	b = appendBytes(b, fArgs, ev.Args)
	b = appendString(b, fCaller, ev.Caller)
	if !ev.Time.IsZero() {
		b = protowire.AppendTag(b, fTime, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(ev.Time.UnixNano()))
	}
	b = appendVarint(b, fSeed, ev.Seed)
	if ev.HasState {
		b = protowire.AppendTag(b, fHasState, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
		b = protowire.AppendTag(b, fState, protowire.BytesType)
		b = protowire.AppendBytes(b, ev.State)
	}
	b = appendBytes(b, fPatch, ev.Patch)
	b = appendBytes(b, fOutput, ev.Output)
	b = appendString(b, fCodeVersion, ev.CodeVersion)
	b = appendString(b, fCallID, ev.CallID)
	b = appendString(b, fIdemKey, ev.IdempotencyKey)
	for _, x := range ev.Broadcasts {
		b = appendPair(b, fBroadcast, x.Name, x.Args, false)
	}
	for _, x := range ev.KV {
		b = appendPair(b, fKV, string(x.Key), x.Value, x.Delete)
	}
	for _, x := range ev.Steps {
		b = appendPair(b, fStep, x.Name, x.Data, false)
	}
	for _, x := range ev.Effects {
		b = appendPair(b, fEffect, x.Type, x.Data, false)
	}
	return b
}

// UnmarshalEvent decodes an envelope written by MarshalEvent into ev. Byte
// slices in ev are copies, never aliases of data.
func UnmarshalEvent(data []byte, ev *Event) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: empty", ErrCorruptEvent)
	}
	if data[0] == 0 || data[0] > EnvelopeVersion {
		return fmt.Errorf("%w: envelope version %d, this build reads %d", ErrCorruptEvent, data[0], EnvelopeVersion)
	}
	*ev = Event{Seq: ev.Seq, Subject: ev.Subject, Stored: ev.Stored}
	b := data[1:]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", ErrCorruptEvent, protowire.ParseError(n))
		}
		b = b[n:]
		var v uint64
		var raw []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			raw, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("%w: field %d: %v", ErrCorruptEvent, num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := ev.setField(num, typ, v, raw); err != nil {
			return err
		}
	}
	return nil
}

func (ev *Event) setField(num protowire.Number, typ protowire.Type, v uint64, raw []byte) error {
	if want, known := fieldTypes[num]; known && typ != want {
		return fmt.Errorf("%w: field %d has wire type %d, want %d", ErrCorruptEvent, num, typ, want)
	}
	switch num {
	case fKind:
		ev.Kind = Kind(v)
	case fGeneration:
		ev.Generation = v
	case fAction:
		ev.Action = string(raw)
	case fArgs:
		ev.Args = clone(raw)
	case fCaller:
		ev.Caller = string(raw)
	case fTime:
		ev.Time = time.Unix(0, protowire.DecodeZigZag(v)).UTC()
	case fSeed:
		ev.Seed = v
	case fHasState:
		ev.HasState = v != 0
	case fState:
		ev.State = clone(raw)
	case fPatch:
		ev.Patch = clone(raw)
	case fOutput:
		ev.Output = clone(raw)
	case fCodeVersion:
		ev.CodeVersion = string(raw)
	case fCallID:
		ev.CallID = string(raw)
	case fIdemKey:
		ev.IdempotencyKey = string(raw)
	case fBroadcast, fKV, fStep, fEffect:
		name, data, del, err := consumePair(raw)
		if err != nil {
			return fmt.Errorf("%w: field %d: %v", ErrCorruptEvent, num, err)
		}
		switch num {
		case fBroadcast:
			ev.Broadcasts = append(ev.Broadcasts, Broadcast{Name: name, Args: data})
		case fKV:
			ev.KV = append(ev.KV, KVWrite{Key: []byte(name), Value: data, Delete: del})
		case fStep:
			ev.Steps = append(ev.Steps, Step{Name: name, Data: data})
		case fEffect:
			ev.Effects = append(ev.Effects, Effect{Type: name, Data: data})
		}
	}
	return nil
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if v == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendPair writes a nested record {name, data, delete}.
func appendPair(b []byte, num protowire.Number, name string, data []byte, del bool) []byte {
	size := 0
	if name != "" {
		size += protowire.SizeTag(fSubName) + protowire.SizeBytes(len(name))
	}
	if data != nil {
		size += protowire.SizeTag(fSubData) + protowire.SizeBytes(len(data))
	}
	if del {
		size += protowire.SizeTag(fSubDelete) + 1
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b = appendString(b, fSubName, name)
	b = appendBytes(b, fSubData, data)
	if del {
		b = appendVarint(b, fSubDelete, 1)
	}
	return b
}

func consumePair(b []byte) (name string, data []byte, del bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", nil, false, protowire.ParseError(n)
		}
		b = b[n:]
		switch {
		case num == fSubName && typ == protowire.BytesType:
			var raw []byte
			raw, n = protowire.ConsumeBytes(b)
			name = string(raw)
		case num == fSubData && typ == protowire.BytesType:
			var raw []byte
			raw, n = protowire.ConsumeBytes(b)
			data = clone(raw)
		case num == fSubDelete && typ == protowire.VarintType:
			var v uint64
			v, n = protowire.ConsumeVarint(b)
			del = v != 0
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return "", nil, false, protowire.ParseError(n)
		}
		b = b[n:]
	}
	return name, data, del, nil
}

// clone copies b, keeping nil as nil and empty as empty.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
