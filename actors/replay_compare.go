package actors

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
)

// Comparing a re-run with its recorded event: the first difference, in the
// order error, calls, state, output, broadcasts, KV writes, effects.

// compare returns the first difference between the recorded event ev
// (after: the state it leaves) and the re-run got, with What, Message,
// Expected, Actual and Diff set, or nil.
func compare(ev *eventlog.Event, after []byte, got *replayed) *Divergence {
	if got.feed.div != nil { // a call the history does not have: the error that may follow comes from it
		return got.feed.div
	}
	if got.err != nil {
		return &Divergence{What: "error", Message: fmt.Sprintf("%s now fails, where the history recorded success: %v", ev.Action, got.err),
			Expected: recordedOutcome(ev), Actual: got.err.Error(), Diff: "error: (none) -> " + errorCode(got.err)}
	}
	if ev.Kind != eventlog.KindDestroy && !jsonEqual(after, got.state) {
		return &Divergence{What: "state", Message: fmt.Sprintf("%s left another state than the history recorded", ev.Action),
			Expected: indentJSON(after), Actual: indentJSON(got.state), Diff: stateDiff(after, got.state)}
	}
	if (ev.Kind == eventlog.KindAction || len(ev.Output) > 0 || len(got.output) > 0) && !jsonEqual(ev.Output, got.output) {
		return &Divergence{What: "output", Message: fmt.Sprintf("%s returned another output than the history recorded", ev.Action),
			Expected: indentJSON(ev.Output), Actual: indentJSON(got.output), Diff: "output: " + short(ev.Output) + " -> " + short(got.output)}
	}
	if d := compareList("broadcasts", "broadcast", ev.Broadcasts, got.broadcasts, broadcastJSON, func(a, b eventlog.Broadcast) bool {
		return a.Name == b.Name && jsonEqual(a.Args, b.Args)
	}); d != nil {
		return d
	}
	if d := compareList("kv", "KV write", ev.KV, got.kv, kvJSON, func(a, b eventlog.KVWrite) bool {
		// Values as JSON too: an export made before values kept their bytes
		// holds them compacted.
		return a.Delete == b.Delete && bytes.Equal(a.Key, b.Key) &&
			(a.Delete || bytes.Equal(a.Value, b.Value) || (json.Valid(a.Value) && json.Valid(b.Value) && jsonEqual(a.Value, b.Value)))
	}); d != nil {
		return d
	}
	if d := compareList("effects", "effect", ev.Effects, got.effects, effectJSON, func(a, b eventlog.Effect) bool {
		return a.Type == b.Type && jsonEqual(a.Data, b.Data)
	}); d != nil {
		return d
	}
	if n := got.feed.next; n < len(ev.Steps) {
		return &Divergence{What: "calls", Message: fmt.Sprintf("%s made %d calls to other actors, where the history recorded %d", ev.Action, n, len(ev.Steps)),
			Expected: listJSON(ev.Steps, stepJSON), Actual: listJSON(ev.Steps[:n], stepJSON), Diff: listDiff("call", ev.Steps, ev.Steps[:n], stepJSON)}
	}
	return nil
}

// recordedOutcome is what a recorded event returned, for an "error"
// divergence's Expected.
func recordedOutcome(ev *eventlog.Event) string {
	if len(ev.Output) > 0 {
		return indentJSON(ev.Output)
	}
	return "success"
}

func errorCode(err error) string {
	switch pub := PublicError(err).(type) {
	case *UserError:
		return pub.Code
	case *Error:
		return pub.Code
	}
	return "error"
}

// compareList compares two recorded lists item by item (eq); enc shows an
// item as JSON in the report.
func compareList[T any](what, item string, want, got []T, enc func(T) []byte, eq func(a, b T) bool) *Divergence {
	same := len(want) == len(got)
	for i := 0; same && i < len(want); i++ {
		same = eq(want[i], got[i])
	}
	if same {
		return nil
	}
	return &Divergence{What: what, Message: fmt.Sprintf("the %ss differ from the recorded ones (%d recorded, %d replayed)", item, len(want), len(got)),
		Expected: listJSON(want, enc), Actual: listJSON(got, enc), Diff: listDiff(item, want, got, enc)}
}

