package eventlog_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

func fullEvent() *eventlog.Event {
	return &eventlog.Event{
		Kind: eventlog.KindAction, Generation: 3, Action: "sendMessage", Args: []byte(`["hello"]`),
		Caller: "http:127.0.0.1", Time: time.Unix(1700000000, 123456789).UTC(), Seed: 0xdeadbeef,
		HasState: true, State: []byte(`{"messages":["hello"]}`), Output: []byte(`null`), CodeVersion: "v1.2.3",
		CallID: "chatRoom.kAWE/9/0", IdempotencyKey: "retry-1",
		Broadcasts: []eventlog.Broadcast{{Name: "newMessage", Args: []byte(`["hello"]`)}, {Name: "empty"}},
		KV:         []eventlog.KVWrite{{Key: []byte("k"), Value: []byte("v")}, {Key: []byte("gone"), Delete: true}},
		Steps:      []eventlog.Step{{Name: "call:counter", Data: []byte(`5`)}},
		Effects:    []eventlog.Effect{{Type: "schedule", Data: []byte(`{"at":1}`)}},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	t.Parallel()
	tests := map[string]*eventlog.Event{
		"full":          fullEvent(),
		"zero":          {},
		"empty state":   {Kind: eventlog.KindCreate, HasState: true, State: []byte{}},
		"destroy":       {Kind: eventlog.KindDestroy, Generation: 1},
		"patch":         {Kind: eventlog.KindAction, Patch: []byte(`[{"op":"add","path":"/messages/-","value":"hi"}]`)},
		"negative time": {Time: time.Unix(-5, 0).UTC()},
	}
	for name, ev := range tests {
		var got eventlog.Event
		if err := eventlog.UnmarshalEvent(eventlog.MarshalEvent(ev), &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(&got, ev) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, *ev)
		}
	}
}

// A version 1 envelope (written before state patches: full state only) still
// decodes, with the same fields.
func TestCodecReadsVersion1(t *testing.T) {
	t.Parallel()
	b := eventlog.MarshalEvent(fullEvent())
	b[0] = 1
	var got eventlog.Event
	if err := eventlog.UnmarshalEvent(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, fullEvent()) {
		t.Fatalf("got %+v", got)
	}
	if err := eventlog.UnmarshalEvent([]byte{0}, &got); !errors.Is(err, eventlog.ErrCorruptEvent) {
		t.Fatalf("version 0: %v", err)
	}
}

func TestCodecSkipsUnknownFields(t *testing.T) {
	t.Parallel()
	b := eventlog.MarshalEvent(fullEvent())
	b = protowire.AppendTag(b, 99, protowire.BytesType)
	b = protowire.AppendString(b, "from a newer version")
	var got eventlog.Event
	if err := eventlog.UnmarshalEvent(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, fullEvent()) {
		t.Fatalf("got %+v", got)
	}
}

func TestCodecRejectsCorrupt(t *testing.T) {
	t.Parallel()
	good := eventlog.MarshalEvent(fullEvent())
	bad := map[string][]byte{
		"empty":         nil,
		"newer version": append([]byte{eventlog.EnvelopeVersion + 1}, good[1:]...),
		"truncated":     good[:len(good)-3],
		"wrong type":    protowire.AppendVarint(protowire.AppendTag([]byte{eventlog.EnvelopeVersion}, 3, protowire.VarintType), 1),
	}
	for name, b := range bad {
		var ev eventlog.Event
		if err := eventlog.UnmarshalEvent(b, &ev); !errors.Is(err, eventlog.ErrCorruptEvent) {
			t.Errorf("%s: err = %v, want ErrCorruptEvent", name, err)
		}
	}
}

func FuzzUnmarshalEvent(f *testing.F) {
	f.Add(eventlog.MarshalEvent(fullEvent()))
	f.Add([]byte{eventlog.EnvelopeVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ev eventlog.Event
		if err := eventlog.UnmarshalEvent(b, &ev); err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		var again eventlog.Event
		if err := eventlog.UnmarshalEvent(eventlog.MarshalEvent(&ev), &again); err != nil || !reflect.DeepEqual(ev, again) {
			t.Fatalf("re-encode differs: %+v vs %+v (%v)", ev, again, err)
		}
	})
}

// BenchmarkCodec compares the envelope codec with encoding/json on the same
// event: the figures behind choosing hand-written protobuf wire format.
func BenchmarkCodec(b *testing.B) {
	ev := fullEvent()
	b.Run("protowire/marshal", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for range b.N {
			buf = eventlog.AppendEvent(buf[:0], ev)
		}
		b.ReportMetric(float64(len(buf)), "bytes")
	})
	b.Run("protowire/unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		data := eventlog.MarshalEvent(ev)
		for range b.N {
			var out eventlog.Event
			if err := eventlog.UnmarshalEvent(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/marshal", func(b *testing.B) {
		b.ReportAllocs()
		var data []byte
		for range b.N {
			data, _ = json.Marshal(ev)
		}
		b.ReportMetric(float64(len(data)), "bytes")
	})
	b.Run("json/unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		data, _ := json.Marshal(ev)
		for range b.N {
			var out eventlog.Event
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
