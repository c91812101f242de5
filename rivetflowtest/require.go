package rivetflowtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// EventMatch describes an event RequireEvents expects. Its zero fields
// match anything.
type EventMatch struct {
	// Kind is the event's kind: "action", "create", "destroy" or "system".
	// Defaults to "action".
	Kind string
	// Action is the action's name (or the system event's: "$alarm", ...).
	Action string
	// Args, if set, must equal the recorded arguments as JSON (an action
	// with arguments records them as an array: []any{5}).
	Args any
	// Output, if set, must equal the recorded output as JSON.
	Output any
	// Broadcast, if set, is the name of a broadcast the event must carry.
	Broadcast string
}

func (m EventMatch) kind() string {
	if m.Kind == "" {
		return "action"
	}
	return m.Kind
}

// String is the match as failure messages show it: "action increment
// output 6".
func (m EventMatch) String() string {
	parts := []string{m.kind()}
	if m.Action != "" {
		parts = append(parts, m.Action)
	}
	if m.Args != nil {
		parts = append(parts, "args "+jsonText(m.Args))
	}
	if m.Output != nil {
		parts = append(parts, "output "+jsonText(m.Output))
	}
	if m.Broadcast != "" {
		parts = append(parts, "broadcast "+m.Broadcast)
	}
	return strings.Join(parts, " ")
}

// mismatch says how ev differs from m, or "" when it matches.
func (m EventMatch) mismatch(ev history.ExportEvent) string {
	switch {
	case ev.Kind != m.kind():
		return fmt.Sprintf("kind: want %s, got %s", m.kind(), ev.Kind)
	case m.Action != "" && ev.Action != m.Action:
		return fmt.Sprintf("action: want %s, got %s", m.Action, ev.Action)
	}
	if m.Args != nil && !jsonEqual(m.Args, ev.Args) {
		return fmt.Sprintf("args: want %s, got %s", jsonText(m.Args), orNone(ev.Args))
	}
	if m.Output != nil && !jsonEqual(m.Output, ev.Output) {
		return fmt.Sprintf("output: want %s, got %s", jsonText(m.Output), orNone(ev.Output))
	}
	if m.Broadcast != "" && !slices.Contains(broadcastNames(ev), m.Broadcast) {
		return fmt.Sprintf("broadcast: want %s, got [%s]", m.Broadcast, strings.Join(broadcastNames(ev), " "))
	}
	return ""
}

