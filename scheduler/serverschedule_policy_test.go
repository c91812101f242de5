package scheduler

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// The overlap, catch-up and run-timeout policies, driven through the
// scheduler on the fake clock.

// Overlap skip: a tick while the previous fire runs is skipped and counted;
// the next one after it finished fires.
func TestServerScheduleOverlapSkip(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "overlap-skip"
	done := k.done(t, name)
	k.set(t, name, ssSpec("* * * * *", "hold"))
	skippedBefore := testutil.ToFloat64(scheduleSkipped.WithLabelValues(name, ReasonOverlap))
	k.tick(t, name)
	st := k.tick(t, name)
	if l := ssLast(st); l.Outcome != OutcomeSkipped || l.Reason != ReasonOverlap || st.Counters.Skipped != 1 || len(st.Running) != 1 {
		t.Fatalf("second tick: last %+v, counters %+v, running %d; want a skip for overlap", l, st.Counters, len(st.Running))
	}
	if v := testutil.ToFloat64(scheduleSkipped.WithLabelValues(name, ReasonOverlap)) - skippedBefore; v != 1 {
		t.Fatalf("skipped metric grew by %v, want 1", v)
	}
	k.release(1)
	if f := ssWait(t, done); f.ID != 1 || f.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %+v, want fire 1 succeeded", f)
	}
	k.tick(t, name)
	k.release(1)
	if f := ssWait(t, done); f.ID != 2 || f.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %+v, want fire 2 succeeded", f)
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 2, Succeeded: 2, Skipped: 1}) {
		t.Fatalf("counters %+v", st.Counters)
	}
}

// Overlap bufferOne: one tick waits for the running fire and starts when it
// finishes; a further one is skipped.
func TestServerScheduleOverlapBufferOne(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "overlap-buffer"
	done := k.done(t, name)
	spec := ssSpec("* * * * *", "hold")
	spec.Overlap = OverlapBufferOne
	k.set(t, name, spec)
	k.tick(t, name)
	st := k.tick(t, name)
	if st.Buffered == nil || !st.Buffered.Nominal.Equal(epoch.Add(2*time.Minute)) {
		t.Fatalf("second tick: buffered %+v, want the 00:02 occurrence", st.Buffered)
	}
	st = k.tick(t, name)
	if l := ssLast(st); l.Outcome != OutcomeSkipped || l.Reason != ReasonBufferFull {
		t.Fatalf("third tick: %+v, want skipped, buffer full", l)
	}
	k.release(1)
	if f := ssWait(t, done); f.ID != 1 {
		t.Fatalf("outcome %+v, want fire 1", f)
	}
	st = k.state(t, name)
	if st.Buffered != nil || len(st.Running) != 1 || st.Running[0].ID != 2 || !st.Running[0].Nominal.Equal(epoch.Add(2*time.Minute)) {
		t.Fatalf("after fire 1: buffered %+v, running %+v; want the buffered occurrence running as fire 2", st.Buffered, st.Running)
	}
	k.release(1)
	if f := ssWait(t, done); f.ID != 2 || f.Outcome != OutcomeSucceeded {
		t.Fatalf("outcome %+v, want fire 2 succeeded", f)
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 2, Succeeded: 2, Skipped: 1}) {
		t.Fatalf("counters %+v", st.Counters)
	}
}

// Overlap allow: ticks fire while earlier fires run.
func TestServerScheduleOverlapAllow(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "overlap-allow"
	done := k.done(t, name)
	spec := ssSpec("* * * * *", "hold")
	spec.Overlap = OverlapAllow
	k.set(t, name, spec)
	k.tick(t, name)
	if st := k.tick(t, name); len(st.Running) != 2 || st.Counters.Skipped != 0 {
		t.Fatalf("running %+v, counters %+v; want two fires running", st.Running, st.Counters)
	}
	k.release(2)
	ids := map[uint64]bool{}
	for range 2 {
		ids[ssWait(t, done).ID] = true
	}
	if !ids[1] || !ids[2] {
		t.Fatalf("finished fires %v, want 1 and 2", ids)
	}
}

// Trigger fires now under the overlap policy: skipped while a fire runs
// (skip), fired once it finished; the next tick stays as it was.
func TestServerScheduleTriggerWhileRunning(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "trigger"
	done := k.done(t, name)
	k.set(t, name, ssSpec("0 * * * *", "hold"))
	h := k.handle(t, name)
	next := k.state(t, name).Next
	r := call[TriggerResult](t, h, "trigger")
	if r.Status != "fired" || !r.Fire.Manual || r.Fire.ID != 1 {
		t.Fatalf("trigger: %+v, want fire 1, manual", r)
	}
	if r := call[TriggerResult](t, h, "trigger"); r.Status != "skipped" || r.Fire.Reason != ReasonOverlap {
		t.Fatalf("trigger while running: %+v, want skipped for overlap", r)
	}
	k.release(1)
	if f := ssWait(t, done); f.ID != 1 || f.Outcome != OutcomeSucceeded || !f.Manual {
		t.Fatalf("outcome %+v", f)
	}
	if r := call[TriggerResult](t, h, "trigger"); r.Status != "fired" || r.Fire.ID != 2 {
		t.Fatalf("trigger after: %+v, want fire 2", r)
	}
	k.release(1)
	ssWait(t, done)
	if st := k.state(t, name); !st.Next.Equal(next) || st.Counters != (Counters{Fired: 2, Succeeded: 2, Skipped: 1}) {
		t.Fatalf("next %v (want %v), counters %+v", st.Next, next, st.Counters)
	}
}

