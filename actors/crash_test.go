package actors_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// crashChildEnv, when set to a data dir, turns the test binary into a child
// process that runs the built-in counter over that dir and increments many
// counters from many goroutines forever, printing every acknowledged result,
// until it is killed.
const crashChildEnv = "RIVETFLOW_ACTORS_CRASH_CHILD"

const (
	crashActors  = 64
	crashWorkers = 16
	crashMinAcks = 2000 // acknowledged increments per round before the kill
)

// childMain runs the test binary as a child process when asked to (see the
// crash test); it reports whether it did.
func childMain() bool {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		return false
	}
	crashChild(dir)
	return true
}

func crashKey(a int) []string { return []string{"crash", strconv.Itoa(a)} }

// crashChild never returns: it runs until the parent kills it, or exits 2 on
// any error (which the parent reports).
func crashChild(dir string) {
	die := func(what string, err error) {
		fmt.Fprintf(os.Stderr, "child %s: %v\n", what, err)
		os.Exit(2)
	}
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		die("open log", err)
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		die("open snapshots", err)
	}
	// Frequent snapshots and short idle times, so the kill also lands while
	// snapshots are written and actors sleep and wake.
	rt, err := actors.NewRuntime(l, snaps, builtin.Registry(), actors.RuntimeOptions{
		Logger: quietLogger(), SnapshotEvery: 7, IdleTimeout: 20 * time.Millisecond, SweepInterval: 10 * time.Millisecond,
	})
	if err == nil {
		err = rt.Start(ctx)
	}
	if err != nil {
		die("runtime", err)
	}
	cl := rt.Client()
	handles := make([]*actors.Handle, crashActors)
	for a := range handles {
		if handles[a], _, err = cl.GetOrCreate(ctx, "counter", crashKey(a), nil); err != nil {
			die("create", err)
		}
	}
	var out sync.Mutex
	for w := range crashWorkers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				// Skewed on purpose: low-numbered actors are hot, high ones go
				// idle and sleep between calls.
				a := min(rng.IntN(crashActors), rng.IntN(crashActors))
				n, err := actors.Call[int64](ctx, handles[a], "increment", 1)
				if err != nil {
					die("increment", err)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "ACK %d %d\n", a, n)
				out.Unlock()
			}
		}()
	}
	select {}
}

// runCrashChild starts the child on dir, waits for at least minAcks
// acknowledged increments, kills it with SIGKILL mid-load and returns the
// counts it acknowledged, per actor.
func runCrashChild(t *testing.T, dir string, minAcks int) map[int][]int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int][]int64{}
	count := 0
	sc := bufio.NewScanner(stdout)
	scan := func() bool {
		if !sc.Scan() {
			return false
		}
		var a int
		var n int64
		if _, err := fmt.Sscanf(sc.Text(), "ACK %d %d", &a, &n); err == nil {
			acked[a] = append(acked[a], n)
			count++
		}
		return true
	}
	for count < minAcks && scan() {
	}
	if count < minAcks {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d acks: %s", count, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Lines printed before the kill landed are acknowledged too: read them all.
	for scan() {
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return acked
}

// TestCrashEveryAcknowledgedActionExactlyOnce kills a real child process with
// -9 while 16 goroutines increment 64 counters, twice. After each kill it
// restarts a runtime on the same dir, then once more without the snapshot
// folder, and checks for every counter that its count equals the increments
// in the log, that those increments returned 1..k in log order, and that every
// count the child acknowledged is among them exactly once.
func TestCrashEveryAcknowledgedActionExactlyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	all := map[int][]int64{}
	for round := range 2 {
		for a, acks := range runCrashChild(t, dir, crashMinAcks) {
			all[a] = append(all[a], acks...)
		}
		b := &bundle{dir: dir, reg: builtin.Registry(), clock: newFakeClock()}
		b.opts = actors.RuntimeOptions{Logger: quietLogger(), Clock: b.clock, SweepInterval: time.Hour}
		b.start(t)
		counts := verifyCrash(t, b, all, fmt.Sprintf("round %d", round))
		b.stop(t)
		if err := os.RemoveAll(filepath.Join(dir, "snapshots")); err != nil {
			t.Fatal(err)
		}
		b.start(t)
		for a := range crashActors {
			if n := crashCount(t, b, a); n != counts[a] {
				t.Errorf("round %d, no snapshots: actor %d counts %d, with snapshots %d", round, a, n, counts[a])
			}
		}
		b.stop(t)
		if t.Failed() {
			return
		}
	}
}

// verifyCrash checks every counter against its log and the acknowledged
// counts and returns the counts.
func verifyCrash(t *testing.T, b *bundle, acked map[int][]int64, round string) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	counts := make([]int64, crashActors)
	total, logged := 0, int64(0)
	for a := range crashActors {
		subj := propSubject(t, "counter", crashKey(a))
		// Every increment in the log, in order, returned the next count.
		seen := map[int64]int{}
		var k int64
		for after := uint64(0); ; {
			page, err := b.log.ReadActor(ctx, subj, after, 0)
			if err != nil {
				t.Fatalf("%s: read actor %d: %v", round, a, err)
			}
			for _, ev := range page {
				if ev.Kind != eventlog.KindAction || ev.Action != "increment" {
					continue
				}
				var out int64
				if err := json.Unmarshal(ev.Output, &out); err != nil {
					t.Fatalf("%s: actor %d: event %d output %q: %v", round, a, ev.Seq, ev.Output, err)
				}
				k++
				if out != k {
					t.Fatalf("%s: actor %d: increment #%d (seq %d) returned %d (gap or duplicate)", round, a, k, ev.Seq, out)
				}
				seen[out]++
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
		// The woken actor agrees with its log.
		counts[a] = crashCount(t, b, a)
		if counts[a] != k {
			t.Errorf("%s: actor %d counts %d, its log holds %d increments", round, a, counts[a], k)
		}
		// Every acknowledged count is in the log exactly once, and no count
		// was acknowledged twice.
		ackedOnce := map[int64]bool{}
		for _, n := range acked[a] {
			if ackedOnce[n] {
				t.Errorf("%s: actor %d: count %d acknowledged twice", round, a, n)
			}
			ackedOnce[n] = true
			if seen[n] != 1 {
				t.Errorf("%s: actor %d: acknowledged count %d appears %d times in the log (of %d increments)", round, a, n, seen[n], k)
			}
		}
		total += len(acked[a])
		logged += k
	}
	// The log may hold a few more: appended, but killed before the reply.
	t.Logf("%s: %d acknowledged increments over %d actors all in the log exactly once (log: %d)", round, total, crashActors, logged)
	return counts
}

func crashCount(t *testing.T, b *bundle, a int) int64 {
	t.Helper()
	ctx := context.Background()
	h, err := b.rt.Client().Get(ctx, "counter", crashKey(a))
	if err != nil {
		t.Fatalf("get actor %d: %v", a, err)
	}
	n, err := actors.Call[int64](ctx, h, "getCount")
	if err != nil {
		t.Fatalf("getCount of actor %d: %v", a, err)
	}
	return n
}
