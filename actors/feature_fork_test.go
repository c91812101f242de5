package actors_test

// Fork (fork.go): a new actor whose create event carries another actor's
// state, KV, alarms and crons as of one of its events, folded from the log.

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// fkType is crType plus fkKV's actions.
func fkType(name string) *actors.Type[ftState] { return fkKV(crType(name)) }

// fkKV adds KV actions to t: put(k, v) and kv(k) -> value ("" when absent).
func fkKV(t *actors.Type[ftState]) *actors.Type[ftState] {
	return t.
		Action("put", actors.Act2(func(c *actors.Context[ftState], k, v string) (bool, error) {
			c.KV().Put(k, []byte(v))
			return true, nil
		})).
		Action("kv", actors.Act(func(c *actors.Context[ftState], k string) (string, error) {
			v, _ := c.KV().Get(k)
			return string(v), nil
		}))
}

// fkSeqs returns the sequences of the actor's events.
func fkSeqs(t *testing.T, b *bundle, id string) []uint64 {
	t.Helper()
	var out []uint64
	for _, ev := range ftEvents(t, b, id) {
		out = append(out, ev.Seq)
	}
	return out
}

// A fork at an earlier event has the source's state, KV, alarms and crons
// as of that event (what ImageAt folds), in one create event that records
// where it came from; its alarms fire for it; the source's log is untouched
// and the source keeps working.
func TestFeatureForkCopiesImageAt(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, fkType("fkcopy"))
	src := ftCreate(t, b, "fkcopy", "src")
	ftCall[int64](t, src, "inc", 5)
	ftCall[bool](t, src, "put", "a", "one")
	alarmID := ftCall[string](t, src, "after", alArgs{After: 10 * time.Second, Tag: "armed"})
	ftCall[bool](t, src, "set", crArgs{Name: "hourly", Spec: "@hourly", Action: "ping", Tag: "cron"})
	atSeq := ftLastSeq(t, b, src.ID)
	// Changes after atSeq are not the fork's.
	ftCall[int64](t, src, "inc", 100)
	ftCall[bool](t, src, "put", "a", "two")
	ftCall[bool](t, src, "put", "b", "later")
	if !ftCall[bool](t, src, "cancel", alarmID) {
		t.Fatal("cancel the source's alarm: not pending")
	}
	srcSeqs := fkSeqs(t, b, src.ID)
	want, err := b.rt.ImageAt(ftCtx(t), src.ID, atSeq)
	if err != nil {
		t.Fatal(err)
	}
	want.Settle()

	fork, err := b.rt.Fork(ftCtx(t), src.ID, atSeq, []string{"copy"})
	if err != nil {
		t.Fatalf("fork: %v", err)
	}
	if fork.Type() != "fkcopy" || !slices.Equal(fork.Key(), []string{"copy"}) || fork.Generation != 1 {
		t.Fatalf("fork handle: %s %v gen %d", fork.Type(), fork.Key(), fork.Generation)
	}
	got, err := b.rt.ImageAt(ftCtx(t), fork.ID, ftLastSeq(t, b, fork.ID))
	if err != nil {
		t.Fatal(err)
	}
	got.Settle()
	if string(got.State) != string(want.State) {
		t.Fatalf("fork state %s, want the source's at %d: %s", got.State, atSeq, want.State)
	}
	if len(got.KV) != 1 || string(got.KV["a"]) != "one" {
		t.Fatalf("fork KV %q, want a=one", got.KV)
	}
	if len(got.Alarms) != len(want.Alarms) || len(got.Alarms) != 2 {
		t.Fatalf("fork alarms %+v, want the source's at %d: %+v", got.Alarms, atSeq, want.Alarms)
	}
	for id, a := range want.Alarms {
		g := got.Alarms[id]
		if g.ID != a.ID || !g.At.Equal(a.At) || g.Action != a.Action || string(g.Args) != string(a.Args) || g.Cron != a.Cron {
			t.Fatalf("fork alarm %s = %+v, want %+v", id, g, a)
		}
	}
	if c, ok := got.Crons["hourly"]; !ok || c.Spec != "@hourly" || !c.Next.Equal(want.Crons["hourly"].Next) {
		t.Fatalf("fork crons %+v, want hourly as the source's %+v", got.Crons, want.Crons)
	}

	evs := ftEvents(t, b, fork.ID)
	first := evs[0]
	var args actors.ForkArgs
	if err := json.Unmarshal(first.Args, &args); err != nil || args.From != src.ID || args.AtSeq != atSeq {
		t.Fatalf("fork's first event args %s (%v), want from %s atSeq %d", first.Args, err, src.ID, atSeq)
	}
	if first.Kind != eventlog.KindCreate || first.Action != actors.ForkAction || first.Caller != "go" {
		t.Fatalf("fork's first event: kind %v action %q caller %q", first.Kind, first.Action, first.Caller)
	}
	if !slices.Equal(fkSeqs(t, b, src.ID), srcSeqs) {
		t.Fatal("the source's log changed")
	}

	// The fork's actions see the copied state and KV.
	if n := ftCall[int64](t, fork, "get"); n != 5 {
		t.Fatalf("fork count %d, want 5", n)
	}
	if v := ftCall[string](t, fork, "kv", "a"); v != "one" {
		t.Fatalf("fork KV a = %q", v)
	}
	if v := ftCall[string](t, fork, "kv", "b"); v != "" {
		t.Fatalf("fork KV b = %q, want absent", v)
	}
	// The alarm the source cancelled after atSeq fires for the fork only.
	sched := alNewScheduler(t, b, fork.ID, src.ID)
	sched.sync()
	b.clock.Advance(10 * time.Second)
	st := ftCall[ftState](t, fork, "state")
	if !slices.Contains(st.Log, "armed:scheduler:"+alarmID) {
		t.Fatalf("fork's alarm did not fire: log %v", st.Log)
	}
	if srcSt := ftCall[ftState](t, src, "state"); slices.ContainsFunc(srcSt.Log, func(s string) bool { return strings.HasPrefix(s, "armed") }) {
		t.Fatalf("the source's cancelled alarm fired: %v", srcSt.Log)
	}
	// The source keeps working.
	if n := ftCall[int64](t, src, "inc", 1); n != 106 {
		t.Fatalf("source count %d, want 106", n)
	}
}

