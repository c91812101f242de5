package actorstate_test

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func effect(t *testing.T, typ string, v any) eventlog.Effect {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Effect{Type: typ, Data: b}
}

func alarm(id string, sec int, cron string) actorstate.Alarm {
	return actorstate.Alarm{ID: id, At: t0.Add(time.Duration(sec) * time.Second), Action: "ping", Args: json.RawMessage(`["` + id + `"]`), Cron: cron}
}

func set(t *testing.T, a actorstate.Alarm) eventlog.Effect {
	return effect(t, actorstate.EffectAlarmSet, a)
}

func cancel(t *testing.T, id string) eventlog.Effect {
	return effect(t, actorstate.EffectAlarmCancel, actorstate.AlarmCancel{ID: id})
}

// An image with alarms, crons and a history encodes and decodes to itself,
// deterministically; an image without them (an older snapshot) decodes with
// none, and an older decoder skips the new fields.
func TestImageAlarmsRoundTrip(t *testing.T) {
	t.Parallel()
	im := actorstate.Image{Generation: 3, Exists: true, State: []byte(`{}`), NextAlarmID: 42,
		Alarms: map[string]actorstate.Alarm{"7": alarm("7", 5, ""), "41": alarm("41", 60, "tick"), "3": alarm("3", -5, "")},
		Crons: map[string]actorstate.Cron{"tick": {Name: "tick", Spec: "@every 1m", Action: "ping", Args: json.RawMessage(`[]`), Next: t0.Add(time.Minute),
			History: []actorstate.CronFire{{Nominal: t0, At: t0.Add(time.Second), Seq: 9, Error: "boom", Code: "quota_exceeded"}}}},
	}
	enc := im.Encode()
	back, err := actorstate.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, im) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, im)
	}
	if again := back.Encode(); string(again) != string(enc) {
		t.Fatal("encoding is not deterministic")
	}
	old := actorstate.Image{Generation: 1, Exists: true, State: []byte(`{"a":1}`)}
	back, err = actorstate.Decode(old.Encode())
	if err != nil || back.Alarms != nil || back.Crons != nil || back.NextAlarmID != 0 {
		t.Fatalf("an image without alarms decodes to %+v, %v", back, err)
	}
}

// AlarmChanges of each event, applied to a set of pending alarms (reset, then
// removed, then set), gives what the fold gives; the alarm counter only goes
// up, across a destroy too; crons follow their effects.
func TestAlarmChangesMatchesFold(t *testing.T) {
	t.Parallel()
	cronTick := actorstate.Cron{Name: "tick", Spec: "@every 10s", Action: "ping", Args: json.RawMessage(`[]`), Next: t0.Add(10 * time.Second)}
	fired := func(name string, nominal int) eventlog.Effect {
		return effect(t, actorstate.EffectCronFired, actorstate.CronFired{Name: name, Fire: actorstate.CronFire{Nominal: t0.Add(time.Duration(nominal) * time.Second), At: t0.Add(time.Duration(nominal) * time.Second)}})
	}
	events := []*eventlog.Event{
		{Kind: eventlog.KindCreate, Generation: 1, HasState: true, State: []byte(`{}`), Effects: []eventlog.Effect{set(t, alarm("1", 5, ""))}},
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{set(t, alarm("2", 3, "")), set(t, alarm("3", 9, "")), cancel(t, "1"),
			{Type: "send", Data: []byte(`{"target":"x"}`)}}},
		// set and cancelled by the same event; cancel of an unknown ID
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{set(t, alarm("4", 1, "")), cancel(t, "4"), cancel(t, "99")}},
		// a cron and its alarm
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{effect(t, actorstate.EffectCronSet, cronTick), set(t, alarm("5", 10, "tick"))}},
		// the cron's fire: its alarm removed, the fire recorded, the next armed
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{cancel(t, "5"), set(t, alarm("6", 20, "tick")), fired("tick", 10)}},
		// the cron deleted
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{cancel(t, "6"), effect(t, actorstate.EffectCronDelete, actorstate.CronDelete{Name: "tick"})}},
		{Kind: eventlog.KindSystem, Effects: []eventlog.Effect{set(t, alarm("7", 2, ""))}},
		{Kind: eventlog.KindDestroy, Effects: []eventlog.Effect{set(t, alarm("8", 2, ""))}},
		{Kind: eventlog.KindCreate, Generation: 2, HasState: true, State: []byte(`{}`)},
		{Kind: eventlog.KindAction, Effects: []eventlog.Effect{set(t, alarm("9", 1, ""))}},
	}
	wantPending := [][]string{{"1"}, {"2", "3"}, {"2", "3"}, {"2", "3", "5"}, {"2", "3", "6"}, {"2", "3"}, {"2", "3", "7"}, nil, nil, {"9"}}
	wantNext := []uint64{2, 4, 5, 6, 7, 7, 8, 8, 8, 10}
	var im actorstate.Image
	index := map[string]actorstate.Alarm{} // what a scheduler's index keeps, from AlarmChanges alone
	for i, ev := range events {
		ev.Seq = uint64(i + 1)
		set, removed, reset, err := actorstate.AlarmChanges(ev)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if reset {
			clear(index)
		}
		for _, id := range removed {
			delete(index, id)
		}
		for _, a := range set {
			index[a.ID] = a
		}
		mustApply(t, &im, ev)
		got := slices.Sorted(maps.Keys(im.Alarms))
		if !slices.Equal(got, wantPending[i]) {
			t.Fatalf("event %d: pending %v, want %v", i, got, wantPending[i])
		}
		if !reflect.DeepEqual(index, im.Alarms) && (len(index) != 0 || len(im.Alarms) != 0) {
			t.Fatalf("event %d: AlarmChanges gives %v, the fold %v", i, index, im.Alarms)
		}
		if im.NextAlarmID != wantNext[i] {
			t.Fatalf("event %d: NextAlarmID %d, want %d", i, im.NextAlarmID, wantNext[i])
		}
		switch i {
		case 3:
			if c := im.Crons["tick"]; c.Spec != "@every 10s" || !c.Next.Equal(t0.Add(10*time.Second)) {
				t.Fatalf("cron after set: %+v", c)
			}
		case 4:
			c := im.Crons["tick"]
			if !c.Next.Equal(t0.Add(20*time.Second)) || len(c.History) != 1 || c.History[0].Seq != ev.Seq {
				t.Fatalf("cron after its fire: %+v (the fold sets Seq %d)", c, ev.Seq)
			}
		case 5:
			if im.Crons != nil {
				t.Fatalf("crons after delete: %v", im.Crons)
			}
		}
	}
}

