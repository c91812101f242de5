package actors

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// replayFeed answers the calls an action makes to other actors during a
// replay (Context.Client) from the steps its event recorded, in order:
// nothing is called. A call the history does not have (another target or
// action, or one call too many) is the run's divergence; the code gets an
// error. Calls made concurrently (a fan-out) complete in any order, so a
// call that does not match the next recorded step may match a later one
// not yet taken.
type replayFeed struct {
	mu    sync.Mutex
	steps []eventlog.Step
	taken []bool
	next  int // steps taken
	div   *Divergence
	// lenient: the history kept no steps for this run (a failed fire's
	// action, whose event was discarded): calls fail, and that is no divergence.
	lenient bool
}

// errNotRecorded is what the code gets for a call its history does not have.
var errNotRecorded = errorf(ErrInternal, "replay: this call is not in the recorded history")

// take returns the recorded data of the first step not yet taken that is a
// call of kind name to actor target (and action, for "call").
func (f *replayFeed) take(name, target, action string) (map[string]json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.div != nil {
		return nil, errNotRecorded
	}
	if f.lenient {
		return nil, errorf(ErrInternal, "replay: the history does not keep the calls of a failed alarm action")
	}
	if f.taken == nil {
		f.taken = make([]bool, len(f.steps))
	}
	first := -1
	for i, st := range f.steps {
		if f.taken[i] {
			continue
		}
		if first < 0 {
			first = i
		}
		data, ok := matchStep(st, name, target, action)
		if ok {
			f.taken[i] = true
			f.next++
			return data, nil
		}
	}
	made := name + " " + target
	if action != "" {
		made += " " + action
	}
	d := &Divergence{What: "calls", Actual: made}
	if first < 0 {
		d.Message = fmt.Sprintf("the code made a call the history does not have (%s): it recorded %d calls", made, len(f.steps))
		d.Diff = fmt.Sprintf("call %d: (none) -> %s", len(f.steps)+1, made)
	} else {
		want := describeStep(f.steps[first])
		d.Message = fmt.Sprintf("the code made call %d as %s, where the history recorded %s", first+1, made, want)
		d.Expected, d.Diff = indentJSON(stepJSON(f.steps[first])), fmt.Sprintf("call %d: %s -> %s", first+1, want, made)
	}
	f.div = d
	return nil, errNotRecorded
}

// matchStep reports whether st is a step name to target (and action).
func matchStep(st eventlog.Step, name, target, action string) (map[string]json.RawMessage, bool) {
	if st.Name != name {
		return nil, false
	}
	var data map[string]json.RawMessage
	if json.Unmarshal(st.Data, &data) != nil {
		return nil, false
	}
	str := func(k string) string {
		var s string
		_ = json.Unmarshal(data[k], &s)
		return s
	}
	id := str("actor")
	if name == "resolve" {
		var key []string
		_ = json.Unmarshal(data["key"], &key)
		var err error
		if id, err = ActorID(str("type"), key); err != nil {
			return nil, false
		}
	}
	return data, id == target && (name != "call" || str("action") == action)
}

func describeStep(st eventlog.Step) string {
	var d struct {
		Actor, Action, Type string
		Key                 []string
	}
	_ = json.Unmarshal(st.Data, &d)
	switch st.Name {
	case "resolve":
		id, _ := ActorID(d.Type, d.Key)
		return "resolve " + id
	case "call":
		return "call " + d.Actor + " " + d.Action
	}
	return st.Name + " " + d.Actor
}

// call answers a call to action on target with its recorded output or error.
func (f *replayFeed) call(target, action string) (json.RawMessage, error) {
	data, err := f.take("call", target, action)
	if err != nil {
		return nil, err
	}
	if err := recordedError(data); err != nil {
		return nil, err
	}
	out := data["output"]
	if len(out) == 0 {
		out = json.RawMessage("null")
	}
	return out, nil
}

// resolve answers a lookup or create of target.
func (f *replayFeed) resolve(target string) (created bool, generation uint64, err error) {
	data, err := f.take("resolve", target, "")
	if err != nil {
		return false, 0, err
	}
	if err := recordedError(data); err != nil {
		return false, 0, err
	}
	_ = json.Unmarshal(data["created"], &created)
	_ = json.Unmarshal(data["generation"], &generation)
	return created, generation, nil
}

// destroy answers a destroy of target.
func (f *replayFeed) destroy(target string) error {
	data, err := f.take("destroy", target, "")
	if err != nil {
		return err
	}
	return recordedError(data)
}

// seen takes the step of a call that failed before it was made (a call
// cycle): the code got the same error then and now.
func (f *replayFeed) seen(name string, detail map[string]any) {
	target, _ := detail["actor"].(string)
	action, _ := detail["action"].(string)
	_, _ = f.take(name, target, action)
}

// recordedError is the error a step recorded (Client.record), as the code
// saw it: a *UserError or an *Error with its code (Metadata is not recorded).
func recordedError(data map[string]json.RawMessage) error {
	if _, failed := data["error"]; !failed {
		return nil
	}
	var msg, code string
	var runtime bool
	_ = json.Unmarshal(data["error"], &msg)
	_ = json.Unmarshal(data["code"], &code)
	_ = json.Unmarshal(data["runtime"], &runtime)
	switch {
	case code != "" && !runtime:
		return &UserError{Code: code, Message: strings.TrimPrefix(msg, code+": ")}
	case code == "":
		code = string(errcode.InternalError) // recorded before runtime errors kept their code
	}
	return &Error{Code: code, Message: msg}
}
