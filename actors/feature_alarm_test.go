package actors_test

// Durable actor alarms (alarm.go): set and cancel as effects of the action's
// event, folded into the image, fired by Runtime.FireAlarm. The tests drive
// time with the fake clock only: alScheduler arms a fake timer per pending
// alarm and fires it when the test advances the clock, as the scheduler
// service does on the wall clock.

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// alArgs is what the alarm test actions take.
type alArgs struct {
	After time.Duration `json:"after,omitempty"`
	At    time.Time     `json:"at,omitzero"`
	Tag   string        `json:"tag,omitempty"`
	N     int           `json:"n,omitempty"`
}

// alType is ftType plus alarm actions: ping(tag) logs "tag:caller:alarmID";
// after/at set an alarm of ping; cancel, getAlarm and alarms read and change
// them; setMany sets n; setThenFail sets one and fails; tryBad tries an
// unknown action and unencodable args and returns the error codes;
// setAndCancel sets and cancels one in the same call.
func alType(name string, opts actors.Options[ftState]) *actors.Type[ftState] {
	return ftType(name, opts).
		Action("ping", actors.Act(func(c *actors.Context[ftState], tag string) (string, error) {
			a, _ := c.Alarm()
			c.State.Log = append(c.State.Log, tag+":"+c.Caller()+":"+a.ID)
			return tag, nil
		})).
		Action("after", actors.Act(func(c *actors.Context[ftState], a alArgs) (string, error) {
			return c.Schedule().After(a.After, "ping", a.Tag)
		})).
		Action("at", actors.Act(func(c *actors.Context[ftState], a alArgs) (string, error) {
			return c.Schedule().At(a.At, "ping", a.Tag)
		})).
		Action("failAt", actors.Act(func(c *actors.Context[ftState], a alArgs) (string, error) {
			return c.Schedule().After(a.After, "fail", a.Tag)
		})).
		Action("cancel", actors.Act(func(c *actors.Context[ftState], id string) (bool, error) {
			return c.Schedule().Cancel(id), nil
		})).
		Action("getAlarm", actors.Act(func(c *actors.Context[ftState], id string) (*actorstate.Alarm, error) {
			if a, ok := c.Schedule().Get(id); ok {
				return &a, nil
			}
			return nil, nil
		})).
		Action("alarms", actors.Act0(func(c *actors.Context[ftState]) ([]actorstate.Alarm, error) {
			return c.Schedule().List(), nil
		})).
		Action("setMany", actors.Act(func(c *actors.Context[ftState], n int) (int, error) {
			for i := range n {
				if _, err := c.Schedule().After(time.Duration(i+1)*time.Second, "ping", "many"); err != nil {
					return i, err
				}
			}
			return n, nil
		})).
		Action("setThenFail", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			if _, err := c.Schedule().After(time.Second, "ping", "lost"); err != nil {
				return "", err
			}
			return "", actors.NewUserError("nope", "failed after setting an alarm", nil)
		})).
		Action("tryBad", actors.Act0(func(c *actors.Context[ftState]) ([]string, error) {
			var codes []string
			for _, try := range []func() error{
				func() error { _, err := c.Schedule().After(time.Second, "noSuchAction"); return err },
				func() error { _, err := c.Schedule().After(time.Second, "ping", make(chan int)); return err },
				func() error { return c.Cron().Set("c", "@daily", "noSuchAction") },
				func() error { _, err := c.Schedule().At(time.Time{}, "ping", "zero"); return err },
			} {
				var re *actors.Error
				if err := try(); errors.As(err, &re) {
					codes = append(codes, re.Code)
				} else {
					codes = append(codes, "no error")
				}
			}
			return codes, nil
		})).
		Action("setAndCancel", actors.Act0(func(c *actors.Context[ftState]) ([]any, error) {
			id, err := c.Schedule().After(time.Minute, "ping", "gone")
			if err != nil {
				return nil, err
			}
			_, before := c.Schedule().Get(id)
			listed := len(c.Schedule().List())
			cancelled := c.Schedule().Cancel(id)
			_, after := c.Schedule().Get(id)
			return []any{id, before, listed, cancelled, after, len(c.Schedule().List())}, nil
		}))
}

