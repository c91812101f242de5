package actors_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// Two runtimes on one log (two nodes): A holds the actor in memory, then B
// sets an alarm on it. A's copy is stale; a fire sent to A must not be
// dropped as "not pending" but reload from the log and fire. The fire then
// takes effect once: B's fire of the same alarm finds it gone.
func TestFeatureAlarmFireOnStaleCopy(t *testing.T) {
	t.Parallel()
	typ := alType("alstale", actors.Options[ftState]{})
	a := ftSetup(t, nil, typ)
	hA := ftCreate(t, a, "alstale", "x")
	ftCall[[]actorstate.Alarm](t, hA, "alarms") // A has it awake
	actorID, err := actors.ActorID("alstale", []string{"x"})
	if err != nil {
		t.Fatal(err)
	}

	snapsB, err := snapshot.Open(filepath.Join(t.TempDir(), "snapshots"), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rtB, err := actors.NewRuntime(a.log, snapsB, ftRegistry(t, alType("alstale", actors.Options[ftState]{})),
		actors.RuntimeOptions{Logger: quietLogger(), Clock: a.clock, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := rtB.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rtB.Stop(ctx); err != nil {
			t.Error(err)
		}
		_ = snapsB.Close()
	})
	hB, err := rtB.Client().GetByID(ftCtx(t), actorID)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hB.Action(ftCtx(t), "after", alArgs{After: time.Second, Tag: "stale"})
	if err != nil {
		t.Fatal(err)
	}
	id := string(raw[1 : len(raw)-1])
	due := a.clock.Now().Add(time.Second).UTC()

	fired, err := a.rt.FireAlarm(ftCtx(t), actorID, id, due)
	if err != nil || !fired {
		t.Fatalf("fire on the node with a stale copy: fired=%v err=%v, want fired", fired, err)
	}
	// B's copy is stale now: its fire conflicts in the log (a retryable
	// error, as the scheduler treats it) and the retry finds the alarm gone.
	fired, err = rtB.FireAlarm(ftCtx(t), actorID, id, due)
	if err != nil {
		fired, err = rtB.FireAlarm(ftCtx(t), actorID, id, due)
	}
	if err != nil || fired {
		t.Fatalf("second fire on the other node: fired=%v err=%v, want not fired", fired, err)
	}
	if got := ftCall[ftState](t, ftCreate(t, a, "alstale", "x"), "state"); len(got.Log) != 1 || got.Log[0] != "stale:scheduler:"+id {
		t.Fatalf("log %v, want one fire of alarm %s", got.Log, id)
	}
}
