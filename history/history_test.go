package history_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// An event survives export, JSON Lines and LogEvent with every field a
// replay compares, binary KV and step data included.
func TestExportRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	evs := []*eventlog.Event{
		{Seq: 1, Kind: eventlog.KindCreate, Generation: 1, Action: "$create", Args: json.RawMessage(`{"n":1}`), Caller: "go",
			Time: at, Seed: 42, HasState: true, State: json.RawMessage(`{"count":0}`), CodeVersion: "1"},
		{Seq: 7, Kind: eventlog.KindAction, Generation: 1, Action: "increment", Args: json.RawMessage(`[5]`), Caller: "http:1",
			Time: at.Add(time.Second), Seed: 1<<63 + 5, Patch: json.RawMessage(`[{"op":"replace","path":"/count","value":5}]`),
			Output: json.RawMessage(`5`), CodeVersion: "2", CallID: "a/1/0", IdempotencyKey: "k1",
			Broadcasts: []eventlog.Broadcast{{Name: "changed", Args: json.RawMessage(`[5]`)}},
			KV: []eventlog.KVWrite{{Key: []byte("text"), Value: []byte(`"v"`)}, {Key: []byte{0xff, 0}, Value: []byte{1, 2}}, {Key: []byte("gone"), Delete: true},
				{Key: []byte("spaced"), Value: []byte(`{"a": "x<y"}`)}, {Key: []byte("html"), Value: []byte(`{"a":"x<y&z"}`)}},
			Steps:   []eventlog.Step{{Name: "call", Data: json.RawMessage(`{"output":1}`)}, {Name: "raw", Data: []byte{0xfe}}},
			Effects: []eventlog.Effect{{Type: "send", Data: json.RawMessage(`{"to":"x"}`)}}},
		{Seq: 9, Kind: eventlog.KindDestroy, Generation: 1, Action: "$destroy", Time: at.Add(2 * time.Second)},
	}
	var buf bytes.Buffer
	for _, ev := range evs {
		if err := history.Write(&buf, history.Export("counter:a", ev)); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != len(evs) {
		t.Fatalf("%d lines, want %d", n, len(evs))
	}
	got, err := history.ReadAll(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(evs) {
		t.Fatalf("read %d events, want %d", len(got), len(evs))
	}
	for i, x := range got {
		if x.ActorID != "counter:a" {
			t.Fatalf("line %d: actorId %q", i+1, x.ActorID)
		}
		back, err := x.LogEvent()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, evs[i]) {
			t.Fatalf("event %d changed in the round trip:\n got %+v\nwant %+v", i, back, evs[i])
		}
	}
}

// A line that is not an exported event names its line; an unknown kind is
// refused.
func TestReadErrors(t *testing.T) {
	_, err := history.ReadAll(strings.NewReader("{\"seq\":1,\"kind\":\"create\"}\n\nnot json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("err %v, want one naming line 3", err)
	}
	x := history.ExportEvent{Event: history.Event{Seq: 3, Kind: "party"}}
	if _, err := x.LogEvent(); err == nil || !strings.Contains(err.Error(), `"party"`) {
		t.Fatalf("err %v, want the unknown kind named", err)
	}
}
