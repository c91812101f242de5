package projections

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/startstop/startstoptest"
)

// Catch-up then live: events appended before, during and after the start are
// each folded once, in order (the fold fails on any gap or repeat).
func TestCatchUpThenLive(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(o *Options) { o.BatchSize = 16; o.signals = &testSignals{} })
	b.opts.signals.caughtUp.Init(t)
	c := newCounts("counts", Filter{})
	mustRegister(t, r, c)
	before := b.fill(t, "doc", 10, 100)

	var wg sync.WaitGroup
	var during uint64
	wg.Go(func() { // races the scan's end and the tail's start
		for i := range 200 {
			during = b.act(t, "inc", "doc", "live", string(rune('a'+i%26)))
		}
	})
	start(t, r)
	if got := b.opts.signals.caughtUp.WaitOrTimeout(); got.Seq < before {
		t.Fatalf("caught up at %d, want >= %d", got.Seq, before)
	}
	b.opts.signals.caughtUp.WaitOrTimeout() // the directory
	wg.Wait()
	after := b.act(t, "inc", "doc", "a1")
	wait(t, r, "counts", after)

	st := mustStatus(t, r, "counts")
	if st.State != StateLive || st.Checkpoint != after || st.Applied != after {
		t.Fatalf("status = %+v, want live at %d with %d applied", st, after, after)
	}
	if seqs, most := c.timesApplied(); seqs != int(after) || most != 1 {
		t.Fatalf("folded %d sequences (at most %d times each), want %d once each", seqs, most, after)
	}
	all, _, err := c.Get(r, "_all")
	if err != nil || all.Events != int(after) || all.Last != after {
		t.Fatalf(`row "_all" = %+v, %v; want %d events up to %d`, all, err, after, after)
	}
	_ = during
}

// The filter selects types and kinds; the checkpoint still moves past every event.
func TestFilter(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	c := newCounts("docs", Filter{Types: []string{"doc"}, Kinds: []eventlog.Kind{eventlog.KindAction}})
	mustRegister(t, r, c)
	b.create(t, "doc", "1")
	b.act(t, "inc", "doc", "1")
	b.create(t, "user", "1")
	b.act(t, "inc", "user", "1")
	last := b.act(t, "inc", "doc", "1")
	start(t, r)
	wait(t, r, "docs", last)
	all, _, _ := c.Get(r, "_all")
	if all.Events != 2 {
		t.Fatalf("folded %d events, want the 2 doc actions", all.Events)
	}
	if st := mustStatus(t, r, "docs"); st.Checkpoint != last || st.Lag != 0 || st.Applied != 2 {
		t.Fatalf("status = %+v, want checkpoint %d, lag 0, 2 applied", st, last)
	}
}

