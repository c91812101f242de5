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
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/actorstate"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

// crashChildEnv, when set to a data dir, turns the test binary into a child
// process that runs the built-in types over that dir and, from many
// goroutines, increments many counters and sends messages to many chat rooms
// forever, printing every acknowledged result, until it is killed. A
// counter's state is tiny (stored whole in each event); a room's grows with
// every message, so its events carry patches.
const crashChildEnv = "RIVETFLOW_ACTORS_CRASH_CHILD"

const (
	crashActors      = 64
	crashWorkers     = 12   // incrementing counters
	crashMinAcks     = 1500 // acknowledged increments per round before the kill
	crashRooms       = 8
	crashChatWorkers = 4   // sending chat messages
	crashMinMsgs     = 400 // acknowledged messages per round before the kill
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

func crashRoomKey(r int) []string { return []string{"crash-room", strconv.Itoa(r)} }

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
	rooms := make([]*actors.Handle, crashRooms)
	for r := range rooms {
		if rooms[r], _, err = cl.GetOrCreate(ctx, "chatRoom", crashRoomKey(r), nil); err != nil {
			die("create room", err)
		}
	}
	var out sync.Mutex
	// A unique text per message (per process, worker and count), about the
	// size of a real chat line, without spaces for the parent's scanner.
	run := time.Now().UnixNano()
	for w := range crashChatWorkers {
		go func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for i := 0; ; i++ {
				r := rng.IntN(crashRooms)
				text := fmt.Sprintf("m%d-w%d-%d:the-quick-brown-fox-jumps-over-the-lazy-dog", run, w, i)
				m, err := actors.Call[builtin.Message](ctx, rooms[r], "sendMessage", "crash", text)
				if err != nil {
					die("sendMessage", err)
				}
				out.Lock()
				fmt.Fprintf(os.Stdout, "MSG %d %s\n", r, m.Text)
				out.Unlock()
			}
		}()
	}
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

// crashAcks is what a child acknowledged: counts per counter, message texts
// per room.
type crashAcks struct {
	counts map[int][]int64
	msgs   map[int][]string
}

