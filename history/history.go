// Package history is the exported form of an actor's history: one JSON
// object per event, one per line (JSON Lines), as GET /v1/actors/{id}/export
// and `rivet-flow history export` write it and as the replayer
// (actors.NewReplayer, `rivet-flow replay`) and the test kit read it. An
// ExportEvent carries the fields of GET /v1/actors/{id}/events plus what a
// replay needs, and converts back to the log's eventlog.Event losslessly
// for everything the replay compares.
package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
	"unicode/utf8"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Event is one event of an actor's history as GET /v1/actors/{id}/events
// shows it.
type Event struct {
	Seq          uint64          `json:"seq" doc:"Log sequence" example:"2"`
	Kind         string          `json:"kind" doc:"create (the first event of a generation), action (a call), destroy (the tombstone that ends a generation) or system (the runtime's own work: an alarm fired, a workflow's journal, a migration)" enum:"action,create,destroy,system" example:"action"`
	Action       string          `json:"action,omitempty" doc:"The action called; the runtime's own events are named with a $ ($create, $alarm, $wf, ...)" example:"increment"`
	Args         json.RawMessage `json:"args,omitempty" doc:"The call's arguments, a JSON array (a create: its input)" example:"[5]"`
	Output       json.RawMessage `json:"output,omitempty" doc:"What the action returned to its caller, JSON" example:"5"`
	Caller       string          `json:"caller,omitempty" doc:"Who asked: http:<client address>, actor:<id>, scheduler, reply:<actor ID>, ..." example:"http:127.0.0.1"`
	Time         time.Time       `json:"time" doc:"The action's recorded clock" example:"2026-12-03T11:14:57.012518099Z"`
	Stored       time.Time       `json:"stored" doc:"When the log stored it" example:"2026-12-03T11:14:57.012693499Z"`
	Generation   uint64          `json:"generation" doc:"The actor's generation: 1 for the first create, +1 after each destroy and create" example:"1"`
	StateChanged bool            `json:"stateChanged" doc:"Whether the event changed the state (patch or state holds the change)" example:"true"`
	Patch        json.RawMessage `json:"patch,omitempty" doc:"The state change, as an RFC 6902 JSON Patch from the state before the event" example:"[{\"op\":\"replace\",\"path\":\"/count\",\"value\":5}]"`
	State        json.RawMessage `json:"state,omitempty" doc:"The whole state after the event: where the event stored it (a create, or a change larger than a patch), or on every event with ?state=true" example:"{\"count\":5}"`
	Broadcasts   []BroadcastJSON `json:"broadcasts,omitempty" doc:"The events it broadcast to the actor's connections, sent after the append"`
	CodeVersion  string          `json:"codeVersion,omitempty" doc:"The code version of the type that wrote it (actors.Options.CodeVersion)" example:"1"`
}

// BroadcastJSON is a realtime event.
type BroadcastJSON struct {
	Name string          `json:"name" doc:"The event's name, as subscribers listen for it" example:"newCount"`
	Args json.RawMessage `json:"args" doc:"Its arguments, a JSON array" example:"[5]"`
}

// EventOf is the events route's form of ev.
func EventOf(ev *eventlog.Event) Event {
	out := Event{Seq: ev.Seq, Kind: ev.Kind.String(), Action: ev.Action, Args: ev.Args, Output: ev.Output, Caller: ev.Caller,
		Time: ev.Time, Stored: ev.Stored, Generation: ev.Generation, StateChanged: ev.HasState || ev.Patch != nil,
		CodeVersion: ev.CodeVersion}
	if ev.HasState && json.Valid(ev.State) {
		out.State = ev.State
	} else if ev.Patch != nil && json.Valid(ev.Patch) {
		out.Patch = ev.Patch
	}
	for _, b := range ev.Broadcasts {
		out.Broadcasts = append(out.Broadcasts, BroadcastJSON{Name: b.Name, Args: b.Args})
	}
	return out
}

// ExportEvent is one event of an actor's history with everything a replay
// needs: the fields of GET /v1/actors/{id}/events plus the actor's ID and
// the event's seed, call and idempotency IDs, KV writes, recorded steps and
// effects.
type ExportEvent struct {
	ActorID string `json:"actorId,omitempty" doc:"The actor the event belongs to"`
	Event
	Seed           uint64         `json:"seed"`
	CallID         string         `json:"callId,omitempty"`
	IdempotencyKey string         `json:"idempotencyKey,omitempty"`
	KV             []ExportKV     `json:"kv,omitempty"`
	Steps          []ExportRecord `json:"steps,omitempty"`
	Effects        []ExportRecord `json:"effects,omitempty"`
}

