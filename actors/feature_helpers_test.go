package actors_test

// Shared helpers of the feature_*_test.go files. Every name starts with ft so
// that it cannot collide with helpers of the other test files of the package.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/testsignal"
)

// ftWaitLimit bounds every wait on a signal; reaching it fails the test.
const ftWaitLimit = 15 * time.Second

// ftState is the state of the test actor types.
type ftState struct {
	Count int64    `json:"count"`
	Text  string   `json:"text,omitempty"`
	Log   []string `json:"log,omitempty"`
}

// ftCtx is the context for test calls: bounded so that a hung call fails.
func ftCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), ftWaitLimit)
	t.Cleanup(cancel)
	return ctx
}

// ftType returns a type named name with the basic actions: inc(n) -> count,
// get() -> count, state() -> state, setText(s) -> text, fail(kind) (mutates the
// count, then fails as kind says: "user", "plain", "panic", "userPanic").
func ftType(name string, opts actors.Options[ftState]) *actors.Type[ftState] {
	return actors.NewType(name, opts).
		Action("inc", actors.Act(func(c *actors.Context[ftState], n int64) (int64, error) {
			c.State.Count += n
			return c.State.Count, nil
		})).
		Action("get", actors.Act0(func(c *actors.Context[ftState]) (int64, error) {
			return c.State.Count, nil
		})).
		Action("state", actors.Act0(func(c *actors.Context[ftState]) (ftState, error) {
			return *c.State, nil
		})).
		Action("setText", actors.Act(func(c *actors.Context[ftState], s string) (string, error) {
			c.State.Text = s
			return s, nil
		})).
		Action("fail", actors.Act(func(c *actors.Context[ftState], kind string) (int64, error) {
			c.State.Count += 1000
			c.State.Log = append(c.State.Log, "fail")
			switch kind {
			case "user":
				return 0, ftUserErr
			case "userPanic":
				panic(ftUserErr)
			case "panic":
				panic("secret panic value")
			default:
				return 0, errors.New("secret database password")
			}
		}))
}

// ftUserErr is the UserError the fail action returns.
var ftUserErr = actors.NewUserError("quota_exceeded", "you are over quota", map[string]any{"limit": float64(3)})

// ftRegistry returns a registry of defs.
func ftRegistry(t testing.TB, defs ...actors.Definition) *actors.Registry {
	t.Helper()
	reg, err := actors.NewRegistry(defs...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// ftSetup starts a bundle serving defs.
func ftSetup(t testing.TB, mutate func(*actors.RuntimeOptions), defs ...actors.Definition) *bundle {
	t.Helper()
	if mutate == nil {
		return setup(t, ftRegistry(t, defs...))
	}
	return setup(t, ftRegistry(t, defs...), mutate)
}

// ftCreate gets or creates the actor and fails the test on error.
func ftCreate(t testing.TB, b *bundle, typ string, key ...string) *actors.Handle {
	t.Helper()
	h, _, err := b.rt.Client().GetOrCreate(ftCtx(t), typ, key, nil)
	if err != nil {
		t.Fatalf("getOrCreate %s %v: %v", typ, key, err)
	}
	return h
}

// ftCall calls an action that must succeed and returns its decoded output.
func ftCall[R any](t testing.TB, h *actors.Handle, action string, args ...any) R {
	t.Helper()
	out, err := actors.Call[R](ftCtx(t), h, action, args...)
	if err != nil {
		shown := fmt.Sprintf("%v", args)
		if len(shown) > 80 {
			shown = shown[:80] + "..."
		}
		t.Fatalf("%s(%s): %v", action, shown, err)
	}
	return out
}

// ftSubject returns the log subject of the actor with ID id.
func ftSubject(id string) string { return eventlog.SubjectPrefix + "." + id }

// ftEvents returns every event of the actor with ID id, from the log.
func ftEvents(t testing.TB, b *bundle, id string) []*eventlog.Event {
	t.Helper()
	var out []*eventlog.Event
	var after uint64
	for {
		evs, err := b.log.ReadActor(ftCtx(t), ftSubject(id), after, 0)
		if err != nil {
			t.Fatalf("read events of %s: %v", id, err)
		}
		if len(evs) == 0 {
			return out
		}
		out = append(out, evs...)
		after = evs[len(evs)-1].Seq
	}
}

// ftLastSeq returns the sequence of the actor's last event (0: none).
func ftLastSeq(t testing.TB, b *bundle, id string) uint64 {
	t.Helper()
	seq, err := b.log.LastSubjectSeq(ftCtx(t), ftSubject(id))
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// ftWait waits for ch to be closed or to deliver.
func ftWait[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ftWaitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
	var zero T
	return zero
}

// ftEventually polls cond until it holds. It is for states the runtime
// reaches asynchronously with no one signal to wait on (every actor asleep);
// for one actor leaving memory, wait on its signal with ftLeft.
func ftEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(ftWaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// ftLeft waits for the signal that actor id left memory, then checks how many
// actors remain awake (unless awake is negative).
func ftLeft(t testing.TB, b *bundle, left *testsignal.Signal[string], id string, awake int) {
	t.Helper()
	if got := left.WaitOrTimeout(); got != id {
		t.Fatalf("actor %q left memory, want %q", got, id)
	}
	if n := b.rt.Awake(); awake >= 0 && n != awake {
		t.Fatalf("%d actors awake after %s left, want %d", n, id, awake)
	}
}

// ftAsleep puts every actor idle past its timeout to sleep and waits until no
// actor is in memory.
func ftAsleep(t testing.TB, b *bundle) {
	t.Helper()
	b.clock.Advance(24 * time.Hour)
	ftEventually(t, "every actor is asleep", func() bool {
		b.rt.SleepIdle()
		return b.rt.Awake() == 0
	})
}

// ftJSON encodes v.
func ftJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ftLogBuffer collects log lines, safe for concurrent writes.
type ftLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *ftLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *ftLogBuffer) Contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// ftCaptureLogs makes the runtime log into the returned buffer.
func ftCaptureLogs(buf *ftLogBuffer) func(*actors.RuntimeOptions) {
	return func(o *actors.RuntimeOptions) { o.Logger = slog.New(slog.NewTextHandler(buf, nil)) }
}