// alPending returns the actor's pending alarms as its image, folded from the
// log (and snapshot), has them: what the scheduler's index sees.
func alPending(t testing.TB, b *bundle, id string) []actorstate.Alarm {
	t.Helper()
	im, err := b.rt.ImageAt(ftCtx(t), id, ftLastSeq(t, b, id))
	if err != nil {
		t.Fatalf("image of %s: %v", id, err)
	}
	out := slices.Collect(func(yield func(actorstate.Alarm) bool) {
		for _, a := range im.Alarms {
			if !yield(a) {
				return
			}
		}
	})
	actorstate.SortAlarms(out)
	return out
}

// alScheduler is the scheduler in miniature, on the fake clock: sync arms a
// fake timer for each pending alarm of the watched actors (an alarm already
// due fires at once), and a timer that comes due calls FireAlarm, then syncs
// again (a cron's next fire). Advancing the clock fires alarms in due order,
// synchronously. A stale timer (its alarm cancelled or re-armed) fires too:
// FireAlarm must refuse it.
type alScheduler struct {
	t     testing.TB
	b     *bundle
	ids   []string
	mu    sync.Mutex
	armed map[string]clock.Timer // "actor/alarm@unixms"
	fired []string               // "alarm" of each fire FireAlarm reported, in order
	stale int                    // timers whose FireAlarm said fired=false
}

func alNewScheduler(t testing.TB, b *bundle, ids ...string) *alScheduler {
	s := &alScheduler{t: t, b: b, ids: ids, armed: map[string]clock.Timer{}}
	t.Cleanup(s.stop)
	return s
}

func (s *alScheduler) key(id string, a actorstate.Alarm) string {
	return id + "/" + a.ID + "@" + a.At.Format(time.RFC3339Nano)
}

func (s *alScheduler) sync() {
	s.t.Helper()
	for _, id := range s.ids {
		for _, a := range alPending(s.t, s.b, id) {
			s.mu.Lock()
			_, armed := s.armed[s.key(id, a)]
			s.mu.Unlock()
			if armed {
				continue
			}
			if d := a.At.Sub(s.b.clock.Now()); d > 0 {
				s.mu.Lock()
				s.armed[s.key(id, a)] = s.b.clock.AfterFunc(d, func() { s.fire(id, a) })
				s.mu.Unlock()
				continue
			}
			s.mu.Lock()
			s.armed[s.key(id, a)] = nil
			s.mu.Unlock()
			s.fire(id, a)
		}
	}
}

func (s *alScheduler) fire(id string, a actorstate.Alarm) {
	fired, err := s.b.rt.FireAlarm(context.Background(), id, a.ID, a.At)
	if err != nil {
		s.t.Errorf("fire alarm %s of %s: %v", a.ID, id, err)
		return
	}
	s.mu.Lock()
	if fired {
		s.fired = append(s.fired, a.ID)
	} else {
		s.stale++
	}
	s.mu.Unlock()
	s.sync()
}

// stop stops the timers still armed.
func (s *alScheduler) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, tm := range s.armed {
		if tm != nil {
			tm.Stop()
		}
		delete(s.armed, k)
	}
}

func (s *alScheduler) firedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.fired)
}

// alEffects returns the types of ev's alarm and cron effects.
func alEffects(ev *eventlog.Event) []string {
	var out []string
	for _, e := range ev.Effects {
		out = append(out, e.Type)
	}
	return out
}

func alCode(err error) string {
	var re *actors.Error
	if errors.As(err, &re) {
		return re.Code
	}
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return ue.Code
	}
	return ""
}