// ExportKV is a KV write of an event. Key and value are JSON text when
// they are valid UTF-8 (a value: valid JSON), else base64 in keyBase64 or
// valueBase64.
type ExportKV struct {
	Key         string          `json:"key,omitempty"`
	KeyBase64   []byte          `json:"keyBase64,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 []byte          `json:"valueBase64,omitempty"`
	Delete      bool            `json:"delete,omitempty"`
}

// ExportRecord is a recorded step (a call's result, now, rand) or an
// effect (a send, a schedule) of an event: its name or type, and its data
// (JSON, else base64 in dataBase64).
type ExportRecord struct {
	Name       string          `json:"name"`
	Data       json.RawMessage `json:"data,omitempty"`
	DataBase64 []byte          `json:"dataBase64,omitempty"`
}

// Export is the export form of ev, an event of actor actorID.
func Export(actorID string, ev *eventlog.Event) ExportEvent {
	out := ExportEvent{ActorID: actorID, Event: EventOf(ev), Seed: ev.Seed, CallID: ev.CallID, IdempotencyKey: ev.IdempotencyKey}
	for _, kv := range ev.KV {
		x := ExportKV{Delete: kv.Delete}
		if utf8.Valid(kv.Key) {
			x.Key = string(kv.Key)
		} else {
			x.KeyBase64 = kv.Key
		}
		if !kv.Delete {
			if compactJSON(kv.Value) {
				x.Value = kv.Value
			} else {
				x.ValueBase64 = kv.Value
			}
		}
		out.KV = append(out.KV, x)
	}
	for _, st := range ev.Steps {
		out.Steps = append(out.Steps, record(st.Name, st.Data))
	}
	for _, ef := range ev.Effects {
		out.Effects = append(out.Effects, record(ef.Type, ef.Data))
	}
	return out
}

// compactJSON reports whether v is JSON that an encoder writes back byte
// for byte (compact: an encoder compacts a json.RawMessage), so a KV value
// exported as JSON reads back as the very bytes the actor wrote; any other
// value goes out as base64.
func compactJSON(v []byte) bool {
	if !json.Valid(v) {
		return false
	}
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return false
	}
	return bytes.Equal(b.Bytes(), v)
}

func record(name string, data []byte) ExportRecord {
	if len(data) == 0 || json.Valid(data) {
		return ExportRecord{Name: name, Data: data}
	}
	return ExportRecord{Name: name, DataBase64: data}
}

func (r ExportRecord) data() []byte {
	if r.DataBase64 != nil {
		return r.DataBase64
	}
	return r.Data
}

// kinds maps Kind.String back to the kind.
var kinds = map[string]eventlog.Kind{"action": eventlog.KindAction, "create": eventlog.KindCreate,
	"destroy": eventlog.KindDestroy, "system": eventlog.KindSystem}

// LogEvent converts x back to the log's event (Subject stays empty). A
// state that was not valid JSON was not exported, so such an event comes
// back without it.
func (x *ExportEvent) LogEvent() (*eventlog.Event, error) {
	kind, ok := kinds[x.Kind]
	if !ok {
		return nil, fmt.Errorf("history: event %d: unknown kind %q", x.Seq, x.Kind)
	}
	ev := &eventlog.Event{Seq: x.Seq, Stored: x.Stored, Kind: kind, Generation: x.Generation, Action: x.Action,
		Args: x.Args, Caller: x.Caller, Time: x.Time, Seed: x.Seed, Output: x.Output, CodeVersion: x.CodeVersion,
		CallID: x.CallID, IdempotencyKey: x.IdempotencyKey}
	switch {
	case x.State != nil:
		ev.HasState, ev.State = true, x.State
	case x.Patch != nil:
		ev.Patch = x.Patch
	}
	for _, b := range x.Broadcasts {
		ev.Broadcasts = append(ev.Broadcasts, eventlog.Broadcast{Name: b.Name, Args: b.Args})
	}
	for _, kv := range x.KV {
		w := eventlog.KVWrite{Key: []byte(kv.Key), Delete: kv.Delete}
		if kv.KeyBase64 != nil {
			w.Key = kv.KeyBase64
		}
		if !kv.Delete {
			w.Value = kv.Value
			if kv.ValueBase64 != nil {
				w.Value = kv.ValueBase64
			}
		}
		ev.KV = append(ev.KV, w)
	}
	for _, st := range x.Steps {
		ev.Steps = append(ev.Steps, eventlog.Step{Name: st.Name, Data: st.data()})
	}
	for _, ef := range x.Effects {
		ev.Effects = append(ev.Effects, eventlog.Effect{Type: ef.Name, Data: ef.data()})
	}
	return ev, nil
}

// MaxLine bounds one line of an export a Reader accepts (an event is at
// most the log's max message size, a few MiB; base64 and JSON escaping
// grow it).
const MaxLine = 64 << 20

// Reader reads an export one event at a time.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader returns a Reader of the JSON Lines in r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine)
	return &Reader{sc: sc}
}

// Next returns the next event, or io.EOF after the last. Blank lines are
// skipped; a line that is not an ExportEvent is an error naming the line.
func (r *Reader) Next() (ExportEvent, error) {
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) == 0 {
			continue
		}
		var x ExportEvent
		if err := json.Unmarshal(b, &x); err != nil {
			return x, fmt.Errorf("history: line %d is not an exported event: %w", r.line, err)
		}
		return x, nil
	}
	if err := r.sc.Err(); err != nil {
		return ExportEvent{}, fmt.Errorf("history: after line %d: %w", r.line, err)
	}
	return ExportEvent{}, io.EOF
}

// ReadAll reads every event of r.
func ReadAll(r io.Reader) ([]ExportEvent, error) {
	rd := NewReader(r)
	var out []ExportEvent
	for {
		x, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, x)
	}
}

// ReadFile reads the export in file path.
func ReadFile(path string) ([]ExportEvent, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Write writes evs to w, one per line.
func Write(w io.Writer, evs ...ExportEvent) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false) // "<" stays "<": values read back as written
	for i := range evs {
		if err := enc.Encode(&evs[i]); err != nil {
			return err
		}
	}
	return nil
}