// Each event's lists are its net effect; a destroy resets and sets nothing;
// an effect that does not decode is reported.
func TestAlarmChanges(t *testing.T) {
	t.Parallel()
	set2, removed, reset, err := actorstate.AlarmChanges(&eventlog.Event{Kind: eventlog.KindAction, Effects: []eventlog.Effect{
		set(t, alarm("1", 1, "")), cancel(t, "1"), cancel(t, "2"), set(t, alarm("2", 2, "")), set(t, alarm("3", 3, "")), set(t, alarm("3", 4, "")),
	}})
	if err != nil || reset || len(set2) != 2 || set2[0].ID != "2" || set2[1].ID != "3" || !set2[1].At.Equal(t0.Add(4*time.Second)) || !slices.Equal(removed, []string{"1"}) {
		t.Fatalf("AlarmChanges = %+v, %v, %v, %v", set2, removed, reset, err)
	}
	set2, removed, reset, err = actorstate.AlarmChanges(&eventlog.Event{Kind: eventlog.KindDestroy, Effects: []eventlog.Effect{set(t, alarm("1", 1, ""))}})
	if err != nil || !reset || set2 != nil || removed != nil {
		t.Fatalf("destroy: %+v, %v, %v, %v", set2, removed, reset, err)
	}
	if _, _, reset, _ := actorstate.AlarmChanges(&eventlog.Event{Kind: eventlog.KindCreate}); !reset {
		t.Fatal("a create does not reset")
	}
	set2, _, _, err = actorstate.AlarmChanges(&eventlog.Event{Kind: eventlog.KindAction, Effects: []eventlog.Effect{
		{Type: actorstate.EffectAlarmSet, Data: []byte(`{`)}, set(t, alarm("5", 1, "")),
	}})
	if err == nil || len(set2) != 1 {
		t.Fatalf("a bad effect: %v, %v", set2, err)
	}
}

// A cron's history keeps the most recent MaxCronHistory fires, oldest first.
func TestCronHistoryBound(t *testing.T) {
	t.Parallel()
	var im actorstate.Image
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindCreate, Generation: 1, HasState: true, State: []byte(`{}`),
		Effects: []eventlog.Effect{effect(t, actorstate.EffectCronSet, actorstate.Cron{Name: "c", Spec: "@every 1s", Action: "ping"})}})
	for i := range actorstate.MaxCronHistory + 5 {
		mustApply(t, &im, &eventlog.Event{Seq: uint64(i + 2), Kind: eventlog.KindAction, Effects: []eventlog.Effect{
			effect(t, actorstate.EffectCronFired, actorstate.CronFired{Name: "c", Fire: actorstate.CronFire{Nominal: t0.Add(time.Duration(i) * time.Second)}}),
		}})
	}
	h := im.Crons["c"].History
	if len(h) != actorstate.MaxCronHistory || h[0].Seq != 7 || h[len(h)-1].Seq != uint64(actorstate.MaxCronHistory+6) {
		t.Fatalf("history: %d fires, first seq %d, last seq %d", len(h), h[0].Seq, h[len(h)-1].Seq)
	}
	// Replacing a cron keeps its name's history.
	mustApply(t, &im, &eventlog.Event{Kind: eventlog.KindAction, Effects: []eventlog.Effect{
		effect(t, actorstate.EffectCronSet, actorstate.Cron{Name: "c", Spec: "@daily", Action: "ping"})}})
	if c := im.Crons["c"]; c.Spec != "@daily" || len(c.History) != actorstate.MaxCronHistory {
		t.Fatalf("replaced cron: %s with %d fires", c.Spec, len(c.History))
	}
}

func TestSortAlarms(t *testing.T) {
	t.Parallel()
	as := []actorstate.Alarm{alarm("10", 1, ""), alarm("9", 1, ""), alarm("1", 2, ""), alarm("x", 0, "")}
	actorstate.SortAlarms(as)
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	if want := []string{"x", "9", "10", "1"}; !slices.Equal(ids, want) {
		t.Fatalf("sorted %v, want %v", ids, want)
	}
	if n, ok := actorstate.AlarmNumber("012"); ok {
		t.Fatalf("AlarmNumber(012) = %d, true", n)
	}
}
