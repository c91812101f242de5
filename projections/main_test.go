package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	// The benchmarks' log (benchLog) goes when the process ends.
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if applyLog.dir != "" {
			_ = os.RemoveAll(applyLog.dir)
		}
		os.Exit(code)
	}))
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testBundle is what setup hands a test besides the runner.
type testBundle struct {
	log  *eventlog.Log
	dir  string // the projections' folder
	opts Options
	reg  *prometheus.Registry

	mu   sync.Mutex
	last map[string]uint64 // per subject: the last sequence appended
	gen  map[string]uint64 // per subject: the current generation
}

// setup opens a real embedded log and a runner (not started) on temp dirs,
// all closed at cleanup. mutate may set options (hooks, signals, batch size).
func setup(t testing.TB, mutate ...func(*Options)) (*Runner, *testBundle) {
	t.Helper()
	b := &testBundle{log: openLog(t, t.TempDir()), reg: prometheus.NewRegistry(), last: map[string]uint64{}, gen: map[string]uint64{}}
	b.dir = filepath.Join(t.TempDir(), "projections")
	b.opts = Options{Logger: discardLogger(), Registerer: b.reg, HeadInterval: 50 * time.Millisecond, RetryBackoff: 10 * time.Millisecond}
	for _, f := range mutate {
		f(&b.opts)
	}
	return b.open(t), b
}

// open opens a runner on the bundle's folder, closed at cleanup.
func (b *testBundle) open(t testing.TB) *Runner {
	t.Helper()
	opts := b.opts
	r, err := Open(b.dir, b.log, &opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func openLog(t testing.TB, dir string) *eventlog.Log {
	t.Helper()
	l, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: dir, Logger: discardLogger()})
	if err != nil {
		t.Fatalf("open log: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Close(ctx); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	return l
}

// appendEv appends one event of kind to the actor, fenced, and returns its sequence.
func (b *testBundle) appendEv(t testing.TB, kind eventlog.Kind, action, typ string, key ...string) uint64 {
	t.Helper()
	subj, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if kind == eventlog.KindCreate {
		b.gen[subj]++
	}
	ev := &eventlog.Event{Kind: kind, Generation: b.gen[subj], Action: action, Args: []byte("[]"),
		Time: time.Unix(1_700_000_000+int64(b.last[subj]), 0).UTC()}
	seq, err := b.log.Append(context.Background(), subj, b.last[subj], ev)
	if err != nil {
		t.Fatalf("append to %s: %v", subj, err)
	}
	b.last[subj] = seq
	return seq
}

func (b *testBundle) create(t testing.TB, typ string, key ...string) uint64 {
	t.Helper()
	return b.appendEv(t, eventlog.KindCreate, "", typ, key...)
}

func (b *testBundle) act(t testing.TB, action, typ string, key ...string) uint64 {
	t.Helper()
	return b.appendEv(t, eventlog.KindAction, action, typ, key...)
}

func (b *testBundle) destroy(t testing.TB, typ string, key ...string) uint64 {
	t.Helper()
	return b.appendEv(t, eventlog.KindDestroy, "", typ, key...)
}

// fill appends n action events spread over actors of type typ (created first).
func (b *testBundle) fill(t testing.TB, typ string, actors, n int) uint64 {
	t.Helper()
	var last uint64
	for i := range n {
		key := "a" + strconv.Itoa(i%actors)
		if i < actors {
			last = b.create(t, typ, key)
		} else {
			last = b.act(t, "inc", typ, key)
		}
	}
	return last
}

func start(t testing.TB, r *Runner) {
	t.Helper()
	if err := r.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	<-r.Started()
}

func stop(t testing.TB, r *Runner) {
	t.Helper()
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// wait waits for the projection to commit seq.
func wait(t testing.TB, r *Runner, name string, seq uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Wait(ctx, name, seq); err != nil {
		t.Fatalf("Wait(%s, %d): %v", name, seq, err)
	}
}

func mustStatus(t testing.TB, r *Runner, name string) Status {
	t.Helper()
	st, err := r.Status(name)
	if err != nil {
		t.Fatalf("Status(%s): %v", name, err)
	}
	return st
}

// allRows reads every row of a projection, page by page.
func allRows(t testing.TB, r *Runner, name string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cursor := ""
	for {
		page, err := r.Rows(name, "", 7, cursor)
		if err != nil {
			t.Fatalf("Rows(%s): %v", name, err)
		}
		for _, row := range page.Rows {
			out[row.Key] = string(row.Value)
		}
		if page.NextCursor == "" {
			return out
		}
		cursor = page.NextCursor
	}
}

// counts is a user projection that counts events per actor and checks it
// sees every sequence once, in order (its row "seq" holds the last one).
type counts struct {
	*Definition[countRow]
	mu      sync.Mutex
	applied map[uint64]int // sequence -> times folded (across batches, commits or not)
	failOn  func(ev *eventlog.Event) error
}

type countRow struct {
	Events int    `json:"events"`
	Last   uint64 `json:"last"`
}

func newCounts(name string, filter Filter) *counts {
	c := &counts{applied: map[uint64]int{}}
	c.Definition = Define(name, filter, func(tx Tx[countRow], ev *eventlog.Event) error {
		c.mu.Lock()
		c.applied[ev.Seq]++
		failOn := c.failOn
		c.mu.Unlock()
		if failOn != nil {
			if err := failOn(ev); err != nil {
				return err
			}
		}
		all, _, err := tx.Get("_all")
		if err != nil {
			return err
		}
		if ev.Seq <= all.Last {
			return fmt.Errorf("sequence %d after %d: applied twice or out of order", ev.Seq, all.Last)
		}
		all.Events++
		all.Last = ev.Seq
		if err := tx.Put("_all", all); err != nil {
			return err
		}
		id := ev.Subject[len(eventlog.SubjectPrefix)+1:]
		row, _, err := tx.Get(id)
		if err != nil {
			return err
		}
		row.Events++
		row.Last = ev.Seq
		return tx.Put(id, row)
	})
	return c
}

func (c *counts) setFailOn(f func(ev *eventlog.Event) error) {
	c.mu.Lock()
	c.failOn = f
	c.mu.Unlock()
}

// timesApplied returns how many sequences were folded and the most times one was.
func (c *counts) timesApplied() (seqs, most int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.applied {
		most = max(most, n)
	}
	return len(c.applied), most
}

func mustRegister(t testing.TB, r *Runner, p Projection) {
	t.Helper()
	if err := r.Register(p); err != nil {
		t.Fatalf("Register(%s): %v", p.Name(), err)
	}
}