// RequireEvents requires that actor actorID's events are exactly want, in
// order. The events compared are the actor's action events plus those of
// any other kind a want names (a want with Kind "create" brings the create
// event into the comparison), so a test of actions need not list the
// create. On failure it lists the events it got and the ones wanted.
func RequireEvents(t testing.TB, n *Node, actorID string, want ...EventMatch) {
	t.Helper()
	all, err := n.events(actorID)
	if err != nil {
		t.Fatalf("rivetflowtest: RequireEvents %s: %v", actorID, err)
		return
	}
	kinds := map[string]bool{"action": true}
	for _, w := range want {
		kinds[w.kind()] = true
	}
	var got []history.ExportEvent
	for _, ev := range all {
		if kinds[ev.Kind] {
			got = append(got, ev)
		}
	}
	problem := ""
	for i, w := range want {
		if i >= len(got) {
			problem = fmt.Sprintf("%d events, want %d: event %d (%s) is missing", len(got), len(want), i+1, w)
			break
		}
		if why := w.mismatch(got[i]); why != "" {
			problem = fmt.Sprintf("event %d (seq %d) differs: %s", i+1, got[i].Seq, why)
			break
		}
	}
	if problem == "" && len(got) > len(want) {
		problem = fmt.Sprintf("%d events, want %d: event %d (seq %d) is extra", len(got), len(want), len(want)+1, got[len(want)].Seq)
	}
	if problem == "" {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rivetflowtest: RequireEvents %s: %s\n  got:\n", actorID, problem)
	if len(got) == 0 {
		b.WriteString("    (no events)\n")
	}
	for _, ev := range got {
		b.WriteString("    " + describe(ev) + "\n")
	}
	b.WriteString("  want:\n")
	if len(want) == 0 {
		b.WriteString("    (no events)\n")
	}
	for _, w := range want {
		b.WriteString("    " + w.String() + "\n")
	}
	t.Fatalf("%s", b.String())
}

// RequireBroadcasts requires that actor actorID's events carry exactly
// these broadcasts, by name, in the order they were made.
func RequireBroadcasts(t testing.TB, n *Node, actorID string, names ...string) {
	t.Helper()
	evs, err := n.events(actorID)
	if err != nil {
		t.Fatalf("rivetflowtest: RequireBroadcasts %s: %v", actorID, err)
		return
	}
	var got []string
	for _, ev := range evs {
		got = append(got, broadcastNames(ev)...)
	}
	if !slices.Equal(got, names) {
		t.Fatalf("rivetflowtest: RequireBroadcasts %s: broadcasts differ\n  got:  [%s]\n  want: [%s]",
			actorID, strings.Join(got, " "), strings.Join(names, " "))
	}
}

// RequireState requires that actor actorID's state, as its events leave
// it (folded from the log; no user code runs), equals want as JSON: want
// is marshalled (a struct, a map, or json.RawMessage) and both are
// compared as decoded JSON values.
func RequireState(t testing.TB, n *Node, actorID string, want any) {
	t.Helper()
	got, err := n.state(actorID)
	if err != nil {
		t.Fatalf("rivetflowtest: RequireState %s: %v", actorID, err)
		return
	}
	if !jsonEqual(want, got) {
		t.Fatalf("rivetflowtest: RequireState %s: state differs\n  got:  %s\n  want: %s", actorID, orNone(got), jsonText(want))
	}
}

// state is actorID's state as of its last event.
func (n *Node) state(actorID string) (json.RawMessage, error) {
	typ, key, err := actors.ParseID(actorID)
	if err != nil {
		return nil, err
	}
	subject, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		return nil, fmt.Errorf("actor ID %q: %w", actorID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	last, err := n.node.Events().LastSubjectSeq(ctx, subject)
	if err != nil {
		return nil, err
	}
	if last == 0 {
		return nil, fmt.Errorf("the actor has no events (create it first)")
	}
	im, err := n.node.Runtime().ImageAt(ctx, actorID, last)
	if err != nil {
		return nil, err
	}
	if !im.Exists {
		return nil, fmt.Errorf("the actor is destroyed")
	}
	return im.State, nil
}

// RequireReplays requires that the golden history in file (Node.Export,
// `rivet-flow history export`) replays with this build's code over reg
// without divergence; on a divergence it fails with the replayer's report
// (the sequence, the action, expected vs actual).
func RequireReplays(t testing.TB, reg *actors.Registry, file string) {
	t.Helper()
	res, err := ReplayFile(reg, file)
	if err != nil {
		t.Fatalf("rivetflowtest: replay %s: %v", file, err)
		return
	}
	if !res.OK() {
		t.Fatalf("rivetflowtest: replay %s (%s): the code no longer reproduces the recorded history\n%s\n"+
			"If the change is intended, record the history again (see the test's -update flag).",
			file, res.ActorID, res.Divergence.Report())
	}
}

// ReplayFile replays the golden history in file over reg and returns the
// result, for a test that expects a divergence (result.Divergence) where
// RequireReplays expects none. An error means the file could not be
// replayed at all (missing, damaged, of an unknown type).
func ReplayFile(reg *actors.Registry, file string) (*actors.ReplayResult, error) {
	return actors.NewReplayer(reg).ReplayHistoryFile(context.Background(), file)
}

// describe is one line of an event for a failure message.
func describe(ev history.ExportEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seq %d %s", ev.Seq, ev.Kind)
	if ev.Action != "" {
		b.WriteString(" " + ev.Action)
	}
	if len(ev.Args) > 0 {
		b.WriteString(" args " + string(compact(ev.Args)))
	}
	if len(ev.Output) > 0 {
		b.WriteString(" output " + string(compact(ev.Output)))
	}
	if names := broadcastNames(ev); len(names) > 0 {
		b.WriteString(" broadcasts [" + strings.Join(names, " ") + "]")
	}
	return b.String()
}

func broadcastNames(ev history.ExportEvent) []string {
	var out []string
	for _, b := range ev.Broadcasts {
		out = append(out, b.Name)
	}
	return out
}

// jsonEqual compares want (any value, marshalled) with got (JSON text) as
// decoded JSON values.
func jsonEqual(want any, got json.RawMessage) bool {
	wb, err := json.Marshal(want)
	if err != nil || len(got) == 0 {
		return false
	}
	var wv, gv any
	if json.Unmarshal(wb, &wv) != nil || json.Unmarshal(got, &gv) != nil {
		return false
	}
	a, _ := json.Marshal(wv) // maps marshal with sorted keys: a canonical form
	b, _ := json.Marshal(gv)
	return bytes.Equal(a, b)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v (does not marshal: %v)", v, err)
	}
	return string(compact(b))
}

func compact(b []byte) []byte {
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

func orNone(b json.RawMessage) string {
	if len(b) == 0 {
		return "(none)"
	}
	return string(compact(b))
}