// Set, get, list and cancel, from actions: IDs count up per actor, List is
// by due time, a call sees its own changes, Cancel works once, and the
// changes are effects of the events. After(d) is due d after the event's
// recorded time.
func TestFeatureAlarmSetGetListCancel(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("alset", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alset", "a")
	now := b.clock.Now()

	id1 := ftCall[string](t, h, "after", alArgs{After: 10 * time.Second, Tag: "ten"})
	id2 := ftCall[string](t, h, "at", alArgs{At: now.Add(-time.Hour), Tag: "past"})
	id3 := ftCall[string](t, h, "after", alArgs{After: 5*time.Second + 1500*time.Microsecond, Tag: "five"})
	if id1 != "1" || id2 != "2" || id3 != "3" {
		t.Fatalf("IDs %q %q %q, want 1 2 3", id1, id2, id3)
	}
	evs := ftEvents(t, b, h.ID)
	setEv := evs[len(evs)-3]
	if got := alEffects(setEv); !slices.Equal(got, []string{actorstate.EffectAlarmSet}) {
		t.Fatalf("effects of after: %v", got)
	}
	set, _, _, err := actorstate.AlarmChanges(setEv)
	if err != nil || len(set) != 1 || !set[0].At.Equal(setEv.Time.Add(10*time.Second)) || set[0].Action != "ping" || string(set[0].Args) != `["ten"]` {
		t.Fatalf("alarm of after(10s): %+v %v (event time %v)", set, err, setEv.Time)
	}

	list := ftCall[[]actorstate.Alarm](t, h, "alarms")
	var order []string
	for _, a := range list {
		order = append(order, a.ID)
	}
	if !slices.Equal(order, []string{"2", "3", "1"}) {
		t.Fatalf("List order %v, want by due time 2 3 1", order)
	}
	if at := list[1].At; !at.Equal(now.Add(5*time.Second+time.Millisecond)) || at.Location() != time.UTC {
		t.Fatalf("due time %v, want UTC to the millisecond", at)
	}
	if a := ftCall[*actorstate.Alarm](t, h, "getAlarm", "1"); a == nil || a.ID != "1" || !a.At.Equal(now.Add(10*time.Second)) {
		t.Fatalf("Get(1) = %+v", a)
	}
	if a := ftCall[*actorstate.Alarm](t, h, "getAlarm", "9"); a != nil {
		t.Fatalf("Get(9) = %+v", a)
	}
	if !ftCall[bool](t, h, "cancel", "1") {
		t.Fatal("Cancel(1) = false")
	}
	if ftCall[bool](t, h, "cancel", "1") || ftCall[bool](t, h, "cancel", "nope") {
		t.Fatal("Cancel of a cancelled or unknown alarm = true")
	}
	evs = ftEvents(t, b, h.ID)
	if got := alEffects(evs[len(evs)-3]); !slices.Equal(got, []string{actorstate.EffectAlarmCancel}) {
		t.Fatalf("effects of cancel: %v", got)
	}
	if got := alEffects(evs[len(evs)-1]); len(got) != 0 {
		t.Fatalf("a cancel that found nothing recorded %v", got)
	}

	// Set and cancelled in one call: seen by Get and List in between, gone
	// after; its ID is used up.
	got := ftCall[[]any](t, h, "setAndCancel")
	if want := []any{"4", true, float64(3), true, false, float64(2)}; ftJSON(t, got) != ftJSON(t, want) {
		t.Fatalf("setAndCancel = %v, want %v", got, want)
	}
	if ids := alIDs(alPending(t, b, h.ID)); !slices.Equal(ids, []string{"2", "3"}) {
		t.Fatalf("pending after setAndCancel: %v", ids)
	}
	if id := ftCall[string](t, h, "after", alArgs{After: time.Second}); id != "5" {
		t.Fatalf("next ID %q, want 5", id)
	}
}

func alIDs(as []actorstate.Alarm) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// An alarm fires when the clock reaches it, as an action with the caller
// "scheduler" that knows its alarm; the fire's event removes it. An alarm in
// the past fires at once. A sleeping actor is woken by its alarm.
func TestFeatureAlarmFires(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("alfire", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alfire", "a")
	s := alNewScheduler(t, b, h.ID)
	start := b.clock.Now()

	ftCall[string](t, h, "after", alArgs{After: 10 * time.Second, Tag: "ten"})
	ftCall[string](t, h, "after", alArgs{After: 20 * time.Second, Tag: "twenty"})
	s.sync()
	b.clock.Advance(10*time.Second - time.Millisecond)
	if n := len(s.firedIDs()); n != 0 {
		t.Fatalf("%d alarms fired before they were due", n)
	}
	b.clock.Advance(time.Millisecond)
	if got := s.firedIDs(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("fired %v at 10s, want [1]", got)
	}
	st := ftCall[ftState](t, h, "state")
	if !slices.Equal(st.Log, []string{"ten:scheduler:1"}) {
		t.Fatalf("log %v, want the fire with caller scheduler and alarm 1", st.Log)
	}
	evs := ftEvents(t, b, h.ID)
	fire := evs[len(evs)-2] // before the state call
	if fire.Kind != eventlog.KindAction || fire.Action != "ping" || fire.Caller != actors.SchedulerCaller || !fire.Time.Equal(start.Add(10*time.Second)) {
		t.Fatalf("fire event: %v %s by %s at %v", fire.Kind, fire.Action, fire.Caller, fire.Time)
	}
	if _, removed, _, _ := actorstate.AlarmChanges(fire); !slices.Equal(removed, []string{"1"}) {
		t.Fatalf("the fire's event removes %v, want [1]", removed)
	}
	if ids := alIDs(alPending(t, b, h.ID)); !slices.Equal(ids, []string{"2"}) {
		t.Fatalf("pending after the fire: %v", ids)
	}

	// Asleep, then woken by its alarm.
	ftAsleep(t, b) // moves the clock a day on: alarm 2 fires during it
	if got := s.firedIDs(); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("fired %v", got)
	}
	ftCall[string](t, h, "after", alArgs{After: time.Minute, Tag: "asleep"})
	s.sync()
	b.clock.Advance(30 * time.Second) // the idle timeout
	ftSleepIdle(t, b)
	b.clock.Advance(30 * time.Second)
	if got := s.firedIDs(); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("fired %v, want the sleeping actor's alarm 3 too", got)
	}
	if b.rt.Awake() != 1 {
		t.Fatalf("%d actors awake after the fire, want the woken one", b.rt.Awake())
	}

	// In the past: fires at once.
	ftCall[string](t, h, "at", alArgs{At: b.clock.Now().Add(-time.Hour), Tag: "late"})
	s.sync()
	st = ftCall[ftState](t, h, "state")
	if want := []string{"ten:scheduler:1", "twenty:scheduler:2", "asleep:scheduler:3", "late:scheduler:4"}; !slices.Equal(st.Log, want) {
		t.Fatalf("log %v, want %v", st.Log, want)
	}
	if s.stale != 0 {
		t.Fatalf("%d stale fires", s.stale)
	}
}