// A projection that fails stops at the event, with the sequence and the
// message visible, never skipping it; the others keep going; Resume after a
// fix folds the event it failed on.
func TestFailureStopsAndResumes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"error", "panic"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r, b := setup(t, func(o *Options) { o.signals = &testSignals{} })
			b.opts.signals.failed.Init(t)
			bad, good := newCounts("bad", Filter{}), newCounts("good", Filter{})
			bad.setFailOn(func(ev *eventlog.Event) error {
				if ev.Action != "boom" {
					return nil
				}
				if mode == "panic" {
					panic("kaboom")
				}
				return errors.New("cannot fold boom")
			})
			mustRegister(t, r, bad)
			mustRegister(t, r, good)
			b.fill(t, "doc", 3, 10)
			boom := b.act(t, "boom", "doc", "a1")
			b.fill(t, "doc", 3, 5)
			start(t, r)

			if got := b.opts.signals.failed.WaitOrTimeout(); got.Name != "bad" || got.Seq != boom {
				t.Fatalf("failed signal = %+v, want bad at %d", got, boom)
			}
			st := mustStatus(t, r, "bad")
			want := map[string]string{"error": "cannot fold boom", "panic": "panic: kaboom"}[mode]
			if st.State != StateFailed || st.FailedSeq != boom || !strings.Contains(st.Error, want) || st.FailedAt.IsZero() {
				t.Fatalf("status = %+v, want failed at %d with %q", st, boom, want)
			}
			// The events before it in its batch committed; the failing one did not.
			if st.Checkpoint != boom-1 {
				t.Fatalf("checkpoint = %d, want %d", st.Checkpoint, boom-1)
			}
			all, _, _ := bad.Get(r, "_all")
			if all.Last != boom-1 || all.Events != int(boom-1) {
				t.Fatalf(`row "_all" = %+v, want the %d events before the failure`, all, boom-1)
			}
			last := b.act(t, "inc", "doc", "a2")
			wait(t, r, "good", last)
			wait(t, r, DirectoryName, last)
			if err := r.Wait(context.Background(), "bad", last); !errors.Is(err, ErrFailed) {
				t.Fatalf("Wait on a failed projection = %v, want ErrFailed", err)
			}
			if st := mustStatus(t, r, "bad"); st.State != StateFailed || st.Lag == 0 {
				t.Fatalf("status after more events = %+v, want still failed and lagging", st)
			}
			if err := r.Resume("bad"); err != nil { // not fixed yet: fails again at the same event
				t.Fatal(err)
			}
			if got := b.opts.signals.failed.WaitOrTimeout(); got.Seq != boom {
				t.Fatalf("failed again at %d, want %d", got.Seq, boom)
			}
			bad.setFailOn(nil) // the fix
			if err := r.Resume("bad"); err != nil {
				t.Fatal(err)
			}
			wait(t, r, "bad", last)
			all, _, _ = bad.Get(r, "_all")
			if all.Events != int(last) {
				t.Fatalf(`after resume "_all" = %+v, want all %d events`, all, last)
			}
		})
	}
}

// A restart resumes from the checkpoint: no event is folded twice, none skipped.
func TestRestartResumesFromCheckpoint(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(o *Options) { o.BatchSize = 7 })
	c := newCounts("counts", Filter{})
	mustRegister(t, r, c)
	last := b.fill(t, "doc", 5, 40)
	start(t, r)
	wait(t, r, "counts", last)
	stop(t, r)
	if st := mustStatus(t, r, "counts"); st.State != StateStopped || st.Checkpoint != last {
		t.Fatalf("stopped status = %+v", st)
	}
	last = b.fill(t, "user", 5, 30)
	start(t, r) // the same runner, restarted
	wait(t, r, "counts", last)
	stop(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	last = b.fill(t, "team", 5, 30)
	r2 := b.open(t) // a new process on the same folder
	mustRegister(t, r2, c)
	if st := mustStatus(t, r2, "counts"); st.Checkpoint == 0 {
		t.Fatalf("reopened status = %+v, want the committed checkpoint", st)
	}
	start(t, r2)
	wait(t, r2, "counts", last)
	if seqs, most := c.timesApplied(); seqs != int(last) || most != 1 {
		t.Fatalf("folded %d sequences (at most %d times), want %d once each", seqs, most, last)
	}
}

// Deleting the projections folder loses nothing: the next start rebuilds.
func TestDeletedFolderRebuilds(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	mustRegister(t, r, newCounts("counts", Filter{}))
	last := b.fill(t, "doc", 20, 100)
	b.destroy(t, "doc", "a3")
	last = b.create(t, "doc", "a3")
	start(t, r)
	wait(t, r, "counts", last)
	wait(t, r, DirectoryName, last)
	want, wantDir := allRows(t, r, "counts"), allRows(t, r, DirectoryName)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(b.dir); err != nil {
		t.Fatal(err)
	}
	r2 := b.open(t)
	mustRegister(t, r2, newCounts("counts", Filter{}))
	start(t, r2)
	wait(t, r2, "counts", last)
	wait(t, r2, DirectoryName, last)
	requireSameRows(t, "counts", allRows(t, r2, "counts"), want)
	requireSameRows(t, DirectoryName, allRows(t, r2, DirectoryName), wantDir)
}

