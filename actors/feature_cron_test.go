package actors_test

// Actor cron (cron.go): a named, recurring alarm whose next fire each fire's
// event re-arms, with its recent fires in its history. Time moves only on the
// fake clock (alScheduler, feature_alarm_test.go).

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
)

// crArgs is what the cron test actions take.
type crArgs struct {
	Name   string `json:"name"`
	Spec   string `json:"spec"`
	Action string `json:"action"`
	Tag    string `json:"tag,omitempty"`
}

// crType is alType plus cron actions: set (returns the error code, "" when
// set, for the failures the tests expect), del, list, history; and
// stopSelf(tag), an action for a cron that deletes its own cron "self" on its
// third fire.
func crType(name string) *actors.Type[ftState] {
	return alType(name, actors.Options[ftState]{}).
		Action("set", actors.Act(func(c *actors.Context[ftState], a crArgs) (bool, error) {
			if err := c.Cron().Set(a.Name, a.Spec, a.Action, a.Tag); err != nil {
				return false, err
			}
			return true, nil
		})).
		Action("trySet", actors.Act(func(c *actors.Context[ftState], a crArgs) (string, error) {
			err := c.Cron().Set(a.Name, a.Spec, a.Action, a.Tag)
			var re *actors.Error
			if errors.As(err, &re) {
				return re.Code + ": " + re.Message, nil
			}
			return "", err
		})).
		Action("del", actors.Act(func(c *actors.Context[ftState], name string) (bool, error) {
			return c.Cron().Delete(name), nil
		})).
		Action("list", actors.Act0(func(c *actors.Context[ftState]) ([]actorstate.Cron, error) {
			return c.Cron().List(), nil
		})).
		Action("history", actors.Act(func(c *actors.Context[ftState], name string) ([]actorstate.CronFire, error) {
			return c.Cron().History(name), nil
		})).
		Action("stopSelf", actors.Act(func(c *actors.Context[ftState], tag string) (int64, error) {
			c.State.Count++
			if c.State.Count == 3 {
				c.Cron().Delete("self")
			}
			return c.State.Count, nil
		}))
}

func crNominals(h []actorstate.CronFire) []string {
	var out []string
	for _, f := range h {
		out = append(out, f.Nominal.UTC().Format(time.DateTime))
	}
	return out
}

// Specs: descriptors, 5 fields, 6 with seconds, CRON_TZ; the first fire is
// the first occurrence after the call. Invalid specs and zones are refused
// with their codes and the parser's message, and record nothing.
func TestFeatureCronSpecs(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, crType("crspec"))
	h := ftCreate(t, b, "crspec", "a")
	// The clock reads 2026-01-01 00:00:00 UTC, a Thursday.
	for _, tc := range []struct{ spec, next string }{
		{"@every 10s", "2026-01-01 00:00:10"},
		{"@hourly", "2026-01-01 01:00:00"},
		{"@daily", "2026-01-02 00:00:00"},
		{"@weekly", "2026-01-04 00:00:00"},
		{"*/5 * * * *", "2026-01-01 00:05:00"},
		{"30 9 * * MON-FRI", "2026-01-01 09:30:00"},
		{"*/30 * * * * *", "2026-01-01 00:00:30"},
		{"15 0 0 * * *", "2026-01-01 00:00:15"},
		{"CRON_TZ=Europe/Paris 0 9 * * *", "2026-01-01 08:00:00"},
		{"TZ=Asia/Tokyo 0 9 * * *", "2026-01-02 00:00:00"},
	} {
		ftCall[bool](t, h, "set", crArgs{Name: tc.spec, Spec: tc.spec, Action: "ping"})
		var got *actorstate.Cron
		for _, c := range ftCall[[]actorstate.Cron](t, h, "list") {
			if c.Name == tc.spec {
				got = &c
			}
		}
		if got == nil || got.Next.UTC().Format(time.DateTime) != tc.next || got.Spec != tc.spec || got.Action != "ping" {
			t.Errorf("%s: cron %+v, want next %s", tc.spec, got, tc.next)
		}
	}
	if n := len(alPending(t, b, h.ID)); n != 10 {
		t.Fatalf("%d alarms pending for 10 crons", n)
	}

	seq := ftLastSeq(t, b, h.ID)
	for _, tc := range []struct{ spec, want string }{
		{"61 * * * *", "invalid_cron: invalid cron spec \"61 * * * *\": end of range (61) above maximum (59): 61"},
		{"* * *", "invalid_cron: invalid cron spec \"* * *\": expected 5 to 6 fields, found 3: [* * *]"},
		{"@fortnightly", "invalid_cron: "},
		{"", "invalid_cron: "},
		{"CRON_TZ=UTC", "invalid_cron: "},
		{"0 0 30 2 *", "invalid_cron: invalid cron spec \"0 0 30 2 *\": it never fires"},
		{"CRON_TZ=Local 0 9 * * *", "invalid_timezone: "},
		{"CRON_TZ=Mars/Olympus_Mons 0 9 * * *", "invalid_timezone: invalid cron spec \"CRON_TZ=Mars/Olympus_Mons 0 9 * * *\": unknown time zone \"Mars/Olympus_Mons\""},
	} {
		if got := ftCall[string](t, h, "trySet", crArgs{Name: "bad", Spec: tc.spec, Action: "ping"}); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.spec, got, tc.want)
		}
	}
	if got := ftCall[string](t, h, "trySet", crArgs{Name: "", Spec: "@daily", Action: "ping"}); !strings.HasPrefix(got, "invalid_args") {
		t.Errorf("empty name: %q", got)
	}
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Seq > seq && len(ev.Effects) != 0 {
			t.Fatalf("a refused cron recorded %v", alEffects(ev))
		}
	}
	// The refused set does not reach the action: a Set error fails it.
	if _, err := actors.Call[bool](ftCtx(t), h, "set", crArgs{Name: "x", Spec: "nope", Action: "ping"}); !errors.Is(err, actors.ErrInvalidCron) {
		t.Fatalf("set with a bad spec: %v", err)
	}
}

