package scheduler

import (
	"errors"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// A schedule fires each occurrence once, through the scheduler: the tick
// is an event carrying its nominal time, the fire's outcome comes back as a
// reply. A second tick for the same occurrence (a redelivered alarm, a
// direct call as the scheduler, after a restart) changes nothing, and no
// one but the scheduler may tick.
func TestServerScheduleFiresOncePerOccurrence(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "every-minute"
	done := k.done(t, name)
	res := k.set(t, name, ssSpec("* * * * *", "run"))
	first := epoch.Add(time.Minute)
	if st := k.state(t, name); !res.Next.Equal(first) || !st.Next.Equal(first) || !st.NextAt.Equal(first) || st.AlarmID == "" {
		t.Fatalf("armed %+v, state next %v at %v alarm %q; want the tick at %v", res, st.Next, st.NextAt, st.AlarmID, first)
	}
	alarm := k.state(t, name).AlarmID
	k.tick(t, name)
	if f := ssWait(t, done); f.Outcome != OutcomeSucceeded || f.ID != 1 || !f.Nominal.Equal(first) || f.Effect == "" {
		t.Fatalf("outcome %+v, want fire 1 for %v succeeded", f, first)
	}
	st := k.state(t, name)
	if st.Counters != (Counters{Fired: 1, Succeeded: 1}) || len(st.Running) != 0 || !st.Next.Equal(first.Add(time.Minute)) {
		t.Fatalf("after the tick: counters %+v, running %v, next %v", st.Counters, st.Running, st.Next)
	}
	if got := k.runs(t); len(got) != 1 {
		t.Fatalf("job runs %v, want one", got)
	}

	// The fence: the consumed alarm does not fire again, and a tick for the
	// same nominal time is stale and records no fire.
	id, _ := actors.ActorID(ScheduleType, []string{name})
	if ok, err := k.n.rt.FireAlarm(testCtx(t), id, alarm, first); ok || err != nil {
		t.Fatalf("FireAlarm of the fired alarm again: fired %v, err %v", ok, err)
	}
	h := k.handle(t, name)
	sched, err := k.n.rt.Client().WithCaller(actors.SchedulerCaller).Ref(id)
	if err != nil {
		t.Fatal(err)
	}
	if r := call[TickResult](t, sched, "tick", first); r.Status != TickStale {
		t.Fatalf("second tick for %v: %+v, want stale", first, r)
	}
	evs := k.events(t, name)
	if lastEv := evs[len(evs)-1]; lastEv.Action != "tick" || len(lastEv.Effects) != 0 || lastEv.HasState || lastEv.Patch != nil {
		t.Fatalf("the stale tick's event %+v changed something", lastEv)
	}
	// Only the scheduler ticks; a refused call appends nothing.
	if _, err := h.Action(testCtx(t), "tick", first.Add(time.Minute)); err == nil {
		t.Fatal("a tick from a client was taken")
	}
	if n := len(k.events(t, name)); n != len(evs) {
		t.Fatalf("%d events after a refused tick, want %d", n, len(evs))
	}

	// After a restart the schedule goes on from its log.
	k.n.stop(t)
	k.n.start(t)
	k.tick(t, name)
	if f := ssWait(t, done); f.ID != 2 || f.Outcome != OutcomeSucceeded {
		t.Fatalf("after the restart: %+v, want fire 2 succeeded", f)
	}
	if st := k.state(t, name); st.Counters.Fired != 2 || st.Counters.Succeeded != 2 {
		t.Fatalf("counters %+v, want 2 fired", st.Counters)
	}
}

// Two nodes, each with its runtime and scheduler over one log, both fire
// the schedule's tick: one fire happens, with no leader.
func TestServerScheduleTwoNodesFireOnce(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	n2 := k.b.addNode(t, filepath.Join(k.b.dir, "node2"))
	k.job(t)
	const name = "two-nodes"
	done := k.done(t, name)
	k.set(t, name, ssSpec("* * * * *", "run"))
	st := k.state(t, name)
	k.n.waitArmed(t, st.NextAt)
	n2.waitArmed(t, st.NextAt)
	k.b.clock.Set(st.NextAt)
	results := map[string]int{}
	for _, n := range []*node{k.n, n2} {
		results[n.next(t).Result]++
	}
	if results[ResultFired] < 1 {
		t.Fatalf("fire results %v, want at least one fired", results)
	}
	ssWait(t, done)
	ticks := 0
	for _, ev := range k.events(t, name) {
		if ev.Action == "tick" && len(ev.Effects) > 0 {
			ticks++
		}
	}
	if st := k.state(t, name); st.Counters.Fired != 1 || ticks != 1 || len(k.runs(t)) != 1 {
		t.Fatalf("counters %+v, %d ticks that fired, runs %v: want one fire", st.Counters, ticks, k.runs(t))
	}
}

// Pause cancels the tick; resume arms the next one after now and counts
// what passed meanwhile as skipped, in one entry.
func TestServerSchedulePauseResume(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "pause"
	k.set(t, name, ssSpec("* * * * *", "run"))
	h := k.handle(t, name)
	if r := call[ActionResult](t, h, "pause"); !r.Changed {
		t.Fatal("pause changed nothing")
	}
	if r := call[ActionResult](t, h, "pause"); r.Changed {
		t.Fatal("a second pause changed something")
	}
	id, _ := actors.ActorID(ScheduleType, []string{name})
	im, err := k.n.rt.ImageAt(testCtx(t), id, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	if st := k.state(t, name); len(im.Alarms) != 0 || !st.Next.IsZero() || !st.Spec.Paused {
		t.Fatalf("paused: alarms %v, next %v, paused %v", im.Alarms, st.Next, st.Spec.Paused)
	}
	k.n.waitIndex(t)
	k.b.clock.Set(epoch.Add(5*time.Minute + 30*time.Second)) // the cancelled tick does not fire
	r := call[ActionResult](t, h, "resume")
	if !r.Changed || r.Skipped != 5 || !r.Next.Equal(epoch.Add(6*time.Minute)) {
		t.Fatalf("resume: %+v, want 5 skipped and the tick at 00:06", r)
	}
	st := k.state(t, name)
	if l := ssLast(st); l.Outcome != OutcomeSkipped || l.Reason != ReasonPaused || l.Count != 5 || st.Counters.Skipped != 5 {
		t.Fatalf("last %+v, counters %+v", l, st.Counters)
	}
	k.tick(t, name)
	ticks := 0
	for _, ev := range k.events(t, name) {
		if ev.Action == "tick" {
			ticks++
		}
	}
	if st := k.state(t, name); st.Counters.Fired != 1 || ticks != 1 {
		t.Fatalf("counters %+v, %d ticks; want the resumed tick only", st.Counters, ticks)
	}
}

// A failed fire is recorded with its error and does not stop the ticks.
func TestServerScheduleFailedFireKeepsTicking(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	const name = "failing"
	done := k.done(t, name)
	k.set(t, name, ssSpec("* * * * *", "run")) // the job does not exist yet
	k.tick(t, name)
	if f := ssWait(t, done); f.Outcome != OutcomeFailed || f.Code != "actor_not_found" {
		t.Fatalf("outcome %+v, want failed with actor_not_found", f)
	}
	k.set(t, name, ssSpec("* * * * *", "fail"))
	k.job(t)
	k.tick(t, name)
	if f := ssWait(t, done); f.Outcome != OutcomeFailed || f.Code != "job_failed" || f.Error == "" {
		t.Fatalf("outcome %+v, want failed with job_failed", f)
	}
	k.set(t, name, ssSpec("* * * * *", "run"))
	k.tick(t, name)
	if f := ssWait(t, done); f.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %+v, want succeeded", f)
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 3, Succeeded: 1, Failed: 2}) {
		t.Fatalf("counters %+v", st.Counters)
	}
}

