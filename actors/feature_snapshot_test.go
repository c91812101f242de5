package actors_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

func TestFeatureSnapshotEvery(t *testing.T) {
	t.Parallel()
	const every = 4
	cases := ftLimitCases(
		func(o *actors.RuntimeOptions) { o.SnapshotEvery = every },
		func(o *actors.Options[ftState]) { o.SnapshotEvery = every },
		func(o *actors.RuntimeOptions) { o.SnapshotEvery = 1000 },
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := actors.Options[ftState]{CodeVersion: "cv3"}
			tc.typ(&opts)
			b := ftSetup(t, tc.runtime, ftType("ftsnap", opts))
			h := ftCreate(t, b, "ftsnap", "a") // event 1
			subj := ftSubject(h.ID)
			ftCall[int64](t, h, "inc", 1) // 2
			ftCall[int64](t, h, "inc", 1) // 3
			if _, found, _ := b.snaps.Get(subj); found {
				t.Fatal("a snapshot after 3 events")
			}
			ftCall[int64](t, h, "inc", 1) // 4
			snap, found, err := b.snaps.Get(subj)
			if err != nil || !found || snap.Seq != ftLastSeq(t, b, h.ID) || snap.CodeVersion != "cv3" {
				t.Fatalf("snapshot after 4 events: %+v found=%v err=%v (last seq %d)", snap, found, err, ftLastSeq(t, b, h.ID))
			}
			im, err := actorstate.Decode(snap.State)
			if err != nil || string(im.State) != `{"count":3}` || !im.Exists || im.Generation != 1 {
				t.Fatalf("snapshot image %+v %v", im, err)
			}
			at4 := snap.Seq
			ftCall[int64](t, h, "get") // 5
			if snap, _, _ := b.snaps.Get(subj); snap.Seq != at4 {
				t.Fatalf("snapshot moved to %d after 5 events", snap.Seq)
			}
			for range 3 { // 6, 7, 8
				ftCall[int64](t, h, "inc", 1)
			}
			if snap, _, _ := b.snaps.Get(subj); snap.Seq != ftLastSeq(t, b, h.ID) {
				t.Fatalf("snapshot at %d after 8 events, want %d", snap.Seq, ftLastSeq(t, b, h.ID))
			}
		})
	}
}

