package snapshot_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// TestRebuildAfterSnapshotFolderDeleted writes events for many actors while a
// "runtime" keeps snapshots with Fold, deletes the Pebble folder, and checks
// that the rebuild scan restores every snapshot to the same bytes.
func TestRebuildAfterSnapshotFolderDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)

	snapDir := filepath.Join(dir, "snapshots")
	store, err := snapshot.Open(snapDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]snapshot.Snapshot{}
	last := map[string]uint64{}
	alive := map[string]bool{}
	const actors = 40
	for i := range 400 {
		a := i % actors
		subj, _ := eventlog.ActorRef{Type: "counter", Key: []string{fmt.Sprint(a)}}.Subject()
		ev := &eventlog.Event{Kind: eventlog.KindAction, Action: "increment", CodeVersion: fmt.Sprintf("v%d", i%3),
			KV: []eventlog.KVWrite{{Key: []byte(fmt.Sprint("k", i%4)), Value: fmt.Appendf(nil, "%d", i), Delete: i%11 == 0}}}
		switch {
		case !alive[subj]:
			ev.Kind, ev.HasState, ev.State, ev.Generation = eventlog.KindCreate, true, []byte(`{"count":0}`), uint64(i+1)
		case i%37 == 0:
			ev.Kind = eventlog.KindDestroy
		case i%5 != 0: // every fifth event leaves the state unchanged
			ev.HasState, ev.State = true, fmt.Appendf(nil, `{"count":%d}`, i)
		}
		if a == 7 && ev.Kind != eventlog.KindCreate {
			ev.Kind = eventlog.KindDestroy // actor 7 alternates: created, destroyed, a new generation...
		}
		seq, err := l.Append(ctx, subj, last[subj], ev)
		if err != nil {
			t.Fatal(err)
		}
		last[subj] = seq
		ev.Seq, ev.Subject = seq, subj
		next, err := actorstate.Fold(live[subj], ev)
		if err != nil {
			t.Fatal(err)
		}
		alive[subj] = ev.Kind != eventlog.KindDestroy
		live[subj] = next
		store.Put(next)
	}
	want := dump(t, store)
	if !reflect.DeepEqual(want, live) {
		t.Fatalf("store does not hold what the runtime wrote")
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(snapDir); err != nil {
		t.Fatal(err)
	}

	// MaxCached 1 drops all but one actor after each write, so most read
	// their image back from the store.
	for _, o := range []snapshot.RebuildOptions{{}, {MaxPending: 3}, {MaxPending: 3, MaxCached: 1}, {MaxPending: 5, MaxCachedBytes: 1}} {
		store, err := snapshot.Open(snapDir, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A stale entry the log knows nothing of must not survive a rebuild.
		if err := store.Write([]snapshot.Snapshot{{Actor: "rf.ev.ghost.k", Seq: 1}}, nil); err != nil {
			t.Fatal(err)
		}
		var reports int
		o.ProgressEvery, o.Progress = 100, func(snapshot.RebuildProgress) { reports++ }
		p, err := snapshot.Rebuild(ctx, l, store, o)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scanned != 400 || p.Last != p.Seq || reports != 5 {
			t.Errorf("progress = %+v after %d reports", p, reports)
		}
		if got := dump(t, store); !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: rebuilt %d snapshots, want %d identical ones", o, len(got), len(want))
		}
		to, ok, err := store.GetMeta(snapshot.MetaRebuiltTo)
		if err != nil || !ok || string(to) != fmt.Sprint(p.Last) {
			t.Errorf("rebuilt-to meta = %q, %v, %v", to, ok, err)
		}
		if err := store.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func dump(t *testing.T, store *snapshot.Store) map[string]snapshot.Snapshot {
	t.Helper()
	if err := store.Flush(); err != nil {
		t.Fatal(err)
	}
	out := map[string]snapshot.Snapshot{}
	if err := store.Each(func(s snapshot.Snapshot) error { out[s.Actor] = s; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRebuildFlushesPendingPuts: Puts still waiting in the store's Writer
// when a rebuild starts are written before the store is cleared, so they
// neither reappear after the rebuild nor overwrite what it rebuilt.
func TestRebuildFlushesPendingPuts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	subj, _ := eventlog.ActorRef{Type: "counter", Key: []string{"a"}}.Subject()
	var live snapshot.Snapshot
	var last uint64
	for i := range 3 {
		ev := &eventlog.Event{Kind: eventlog.KindAction, Action: "inc", Generation: 1, HasState: true,
			State: fmt.Appendf(nil, `{"count":%d}`, i), CodeVersion: "v1"}
		if i == 0 {
			ev.Kind = eventlog.KindCreate
		}
		if last, err = l.Append(ctx, subj, last, ev); err != nil {
			t.Fatal(err)
		}
		ev.Seq, ev.Subject = last, subj
		if live, err = actorstate.Fold(live, ev); err != nil {
			t.Fatal(err)
		}
	}
	// A Writer that would hold these Puts for an hour.
	store, err := snapshot.Open(t.TempDir(), &snapshot.Options{FlushInterval: time.Hour, MaxBatch: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stale := actorstate.Image{Generation: 1, Exists: true, State: []byte(`{"count":99}`)}
	store.Put(snapshot.Snapshot{Actor: subj, Seq: last + 100, CodeVersion: "v0", State: stale.Encode()})
	store.Put(snapshot.Snapshot{Actor: "rf.ev.ghost.k", Seq: 1})
	if _, err := snapshot.Rebuild(ctx, l, store, snapshot.RebuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, want := dump(t, store), map[string]snapshot.Snapshot{subj: live}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after rebuild the store holds\n%+v\nwant\n%+v", got, want)
	}
}