// listDiff is one line per position whose items differ.
func listDiff[T any](item string, want, got []T, enc func(T) []byte) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g []byte
		if i < len(want) {
			w = enc(want[i])
		}
		if i < len(got) {
			g = enc(got[i])
		}
		if w != nil && g != nil && jsonEqual(w, g) {
			continue
		}
		fmt.Fprintf(&b, "%s %d: %s -> %s\n", item, i+1, short(w), short(g))
	}
	return b.String()
}

func listJSON[T any](xs []T, enc func(T) []byte) string {
	if len(xs) == 0 {
		return ""
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(enc(x))
	}
	b.WriteByte(']')
	return indentJSON(b.Bytes())
}

func broadcastJSON(x eventlog.Broadcast) []byte {
	return mustJSON(struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	}{x.Name, rawOrNull(x.Args)})
}

func kvJSON(x eventlog.KVWrite) []byte {
	v := struct {
		Key    string `json:"key"`
		Value  any    `json:"value,omitempty"`
		Delete bool   `json:"delete,omitempty"`
	}{Key: string(x.Key), Delete: x.Delete}
	if !x.Delete {
		if json.Valid(x.Value) {
			v.Value = json.RawMessage(x.Value)
		} else {
			v.Value = x.Value // base64
		}
	}
	return mustJSON(v)
}

func effectJSON(x eventlog.Effect) []byte {
	return mustJSON(struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}{x.Type, rawOrNull(x.Data)})
}

func stepJSON(x eventlog.Step) []byte {
	return mustJSON(struct {
		Name string          `json:"name"`
		Data json.RawMessage `json:"data"`
	}{x.Name, rawOrNull(x.Data)})
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return json.RawMessage("null")
	}
	return b
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(strconv.Quote(err.Error()))
	}
	return b
}

// jsonEqual reports whether a and b are the same JSON value (nothing and
// null alike; object members in any order; numbers by value).
func jsonEqual(a, b []byte) bool {
	if len(a) == 0 {
		a = null
	}
	if len(b) == 0 {
		b = null
	}
	if bytes.Equal(a, b) { // the common case: the same code encodes the same bytes
		return true
	}
	p, err := jsonpatch.Diff(a, b)
	return err == nil && string(p) == "[]"
}

var null = []byte("null")

// indentJSON is b indented for a report, or "" for nothing.
func indentJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// short is a JSON value on one line, cut to a readable length.
func short(b []byte) string {
	if len(b) == 0 {
		return "(none)"
	}
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		out.Reset()
		out.Write(b)
	}
	const limit = 120
	if s := out.String(); len(s) > limit {
		return s[:limit] + "..."
	}
	return out.String()
}

// stateDiff is the difference of two states, one "path: old -> new" line
// per operation of the JSON Patch that turns the recorded into the replayed.
func stateDiff(want, got []byte) string {
	want, got = rawOrNull(want), rawOrNull(got)
	patch, err := jsonpatch.Diff(want, got)
	if err != nil {
		return "(the states do not diff: " + err.Error() + ")"
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		From  string          `json:"from"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(patch, &ops); err != nil {
		return string(patch)
	}
	var old any
	_ = json.Unmarshal(want, &old)
	var b strings.Builder
	for _, op := range ops {
		path := op.Path
		if path == "" {
			path = "/"
		}
		switch op.Op {
		case "add":
			fmt.Fprintf(&b, "%s: (none) -> %s\n", path, short(op.Value))
		case "remove":
			fmt.Fprintf(&b, "%s: %s -> (none)\n", path, short(pointerValue(old, op.Path)))
		case "replace":
			fmt.Fprintf(&b, "%s: %s -> %s\n", path, short(pointerValue(old, op.Path)), short(op.Value))
		default: // move, copy
			fmt.Fprintf(&b, "%s: %s from %s\n", path, op.Op, op.From)
		}
	}
	return b.String()
}

// pointerValue is the JSON of the value at JSON Pointer p in v, or nil.
func pointerValue(v any, p string) []byte {
	if p != "" {
		for tok := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			switch c := v.(type) {
			case map[string]any:
				v = c[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if err != nil || i < 0 || i >= len(c) {
					return nil
				}
				v = c[i]
			default:
				return nil
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