// After downtime the first tick catches up under the policy: the missed
// occurrences are one entry (and one event) with their count; the next tick
// is the first occurrence after now.
func TestServerScheduleCatchUp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy        string
		fired, missed int
	}{
		{CatchUpNone, 0, 5},
		{CatchUpLatest, 1, 4},
		{CatchUpAll, 3, 2}, // maxCatchUp 3
	} {
		t.Run(tc.policy, func(t *testing.T) {
			t.Parallel()
			k := ssSetup(t)
			k.job(t)
			name := "catch-up-" + tc.policy
			done := k.done(t, name)
			spec := ssSpec("0 * * * *", "run")
			spec.CatchUp, spec.MaxCatchUp, spec.Overlap = tc.policy, 3, OverlapAllow
			k.set(t, name, spec)
			missedBefore := testutil.ToFloat64(scheduleMissed.WithLabelValues(name))
			st := k.state(t, name)
			k.n.waitArmed(t, st.NextAt) // 01:00
			k.n.stop(t)
			k.b.clock.Set(epoch.Add(5*time.Hour + 30*time.Minute)) // down from 00:00:30 to 05:30
			k.n.start(t)
			if o := k.n.next(t); o.Result != ResultFired {
				t.Fatalf("the overdue tick: %+v", o)
			}
			for range tc.fired {
				if f := ssWait(t, done); f.Outcome != OutcomeSucceeded {
					t.Fatalf("outcome %+v", f)
				}
			}
			st = k.state(t, name)
			if st.Counters.Fired != uint64(tc.fired) || st.Counters.Missed != uint64(tc.missed) {
				t.Fatalf("counters %+v, want %d fired and %d missed", st.Counters, tc.fired, tc.missed)
			}
			var missed []Fire
			var fires []time.Time
			for _, f := range st.Recent {
				switch {
				case f.Outcome == OutcomeMissed:
					missed = append(missed, f)
				case f.ID > 0:
					fires = append(fires, f.Nominal)
				}
			}
			lastMissed := epoch.Add(time.Duration(tc.missed) * time.Hour)
			if len(missed) != 1 || missed[0].Count != tc.missed || !missed[0].Nominal.Equal(epoch.Add(time.Hour)) || !missed[0].Until.Equal(lastMissed) {
				t.Fatalf("missed entries %+v, want one of %d from 01:00 to %v", missed, tc.missed, lastMissed)
			}
			for i, f := range fires {
				if want := epoch.Add(time.Duration(6-tc.fired+i) * time.Hour); !f.Equal(want) {
					t.Fatalf("fire %d for %v, want %v", i, f, want)
				}
			}
			if !st.Next.Equal(epoch.Add(6 * time.Hour)) {
				t.Fatalf("next tick %v, want 06:00", st.Next)
			}
			ticks := 0
			for _, ev := range k.events(t, name) {
				if ev.Action != "tick" {
					continue
				}
				ticks++
				var r TickResult
				if err := json.Unmarshal(ev.Output, &r); err != nil || r.Missed != tc.missed || r.Fired != tc.fired {
					t.Fatalf("tick event output %s, want %d missed and %d fired", ev.Output, tc.missed, tc.fired)
				}
			}
			if ticks != 1 {
				t.Fatalf("%d tick events, want 1", ticks)
			}
			if v := testutil.ToFloat64(scheduleMissed.WithLabelValues(name)) - missedBefore; v != float64(tc.missed) {
				t.Fatalf("missed metric grew by %v, want %d", v, tc.missed)
			}
		})
	}
}

// A fire with no reply within runTimeoutMs counts as unknown at the next
// tick, which then fires; the late reply changes nothing.
func TestServerScheduleRunTimeout(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	k.job(t)
	const name = "run-timeout"
	done := k.done(t, name)
	spec := ssSpec("* * * * *", "hold")
	spec.RunTimeoutMs = 2 * time.Minute.Milliseconds()
	k.set(t, name, spec)
	k.tick(t, name)                                      // 00:01: fire 1 runs
	if st := k.tick(t, name); st.Counters.Skipped != 1 { // 00:02: still within the timeout
		t.Fatalf("counters %+v, want one skip", st.Counters)
	}
	st := k.tick(t, name) // 00:03: fire 1 is unknown, fire 2 runs
	if st.Counters.Unknown != 1 || len(st.Running) != 1 || st.Running[0].ID != 2 {
		t.Fatalf("counters %+v, running %+v; want fire 1 unknown, fire 2 running", st.Counters, st.Running)
	}
	for _, f := range st.Recent {
		if f.ID == 1 && (f.Outcome != OutcomeUnknown || f.Error == "") {
			t.Fatalf("fire 1 %+v, want outcome unknown with a reason", f)
		}
	}
	k.release(2)
	outcomes := map[uint64]string{}
	for range 2 {
		f := ssWait(t, done)
		outcomes[f.ID] = f.Outcome
	}
	if outcomes[1] != TickStale || outcomes[2] != OutcomeSucceeded {
		t.Fatalf("outcomes %v, want fire 1's late reply stale and fire 2 succeeded", outcomes)
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 2, Succeeded: 1, Unknown: 1, Skipped: 1}) {
		t.Fatalf("counters %+v", st.Counters)
	}
}