// removeSnapshots deletes the stopped bundle's snapshot store.
func removeSnapshots(b *bundle) error { return os.RemoveAll(filepath.Join(b.dir, "snapshots")) }

// ftSleepIdle puts the actors idle past their timeout to sleep, without
// moving the clock, and waits until none is awake.
func ftSleepIdle(t testing.TB, b *bundle) {
	t.Helper()
	ftEventually(t, "every actor is asleep", func() bool {
		b.rt.SleepIdle()
		return b.rt.Awake() == 0
	})
}

// Pending alarms are part of the image: they survive sleep, a restart and the
// loss of every snapshot (the fold of the log rebuilds them), and the alarm
// counter with them: an ID is never reused.
func TestFeatureAlarmSurvivesSleepRestartSnapshotLoss(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.SnapshotEvery = 2; o.IdleTimeout = time.Minute },
		alType("alkeep", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alkeep", "a")
	for i := range 5 {
		ftCall[string](t, h, "after", alArgs{After: time.Duration(i+1) * time.Hour, Tag: "keep"})
	}
	ftCall[bool](t, h, "cancel", "2")
	want := ftCall[[]actorstate.Alarm](t, h, "alarms")
	if len(want) != 4 {
		t.Fatalf("%d alarms pending, want 4", len(want))
	}
	check := func(when string) {
		t.Helper()
		h = ftCreate(t, b, "alkeep", "a") // a handle on the running runtime
		got := ftCall[[]actorstate.Alarm](t, h, "alarms")
		if ftJSON(t, got) != ftJSON(t, want) {
			t.Fatalf("%s: alarms %s, want %s", when, ftJSON(t, got), ftJSON(t, want))
		}
	}
	b.clock.Advance(time.Minute) // idle, no alarm due
	ftSleepIdle(t, b)
	check("after sleep")
	b.restart(t)
	check("after a restart")
	b.stop(t)
	if err := removeSnapshots(b); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	check("after losing the snapshots")
	if id := ftCall[string](t, h, "after", alArgs{After: time.Hour}); id != "6" {
		t.Fatalf("the next alarm ID is %q after a rebuild, want 6", id)
	}
}