// A cron fires at each occurrence, records each fire in its history (nominal
// time, time run, event), re-arms from the nominal time, and keeps the last
// MaxCronHistory fires. Replacing it keeps its history; deleting it cancels
// its next fire. A cron may delete itself from its own fire.
func TestFeatureCronFiresAndRearms(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, crType("crfire"))
	h := ftCreate(t, b, "crfire", "a")
	s := alNewScheduler(t, b, h.ID)
	start := b.clock.Now()
	ftCall[bool](t, h, "set", crArgs{Name: "tick", Spec: "@every 10s", Action: "ping", Tag: "tick"})
	s.sync()

	b.clock.Advance(10 * time.Second)
	hist := ftCall[[]actorstate.CronFire](t, h, "history", "tick")
	evs := ftEvents(t, b, h.ID)
	if len(hist) != 1 || !hist[0].Nominal.Equal(start.Add(10*time.Second)) || !hist[0].At.Equal(start.Add(10*time.Second)) ||
		hist[0].Seq != evs[len(evs)-2].Seq || hist[0].Error != "" {
		t.Fatalf("history after one fire: %+v (fire event %d)", hist, evs[len(evs)-2].Seq)
	}
	fire := evs[len(evs)-2]
	if got := alEffects(fire); !slices.Equal(got, []string{actorstate.EffectAlarmCancel, actorstate.EffectAlarmSet, actorstate.EffectCronFired}) {
		t.Fatalf("effects of a cron fire: %v", got)
	}
	list := ftCall[[]actorstate.Cron](t, h, "list")
	if len(list) != 1 || !list[0].Next.Equal(start.Add(20*time.Second)) || list[0].History != nil {
		t.Fatalf("list after one fire: %+v", list)
	}

	b.clock.Advance(30 * time.Second) // three more, in order, in one advance
	hist = ftCall[[]actorstate.CronFire](t, h, "history", "tick")
	if got := crNominals(hist); !slices.Equal(got, []string{"2026-01-01 00:00:10", "2026-01-01 00:00:20", "2026-01-01 00:00:30", "2026-01-01 00:00:40"}) {
		t.Fatalf("fires %v", got)
	}
	st := ftCall[ftState](t, h, "state")
	if len(st.Log) != 4 || st.Log[0] != "tick:scheduler:1" {
		t.Fatalf("log %v", st.Log)
	}
	if n := len(alPending(t, b, h.ID)); n != 1 {
		t.Fatalf("%d alarms pending for one cron", n)
	}

	b.clock.Advance(time.Duration(actorstate.MaxCronHistory) * 10 * time.Second)
	hist = ftCall[[]actorstate.CronFire](t, h, "history", "tick")
	if len(hist) != actorstate.MaxCronHistory || !hist[len(hist)-1].Nominal.Equal(b.clock.Now()) {
		t.Fatalf("%d fires kept, last %v (now %v)", len(hist), hist[len(hist)-1].Nominal, b.clock.Now())
	}

	// Replace: one alarm, the history kept, the new spec used.
	ftCall[bool](t, h, "set", crArgs{Name: "tick", Spec: "@hourly", Action: "ping", Tag: "hourly"})
	s.sync()
	list = ftCall[[]actorstate.Cron](t, h, "list")
	if len(list) != 1 || list[0].Spec != "@hourly" || len(alPending(t, b, h.ID)) != 1 ||
		len(ftCall[[]actorstate.CronFire](t, h, "history", "tick")) != actorstate.MaxCronHistory {
		t.Fatalf("replaced cron: %+v, %d alarms", list, len(alPending(t, b, h.ID)))
	}
	fired := len(s.firedIDs())
	b.clock.Advance(time.Minute) // the old @every 10s timers are stale now
	if len(s.firedIDs()) != fired {
		t.Fatal("the replaced cron's old schedule fired")
	}

	// Delete: its next fire is cancelled.
	if !ftCall[bool](t, h, "del", "tick") || ftCall[bool](t, h, "del", "tick") {
		t.Fatal("delete: want true, then false")
	}
	if n := len(alPending(t, b, h.ID)); n != 0 {
		t.Fatalf("%d alarms pending after delete", n)
	}
	b.clock.Advance(2 * time.Hour)
	if len(s.firedIDs()) != fired {
		t.Fatal("a deleted cron fired")
	}

	// A cron that deletes itself on its third fire.
	ftCall[bool](t, h, "set", crArgs{Name: "self", Spec: "@every 1m", Action: "stopSelf"})
	s.sync()
	b.clock.Advance(10 * time.Minute)
	if st := ftCall[ftState](t, h, "state"); st.Count != 3 {
		t.Fatalf("the self-deleting cron ran %d times, want 3", st.Count)
	}
	if len(ftCall[[]actorstate.Cron](t, h, "list")) != 0 || len(alPending(t, b, h.ID)) != 0 {
		t.Fatal("the self-deleting cron is still there")
	}
}