// fkAssertUnchanged fails unless the actors' last sequences are as before.
func fkAssertUnchanged(t *testing.T, b *bundle, before map[string]uint64) {
	t.Helper()
	for id, seq := range before {
		if now := ftLastSeq(t, b, id); now != seq {
			t.Fatalf("%s: last seq %d, was %d: a failed fork appended", id, now, seq)
		}
	}
}

// Every refusal says why, with the right code, and appends nothing.
func TestFeatureForkErrors(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, fkType("fkerr"))
	src := ftCreate(t, b, "fkerr", "src")
	ftCall[int64](t, src, "inc", 1)
	other := ftCreate(t, b, "fkerr", "other")
	ftCall[int64](t, src, "inc", 1)
	gone := ftCreate(t, b, "fkerr", "gone")
	ftCall[int64](t, gone, "inc", 1)
	if err := gone.Destroy(ftCtx(t)); err != nil {
		t.Fatal(err)
	}
	srcSeqs := fkSeqs(t, b, src.ID)
	first, last := srcSeqs[0], srcSeqs[len(srcSeqs)-1]
	otherSeq := ftLastSeq(t, b, other.ID)
	goneLast := ftLastSeq(t, b, gone.ID)
	noneID, _ := actors.ActorID("fkerr", []string{"never"})
	targetID, _ := actors.ActorID("fkerr", []string{"t"})
	before := map[string]uint64{src.ID: last, other.ID: otherSeq, gone.ID: goneLast, targetID: 0, noneID: 0}

	for _, tc := range []struct {
		name    string
		src     string
		atSeq   uint64
		key     []string
		want    error
		message string
	}{
		{"seq zero", src.ID, 0, []string{"t"}, actors.ErrInvalidArgs, "is not an event of"},
		{"past the last", src.ID, last + 100, []string{"t"}, actors.ErrInvalidArgs, "is not an event of"},
		{"another actor's event", src.ID, otherSeq, []string{"t"}, actors.ErrInvalidArgs, "is not an event of"},
		{"destroyed there", gone.ID, goneLast, []string{"t"}, actors.ErrInvalidArgs, "did not exist at seq"},
		{"no such source", noneID, 1, []string{"t"}, actors.ErrNotFound, "has no events"},
		{"bad source ID", "not an id", 1, []string{"t"}, actors.ErrInvalidID, ""},
		{"unknown type", "nosuchtype.kAA", 1, []string{"t"}, actors.ErrUnknownType, ""},
		{"bad key", src.ID, last, []string{"\xff"}, actors.ErrInvalidKey, ""},
		{"onto itself", src.ID, last, []string{"src"}, actors.ErrInvalidArgs, "must differ"},
		{"target exists", src.ID, last, []string{"other"}, actors.ErrExists, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.rt.Fork(ftCtx(t), tc.src, tc.atSeq, tc.key)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("err %v, want %v with %q", err, tc.want, tc.message)
			}
			if valid := strconv.FormatUint(first, 10) + " to " + strconv.FormatUint(last, 10); tc.message == "is not an event of" && !strings.Contains(err.Error(), valid) {
				t.Fatalf("err %v does not name the valid seqs %d to %d", err, first, last)
			}
			fkAssertUnchanged(t, b, before)
		})
	}
	// The last event of a live generation forks; the seq before a
	// destroy of "gone" too.
	if _, err := b.rt.Fork(ftCtx(t), gone.ID, goneLast-1, []string{"revived"}); err != nil {
		t.Fatalf("fork of gone before its destroy: %v", err)
	}
}