// TestFeatureWakeFromSnapshotAndTail proves that a wake reads the snapshot and
// only the events after it: a snapshot that says something the log does not
// wins, and the tail's KV writes apply on top of it.
func TestFeatureWakeFromSnapshotAndTail(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftWithKV(ftType("fttail", actors.Options[ftState]{SnapshotEvery: 3})))
	h := ftCreate(t, b, "fttail", "a")
	subj := ftSubject(h.ID)
	ftCall[int64](t, h, "inc", 1)
	ftCall[int64](t, h, "inc", 2) // event 3: snapshot
	old, found, err := b.snaps.Get(subj)
	if err != nil || !found {
		t.Fatalf("no snapshot after 3 events: %v", err)
	}
	ftCall[bool](t, h, "kvput", "tail", "2")
	ftCall[int64](t, h, "get")
	b.restart(t)

	im, err := actorstate.Decode(old.State)
	if err != nil {
		t.Fatal(err)
	}
	im.State = []byte(`{"count":1000}`)
	im.KV = map[string][]byte{"fromSnapshot": []byte("1")}
	forged := snapshot.Snapshot{Actor: subj, Seq: old.Seq, CodeVersion: old.CodeVersion, State: im.Encode()}
	if err := b.snaps.Write([]snapshot.Snapshot{forged}, nil); err != nil {
		t.Fatal(err)
	}
	h, err = b.rt.Client().Get(ftCtx(t), "fttail", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ftCall[int64](t, h, "get"); got != 1000 {
		t.Fatalf("count %d: the wake did not start from the snapshot", got)
	}
	got := ftCall[[]ftKV](t, h, "kvlist", "")
	if ftJSON(t, got) != `[{"k":"fromSnapshot","v":"1"},{"k":"tail","v":"2"}]` {
		t.Fatalf("KV %s: want the snapshot's plus the tail's", ftJSON(t, got))
	}

	// Without the snapshot the actor is rebuilt from the log alone.
	b.restart(t)
	if err := b.snaps.Write(nil, []string{subj}); err != nil {
		t.Fatal(err)
	}
	h, err = b.rt.Client().Get(ftCtx(t), "fttail", []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ftCall[int64](t, h, "get"); got != 3 {
		t.Fatalf("count %d rebuilt from the log, want 3", got)
	}
	if got := ftCall[[]ftKV](t, h, "kvlist", ""); ftJSON(t, got) != `[{"k":"tail","v":"2"}]` {
		t.Fatalf("KV rebuilt from the log: %s", ftJSON(t, got))
	}
}

func TestFeatureSnapshotLossLosesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		drop func(t *testing.T, b *bundle, subjects []string)
	}{
		{"snapshots deleted", func(t *testing.T, b *bundle, subjects []string) {
			b.restart(t)
			if err := b.snaps.Write(nil, subjects); err != nil {
				t.Fatal(err)
			}
		}},
		{"snapshot folder deleted", func(t *testing.T, b *bundle, _ []string) {
			b.stop(t)
			if err := os.RemoveAll(filepath.Join(b.dir, "snapshots")); err != nil {
				t.Fatal(err)
			}
			b.start(t)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := ftSetup(t, func(o *actors.RuntimeOptions) { o.SnapshotEvery = 5 },
				ftWithKV(ftType("ftloss", actors.Options[ftState]{})))
			want := map[string]ftState{}
			var subjects []string
			for _, key := range []string{"a", "b", "c"} {
				h := ftCreate(t, b, "ftloss", key)
				subjects = append(subjects, ftSubject(h.ID))
				for i := range 12 {
					ftCall[int64](t, h, "inc", i)
					ftCall[bool](t, h, "kvput", key+string(rune('a'+i%4)), strings.Repeat(key, i))
				}
				ftCall[string](t, h, "setText", "t-"+key)
				want[key] = ftCall[ftState](t, h, "state")
			}
			// "c" is destroyed and recreated: the rebuild must know its generation.
			hc, _ := b.rt.Client().Get(ftCtx(t), "ftloss", []string{"c"})
			if err := hc.Destroy(ftCtx(t)); err != nil {
				t.Fatal(err)
			}
			ftCreate(t, b, "ftloss", "c")
			want["c"] = ftState{}
			kvWant := map[string]string{}
			for _, key := range []string{"a", "b", "c"} {
				h, _ := b.rt.Client().Get(ftCtx(t), "ftloss", []string{key})
				kvWant[key] = ftJSON(t, ftCall[[]ftKV](t, h, "kvlist", ""))
			}
			tc.drop(t, b, subjects)
			for _, key := range []string{"a", "b", "c"} {
				h, err := b.rt.Client().Get(ftCtx(t), "ftloss", []string{key})
				if err != nil {
					t.Fatal(err)
				}
				if got := ftCall[ftState](t, h, "state"); ftJSON(t, got) != ftJSON(t, want[key]) {
					t.Fatalf("%s: state %+v, want %+v", key, got, want[key])
				}
				if got := ftJSON(t, ftCall[[]ftKV](t, h, "kvlist", "")); got != kvWant[key] {
					t.Fatalf("%s: KV %s, want %s", key, got, kvWant[key])
				}
				if wantGen := map[string]uint64{"a": 1, "b": 1, "c": 2}[key]; h.Generation != wantGen {
					t.Fatalf("%s: generation %d, want %d", key, h.Generation, wantGen)
				}
			}
		})
	}
}

