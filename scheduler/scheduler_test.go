package scheduler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/internal/startstop/startstoptest"
)

// Alarms of several actors fire one by one in due order as the clock reaches
// each, each exactly at its due time, and each once.
func TestFiresInDueOrder(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	a, c := n.actor(t, "a"), n.actor(t, "c")
	type want struct {
		h   *actors.Handle
		id  string
		at  time.Time
		tag string
	}
	var all []want
	for _, s := range []struct {
		h   *actors.Handle
		d   time.Duration
		tag string
	}{{a, 3 * time.Second, "a3"}, {a, time.Second, "a1"}, {c, 2 * time.Second, "c2"}, {c, 1500 * time.Millisecond, "c1.5"}, {a, 2500 * time.Millisecond, "a2.5"}} {
		id, at := n.set(t, s.h, s.d, s.tag)
		all = append(all, want{s.h, id, at, s.tag})
	}
	slices.SortFunc(all, func(x, y want) int { return x.at.Compare(y.at) })
	for _, w := range all {
		n.waitArmed(t, w.at)
		b.clock.Set(w.at.Add(-time.Millisecond)) // not yet
		b.clock.Set(w.at)
		o := n.next(t)
		if o.ActorID != w.h.ID || o.AlarmID != w.id || !o.At.Equal(w.at) || o.Result != ResultFired {
			t.Fatalf("fired %+v, want alarm %s (%s) of %s at %v", o, w.id, w.tag, w.h.ID, w.at)
		}
	}
	n.waitArmed(t, time.Time{}) // nothing left
	n.requireNoFire(t)
	for _, h := range []*actors.Handle{a, c} {
		for _, r := range call[ringState](t, h, "state").Rings {
			if !r.Now.Equal(r.At) {
				t.Errorf("%s rang at %v, due %v", r.Tag, r.Now, r.At)
			}
		}
	}
	if got := len(call[ringState](t, a, "state").Rings) + len(call[ringState](t, c, "state").Rings); got != len(all) {
		t.Fatalf("%d rings, want %d", got, len(all))
	}
	n.waitIndex(t)
	st, err := n.s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Fired != 5 || st.Dropped != 0 || st.Pending != 0 {
		t.Fatalf("stats %+v, want 5 fired, none dropped or pending", st)
	}
}

