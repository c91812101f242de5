package actors_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// Acknowledgements that time out (a tiny append timeout) leave outcomes
// unknown; each is resolved from the log before the caller is answered: a
// caller told "error" never has its increment in the log, and one told
// success always does. Only unknown_outcome (the log did not answer) may go
// either way.
func TestFeatureUnknownOutcomesAreResolvedFromTheLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	log, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quietLogger(), AckTimeout: 100 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close(ctx)
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer snaps.Close()
	rt, err := actors.NewRuntime(log, snaps, builtin.Registry(), actors.RuntimeOptions{Logger: quietLogger(), SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(ctx)

	const actorsN, calls = 16, 60
	type tally struct{ ok, unknown, failed int }
	tallies := make([]tally, actorsN)
	handles := make([]*actors.Handle, actorsN)
	for a := range actorsN {
		for {
			handles[a], _, err = rt.Client().GetOrCreate(ctx, "counter", []string{fmt.Sprint(a)}, nil)
			if err == nil {
				break
			}
			if !errors.Is(err, actors.ErrUnknownOutcome) && !errors.Is(err, actors.ErrConflict) {
				t.Fatalf("create %d: %v", a, err)
			}
		}
	}
	var wg sync.WaitGroup
	for a := range actorsN {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				_, err := actors.Call[int64](ctx, handles[a], "increment", 1)
				switch {
				case err == nil:
					tallies[a].ok++
				case errors.Is(err, actors.ErrUnknownOutcome):
					tallies[a].unknown++
				default:
					tallies[a].failed++
				}
			}
		}()
	}
	wg.Wait()
	resolved := 0
	for a := range actorsN {
		subj, _ := eventlog.ActorRef{Type: "counter", Key: []string{fmt.Sprint(a)}}.Subject()
		evs, err := log.ReadActor(ctx, subj, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, ev := range evs {
			if ev.Action == "increment" {
				stored++
			}
		}
		tl := tallies[a]
		if stored < tl.ok || stored > tl.ok+tl.unknown {
			t.Errorf("actor %d: %d increments stored, %d answered ok, %d unknown, %d failed: a caller was told the wrong outcome",
				a, stored, tl.ok, tl.unknown, tl.failed)
		}
		resolved += tl.ok
	}
	if resolved == 0 {
		t.Fatal("no call succeeded")
	}
}
