package scheduler

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// Due keys sort by due time, then actor and alarm; parseDue reads back
// what DueKey and dueValue wrote, to the nanosecond.
func TestDueKeyRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), // before 1970: sorts first, exact in the value
		time.UnixMilli(0).UTC(),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 1_000_001, time.UTC), // sub-millisecond: exact in the value
		time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC),
	}
	var keys []string
	for i, at := range times {
		for _, actor := range []string{"t.kA", "t.kB"} {
			k := DueKey(actor, "1"+string(rune('0'+i)), at)
			v, err := dueValue(at)
			if err != nil {
				t.Fatal(err)
			}
			p, err := parseDue(k, v)
			if err != nil {
				t.Fatal(err)
			}
			if p.ActorID != actor || p.AlarmID != "1"+string(rune('0'+i)) || !p.At.Equal(at) {
				t.Fatalf("%s %s: parsed %+v, want %s at %v", k, v, p, actor, at)
			}
			if exact := at.UnixMilli() >= 0 && time.UnixMilli(at.UnixMilli()).Equal(at); exact != (string(v) == "{}") {
				t.Fatalf("value %s for %v", v, at)
			}
			keys = append(keys, k)
		}
	}
	// In due order, the key's byte order is the due time's (a key's
	// milliseconds end at len(DuePrefix)+msDigits).
	ms := func(k string) string { return k[:len(DuePrefix)+msDigits] }
	if !slices.IsSortedFunc(keys, func(a, b string) int { return strings.Compare(ms(a), ms(b)) }) {
		t.Fatalf("due keys out of order:\n%v", keys)
	}
	for _, bad := range []string{"due/", "due/123/a/b", "due/000000000000000x/a/b", "due/0000000000000000/a", "act/x"} {
		if _, err := parseDue(bad, []byte("{}")); err == nil {
			t.Errorf("parsed malformed key %q", bad)
		}
	}
}

// An actor row round-trips through the hand codec, which agrees with
// encoding/json (its fallback) on what it writes.
func TestActorRowCodec(t *testing.T) {
	var a actorAlarms
	a.put("2", time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC))
	a.put("10", time.Date(2026, 1, 1, 0, 0, 2, 5, time.UTC)) // sub-millisecond: a string
	a.put("1", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC))  // before 1970: a string
	a.put(`we"ird\id<`, time.UnixMilli(7).UTC())             // escaped: encoding/json decodes it
	a.put("2", time.UnixMilli(5).UTC())                      // replaced
	v := a.encode()
	if !json.Valid(v) {
		t.Fatalf("not JSON: %s", v)
	}
	for _, codec := range []func([]byte) (actorAlarms, error){decodeActorAlarms, func(v []byte) (actorAlarms, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(v, &m); err != nil {
			return nil, err
		}
		return decodeActorAlarms(append([]byte(" "), v...)) // not the fast path's form
	}} {
		got, err := codec(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(a) {
			t.Fatalf("decoded %v from %s, want %v", got, v, a)
		}
		for i := range a {
			if got[i].id != a[i].id || !got[i].at.Equal(a[i].at) {
				t.Fatalf("decoded %v from %s, want %v", got, v, a)
			}
		}
	}
	if at, ok := a.remove("10"); !ok || at.Nanosecond() != 5 {
		t.Fatalf("remove: %v %v", at, ok)
	}
	if _, ok := a.remove("10"); ok {
		t.Fatal("removed twice")
	}
	for _, bad := range []string{`{"1":}`, `{"1":1,}`, `{"2":1,"1":2}`, `[1]`} {
		if got, ok := decodeActorAlarmsFast([]byte(bad)); ok {
			t.Errorf("fast path took %s as %v", bad, got)
		}
	}
	for _, n := range []int64{0, 1, -3, 1 << 40} {
		if got, err := decodeCount(encodeCount(n)); err != nil || got != n {
			t.Fatalf("count %d -> %s -> %d %v", n, encodeCount(n), got, err)
		}
	}
}