// A fire delivered twice (a retry after a crash, two nodes) takes effect
// once: the second FireAlarm finds the alarm gone. Concurrent fires of one
// alarm: one fires. A fire with another due time (a re-armed alarm) or of an
// unknown alarm does nothing.
func TestFeatureAlarmFireTwiceTakesEffectOnce(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("altwice", actors.Options[ftState]{}))
	h := ftCreate(t, b, "altwice", "a")
	ctx := ftCtx(t)
	ftCall[string](t, h, "after", alArgs{After: time.Second, Tag: "once"})
	a := alPending(t, b, h.ID)[0]
	b.clock.Advance(time.Second)

	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At.Add(time.Millisecond)); fired || err != nil {
		t.Fatalf("fire with another due time: %v, %v", fired, err)
	}
	if fired, err := b.rt.FireAlarm(ctx, h.ID, "77", a.At); fired || err != nil {
		t.Fatalf("fire of an unknown alarm: %v, %v", fired, err)
	}
	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); !fired || err != nil {
		t.Fatalf("first fire: %v, %v", fired, err)
	}
	seq := ftLastSeq(t, b, h.ID)
	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); fired || err != nil {
		t.Fatalf("second fire: %v, %v", fired, err)
	}
	b.restart(t)
	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); fired || err != nil {
		t.Fatalf("fire after a restart: %v, %v", fired, err)
	}
	if got := ftLastSeq(t, b, h.ID); got != seq {
		t.Fatalf("a repeated fire appended (last seq %d, was %d)", got, seq)
	}

	// Concurrent deliveries of one alarm.
	h = ftCreate(t, b, "altwice", "a")
	ftCall[string](t, h, "after", alArgs{After: time.Second, Tag: "race"})
	a = alPending(t, b, h.ID)[0]
	b.clock.Advance(time.Second)
	var wg sync.WaitGroup
	results := make(chan bool, 8)
	for range 8 {
		wg.Go(func() {
			fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At)
			if err != nil {
				t.Errorf("concurrent fire: %v", err)
			}
			results <- fired
		})
	}
	wg.Wait()
	close(results)
	n := 0
	for fired := range results {
		if fired {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d concurrent fires took effect, want 1", n)
	}
	if st := ftCall[ftState](t, h, "state"); !slices.Equal(st.Log, []string{"once:scheduler:1", "race:scheduler:2"}) {
		t.Fatalf("log %v", st.Log)
	}
	// Fires of an actor that does not exist, or an invalid ID.
	nobody, err := actors.ActorID("altwice", []string{"nobody"})
	if err != nil {
		t.Fatal(err)
	}
	if fired, err := b.rt.FireAlarm(ctx, nobody, "1", a.At); fired || err != nil {
		t.Fatalf("fire on a missing actor: %v, %v", fired, err)
	}
	if _, err := b.rt.FireAlarm(ctx, "not an id", "1", a.At); !errors.Is(err, actors.ErrInvalidID) {
		t.Fatalf("fire with an invalid actor ID: %v", err)
	}
}