// A node down past several occurrences: the cron fires once, late, for the
// first missed occurrence, then re-arms from the time of that fire; the other
// missed occurrences are skipped. A failing fire is recorded in the history
// with its error, and the cron re-armed.
func TestFeatureCronLateAndFailedFires(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, crType("crlate"))
	h := ftCreate(t, b, "crlate", "a")
	s := alNewScheduler(t, b, h.ID)
	ftCall[bool](t, h, "set", crArgs{Name: "m", Spec: "* * * * *", Action: "ping", Tag: "m"})
	s.sync()
	s.stop() // the scheduler is down...
	b.clock.Advance(5*time.Minute + 30*time.Second)
	s.sync() // ...and back: the overdue fire runs at once
	hist := ftCall[[]actorstate.CronFire](t, h, "history", "m")
	if len(hist) != 1 || hist[0].Nominal.Format(time.TimeOnly) != "00:01:00" || hist[0].At.Format(time.TimeOnly) != "00:05:30" {
		t.Fatalf("history after the outage: %+v", hist)
	}
	if list := ftCall[[]actorstate.Cron](t, h, "list"); list[0].Next.Format(time.TimeOnly) != "00:06:00" {
		t.Fatalf("re-armed for %v, want 00:06:00 (from now, not from the missed ones)", list[0].Next)
	}
	b.clock.Advance(30 * time.Second)
	if got := crNominals(ftCall[[]actorstate.CronFire](t, h, "history", "m")); len(got) != 2 || got[1] != "2026-01-01 00:06:00" {
		t.Fatalf("fires %v", got)
	}
	ftCall[bool](t, h, "del", "m")

	// A failing cron action.
	ftCall[bool](t, h, "set", crArgs{Name: "f", Spec: "@every 1m", Action: "fail", Tag: "user"})
	s.sync()
	b.clock.Advance(2 * time.Minute)
	hist = ftCall[[]actorstate.CronFire](t, h, "history", "f")
	if len(hist) != 2 || hist[0].Code != "quota_exceeded" || hist[0].Error != "you are over quota" || hist[1].Code != "quota_exceeded" {
		t.Fatalf("history of a failing cron: %+v", hist)
	}
	if st := ftCall[ftState](t, h, "state"); st.Count != 0 {
		t.Fatalf("the failed fires' changes were kept: %+v", st)
	}
	if list := ftCall[[]actorstate.Cron](t, h, "list"); len(list) != 1 || !list[0].Next.Equal(b.clock.Now().Add(time.Minute)) {
		t.Fatalf("the failing cron is not re-armed: %+v", list)
	}
}

