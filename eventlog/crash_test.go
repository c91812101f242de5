package eventlog_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// crashChildEnv, when set to a data dir, turns the test binary into a child
// process that appends to many actors forever and prints every acknowledged
// append, until it is killed.
const crashChildEnv = "RIVETFLOW_EVENTLOG_CRASH_CHILD"

// crashFsyncEnv picks the child's durability mode ("" = default).
const crashFsyncEnv = "RIVETFLOW_EVENTLOG_CRASH_FSYNC"

const crashActors = 64

func crashChild() {
	ctx := context.Background()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: os.Getenv(crashChildEnv), Logger: discardLogger(),
		Fsync: eventlog.FsyncMode(os.Getenv(crashFsyncEnv))})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		os.Exit(2)
	}
	var out sync.Mutex
	for a := range crashActors {
		go func() {
			subj, _ := eventlog.ActorRef{Type: "crash", Key: []string{strconv.Itoa(a)}}.Subject()
			// Resume after a previous run: the next counter follows the last event's.
			tail, err := l.ReadActor(ctx, subj, 0, 0)
			for err == nil && len(tail) == 1000 {
				var more []*eventlog.Event
				more, err = l.ReadActor(ctx, subj, tail[len(tail)-1].Seq, 0)
				tail = append(tail[:0], more...)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "child resume:", err)
				os.Exit(2)
			}
			var last, n uint64
			if len(tail) > 0 {
				last, n = tail[len(tail)-1].Seq, tail[len(tail)-1].Seed
			}
			for {
				n++
				seq, err := l.Append(ctx, subj, last, &eventlog.Event{Kind: eventlog.KindAction, Seed: n})
				if err != nil {
					fmt.Fprintln(os.Stderr, "child append:", err)
					os.Exit(2)
				}
				last = seq
				out.Lock()
				fmt.Fprintf(os.Stdout, "ACK %d %d %d\n", a, n, seq)
				out.Unlock()
			}
		}()
	}
	fmt.Fprintln(os.Stdout, "READY")
	select {}
}

type ack struct{ n, seq uint64 }

// runCrashChild starts the child on dir, waits for at least minAcks acknowledged
// appends, kills it with SIGKILL mid-load and returns what it acknowledged.
func runCrashChild(t *testing.T, dir string, minAcks int, fsync eventlog.FsyncMode) map[int][]ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashFsyncEnv+"="+string(fsync))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[int][]ack{}
	count := 0
	sc := bufio.NewScanner(stdout)
	for count < minAcks && sc.Scan() {
		var a int
		var k ack
		if _, err := fmt.Sscanf(sc.Text(), "ACK %d %d %d", &a, &k.n, &k.seq); err == nil {
			acked[a] = append(acked[a], k)
			count++
		}
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
	for sc.Scan() {
		var a int
		var k ack
		if _, err := fmt.Sscanf(sc.Text(), "ACK %d %d %d", &a, &k.n, &k.seq); err == nil {
			acked[a] = append(acked[a], k)
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return acked
}

// TestCrashKeepsEveryAcknowledgedAppend kills a real child process with -9 while
// 64 actors append concurrently, twice, and checks after each restart that every
// acknowledged event is in the log at its acknowledged sequence, in order, with
// no gaps or duplicates.
func TestCrashKeepsEveryAcknowledgedAppend(t *testing.T) {
	t.Parallel()
	// fsync always goes through group commit (atomic batches): it must keep
	// the same promise.
	for _, mode := range []eventlog.FsyncMode{eventlog.FsyncDefault, eventlog.FsyncAlways} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			all := map[int][]ack{}
			for round := range 2 {
				for a, acks := range runCrashChild(t, dir, 3000, mode) {
					all[a] = append(all[a], acks...)
				}
				verifyCrashLog(t, dir, all, round)
			}
		})
	}
}

func verifyCrashLog(t *testing.T, dir string, acked map[int][]ack, round int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := eventlog.Open(ctx, eventlog.Config{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatalf("round %d: reopen after kill -9: %v", round, err)
	}
	defer l.Close(ctx)
	total := 0
	for a := range crashActors {
		subj := subjectOf(t, "crash", strconv.Itoa(a))
		bySeq := map[uint64]uint64{}
		var prev uint64
		for after := uint64(0); ; {
			page, err := l.ReadActor(ctx, subj, after, 0)
			if err != nil {
				t.Fatalf("round %d: read actor %d: %v", round, a, err)
			}
			for _, ev := range page {
				if ev.Seed != prev+1 {
					t.Fatalf("round %d: actor %d: event %d carries counter %d after %d (gap or duplicate)", round, a, ev.Seq, ev.Seed, prev)
				}
				prev = ev.Seed
				bySeq[ev.Seq] = ev.Seed
			}
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1].Seq
		}
		for _, k := range acked[a] {
			if bySeq[k.seq] != k.n {
				t.Fatalf("round %d: actor %d: acknowledged counter %d at seq %d is missing (log has %d there)", round, a, k.n, k.seq, bySeq[k.seq])
			}
		}
		total += len(acked[a])
	}
	t.Logf("round %d: %d acknowledged appends all present after kill -9", round, total)
}
