package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// An actor row of the index lists the actor's pending alarms, sorted by
// alarm ID, as a JSON object {"<alarm ID>": <due>, ...}; <due> is the unix
// milliseconds when they are the due time exactly (the runtime keeps
// alarms to the millisecond), else an RFC 3339 string. The fold reads and
// writes the row of every event that changes the actor's alarms, so it is
// encoded and decoded by hand, not by reflection: an actor with the
// runtime's 1,000 alarms has a row of ~25 KB.

// alarmEntry is one alarm of an actor row.
type alarmEntry struct {
	id string
	at time.Time
}

// actorAlarms is an actor row, sorted by ID.
type actorAlarms []alarmEntry

func (a actorAlarms) find(id string) (int, bool) {
	return slices.BinarySearchFunc(a, id, func(e alarmEntry, id string) int { return strings.Compare(e.id, id) })
}

// put sets the due time of alarm id, adding it if new.
func (a *actorAlarms) put(id string, at time.Time) {
	i, ok := a.find(id)
	if ok {
		(*a)[i].at = at
		return
	}
	*a = slices.Insert(*a, i, alarmEntry{id, at})
}

// remove removes alarm id and returns its due time, if it was there.
func (a *actorAlarms) remove(id string) (time.Time, bool) {
	i, ok := a.find(id)
	if !ok {
		return time.Time{}, false
	}
	at := (*a)[i].at
	*a = slices.Delete(*a, i, i+1)
	return at, true
}

func (a actorAlarms) encode() []byte {
	b := make([]byte, 0, 2+len(a)*24)
	b = append(b, '{')
	for i, e := range a {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, e.id)
		b = append(b, ':')
		if ms := e.at.UnixMilli(); ms >= 0 && time.UnixMilli(ms).Equal(e.at) {
			b = strconv.AppendInt(b, ms, 10)
		} else {
			b = append(b, '"')
			b = e.at.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, '"')
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string: as is when it needs no
// escape (alarm IDs are decimal numbers), else as encoding/json writes it.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decodeActorAlarms decodes an actor row: by hand when it is as encode
// writes it (no escapes, no spaces), else with encoding/json.
func decodeActorAlarms(v []byte) (actorAlarms, error) {
	if a, ok := decodeActorAlarmsFast(v); ok {
		return a, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, err
	}
	a := make(actorAlarms, 0, len(m))
	for id, raw := range m {
		var e alarmEntry
		e.id = id
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &e.at); err != nil {
				return nil, fmt.Errorf("alarm %q: %w", id, err)
			}
		} else {
			ms, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("alarm %q: %w", id, err)
			}
			e.at = time.UnixMilli(ms).UTC()
		}
		a = append(a, e)
	}
	slices.SortFunc(a, func(x, y alarmEntry) int { return strings.Compare(x.id, y.id) })
	return a, nil
}

func decodeActorAlarmsFast(v []byte) (actorAlarms, bool) {
	if len(v) < 2 || v[0] != '{' || v[len(v)-1] != '}' {
		return nil, false
	}
	body := v[1 : len(v)-1]
	a := make(actorAlarms, 0, bytes.Count(body, []byte{':'}))
	for len(body) > 0 {
		if body[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(body[1:], '"') + 1
		if end <= 0 || bytes.IndexByte(body[1:end], '\\') >= 0 || len(body) < end+2 || body[end+1] != ':' {
			return nil, false
		}
		e := alarmEntry{id: string(body[1:end])}
		body = body[end+2:]
		var val []byte
		if i := bytes.IndexByte(body, ','); i >= 0 {
			val, body = body[:i], body[i+1:]
			if len(body) == 0 {
				return nil, false // a trailing comma
			}
		} else {
			val, body = body, nil
		}
		if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
			t, err := time.Parse(time.RFC3339Nano, string(val[1:len(val)-1]))
			if err != nil {
				return nil, false
			}
			e.at = t
		} else {
			ms, err := strconv.ParseInt(string(val), 10, 64)
			if err != nil {
				return nil, false
			}
			e.at = time.UnixMilli(ms).UTC()
		}
		if len(a) > 0 && a[len(a)-1].id >= e.id {
			return nil, false // not as encode writes it
		}
		a = append(a, e)
	}
	return a, true
}

// The count row is {"pending": n}.
const countPrefix = `{"pending":`

func encodeCount(n int64) []byte {
	return append(strconv.AppendInt([]byte(countPrefix), n, 10), '}')
}

func decodeCount(v []byte) (int64, error) {
	if s, ok := bytes.CutPrefix(v, []byte(countPrefix)); ok && len(s) > 1 && s[len(s)-1] == '}' {
		if n, err := strconv.ParseInt(string(s[:len(s)-1]), 10, 64); err == nil {
			return n, nil
		}
	}
	var c struct {
		Pending int64 `json:"pending"`
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return 0, fmt.Errorf("alarm index: count row: %w", err)
	}
	return c.Pending, nil
}