// Daylight saving time with CRON_TZ=America/New_York, as robfig/cron's Next
// computes it: 2:30 does not exist on 2026-03-08 (2:00 -> 3:00), so that
// day has no fire; on 2026-11-01 (2:00 -> 1:00) 2:30 happens once, while
// 1:30 happens twice (EDT, then EST) and fires twice.
func TestFeatureCronDST(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, crType("crdst"))
	spring := ftCreate(t, b, "crdst", "spring")
	fall := ftCreate(t, b, "crdst", "fall")
	s := alNewScheduler(t, b, spring.ID, fall.ID)

	b.clock.Set(time.Date(2026, 3, 6, 12, 0, 0, 0, time.UTC))
	ftCall[bool](t, spring, "set", crArgs{Name: "c", Spec: "CRON_TZ=America/New_York 30 2 * * *", Action: "ping"})
	s.sync()
	b.clock.Set(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	got := crNominals(ftCall[[]actorstate.CronFire](t, spring, "history", "c"))
	want := []string{
		"2026-03-07 07:30:00", // 02:30 EST
		"2026-03-09 06:30:00", // 02:30 EDT; none on 03-08
		"2026-03-10 06:30:00",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("spring forward fires (UTC) %v, want %v", got, want)
	}
	ftCall[bool](t, spring, "del", "c")

	b.clock.Set(time.Date(2026, 10, 30, 12, 0, 0, 0, time.UTC))
	ftCall[bool](t, fall, "set", crArgs{Name: "c", Spec: "CRON_TZ=America/New_York 30 2 * * *", Action: "ping"})
	ftCall[bool](t, fall, "set", crArgs{Name: "overlap", Spec: "CRON_TZ=America/New_York 30 1 * * *", Action: "ping"})
	s.sync()
	b.clock.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	got = crNominals(ftCall[[]actorstate.CronFire](t, fall, "history", "c"))
	want = []string{
		"2026-10-31 06:30:00", // 02:30 EDT
		"2026-11-01 07:30:00", // 02:30 EST, once
		"2026-11-02 07:30:00",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fall back fires of 2:30 (UTC) %v, want %v", got, want)
	}
	got = crNominals(ftCall[[]actorstate.CronFire](t, fall, "history", "overlap"))
	want = []string{
		"2026-10-31 05:30:00", // 01:30 EDT
		"2026-11-01 05:30:00", // 01:30 EDT
		"2026-11-01 06:30:00", // 01:30 EST: the hour repeats, so does the fire
		"2026-11-02 06:30:00",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("fall back fires of 1:30 (UTC) %v, want %v", got, want)
	}
}

// Crons survive sleep, a restart and the loss of the snapshots, history
// included, and keep firing after.
func TestFeatureCronSurvivesRestart(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.SnapshotEvery = 3 }, crType("crkeep"))
	h := ftCreate(t, b, "crkeep", "a")
	s := alNewScheduler(t, b, h.ID)
	ftCall[bool](t, h, "set", crArgs{Name: "c", Spec: "@every 1m", Action: "ping"})
	s.sync()
	b.clock.Advance(3 * time.Minute)
	want := ftJSON(t, ftCall[[]actorstate.CronFire](t, h, "history", "c"))
	s.stop()
	b.restart(t)
	h = ftCreate(t, b, "crkeep", "a")
	if got := ftJSON(t, ftCall[[]actorstate.CronFire](t, h, "history", "c")); got != want {
		t.Fatalf("history after a restart %s, want %s", got, want)
	}
	b.stop(t)
	if err := removeSnapshots(b); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	h = ftCreate(t, b, "crkeep", "a")
	if got := ftJSON(t, ftCall[[]actorstate.CronFire](t, h, "history", "c")); got != want {
		t.Fatalf("history after losing the snapshots %s, want %s", got, want)
	}
	s.sync()
	b.clock.Advance(time.Minute)
	if n := len(ftCall[[]actorstate.CronFire](t, h, "history", "c")); n != 4 {
		t.Fatalf("%d fires after the restart, want 4", n)
	}
}