func requireSameRows(t *testing.T, name string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rows, want %d", name, len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: row %q = %s, want %s", name, k, got[k], v)
		}
	}
}

// Rebuild clears and folds the whole log, with progress, while the runner
// runs and while it is stopped; the rows equal the incremental ones.
func TestRebuild(t *testing.T) {
	t.Parallel()
	r, b := setup(t, func(o *Options) { o.BatchSize = 10; o.ProgressEvery = 25 })
	c := newCounts("counts", Filter{})
	mustRegister(t, r, c)
	last := b.fill(t, "doc", 10, 120)
	start(t, r)
	wait(t, r, "counts", last)
	want := allRows(t, r, "counts")

	var reports []RebuildProgress
	if err := r.Rebuild(context.Background(), "counts", func(p RebuildProgress) { reports = append(reports, p) }); err != nil {
		t.Fatal(err)
	}
	// How many reports depends on how often the caller sees a commit; they
	// go forward and end with one done at the target.
	for i, p := range reports {
		if p.Target != last || (i > 0 && p.Checkpoint <= reports[i-1].Checkpoint) || p.Done != (i == len(reports)-1) {
			t.Fatalf("progress reports = %+v, want them forward, to %d, the last one done", reports, last)
		}
	}
	if len(reports) == 0 || reports[len(reports)-1].Checkpoint < last {
		t.Fatalf("progress reports = %+v, want the last at %d", reports, last)
	}
	requireSameRows(t, "counts", allRows(t, r, "counts"), want)
	if _, most := c.timesApplied(); most != 2 {
		t.Fatalf("each event folded at most %d times, want 2 (once, then the rebuild)", most)
	}
	// Live after the rebuild.
	last = b.act(t, "inc", "doc", "a1")
	wait(t, r, "counts", last)
	if st := mustStatus(t, r, "counts"); st.State != StateLive || st.Rows != int64(len(want)) {
		t.Fatalf("status after rebuild = %+v, want live with %d rows", st, len(want))
	}

	stop(t, r)
	want = allRows(t, r, "counts")
	if err := r.Rebuild(context.Background(), "counts", nil); err != nil {
		t.Fatalf("offline rebuild: %v", err)
	}
	requireSameRows(t, "counts", allRows(t, r, "counts"), want)
	if st := mustStatus(t, r, "counts"); st.State != StateStopped || st.Checkpoint != last {
		t.Fatalf("status after the offline rebuild = %+v", st)
	}
	if err := r.Rebuild(context.Background(), "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Rebuild(unknown) = %v, want ErrNotFound", err)
	}
}

