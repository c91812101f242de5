package eventlogtest

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// envelopes are events that exercise every field of the envelope and its edges.
func envelopes() map[string]*eventlog.Event {
	binary := make([]byte, 256)
	for i := range binary {
		binary[i] = byte(i)
	}
	return map[string]*eventlog.Event{
		"full": {
			Kind: eventlog.KindAction, Generation: 7, Action: "sendMessage", Args: []byte(`["hello",{"n":1}]`),
			Caller: "http:[::1]:4321", Time: time.Unix(1700000000, 123456789).UTC(), Seed: 0xdeadbeefcafe,
			HasState: true, State: []byte(`{"messages":["hello"]}`), Patch: []byte(`[{"op":"add","path":"/messages/-","value":"hello"}]`),
			Output: []byte(`{"ok":true}`), CodeVersion: "v1.2.3+abcdef",
			CallID: "counter.kAWE/41/2", IdempotencyKey: "order-7f3a",
			Broadcasts: []eventlog.Broadcast{{Name: "newMessage", Args: []byte(`["hello"]`)}, {Name: "empty"}, {Name: "noArgs", Args: []byte{}}},
			KV: []eventlog.KVWrite{
				{Key: []byte("k"), Value: []byte("v")},
				{Key: []byte("gone"), Delete: true},
				{Key: []byte("empty"), Value: []byte{}},
				{Key: binary[:32], Value: binary},
			},
			Steps:   []eventlog.Step{{Name: "call:counter", Data: []byte(`5`)}, {Name: "now", Data: []byte(`1700000000123`)}, {Name: "rand"}},
			Effects: []eventlog.Effect{{Type: "schedule", Data: []byte(`{"at":1}`)}, {Type: "enqueue", Data: []byte(`{"q":"jobs"}`)}},
		},
		"zero":   {},
		"create": {Kind: eventlog.KindCreate, Generation: 1, HasState: true, State: []byte{}, Caller: "actor:chat/[\"room 1\"]"},
		"destroy": {
			Kind: eventlog.KindDestroy, Generation: math.MaxUint64, Seed: math.MaxUint64,
			Time: time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC), // the last representable nanosecond
		},
		"system": {
			Kind: eventlog.KindSystem, Action: "alarm", Args: []byte{}, Patch: []byte{}, Output: []byte(`null`),
			Time: time.Unix(-1, 5).UTC(), Caller: "scheduler",
		},
		"binary": {
			Kind: eventlog.KindAction, Action: "a.b.*.>\x00ünï©ødé", Args: binary, HasState: true, State: binary, Patch: binary,
			Output: binary, CodeVersion: "🚀", Steps: []eventlog.Step{{Name: string(binary[1:128]), Data: binary}},
		},
		"many": manyParts(),
	}
}

// manyParts is an event with many repeated fields, whose order must survive.
func manyParts() *eventlog.Event {
	ev := &eventlog.Event{Kind: eventlog.KindAction, Action: "batch"}
	for i := range 50 {
		ev.Broadcasts = append(ev.Broadcasts, eventlog.Broadcast{Name: fmt.Sprint("b", i), Args: fmt.Appendf(nil, "[%d]", i)})
		ev.KV = append(ev.KV, eventlog.KVWrite{Key: fmt.Appendf(nil, "k%03d", i), Value: fmt.Appendf(nil, "%d", i), Delete: i%3 == 0})
		ev.Steps = append(ev.Steps, eventlog.Step{Name: fmt.Sprint("s", i), Data: fmt.Appendf(nil, "%d", i)})
		ev.Effects = append(ev.Effects, eventlog.Effect{Type: fmt.Sprint("e", i), Data: fmt.Appendf(nil, "%d", i)})
	}
	return ev
}

// testEnvelopeRoundTrip: every field of every envelope comes back unchanged
// through every read path, with the metadata the log sets.
func testEnvelopeRoundTrip(t *testing.T, s *suite) {
	ctx := t.Context()
	l := s.log
	cases := envelopes()
	// "full" sets every field of the envelope: a field added to Event and not
	// to it fails here, not silently untested.
	full := reflect.ValueOf(*cases["full"])
	for i := range full.NumField() {
		switch name := full.Type().Field(i).Name; name {
		case "Seq", "Subject", "Stored": // set by the log, not in the envelope
		default:
			if full.Field(i).IsZero() {
				t.Errorf("the full envelope leaves Event.%s unset: add it to the suite", name)
			}
		}
	}
	// A time in another zone comes back as the same instant in UTC.
	local := time.Date(2024, 2, 29, 12, 30, 0, 999, time.FixedZone("X", -7*3600))
	cases["zoned"] = &eventlog.Event{Kind: eventlog.KindAction, Time: local}

	type appended struct {
		name string
		subj string
		seq  uint64
		want *eventlog.Event
	}
	var all []appended
	bySeq := map[uint64]appended{}
	for name, ev := range cases {
		subj := s.subject(t, name)
		sent := eventlog.MarshalEvent(ev)
		seq := mustAppend(t, l, subj, 0, ev)
		if !bytes.Equal(eventlog.MarshalEvent(ev), sent) {
			t.Errorf("%s: Append changed the event it was given", name)
		}
		a := appended{name, subj, seq, ev}
		all = append(all, a)
		bySeq[seq] = a
	}

	check := func(path string, a appended, got *eventlog.Event) {
		t.Helper()
		if got == nil {
			t.Errorf("%s %s: no event", path, a.name)
			return
		}
		if got.Seq != a.seq || got.Subject != a.subj || got.Stored.IsZero() {
			t.Errorf("%s %s: seq %d, subject %q, stored %v; want %d, %q, a time", path, a.name, got.Seq, got.Subject, got.Stored, a.seq, a.subj)
		}
		if !got.Time.Equal(a.want.Time) || (!got.Time.IsZero() && got.Time.Location() != time.UTC) {
			t.Errorf("%s %s: time %v, want %v in UTC", path, a.name, got.Time, a.want.Time)
		}
		g, w := *got, *a.want
		g.Seq, g.Subject, g.Stored, g.Time = 0, "", time.Time{}, time.Time{}
		w.Time = time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s %s: round trip\n got %+v\nwant %+v", path, a.name, g, w)
		}
	}

	for _, a := range all {
		evs, err := l.ReadActor(ctx, a.subj, 0, 10)
		if err != nil || len(evs) != 1 {
			t.Fatalf("ReadActor %s: %d events, %v", a.name, len(evs), err)
		}
		check("ReadActor", a, evs[0])
		last, err := l.LastEvent(ctx, a.subj)
		if err != nil {
			t.Fatalf("LastEvent %s: %v", a.name, err)
		}
		check("LastEvent", a, last)
	}

	from := all[0].seq
	for _, a := range all {
		from = min(from, a.seq)
	}
	seen := 0
	if _, err := l.Scan(ctx, from, func(ev *eventlog.Event) error {
		if a, ok := bySeq[ev.Seq]; ok {
			check("Scan", a, ev)
			seen++
		}
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	if seen != len(all) {
		t.Errorf("scan saw %d of the %d events", seen, len(all))
	}

	filters := make([]string, 0, len(all))
	for _, a := range all {
		filters = append(filters, a.subj)
	}
	events, stop := tail(t, l, filters, from)
	for range all {
		ev := recv(t, events, "envelope from the tail")
		a, ok := bySeq[ev.Seq]
		if !ok {
			t.Fatalf("tail delivered event %d on %s, not one of this test's", ev.Seq, ev.Subject)
		}
		check("Tail", a, ev)
	}
	if err := stop(); err != nil {
		t.Fatalf("tail: %v", err)
	}
}