// Deleting a schedule while its fire runs: the fire completes on the
// target, its reply is dropped, and the schedule stays deleted with no
// tick left.
func TestServerScheduleDeleteRacingFire(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "deleted"
	k.set(t, name, ssSpec("* * * * *", "hold"))
	k.tick(t, name)
	var d actors.Delivery
	for _, ev := range k.events(t, name) {
		if ds := actors.Sends(ev); ev.Action == "tick" && len(ds) == 1 {
			d = ds[0]
		}
	}
	if d.Reply == nil {
		t.Fatal("no fire with a reply in the tick's event")
	}
	if err := k.handle(t, name).Destroy(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	k.release(1)
	// Waits for the fast path's delivery in flight, then finds it done.
	if err := k.n.rt.DeliverSend(testCtx(t), d); err != nil {
		t.Fatalf("DeliverSend after the delete: %v", err)
	}
	if got := k.runs(t); len(got) != 1 {
		t.Fatalf("job runs %v, want the fire's one", got)
	}
	id, _ := actors.ActorID(ScheduleType, []string{name})
	im, err := k.n.rt.ImageAt(testCtx(t), id, math.MaxUint64)
	if err != nil {
		t.Fatal(err)
	}
	evs := k.events(t, name)
	if im.Exists || len(im.Alarms) != 0 || evs[len(evs)-1].Action != "$destroy" {
		t.Fatalf("after the delete: exists %v, alarms %v, last event %s", im.Exists, im.Alarms, evs[len(evs)-1].Action)
	}
	k.n.waitIndex(t)
	for key := range k.n.rows(t) {
		if len(key) > len(DuePrefix) && key[:len(DuePrefix)] == DuePrefix {
			t.Fatalf("the alarm index still has %s", key)
		}
	}
}

// In America/New_York the ticks follow the zone: 01:30 fires twice on the
// autumn change day (an hour apart), 02:30 not at all on the spring one.
func TestServerScheduleDSTNewYork(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	ny, _ := time.LoadLocation("America/New_York")
	k.b.clock.Set(time.Date(2026, 10, 31, 12, 0, 0, 0, ny))
	const name = "dst"
	done := k.done(t, name)
	spec := ssSpec("30 1 * * *", "run")
	spec.Timezone = "America/New_York"
	k.set(t, name, spec)
	for _, want := range []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00"} {
		st := k.state(t, name)
		if got := st.Next.In(ny).Format(time.RFC3339); got != want {
			t.Fatalf("next tick %s, want %s", got, want)
		}
		k.tick(t, name)
		ssWait(t, done)
	}
	if got := k.state(t, name).Next.In(ny).Format(time.RFC3339); got != "2026-11-02T01:30:00-05:00" {
		t.Fatalf("next tick %s, want 2026-11-02T01:30:00-05:00", got)
	}
	k.b.clock.Set(time.Date(2027, 3, 13, 12, 0, 0, 0, ny))
	spec.Cron = "30 2 * * *"
	if r := k.set(t, name, spec); r.Next.In(ny).Format(time.RFC3339) != "2027-03-15T02:30:00-04:00" {
		t.Fatalf("spring: next %s, want 2027-03-15T02:30:00-04:00 (2027-03-14 02:30 does not exist)", r.Next.In(ny).Format(time.RFC3339))
	}
}

