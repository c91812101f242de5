package actorstate

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Image is what a snapshot's State bytes hold: everything an actor is, as of a
// sequence. Its encoding is deterministic (KV in key order), so the runtime and
// a rebuild from the log produce the same bytes.
type Image struct {
	Generation uint64
	Exists     bool // false before the first create and after a tombstone
	State      []byte
	KV         map[string][]byte
}

// ErrBadImage reports bytes that are not an encoded Image.
var ErrBadImage = errors.New("bad actor image")

const imageVersion = 1

const (
	imgGeneration protowire.Number = 1
	imgExists     protowire.Number = 2
	imgState      protowire.Number = 3
	imgKV         protowire.Number = 4 // repeated {1: key, 2: value}
)

// Apply folds one event into the image.
func (im *Image) Apply(ev *eventlog.Event) error {
	switch ev.Kind {
	case eventlog.KindDestroy:
		*im = Image{Generation: im.Generation}
		return nil
	case eventlog.KindCreate:
		*im = Image{Generation: ev.Generation, Exists: true}
	}
	if ev.HasState {
		im.State = ev.State
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
	return nil
}

// Encode returns the image's deterministic encoding.
func (im *Image) Encode() []byte {
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
	keys := make([]string, 0, len(im.KV))
	for k := range im.KV {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := im.KV[k]
		size := protowire.SizeTag(1) + protowire.SizeBytes(len(k)) + protowire.SizeTag(2) + protowire.SizeBytes(len(v))
		b = protowire.AppendTag(b, imgKV, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(size))
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, k)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendBytes(b, v)
	}
	return b
}

// DecodeImage decodes Encode's output. Empty input is the empty image.
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
