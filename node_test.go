package rivetflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
	"github.com/rivet-flow/rivet-flow/projections"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t *testing.T, dir string) *Node {
	t.Helper()
	n, err := Start(context.Background(), Config{DataDir: dir, HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return n
}

func snapshots(t *testing.T, s *snapshot.Store) map[string]snapshot.Snapshot {
	t.Helper()
	out := map[string]snapshot.Snapshot{}
	if err := s.Each(func(x snapshot.Snapshot) error { out[x.Actor] = x; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// Deleting the snapshots folder between runs loses nothing: the next start
// rebuilds every snapshot from the log, byte for byte.
func TestStartRebuildsDeletedSnapshots(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := start(t, dir)
	for a := range 20 {
		subj, _ := eventlog.ActorRef{Type: "counter", Key: []string{fmt.Sprint(a)}}.Subject()
		var snap snapshot.Snapshot
		var last uint64
		for i := range 5 {
			ev := &eventlog.Event{Kind: eventlog.KindAction, HasState: i%2 == 0, State: fmt.Appendf(nil, "%d", i*a), CodeVersion: "v1"}
			seq, err := n.Events().Append(ctx, subj, last, ev)
			if err != nil {
				t.Fatal(err)
			}
			last, ev.Seq, ev.Subject = seq, seq, subj
			if snap, err = actorstate.Fold(snap, ev); err != nil {
				t.Fatal(err)
			}
		}
		n.snapshots.Put(snap)
	}
	if err := n.snapshots.Flush(); err != nil {
		t.Fatal(err)
	}
	want := snapshots(t, n.snapshots)
	if len(want) != 20 {
		t.Fatalf("%d snapshots before the restart", len(want))
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
		t.Fatal(err)
	}
	n = start(t, dir)
	defer n.Stop(ctx)
	if got := snapshots(t, n.snapshots); !reflect.DeepEqual(got, want) {
		t.Fatalf("after rebuild: %d snapshots, want %d identical ones", len(got), len(want))
	}
}

func TestStopTurnsReadyzOffAndReleasesDataDir(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := start(t, dir)
	resp, err := http.Get("http://" + n.Addr() + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := Start(ctx, Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err == nil {
		t.Fatal("a second node on the same data dir started")
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	n = start(t, dir)
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// A replaced log (its folder deleted: a new stream with another identity)
// makes the next start rebuild the snapshots from it, so no phantom actor
// outlives its history.
func TestStartRebuildsSnapshotsOfAReplacedLog(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n := start(t, dir)
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "counter", []string{"phantom"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := actors.Call[int64](ctx, h, "increment", 5); err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	n = start(t, dir)
	defer n.Stop(ctx)
	if got := snapshots(t, n.snapshots); len(got) != 0 {
		t.Fatalf("%d snapshots survived the log they were built from", len(got))
	}
	if _, err := n.Runtime().Client().Get(ctx, "counter", []string{"phantom"}); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get: %v, want actor_not_found", err)
	}
	// The projections were built from the old log too: deleted, rebuilt.
	if page, err := n.Projections().Directory().List(projections.ActorQuery{}); err != nil || len(page.Actors) != 0 {
		t.Fatalf("the directory lists %+v (%v) from the replaced log", page.Actors, err)
	}
	if h, _, err = n.Runtime().Client().GetOrCreate(ctx, "counter", []string{"phantom"}, nil); err != nil {
		t.Fatal(err)
	}
	if c, err := actors.Call[int64](ctx, h, "increment", 1); err != nil || c != 1 {
		t.Fatalf("increment on the new actor: %d, %v", c, err)
	}
}

// callCount is a row of the user projection in TestConfigProjections.
type callCount struct {
	Calls int `json:"calls"`
}

// A projection in Config.Projections runs next to the actor directory from
// Start to Stop, keeps its checkpoint and rows across a restart, and is
// rebuilt from the log when its folder is deleted.
func TestConfigProjections(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	calls := projections.Define("calls", projections.Filter{Types: []string{"counter"}, Kinds: []eventlog.Kind{eventlog.KindAction}},
		func(tx projections.Tx[callCount], ev *eventlog.Event) error {
			row, _, err := tx.Get(ev.Action)
			if err != nil {
				return err
			}
			row.Calls++
			return tx.Put(ev.Action, row)
		})
	startWith := func() *Node {
		t.Helper()
		n, err := Start(ctx, Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Projections: []projections.Projection{calls},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		return n
	}
	want := func(n *Node, increments int) {
		t.Helper()
		last, err := n.Events().LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		for _, name := range []string{projections.DirectoryName, "calls"} {
			if err := n.Projections().Wait(wctx, name, last); err != nil {
				t.Fatal(err)
			}
		}
		row, found, err := calls.Get(n.Projections(), "increment")
		if err != nil || !found || row.Calls != increments {
			t.Fatalf("calls row: %+v %v %v, want %d increments", row, found, err, increments)
		}
		page, err := n.Projections().Directory().List(projections.ActorQuery{Type: "counter"})
		if err != nil || len(page.Actors) != 1 || page.Actors[0].Events != uint64(increments)+1 {
			t.Fatalf("directory: %+v %v", page, err)
		}
	}

	n := startWith()
	h, _, err := n.Runtime().Client().GetOrCreate(ctx, "counter", []string{"c"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := h.ActionJSON(ctx, "increment", []byte("[1]")); err != nil {
			t.Fatal(err)
		}
	}
	want(n, 3)
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart: the checkpoint and rows are there before any fold.
	n = startWith()
	if st, err := n.Projections().Status("calls"); err != nil || st.Checkpoint == 0 || st.Rows != 1 {
		t.Fatalf("after a restart: %+v %v", st, err)
	}
	want(n, 3)
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Deleted: rebuilt from the log.
	if err := os.RemoveAll(filepath.Join(dir, "projections")); err != nil {
		t.Fatal(err)
	}
	n = startWith()
	want(n, 3)
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A second projection of one name fails Start, and releases the data dir.
	_, err = Start(ctx, Config{DataDir: dir, HTTPAddr: "127.0.0.1:0", Projections: []projections.Projection{calls, calls},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, projections.ErrExists) {
		t.Fatalf("two projections named calls: %v, want ErrExists", err)
	}
	n = startWith()
	if err := n.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}