// A checkpoint newer than the log (a replaced log) is refused, not trusted.
func TestCheckpointAheadOfLog(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	last := b.fill(t, "doc", 3, 20)
	start(t, r)
	wait(t, r, DirectoryName, last)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b.log = openLog(t, t.TempDir()) // a new, shorter log
	b.last, b.gen = map[string]uint64{}, map[string]uint64{}
	b.fill(t, "doc", 3, 5)
	r2 := b.open(t)
	start(t, r2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := r2.Wait(ctx, DirectoryName, last+1)
	if st := mustStatus(t, r2, DirectoryName); !errors.Is(err, ErrFailed) || !strings.Contains(st.Error, "ahead of the log") {
		t.Fatalf("Wait = %v, status %+v; want failed: checkpoint ahead of the log", err, st)
	}
	if err := r2.Rebuild(ctx, DirectoryName, nil); err != nil {
		t.Fatal(err)
	}
	if st := mustStatus(t, r2, DirectoryName); st.State != StateLive || st.Checkpoint != 5 || st.Rows != 3 {
		t.Fatalf("status after rebuild = %+v", st)
	}
}

func TestRowsPaging(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	raw := Define("raw", Filter{}, func(tx Tx[map[string]any], ev *eventlog.Event) error {
		return tx.Raw().Put(ev.Action, []byte(`{"seq":1}`))
	})
	mustRegister(t, r, raw)
	var last uint64
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1", "c"} {
		last = b.act(t, k, "doc", "x")
	}
	start(t, r)
	wait(t, r, "raw", last)
	page, err := r.Rows("raw", "a/", 2, "")
	if err != nil || len(page.Rows) != 2 || page.Rows[0].Key != "a/1" || page.NextCursor == "" {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = r.Rows("raw", "a/", 2, page.NextCursor)
	if err != nil || len(page.Rows) != 1 || page.Rows[0].Key != "a/3" || page.NextCursor != "" {
		t.Fatalf("second page = %+v, %v", page, err)
	}
	rows, _, err := raw.List(r, "", 0, "")
	if err != nil || len(rows) != 5 || rows[4].Key != "c" || rows[4].Value["seq"] != 1.0 {
		t.Fatalf("typed list = %+v, %v", rows, err)
	}
	if _, err := r.Rows("raw", "", 1, "!!"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad cursor: %v", err)
	}
	if _, err := r.Rows("nope", "", 1, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown projection: %v", err)
	}
	if st := mustStatus(t, r, "raw"); st.Rows != 5 {
		t.Fatalf("rows = %d, want 5", st.Rows)
	}
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	r, _ := setup(t)
	for _, tc := range []struct {
		p    Projection
		want error
	}{
		{newCounts("1bad", Filter{}), ErrInvalid},
		{newCounts("has.dot", Filter{}), ErrInvalid},
		{newCounts(DirectoryName, Filter{}), ErrExists},
		{newCounts("types", Filter{Types: []string{"no.dots"}}), ErrInvalid},
		{newCounts("kinds", Filter{Kinds: []eventlog.Kind{99}}), ErrInvalid},
	} {
		if err := r.Register(tc.p); !errors.Is(err, tc.want) {
			t.Errorf("Register(%s) = %v, want %v", tc.p.Name(), err, tc.want)
		}
	}
	start(t, r)
	if err := r.Register(newCounts("late", Filter{})); !errors.Is(err, ErrRunning) {
		t.Errorf("Register while running = %v, want ErrRunning", err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	bad := newCounts("bad", Filter{})
	bad.setFailOn(func(*eventlog.Event) error { return errors.New("no") })
	mustRegister(t, r, bad)
	last := b.fill(t, "doc", 2, 10)
	start(t, r)
	wait(t, r, DirectoryName, last)
	if got := testutil.ToFloat64(r.m.applied.WithLabelValues(DirectoryName)); got != float64(last) {
		t.Errorf("applied = %v, want %d", got, last)
	}
	if got := testutil.ToFloat64(r.m.batches.WithLabelValues(DirectoryName)); got < 1 {
		t.Errorf("batches = %v", got)
	}
	if got := testutil.ToFloat64(r.m.lag.WithLabelValues(DirectoryName)); got != 0 {
		t.Errorf("directory lag = %v, want 0", got)
	}
	if err := r.Wait(context.Background(), "bad", 1); !errors.Is(err, ErrFailed) {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(r.m.failures.WithLabelValues("bad")); got != 1 {
		t.Errorf("failures = %v, want 1", got)
	}
	if n, err := testutil.GatherAndCount(b.reg, "rivetflow_projection_lag"); err != nil || n != 3 {
		t.Errorf("lag series = %d, %v; want 3 (directory, versions, bad)", n, err)
	}
}

func TestStartStopStress(t *testing.T) {
	t.Parallel()
	r, b := setup(t)
	mustRegister(t, r, newCounts("counts", Filter{}))
	b.fill(t, "doc", 5, 50)
	startstoptest.Stress(context.Background(), t, r)
}
