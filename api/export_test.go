package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
)

// The export streams every event of an actor as JSON Lines, across pages
// of the log, with what a replay needs; an unknown actor is 404, a bad ID
// 400.
func TestExportHistory(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{MaxHistory: 5}})
	room := b.actor(t, "chatRoom", "export")
	const sent = 12
	for i := range sent {
		b.action(t, room.ID, "sendMessage", "ada", fmt.Sprintf("message %d", i))
	}
	res, err := b.http.Get(b.base + "/v1/actors/" + room.ID + "/export")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("status %d, content type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var evs []api.ExportEvent
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev api.ExportEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v: %s", len(evs)+1, err, sc.Bytes())
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(evs) != sent+1 {
		t.Fatalf("%d lines, want %d (the create and %d actions, across pages of 5)", len(evs), sent+1, sent)
	}
	if evs[0].Kind != "create" || string(evs[0].State) != `{"messages":[]}` {
		t.Fatalf("first line %+v, want the create with its state", evs[0])
	}
	for i, ev := range evs[1:] {
		if ev.Seq <= evs[i].Seq || ev.Action != "sendMessage" || ev.Seed == 0 || len(ev.Args) == 0 || (ev.Patch == nil && ev.State == nil) {
			t.Fatalf("line %d: %+v; want sendMessage after seq %d with its seed, args and state change", i+2, ev, evs[i].Seq)
		}
	}
	missing, err := actors.ActorID("chatRoom", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{
		"/v1/actors/" + missing + "/export": http.StatusNotFound,
		"/v1/actors/not-an-id/export":       http.StatusBadRequest,
	} {
		res, err := b.http.Get(b.base + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}
