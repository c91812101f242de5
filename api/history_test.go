package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/api"
)

// A chat room's history shows each message as a patch, not a copy of the
// room; ?state=true adds the state after each event, folded from the log,
// from any page.
func TestHistoryShowsPatchesAndFoldedState(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	room := b.actor(t, "chatRoom", "history")
	const sent = 12
	for i := range sent {
		b.action(t, room.ID, "sendMessage", "ada", fmt.Sprintf("message %d", i))
	}
	type page struct {
		Events    []api.Event `json:"events"`
		NextAfter uint64      `json:"nextAfter"`
	}
	var plain page
	b.call(t, http.MethodGet, "/v1/actors/"+room.ID+"/events?limit=100", nil, http.StatusOK, &plain)
	if len(plain.Events) != sent+1 {
		t.Fatalf("%d events, want %d", len(plain.Events), sent+1)
	}
	if create := plain.Events[0]; create.Kind != "create" || string(create.State) != `{"messages":[]}` || create.Patch != nil {
		t.Fatalf("create event: state %s, patch %s", create.State, create.Patch)
	}
	for _, ev := range plain.Events[5:] { // while the room is tiny, a patch is no smaller than half of it
		if !ev.StateChanged || ev.State != nil || !strings.HasPrefix(string(ev.Patch), `[{"op":"add","path":"/messages/-"`) {
			t.Fatalf("event %d: stateChanged %v, state %s, patch %s; want only an append patch", ev.Seq, ev.StateChanged, ev.State, ev.Patch)
		}
	}

	// Pages of 5 with ?state=true: every event carries the room as of then.
	var folded []api.Event
	after := uint64(0)
	for {
		var p page
		b.call(t, http.MethodGet, fmt.Sprintf("/v1/actors/%s/events?limit=5&state=true&after=%d", room.ID, after), nil, http.StatusOK, &p)
		folded = append(folded, p.Events...)
		if p.NextAfter == 0 {
			break
		}
		after = p.NextAfter
	}
	if len(folded) != sent+1 {
		t.Fatalf("%d folded events, want %d", len(folded), sent+1)
	}
	for i, ev := range folded {
		want := `{"messages":[]}`
		if i > 0 {
			want = fmt.Sprintf(`"text":"message %d"`, i-1)
		}
		if !strings.Contains(string(ev.State), want) || strings.Count(string(ev.State), `"sender"`) != i {
			t.Fatalf("state after event %d (seq %d): %s; want %d messages ending with %s", i, ev.Seq, ev.State, i, want)
		}
	}
	history := b.action(t, room.ID, "getHistory")
	if last := folded[len(folded)-1].State; !strings.Contains(string(last), string(history)) {
		t.Fatalf("folded state %s does not hold the room's history %s", last, history)
	}
}