// OnFork runs in the fork's create event, after the state and KV are the
// source's: its changes join that event; its error fails the fork with
// nothing appended. The fork then wakes (CreateVars and OnWake run); no
// CreateState or OnCreate runs.
func TestFeatureForkHook(t *testing.T) {
	t.Parallel()
	var wakes, creates atomic.Int32
	var refuse atomic.Bool
	typ := fkKV(alType("fkhook", actors.Options[ftState]{
		OnCreate: func(c *actors.Context[ftState], _ json.RawMessage) error { creates.Add(1); return nil },
		OnWake:   func(c *actors.Context[ftState]) error { wakes.Add(1); return nil },
		OnFork: func(c *actors.Context[ftState], from string) error {
			if refuse.Load() {
				return actors.NewUserError("no_fork", "not now", nil)
			}
			v, _ := c.KV().Get("a")
			c.State.Text = "forked from " + from + " with a=" + string(v)
			c.KV().Put("forked", []byte(c.Key()[0]))
			return nil
		},
	}))
	b := ftSetup(t, nil, typ)
	src := ftCreate(t, b, "fkhook", "src")
	ftCall[bool](t, src, "put", "a", "x")
	at := ftLastSeq(t, b, src.ID)
	creates.Store(0)
	wakes.Store(0)

	refuse.Store(true)
	forkID, _ := actors.ActorID("fkhook", []string{"f"})
	if _, err := b.rt.Fork(ftCtx(t), src.ID, at, []string{"f"}); err == nil || !strings.Contains(err.Error(), "not now") {
		t.Fatalf("refused fork: %v", err)
	}
	fkAssertUnchanged(t, b, map[string]uint64{forkID: 0, src.ID: at})

	refuse.Store(false)
	fork, err := b.rt.Fork(ftCtx(t), src.ID, at, []string{"f"})
	if err != nil {
		t.Fatal(err)
	}
	if creates.Load() != 0 || wakes.Load() != 1 {
		t.Fatalf("OnCreate ran %d times, OnWake %d: want 0 and 1", creates.Load(), wakes.Load())
	}
	evs := ftEvents(t, b, fork.ID)
	var st ftState
	if err := json.Unmarshal(evs[0].State, &st); err != nil || st.Text != "forked from "+src.ID+" with a=x" {
		t.Fatalf("create event state %s (%v)", evs[0].State, err)
	}
	if v := ftCall[string](t, fork, "kv", "forked"); v != "f" {
		t.Fatalf("OnFork's KV write: %q", v)
	}
	// A second fork onto it: exists, nothing appended, hook not run.
	last := ftLastSeq(t, b, fork.ID)
	if _, err := b.rt.Fork(ftCtx(t), src.ID, at, []string{"f"}); !errors.Is(err, actors.ErrExists) {
		t.Fatalf("fork onto the fork: %v", err)
	}
	fkAssertUnchanged(t, b, map[string]uint64{fork.ID: last, src.ID: at})
}