// Jitter delays the tick within its bound; the tick is on time.
func TestServerScheduleJitter(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "jitter"
	done := k.done(t, name)
	spec := ssSpec("* * * * *", "run")
	spec.JitterMs = 30_000
	k.set(t, name, spec)
	st := k.state(t, name)
	if d := st.NextAt.Sub(st.Next); d < 0 || d > 30*time.Second {
		t.Fatalf("jitter %v, want 0 to 30s", d)
	}
	k.tick(t, name)
	if f := ssWait(t, done); !f.Nominal.Equal(st.Next) || f.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %+v, want the occurrence %v", f, st.Next)
	}
	if st := k.state(t, name); st.Counters.Missed != 0 {
		t.Fatalf("a jittered tick counted as missed: %+v", st.Counters)
	}
}

// A bad spec is refused with its code, and nothing is stored: a create
// appends nothing, a configure changes nothing.
func TestServerScheduleBadSpecStoresNothing(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	ctx := testCtx(t)
	code := func(err error) string {
		var ue *actors.UserError
		var re *actors.Error
		switch {
		case errors.As(err, &ue):
			return ue.Code
		case errors.As(err, &re):
			return re.Code
		}
		return ""
	}
	bad := []struct {
		mutate func(*ScheduleSpec)
		code   string
	}{
		{func(s *ScheduleSpec) { s.Cron = "every day" }, CodeInvalidCron},
		{func(s *ScheduleSpec) { s.Timezone = "Mars/Base" }, CodeInvalidTimezone},
		{func(s *ScheduleSpec) { s.Target.Actor.Type = "nosuch" }, "actor_type_not_found"},
		{func(s *ScheduleSpec) { s.Target.Action = "nosuch" }, "action_not_found"},
		{func(s *ScheduleSpec) { s.Overlap = "sometimes" }, "invalid_request"},
	}
	for _, tc := range bad {
		spec := ssSpec("* * * * *", "run")
		tc.mutate(&spec)
		_, _, err := k.n.rt.Client().GetOrCreate(ctx, ScheduleType, []string{"bad"}, spec)
		if code(err) != tc.code {
			t.Errorf("create with %+v: %v, want %s", spec, err, tc.code)
		}
	}
	id, _ := actors.ActorID(ScheduleType, []string{"bad"})
	if evs := events(t, k.b.log, id); len(evs) != 0 {
		t.Fatalf("%d events stored for refused creates", len(evs))
	}
	k.set(t, "good", ssSpec("* * * * *", "run"))
	before := len(k.events(t, "good"))
	h := k.handle(t, "good")
	for _, tc := range bad {
		spec := ssSpec("* * * * *", "run")
		tc.mutate(&spec)
		if _, err := h.Action(ctx, "configure", spec); code(err) != tc.code {
			t.Errorf("configure with %+v: %v, want %s", spec, err, tc.code)
		}
	}
	if after := len(k.events(t, "good")); after != before {
		t.Fatalf("%d events after refused configures, want %d", after, before)
	}
}
