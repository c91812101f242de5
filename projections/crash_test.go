package projections

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// A commit that fails (as a crash before it would) leaves exactly the
// previous batch: rows and checkpoint agree, and after a restart the rows
// equal a rebuild's.
func TestFailedCommitLeavesPreviousBatch(t *testing.T) {
	t.Parallel()
	var commits atomic.Int32
	r, b := setup(t, func(o *Options) {
		o.BatchSize = 10
		o.signals = &testSignals{}
		o.hooks = &testHooks{beforeCommit: func(name string, last uint64) error {
			if name == "counts" && commits.Add(1) == 3 {
				return errors.New("injected crash before commit")
			}
			return nil
		}}
	})
	b.opts.signals.failed.Init(t)
	mustRegister(t, r, newCounts("counts", Filter{}))
	last := b.fill(t, "doc", 7, 100)
	start(t, r)
	b.opts.signals.failed.WaitOrTimeout()
	st := mustStatus(t, r, "counts")
	if st.State != StateFailed || st.Checkpoint == 0 || st.Checkpoint >= last || !strings.Contains(st.Error, "injected crash") {
		t.Fatalf("status = %+v, want failed after two batches", st)
	}
	requireConsistent(t, r, st.Checkpoint)

	// Restart (a new process on the same folder): it resumes from 20.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b.opts.hooks = nil
	r2 := b.open(t)
	mustRegister(t, r2, newCounts("counts", Filter{}))
	start(t, r2)
	wait(t, r2, "counts", last)
	requireConsistent(t, r2, last)
	incremental := allRows(t, r2, "counts")
	if err := r2.Rebuild(context.Background(), "counts", nil); err != nil {
		t.Fatal(err)
	}
	requireSameRows(t, "counts", allRows(t, r2, "counts"), incremental)
}

// requireConsistent checks that the counts rows describe exactly the events
// up to checkpoint: none missing, none twice.
func requireConsistent(t *testing.T, r *Runner, checkpoint uint64) {
	t.Helper()
	rows := allRows(t, r, "counts")
	if checkpoint == 0 {
		if len(rows) != 0 {
			t.Fatalf("%d rows at checkpoint 0", len(rows))
		}
		return
	}
	var all countRow
	if err := jsonUnmarshal(rows["_all"], &all); err != nil {
		t.Fatalf(`row "_all": %v`, err)
	}
	if all.Last != checkpoint || all.Events != int(checkpoint) {
		t.Fatalf(`row "_all" = %+v, want %d events up to the checkpoint %d`, all, checkpoint, checkpoint)
	}
	sum := 0
	for k, v := range rows {
		if k == "_all" {
			continue
		}
		var row countRow
		if err := jsonUnmarshal(v, &row); err != nil {
			t.Fatal(err)
		}
		sum += row.Events
	}
	if sum != int(checkpoint) {
		t.Fatalf("per-actor rows count %d events, want %d", sum, checkpoint)
	}
}

// crashChildEnv, when set to "<log dir>|<projections dir>|<sync>", makes the test
// binary a child that folds the log and kills itself (SIGKILL) just before
// its fourth commit, in the middle of the catch-up. It prints the checkpoint
// of every batch it is about to commit.
const crashChildEnv = "RIVETFLOW_PROJECTIONS_CRASH_CHILD"

func crashChild() {
	args := strings.Split(os.Getenv(crashChildEnv), "|")
	logDir, dir, sync := args[0], args[1], args[2] == "sync"
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: logDir, Logger: discardLogger()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open log:", err)
		os.Exit(2)
	}
	var commits atomic.Int32
	r, err := Open(dir, l, &Options{Logger: discardLogger(), BatchSize: 10, Sync: sync, hooks: &testHooks{
		beforeCommit: func(name string, last uint64) error {
			if name != "counts" {
				return nil
			}
			if commits.Add(1) == 4 {
				fmt.Println("KILL", last)
				_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
			fmt.Println("COMMIT", last)
			return nil
		},
	}})
	if err == nil {
		err = r.Register(newCounts("counts", Filter{}))
	}
	if err == nil {
		err = r.Start(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	time.Sleep(time.Minute) // killed long before
	os.Exit(3)
}

// kill -9 in the middle of a batch (folded, not committed), then a restart:
// every event is folded exactly once, and the rows equal a rebuild's. With
// Sync the checkpoint is the last batch committed; without, Pebble may not
// have written the last commits when the process dies, and rows and
// checkpoint go back together.
func TestKillMidBatch(t *testing.T) {
	t.Parallel()
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprint("sync=", sync), func(t *testing.T) {
			t.Parallel()
			testKillMidBatch(t, sync)
		})
	}
}

func testKillMidBatch(t *testing.T, sync bool) {
	logDir, dir := t.TempDir(), filepath.Join(t.TempDir(), "projections")
	b := &testBundle{log: openLog(t, logDir), last: map[string]uint64{}, gen: map[string]uint64{}}
	last := b.fill(t, "doc", 9, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.log.Close(ctx); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	mode := map[bool]string{true: "sync", false: "nosync"}[sync]
	cmd.Env = append(os.Environ(), crashChildEnv+"="+logDir+"|"+dir+"|"+mode)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL; output:\n%s", err, out)
	}
	// The last COMMIT line is the checkpoint that survived the kill.
	var committed, killed uint64
	for _, line := range strings.Split(string(out), "\n") {
		fmt.Sscanf(line, "COMMIT %d", &committed)
		fmt.Sscanf(line, "KILL %d", &killed)
	}
	if committed == 0 || killed <= committed {
		t.Fatalf("child output:\n%s", out)
	}

	b.log = openLog(t, logDir)
	b.dir = dir
	b.opts = Options{Logger: discardLogger()}
	r := b.open(t)
	mustRegister(t, r, newCounts("counts", Filter{}))
	st := mustStatus(t, r, "counts")
	if st.Checkpoint > committed || (sync && st.Checkpoint != committed) {
		t.Fatalf("checkpoint after the kill = %d, want the last batch committed (%d) or, without sync, one before", st.Checkpoint, committed)
	}
	requireConsistent(t, r, st.Checkpoint)
	start(t, r)
	wait(t, r, "counts", last)
	requireConsistent(t, r, last)
	incremental := allRows(t, r, "counts")
	if err := r.Rebuild(context.Background(), "counts", nil); err != nil {
		t.Fatal(err)
	}
	requireSameRows(t, "counts", allRows(t, r, "counts"), incremental)
}