// Many alarms due at once, over few fire slots, all fire exactly once: none
// is fired again while in flight or before the index drops it.
func TestManyDueAtOnceFireOnce(t *testing.T) {
	b := setup(t, nil, func(o *Options) { o.MaxConcurrentFires = 3 })
	n := b.n
	const actorsN, perActor = 10, 20
	for i := range actorsN {
		h := n.actor(t, fmt.Sprint("m", i))
		delays := make([]int64, perActor)
		for j := range delays {
			delays[j] = int64(1000 + j%3) // three due times, many alarms each
		}
		call[[]string](t, h, "setMany", delays, "m")
	}
	n.waitIndex(t)
	b.clock.Advance(time.Hour)
	seen := map[string]bool{}
	for range actorsN * perActor {
		o := n.next(t)
		if o.Result != ResultFired {
			t.Fatalf("fire %+v: result %s", o, o.Result)
		}
		k := o.ActorID + "/" + o.AlarmID
		if seen[k] {
			t.Fatalf("alarm %s fired twice", k)
		}
		seen[k] = true
	}
	n.waitIndex(t)
	n.waitArmed(t, time.Time{})
	n.requireNoFire(t)
	if st, _ := n.s.Stats(); st.Fired != actorsN*perActor || st.Dropped != 0 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A sleeping actor is woken by its alarm, and an alarm set before a sleep
// survives it.
func TestSleepingActorIsWoken(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	h := n.actor(t, "sleeper")
	id1, at1 := n.set(t, h, time.Hour, "first")
	id2, at2 := n.set(t, h, 2*time.Hour, "second")
	for i, w := range []struct {
		id string
		at time.Time
	}{{id1, at1}, {id2, at2}} {
		b.clock.Advance(time.Minute) // past the idle timeout
		if got := n.rt.SleepIdle(); got != 1 {
			t.Fatalf("SleepIdle put %d actors to sleep, want 1", got)
		}
		eventually(t, "the actor is asleep", func() bool { return !n.rt.IsAwake(h.ID) })
		n.waitArmed(t, w.at)
		b.clock.Set(w.at)
		if o := n.next(t); o.AlarmID != w.id || o.Result != ResultFired {
			t.Fatalf("fire %d: %+v, want alarm %s fired", i, o, w.id)
		}
		if !n.rt.IsAwake(h.ID) {
			t.Fatal("the actor is not awake after its alarm fired")
		}
	}
	if rings := call[ringState](t, h, "state").Rings; len(rings) != 2 || rings[0].Tag != "first" || rings[1].Tag != "second" {
		t.Fatalf("rings %+v", rings)
	}
}

// After a restart of every service (new objects over the same data), the
// pending alarms fire: those that came due during the downtime at once,
// the others when due.
func TestRestartFiresPendingAndOverdue(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	h := n.actor(t, "r")
	idEarly, atEarly := n.set(t, h, 10*time.Second, "early")
	idLate, atLate := n.set(t, h, 20*time.Second, "late")
	n.waitArmed(t, atEarly)
	n.stop(t)
	b.clock.Set(atEarly.Add(5 * time.Second)) // down while it came due
	n.start(t)
	h = n.actor(t, "r") // a handle on the new runtime
	if o := n.next(t); o.AlarmID != idEarly || o.Result != ResultFired {
		t.Fatalf("after the restart %+v fired, want the overdue alarm %s", o, idEarly)
	}
	n.waitArmed(t, atLate)
	n.requireNoFire(t)
	b.clock.Set(atLate)
	if o := n.next(t); o.AlarmID != idLate || o.Result != ResultFired {
		t.Fatalf("%+v fired, want %s", o, idLate)
	}
	rings := call[ringState](t, h, "state").Rings
	if len(rings) != 2 || !rings[0].Now.Equal(atEarly.Add(5*time.Second)) || !rings[1].Now.Equal(atLate) {
		t.Fatalf("rings %+v", rings)
	}
}

// A cancelled alarm never fires; the next one does.
func TestCancelBeforeDue(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	h := n.actor(t, "c")
	id1, at1 := n.set(t, h, 10*time.Second, "cancelled")
	id2, at2 := n.set(t, h, 20*time.Second, "kept")
	n.waitArmed(t, at1)
	if !call[bool](t, h, "cancel", id1) {
		t.Fatal("cancel found no alarm")
	}
	n.waitIndex(t)
	b.clock.Set(at1)
	n.waitArmed(t, at2)
	b.clock.Set(at2)
	if o := n.next(t); o.AlarmID != id2 || o.Result != ResultFired {
		t.Fatalf("%+v fired first, want %s", o, id2)
	}
	n.waitIndex(t)
	n.requireNoFire(t)
	if rings := call[ringState](t, h, "state").Rings; len(rings) != 1 || rings[0].Tag != "kept" {
		t.Fatalf("rings %+v", rings)
	}
}

// A fire whose runtime is stopped is retried after the backoff and fires
// once the runtime is back.
func TestFireRetriedWhileRuntimeStopped(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	h := n.actor(t, "x")
	id, at := n.set(t, h, time.Minute, "retried")
	n.waitArmed(t, at)
	ctx := testCtx(t)
	if err := n.rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.Set(at)
	select {
	case err := <-n.retries:
		if !errors.Is(err, actors.ErrStopping) {
			t.Fatalf("retrying after %v, want the runtime stopping", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("no retry")
	}
	if err := n.rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(n.opts.RetryBackoff)
	if o := n.next(t); o.AlarmID != id || o.Result != ResultFired {
		t.Fatalf("%+v, want %s fired", o, id)
	}
}

// The index folds sets, cancels, re-arms, fires, destroys and creates to
// the actors' own view of their alarms, and deleting the projection data
// rebuilds the same rows from the log.
func TestIndexRebuildsSameRows(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	var hs []*actors.Handle
	var ids [][]string
	for i := range 4 {
		h := n.actor(t, fmt.Sprint("ix", i))
		hs = append(hs, h)
		ids = append(ids, nil)
		for j := range 5 {
			id, _ := n.set(t, h, time.Duration(j+1)*time.Minute, "x")
			ids[i] = append(ids[i], id)
		}
	}
	call[bool](t, hs[0], "cancel", ids[0][1])
	n.set(t, hs[1], 30*time.Second, "soon")
	if err := hs[2].Destroy(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	h2 := n.actor(t, "ix2") // a new generation, with its own alarms
	n.set(t, h2, 90*time.Second, "reborn")
	n.waitIndex(t)                    // else a fire of ix2's old alarms may race the destroy (and be dropped)
	b.clock.Advance(61 * time.Second) // fires "soon" and every 1-minute alarm
	for range 4 {
		if o := n.next(t); o.Result != ResultFired {
			t.Fatalf("fire %+v", o)
		}
	}
	n.waitIndex(t)
	before := n.rows(t)

	want := map[string]bool{}
	for _, h := range []*actors.Handle{hs[0], hs[1], h2, hs[3]} {
		for _, p := range call[[]Pending](t, h, "alarms") {
			want[DueKey(p.ActorID, p.AlarmID, p.At)] = true
		}
	}
	var got []string
	for k := range before {
		if len(k) > len(DuePrefix) && k[:len(DuePrefix)] == DuePrefix {
			got = append(got, k)
		}
	}
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(slices.Values(got))) {
		t.Fatalf("index due rows\n%v\nactors' alarms\n%v", got, slices.Sorted(maps.Keys(want)))
	}
	if st, _ := n.s.Stats(); st.Pending != int64(len(want)) {
		t.Fatalf("pending count %d, want %d", st.Pending, len(want))
	}

	n.stop(t)
	if err := os.RemoveAll(filepath.Join(n.dir, "projections")); err != nil {
		t.Fatal(err)
	}
	n.start(t)
	n.waitIndex(t)
	if after := n.rows(t); !maps.Equal(before, after) {
		t.Fatalf("rebuilt rows differ:\nbefore %v\nafter  %v", before, after)
	}
}

// Two nodes with their own runtimes, indexes and schedulers over one log
// both fire an alarm: it takes effect once.
func TestTwoNodesFireOnce(t *testing.T) {
	b := setup(t, nil)
	n1 := b.n
	n2 := b.addNode(t, filepath.Join(b.dir, "node2"))
	const alarms = 5
	h := n1.actor(t, "shared")
	var last time.Time
	for i := range alarms {
		_, last = n1.set(t, h, time.Duration(i+1)*time.Second, fmt.Sprint(i))
	}
	n1.waitIndex(t)
	n2.waitIndex(t)
	b.clock.Set(last)
	// Each alarm is fired by one node or both (a node skips one whose row
	// its index dropped already); a fire that lost the race is dropped or
	// retried (its retry waits on the clock).
	fired := 0
	for fired < alarms {
		select {
		case o := <-n1.outcomes:
			fired += countFired(t, o)
		case o := <-n2.outcomes:
			fired += countFired(t, o)
		case <-n1.retries:
			b.clock.Advance(n1.opts.MaxRetryBackoff)
		case <-n2.retries:
			b.clock.Advance(n2.opts.MaxRetryBackoff)
		case <-time.After(waitLimit):
			t.Fatalf("%d of %d alarms fired", fired, alarms)
		}
	}
	n1.waitIndex(t)
	n2.waitIndex(t)
	st1, _ := n1.s.Stats()
	st2, _ := n2.s.Stats()
	if st1.Fired+st2.Fired != alarms || st1.Pending != 0 || st2.Pending != 0 {
		t.Fatalf("stats %+v and %+v: want %d fired in all, none pending", st1, st2, alarms)
	}
	rings := 0
	for _, ev := range events(t, b.log, h.ID) {
		if ev.Action == "ring" {
			rings++
		}
	}
	if rings != alarms {
		t.Fatalf("%d ring events in the log, want %d", rings, alarms)
	}
}

func countFired(t *testing.T, o outcome) int {
	t.Helper()
	switch o.Result {
	case ResultFired:
		return 1
	case ResultDropped:
		return 0
	}
	t.Fatalf("fire %+v", o)
	return 0
}

// Start and Stop hold the service contract under concurrent use, with
// alarms due and firing meanwhile.
func TestStartStopStress(t *testing.T) {
	b := setup(t, nil)
	n := b.n
	h := n.actor(t, "stress")
	delays := make([]int64, 20)
	for i := range delays {
		delays[i] = int64(i * 100)
	}
	call[[]string](t, h, "setMany", delays, "s")
	n.waitIndex(t)
	if err := n.s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			b.clock.Advance(100 * time.Millisecond)
		}
	}()
	startstoptest.Stress(testCtx(t), t, n.s)
	<-done
	if err := n.s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Every alarm fires in the end, each to effect once (a fire cut short
	// by a Stop may have taken effect: its next attempt is dropped).
	for len(call[ringState](t, h, "state").Rings) < len(delays) {
		n.next(t)
	}
	n.waitIndex(t)
	rings := call[ringState](t, h, "state").Rings
	seen := map[string]bool{}
	for _, r := range rings {
		if seen[r.Alarm] {
			t.Fatalf("alarm %s rang twice: %+v", r.Alarm, rings)
		}
		seen[r.Alarm] = true
	}
	if len(rings) != len(delays) {
		t.Fatalf("%d rings, want %d", len(rings), len(delays))
	}
}

// New refuses bad options and a runner that is running.
func TestNewErrors(t *testing.T) {
	b := setup(t, nil)
	if _, err := New(b.n.rt, b.n.runner, &Options{MaxConcurrentFires: -1}); err == nil {
		t.Fatal("accepted MaxConcurrentFires -1")
	}
	if _, err := New(b.n.rt, b.n.runner, nil); err == nil {
		t.Fatal("registered a second index on a running runner")
	}
	if _, err := New(nil, b.n.runner, nil); err == nil {
		t.Fatal("accepted a nil runtime")
	}
}

// The built-in reminder actor, end to end through the scheduler: a reminder
// set over the client fires when the clock reaches it, is broadcast, and
// listed as sent with its fired time.
func TestReminderThroughScheduler(t *testing.T) {
	b := setup(t, builtin.Registry())
	n := b.n
	h, _, err := n.rt.Client().GetOrCreate(testCtx(t), "reminder", []string{"standup"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := h.Subscribe(testCtx(t), "reminder")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := call[builtin.SetReminderResult](t, h, "setReminder", "alice", "stand up", 90_000).ReminderID
	due := epoch.Add(90 * time.Second)
	n.waitArmed(t, due)
	if sent := call[[]builtin.SentReminder](t, h, "listSent"); len(sent) != 0 {
		t.Fatalf("sent before due: %+v", sent)
	}
	b.clock.Set(due)
	if o := n.next(t); o.AlarmID != id || o.Result != ResultFired {
		t.Fatalf("fire %+v, want reminder %s", o, id)
	}
	select {
	case ev := <-conn.Events():
		if ev.Name != "reminder" || !strings.Contains(string(ev.Args), `"message":"stand up"`) {
			t.Fatalf("broadcast %s %s", ev.Name, ev.Args)
		}
	case <-time.After(waitLimit):
		t.Fatal("no reminder broadcast")
	}
	sent := call[[]builtin.SentReminder](t, h, "listSent")
	if len(sent) != 1 || sent[0].ID != id || sent[0].FiredAt != due.UnixMilli() || sent[0].UserID != "alice" {
		t.Fatalf("sent %+v", sent)
	}
	if pending := call[[]builtin.PendingReminder](t, h, "listPending"); len(pending) != 0 {
		t.Fatalf("pending %+v", pending)
	}
}