// ftRuntimeOver opens a log with cfg (DataDir set here), a snapshot store and
// a runtime over reg in dir; close stops all three.
func ftRuntimeOver(t *testing.T, dir string, cfg eventlog.Config, reg *actors.Registry) (rt *actors.Runtime, closeAll func()) {
	t.Helper()
	ctx := context.Background()
	cfg.DataDir, cfg.Logger = dir, quietLogger()
	log, err := eventlog.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err = actors.NewRuntime(log, snaps, reg, actors.RuntimeOptions{Logger: quietLogger(), SweepInterval: time.Hour})
	if err == nil {
		err = rt.Start(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
	var done bool
	closeAll = func() {
		if done {
			return
		}
		done = true
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := rt.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if err := snaps.Close(); err != nil {
			t.Errorf("close snapshots: %v", err)
		}
		if err := log.Close(sctx); err != nil {
			t.Errorf("close log: %v", err)
		}
	}
	t.Cleanup(closeAll)
	return rt, closeAll
}

// ftRebuildAfter creates an actor, runs calls incs of size bytes of state each,
// then reopens everything without snapshots and reads the count back.
func ftRebuildAfter(t *testing.T, cfg eventlog.Config, incs, textBytes int) {
	t.Helper()
	dir := t.TempDir()
	reg := ftRegistry(t, ftType("ftlong", actors.Options[ftState]{SnapshotEvery: 1 << 20}).
		Action("grow", actors.Act(func(c *actors.Context[ftState], n int) (int, error) {
			c.State.Text = strings.Repeat("x", n)
			return n, nil
		})))
	rt, closeAll := ftRuntimeOver(t, dir, cfg, reg)
	h, _, err := rt.Client().GetOrCreate(ftCtx(t), "ftlong", []string{"a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ftCall[int](t, h, "grow", textBytes)
	for range incs {
		ftCall[int64](t, h, "inc", 1)
	}
	closeAll()
	if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	rt, _ = ftRuntimeOver(t, dir, cfg, reg)
	// A correct wake of this history takes well under a second.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err = rt.Client().Get(ctx, "ftlong", []string{"a"})
	if err != nil {
		t.Fatalf("wake after %d events without a snapshot: %v", incs+2, err)
	}
	got, err := actors.Call[int64](ctx, h, "get")
	if err != nil || got != int64(incs) {
		t.Fatalf("after a rebuild from %d events: count %d, err %v; want %d", incs+2, got, err, incs)
	}
}

// TestFeatureBugWakeStopsAtFirstPage: instance.load pages through the log with
// ReadActor but stops as soon as a page has fewer than 1000 events, a constant
// that is not the log's page size (eventlog.Config.MaxReadBatch). With a
// smaller MaxReadBatch a wake without a snapshot reads one page only: the actor
// comes back with an old state, and its next append is fenced (ErrConflict)
// forever, since each reload stops at the same page.
func TestFeatureBugWakeStopsAtFirstPage(t *testing.T) {
	t.Parallel()
	ftRebuildAfter(t, eventlog.Config{MaxReadBatch: 10}, 25, 1)
}

// TestFeatureBugWakeOfLargeHistoryFails: with the default configuration, an
// actor whose events after its snapshot add up to a few tens of MB cannot wake.
// eventlog.ReadActor asks JetStream for up to 1000 events in one direct-get
// batch with no max_bytes; the embedded server pushes them all at once, finds
// the log's connection a slow consumer and closes it ("disconnect EOF" on the
// shared connection, which also drops other actors' in-flight acks). The
// reply is lost and the wake waits for its caller's deadline. Here: ~500 KB of
// state (under the 512 KiB default limit), 140 events, snapshots deleted.
// (Had the server just stopped at its 64 MiB max_pending, load would take the
// short page for the end of the history: see TestFeatureBugWakeStopsAtFirstPage.)
func TestFeatureBugWakeOfLargeHistoryFails(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 70 MB to the log")
	}
	t.Parallel()
	ftRebuildAfter(t, eventlog.Config{}, 140, 500_000)
}