// A cancel that wins the race with a fire: the fire finds nothing
// (fired=false) and appends nothing.
func TestFeatureAlarmCancelRacesFire(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("alrace", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alrace", "a")
	s := alNewScheduler(t, b, h.ID)
	id := ftCall[string](t, h, "after", alArgs{After: time.Minute, Tag: "x"})
	s.sync() // armed: the timer fires after the cancel
	a := alPending(t, b, h.ID)[0]
	if !ftCall[bool](t, h, "cancel", id) {
		t.Fatal("cancel = false")
	}
	seq := ftLastSeq(t, b, h.ID)
	b.clock.Advance(time.Minute)
	if len(s.firedIDs()) != 0 || s.stale != 1 {
		t.Fatalf("fired %v, stale %d: want the stale timer refused", s.firedIDs(), s.stale)
	}
	if fired, err := b.rt.FireAlarm(ftCtx(t), h.ID, id, a.At); fired || err != nil {
		t.Fatalf("fire after cancel: %v, %v", fired, err)
	}
	if got := ftLastSeq(t, b, h.ID); got != seq {
		t.Fatal("a fire after the cancel appended")
	}
}

// An alarm set by an action that fails does not exist; an unknown action or
// arguments that do not encode are refused when set, and nothing is
// recorded.
func TestFeatureAlarmOfFailedActionDoesNotExist(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("alfail", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alfail", "a")
	seq := ftLastSeq(t, b, h.ID)
	if _, err := actors.Call[string](ftCtx(t), h, "setThenFail"); alCode(err) != "nope" {
		t.Fatalf("setThenFail: %v", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != seq {
		t.Fatal("the failed action appended")
	}
	if got := ftCall[[]actorstate.Alarm](t, h, "alarms"); len(got) != 0 {
		t.Fatalf("alarms after a failed action: %v", got)
	}
	codes := ftCall[[]string](t, h, "tryBad")
	if want := []string{"action_not_found", "invalid_args", "action_not_found", "invalid_args"}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	evs := ftEvents(t, b, h.ID)
	if last := evs[len(evs)-1]; len(last.Effects) != 0 {
		t.Fatalf("refused alarms were recorded: %v", alEffects(last))
	}
	// The failed action's ID was not used up: replay allocates the same.
	if id := ftCall[string](t, h, "after", alArgs{After: time.Second}); id != "1" {
		t.Fatalf("first committed alarm ID %q, want 1", id)
	}
}

// MaxAlarms (default 1,000, crons' alarms included): the 1,000th alarm is
// set, the 1,001st is refused with too_many_alarms and nothing is recorded;
// after a cancel there is room again.
func TestFeatureAlarmLimit(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("allimit", actors.Options[ftState]{}), crType("crlimit"))
	h := ftCreate(t, b, "allimit", "a")
	if n := ftCall[int](t, h, "setMany", actors.DefaultMaxAlarms-1); n != 999 {
		t.Fatalf("set %d", n)
	}
	if id := ftCall[string](t, h, "after", alArgs{After: time.Hour}); id != "1000" {
		t.Fatalf("the 1,000th alarm: %q", id)
	}
	seq := ftLastSeq(t, b, h.ID)
	_, err := actors.Call[string](ftCtx(t), h, "after", alArgs{After: time.Hour})
	if !errors.Is(err, actors.ErrTooManyAlarms) || alCode(err) != "too_many_alarms" {
		t.Fatalf("the 1,001st alarm: %v", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != seq {
		t.Fatal("the refused alarm appended")
	}
	if len(alPending(t, b, h.ID)) != 1000 {
		t.Fatal("not 1,000 alarms pending")
	}
	ftCall[bool](t, h, "cancel", "500")
	if id := ftCall[string](t, h, "after", alArgs{After: time.Hour}); id != "1001" {
		t.Fatalf("after a cancel: %q", id)
	}

	// A smaller limit counts crons' alarms, and one call's own alarms.
	b2 := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxAlarms = 3 }, alType("allimit", actors.Options[ftState]{}), crType("crlimit"))
	c := ftCreate(t, b2, "crlimit", "a")
	ftCall[bool](t, c, "set", crArgs{Name: "a", Spec: "@hourly", Action: "ping"})
	ftCall[bool](t, c, "set", crArgs{Name: "a", Spec: "@daily", Action: "ping"}) // replaces: still one
	if _, err := actors.Call[bool](ftCtx(t), c, "setMany", 3); !errors.Is(err, actors.ErrTooManyAlarms) {
		t.Fatalf("3 alarms next to a cron with a limit of 3: %v", err)
	}
	if n := ftCall[int](t, c, "setMany", 2); n != 2 {
		t.Fatalf("setMany(2) = %d", n)
	}
	if _, err := actors.Call[bool](ftCtx(t), c, "set", crArgs{Name: "b", Spec: "@daily", Action: "ping"}); !errors.Is(err, actors.ErrTooManyAlarms) {
		t.Fatalf("a cron past the limit: %v", err)
	}

	// The pending alarms' and crons' arguments count toward MaxStateBytes,
	// after a restart too.
	b3 := ftSetup(t, func(o *actors.RuntimeOptions) { o.MaxStateBytes = 1500 }, alType("allimit", actors.Options[ftState]{}), crType("crlimit"))
	big := strings.Repeat("x", 400)
	c = ftCreate(t, b3, "crlimit", "a")
	ftCall[string](t, c, "after", alArgs{After: time.Hour, Tag: big})
	ftCall[bool](t, c, "set", crArgs{Name: "c", Spec: "@daily", Action: "ping", Tag: big}) // its args count twice: cron and alarm
	b3.restart(t)
	c = ftCreate(t, b3, "crlimit", "a")
	if _, err := actors.Call[string](ftCtx(t), c, "after", alArgs{After: time.Hour, Tag: big}); !errors.Is(err, actors.ErrStateTooLarge) {
		t.Fatalf("alarm arguments past MaxStateBytes: %v", err)
	}
	ftCall[bool](t, c, "del", "c")
	ftCall[string](t, c, "after", alArgs{After: time.Hour, Tag: big})
}

// A fire whose action fails is still recorded: a system event with the error
// as its output that removes the alarm; the action's changes are discarded
// and the alarm does not fire again.
func TestFeatureAlarmFailedFireIsRecorded(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("alboom", actors.Options[ftState]{}))
	h := ftCreate(t, b, "alboom", "a")
	ctx := ftCtx(t)
	ftCall[string](t, h, "failAt", alArgs{After: time.Second, Tag: "user"})
	a := alPending(t, b, h.ID)[0]
	b.clock.Advance(time.Second)
	fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At)
	if !fired || err != nil {
		t.Fatalf("fire of a failing action: %v, %v", fired, err)
	}
	evs := ftEvents(t, b, h.ID)
	ev := evs[len(evs)-1]
	if ev.Kind != eventlog.KindSystem || ev.Action != actors.FireAction || ev.Caller != actors.SchedulerCaller || ev.HasState || ev.Patch != nil {
		t.Fatalf("failed fire event: %v %s by %s, state %v patch %s", ev.Kind, ev.Action, ev.Caller, ev.HasState, ev.Patch)
	}
	var out struct{ Code, Message string }
	if err := json.Unmarshal(ev.Output, &out); err != nil || out.Code != "quota_exceeded" || out.Message != "you are over quota" {
		t.Fatalf("output %s: %v", ev.Output, err)
	}
	var args actorstate.Alarm
	if err := json.Unmarshal(ev.Args, &args); err != nil || args.ID != a.ID || args.Action != "fail" {
		t.Fatalf("args %s: %v", ev.Args, err)
	}
	if _, removed, _, _ := actorstate.AlarmChanges(ev); !slices.Equal(removed, []string{a.ID}) {
		t.Fatalf("removes %v", removed)
	}
	if st := ftCall[ftState](t, h, "state"); st.Count != 0 || len(st.Log) != 0 {
		t.Fatalf("the failed fire's changes were kept: %+v", st)
	}
	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); fired || err != nil {
		t.Fatalf("second fire: %v, %v", fired, err)
	}
	// A panic and an internal error: recorded, without their detail.
	ftCall[string](t, h, "failAt", alArgs{After: time.Second, Tag: "plain"})
	a = alPending(t, b, h.ID)[0]
	b.clock.Advance(time.Second)
	if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); !fired || err != nil {
		t.Fatalf("fire: %v, %v", fired, err)
	}
	evs = ftEvents(t, b, h.ID)
	if out := string(evs[len(evs)-1].Output); out != `{"code":"internal_error","message":"internal error"}` {
		t.Fatalf("output of an internal failure: %s", out)
	}
}

