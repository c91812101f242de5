package api_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/coder/websocket"
)

// orderedSends is how many actions the ordering tests send back to back.
const orderedSends = 200

// checkChatOrder checks that the chat room holds exactly the messages
// m-000 ... m-199, in that order, both in its state and in its log.
func checkChatOrder(t *testing.T, b *bundle, id string) {
	t.Helper()
	want := make([]string, orderedSends)
	for i := range want {
		want[i] = fmt.Sprintf("m-%03d", i)
	}
	var history []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b.action(t, id, "getHistory"), &history); err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(history))
	for i, m := range history {
		got[i] = m.Text
	}
	compareOrder(t, "the room's history", got, want)

	var logged []string
	for _, ev := range b.history(t, id) {
		if ev.Action != "sendMessage" {
			continue
		}
		var args []string
		if err := json.Unmarshal(ev.Args, &args); err != nil || len(args) != 2 {
			t.Fatalf("sendMessage args %s: %v", ev.Args, err)
		}
		logged = append(logged, args[1])
	}
	compareOrder(t, "the log", logged, want)
}

func compareOrder(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s has %d messages, want %d", what, len(got), len(want))
	}
	swapped := 0
	first := -1
	for i := range got {
		if got[i] != want[i] {
			swapped++
			if first < 0 {
				first = i
			}
		}
	}
	if swapped > 0 {
		t.Fatalf("%s is out of send order: %d of %d messages misplaced, first at %d (%s, want %s)",
			what, swapped, len(want), first, got[first], want[first])
	}
}

// TestWebSocketActionOrder (issue 14, defect 6): actions sent on one native
// WebSocket connection without waiting for replies run in the order sent.
func TestWebSocketActionOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "chatRoom", "ws-order")
	ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	if init := recv[wsMsg](t, ws); init.Type != "init" {
		t.Fatalf("first message %+v, want init", init)
	}
	for i := range orderedSends {
		id := uint64(i)
		send(t, ws, map[string]any{"type": "action", "id": id, "name": "sendMessage", "args": []string{"ann", fmt.Sprintf("m-%03d", i)}})
	}
	seen := map[uint64]bool{}
	for range orderedSends {
		m := recv[wsMsg](t, ws)
		if m.Type != "actionResponse" || m.ID == nil || seen[*m.ID] {
			t.Fatalf("got %+v, want one actionResponse per action", m)
		}
		seen[*m.ID] = true
	}
	checkChatOrder(t, b, a.ID)
}

// TestWebSocketActionOverloadedInOrder: an action refused because the
// mailbox is full is answered at once with overloaded, and the actions sent
// around it still run in order.
func TestWebSocketActionOverloadedInOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "blocker", "ws-overload") // mailbox of one call
	ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	recv[wsMsg](t, ws) // init
	send(t, ws, map[string]any{"type": "action", "id": 1, "name": "block"})
	<-b.entered                                                                              // "block" holds the mailbox; the queue is empty
	send(t, ws, map[string]any{"type": "action", "id": 2, "name": "add", "args": []int{1}})  // queued
	send(t, ws, map[string]any{"type": "action", "id": 3, "name": "add", "args": []int{10}}) // the mailbox is full
	if m := recv[wsMsg](t, ws); m.Type != "error" || m.ID == nil || *m.ID != 3 || m.Code != "overloaded" {
		t.Fatalf("got %+v, want overloaded for action 3", m)
	}
	b.unblock()
	got := map[uint64]string{}
	for range 2 {
		m := recv[wsMsg](t, ws)
		if m.Type != "actionResponse" || m.ID == nil {
			t.Fatalf("got %+v, want an actionResponse", m)
		}
		got[*m.ID] = string(m.Output)
	}
	if got[1] != `"released"` || got[2] != "2" {
		t.Fatalf("responses %v, want block released and add 2", got)
	}
}

// TestGatewayWebSocketActionOrder (issue 14, defect 6): the same through the
// RivetKit gateway's JSON protocol.
func TestGatewayWebSocketActionOrder(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	ws, _, err := b.dial(t, "/gateway/chatRoom/connect?rvt-namespace=default&rvt-method=getOrCreate&rvt-runner=default&rvt-key=gw-order",
		&websocket.DialOptions{Subprotocols: []string{"rivet", "rivet_encoding.json"}})
	if err != nil {
		t.Fatal(err)
	}
	init := recv[gwFrame](t, ws)
	if init.Body.Tag != "Init" {
		t.Fatalf("first frame %+v, want Init", init)
	}
	for i := range orderedSends {
		send(t, ws, frame("ActionRequest", map[string]any{"id": []string{"$BigInt", strconv.Itoa(i)},
			"name": "sendMessage", "args": []string{"ann", fmt.Sprintf("m-%03d", i)}}))
	}
	seen := map[string]bool{}
	for range orderedSends {
		f := recv[gwFrame](t, ws)
		id := jsonString(f.Body.Val["id"])
		if f.Body.Tag != "ActionResponse" || seen[id] {
			t.Fatalf("got %+v, want one ActionResponse per action", f)
		}
		seen[id] = true
	}
	id, _ := init.Body.Val["actorId"].(string)
	if id != mustID(t, "chatRoom", "gw-order") {
		t.Fatalf("Init actorId %q", id)
	}
	checkChatOrder(t, b, id)
}