// runCrashChild starts the child on dir, waits for at least minAcks
// acknowledged increments and minMsgs acknowledged messages, kills it with
// SIGKILL mid-load and returns what it acknowledged.
func runCrashChild(t *testing.T, dir string, minAcks, minMsgs int) crashAcks {
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
	acked := crashAcks{counts: map[int][]int64{}, msgs: map[int][]string{}}
	count, msgs := 0, 0
	sc := bufio.NewScanner(stdout)
	scan := func() bool {
		if !sc.Scan() {
			return false
		}
		var a int
		var n int64
		var text string
		if _, err := fmt.Sscanf(sc.Text(), "ACK %d %d", &a, &n); err == nil {
			acked.counts[a] = append(acked.counts[a], n)
			count++
		} else if _, err := fmt.Sscanf(sc.Text(), "MSG %d %s", &a, &text); err == nil {
			acked.msgs[a] = append(acked.msgs[a], text)
			msgs++
		}
		return true
	}
	for (count < minAcks || msgs < minMsgs) && scan() {
	}
	if count < minAcks || msgs < minMsgs {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d acked increments and %d messages: %s", count, msgs, stderr.String())
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
// -9 while 12 goroutines increment 64 counters and 4 send messages to 8 chat
// rooms, twice. After each kill it restarts a runtime on the same dir and
// checks for every counter that its count equals the increments in the log,
// that those increments returned 1..k in log order, and that every count the
// child acknowledged is among them exactly once; for every room that its
// history is the messages of its log (whose events carry patches) and holds
// every acknowledged message exactly once. It then puts every actor to sleep
// and checks that snapshot.Rebuild of the log into a fresh store equals the
// runtime's snapshots byte for byte, and once more without the snapshot
// folder, that the counts and histories are the same.
func TestCrashEveryAcknowledgedActionExactlyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	all := crashAcks{counts: map[int][]int64{}, msgs: map[int][]string{}}
	for round := range 2 {
		start := time.Now()
		acked := runCrashChild(t, dir, crashMinAcks, crashMinMsgs)
		for a, acks := range acked.counts {
			all.counts[a] = append(all.counts[a], acks...)
		}
		for r, msgs := range acked.msgs {
			all.msgs[r] = append(all.msgs[r], msgs...)
		}
		b := &bundle{dir: dir, reg: builtin.Registry(), clock: newFakeClock()}
		b.opts = actors.RuntimeOptions{Logger: quietLogger(), Clock: b.clock, SweepInterval: time.Hour}
		b.start(t)
		name := fmt.Sprintf("round %d", round)
		counts := verifyCrash(t, b, all.counts, name)
		histories := verifyChat(t, b, all.msgs, name)
		crashCheckRebuild(t, b, name)
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
		for r := range crashRooms {
			if h := crashHistory(t, b, r); !reflect.DeepEqual(h, histories[r]) {
				t.Errorf("round %d, no snapshots: room %d holds %d messages, with snapshots %d (or they differ)", round, r, len(h), len(histories[r]))
			}
		}
		b.stop(t)
		t.Logf("round %d took %s", round, time.Since(start).Round(time.Millisecond))
		if t.Failed() {
			return
		}
	}
}

// crashEvents returns every event of the actor, from the log.
func crashEvents(t *testing.T, b *bundle, subj string) []*eventlog.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out []*eventlog.Event
	for after := uint64(0); ; {
		page, err := b.log.ReadActor(ctx, subj, after, 0)
		if err != nil {
			t.Fatalf("read %s: %v", subj, err)
		}
		if len(page) == 0 {
			return out
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
}

// verifyChat checks every room against its log and the acknowledged
// messages and returns the histories.
func verifyChat(t *testing.T, b *bundle, acked map[int][]string, round string) [][]builtin.Message {
	t.Helper()
	histories := make([][]builtin.Message, crashRooms)
	total, logged, patched := 0, 0, 0
	for r := range crashRooms {
		// The messages the log holds, in order, each once.
		var inLog []builtin.Message
		seen := map[string]int{}
		for _, ev := range crashEvents(t, b, propSubject(t, "chatRoom", crashRoomKey(r))) {
			if ev.Kind != eventlog.KindAction || ev.Action != "sendMessage" {
				continue
			}
			var m builtin.Message
			if err := json.Unmarshal(ev.Output, &m); err != nil {
				t.Fatalf("%s: room %d: event %d output %q: %v", round, r, ev.Seq, ev.Output, err)
			}
			if seen[m.Text]++; seen[m.Text] > 1 {
				t.Errorf("%s: room %d: message %q is in the log twice", round, r, m.Text)
			}
			if len(ev.Patch) > 0 {
				patched++
			}
			inLog = append(inLog, m)
		}
		// The woken room holds the last messages of its log, in order.
		histories[r] = crashHistory(t, b, r)
		want := inLog[max(0, len(inLog)-builtin.MaxChatHistory):]
		if !reflect.DeepEqual(histories[r], want) {
			t.Errorf("%s: room %d holds %d messages, its log the %d last of %d (or they differ)", round, r, len(histories[r]), len(want), len(inLog))
		}
		inHistory := map[string]int{}
		for _, m := range histories[r] {
			inHistory[m.Text]++
		}
		// Every acknowledged message is in the log exactly once, and in the
		// history unless the room's bound dropped it since.
		dropped := map[string]bool{}
		for _, m := range inLog[:len(inLog)-len(want)] {
			dropped[m.Text] = true
		}
		for _, text := range acked[r] {
			if seen[text] != 1 || (inHistory[text] != 1 && !dropped[text]) {
				t.Errorf("%s: room %d: acknowledged message %q is %d times in the history, %d in the log", round, r, text, inHistory[text], seen[text])
			}
		}
		total += len(acked[r])
		logged += len(inLog)
	}
	if patched == 0 {
		t.Errorf("%s: no sendMessage event carries a patch: the test no longer covers patched state", round)
	}
	t.Logf("%s: %d acknowledged messages over %d rooms all in their history exactly once (log: %d, %d of them patches)", round, total, crashRooms, logged, patched)
	return histories
}

func crashHistory(t *testing.T, b *bundle, r int) []builtin.Message {
	t.Helper()
	ctx := context.Background()
	h, err := b.rt.Client().Get(ctx, "chatRoom", crashRoomKey(r))
	if err != nil {
		t.Fatalf("get room %d: %v", r, err)
	}
	msgs, err := actors.Call[[]builtin.Message](ctx, h, "getHistory")
	if err != nil {
		t.Fatalf("getHistory of room %d: %v", r, err)
	}
	return msgs
}

// crashCheckRebuild puts every actor to sleep and checks that a rebuild of
// the log into a fresh store equals the runtime's snapshots byte for byte.
func crashCheckRebuild(t *testing.T, b *bundle, round string) {
	t.Helper()
	ftAsleep(t, b)
	if err := b.snaps.Flush(); err != nil {
		t.Fatal(err)
	}
	store, err := snapshot.Open(t.TempDir(), &snapshot.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := snapshot.Rebuild(ctx, b.log, store, snapshot.RebuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := func(s *snapshot.Store) map[string]actorstate.Snapshot {
		out := map[string]actorstate.Snapshot{}
		if err := s.Each(func(snap actorstate.Snapshot) error { out[snap.Actor] = snap; return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	runtime, rebuilt := all(b.snaps), all(store)
	if want := crashActors + crashRooms; len(rebuilt) != want || len(runtime) != want {
		t.Fatalf("%s: %d rebuilt snapshots and %d of the runtime, want %d", round, len(rebuilt), len(runtime), want)
	}
	for actor, want := range rebuilt {
		if got := runtime[actor]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %s: the runtime's snapshot (seq %d, %d bytes) differs from the rebuild of the log (seq %d, %d bytes)",
				round, actor, got.Seq, len(got.State), want.Seq, len(want.State))
		}
	}
	t.Logf("%s: rebuild of %d events equals the runtime's %d snapshots byte for byte", round, p.Scanned, len(runtime))
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