// A destroy clears the actor's alarms and crons: a later create starts with
// none, fires of the old ones do nothing, and IDs are not reused.
func TestFeatureAlarmDestroyClears(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, alType("aldestroy", actors.Options[ftState]{}), crType("crdestroy"))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "crdestroy", "a")
	ftCall[bool](t, h, "set", crArgs{Name: "c", Spec: "@hourly", Action: "ping"})
	ftCall[string](t, h, "after", alArgs{After: time.Minute, Tag: "x"})
	old := alPending(t, b, h.ID)
	if len(old) != 2 {
		t.Fatalf("pending %v", old)
	}
	if err := h.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	evs := ftEvents(t, b, h.ID)
	if _, _, reset, _ := actorstate.AlarmChanges(evs[len(evs)-1]); !reset {
		t.Fatal("the tombstone does not reset the alarms")
	}
	b.clock.Advance(time.Hour)
	for _, a := range old {
		if fired, err := b.rt.FireAlarm(ctx, h.ID, a.ID, a.At); fired || err != nil {
			t.Fatalf("fire of a destroyed actor's alarm: %v, %v", fired, err)
		}
	}
	h = ftCreate(t, b, "crdestroy", "a")
	if got := ftCall[[]actorstate.Cron](t, h, "list"); len(got) != 0 {
		t.Fatalf("crons of the new generation: %v", got)
	}
	if got := ftCall[[]actorstate.Alarm](t, h, "alarms"); len(got) != 0 {
		t.Fatalf("alarms of the new generation: %v", got)
	}
	if id := ftCall[string](t, h, "after", alArgs{After: time.Minute}); id != "3" {
		t.Fatalf("first ID of the new generation %q, want 3", id)
	}
}
