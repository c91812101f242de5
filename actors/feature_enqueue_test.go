package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// fakeEnqueuer records the enqueues performed; queues it does not know are
// actors.ErrQueueNotFound.
type fakeEnqueuer struct {
	mu    sync.Mutex
	known map[string]bool
	calls []fakeEnqueue
}

type fakeEnqueue struct {
	queue, body, dedupID string
}

func (f *fakeEnqueuer) EnqueueEffect(_ context.Context, queue string, body json.RawMessage, dedupID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known[queue] {
		return fmt.Errorf("%w: %s", actors.ErrQueueNotFound, queue)
	}
	f.calls = append(f.calls, fakeEnqueue{queue, string(body), dedupID})
	return nil
}

func (f *fakeEnqueuer) performed() []fakeEnqueue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeEnqueue(nil), f.calls...)
}

// enqueueType enqueues: enqueue(queue, body), enqueueThenFail(queue),
// tryEnqueue(kind) -> the error code (recording nothing).
func enqueueType() *actors.Type[ftState] {
	return ftType("ftenq", actors.Options[ftState]{MaxArgsBytes: 1024}).
		Action("enqueue", actors.Act2(func(c *actors.Context[ftState], queue string, body map[string]any) (int64, error) {
			c.State.Count++
			return c.State.Count, c.Enqueue(queue, body)
		})).
		Action("enqueueThenFail", actors.Act(func(c *actors.Context[ftState], queue string) (int64, error) {
			c.State.Count++
			if err := c.Enqueue(queue, "x"); err != nil {
				return 0, err
			}
			return 0, errors.New("changed my mind")
		})).
		Action("tryEnqueue", actors.Act(func(c *actors.Context[ftState], kind string) (string, error) {
			var err error
			switch kind {
			case "badName":
				err = c.Enqueue("9 bad.name", 1)
			case "emptyName":
				err = c.Enqueue("", 1)
			case "unencodable":
				err = c.Enqueue("jobs", func() {})
			case "tooLarge":
				err = c.Enqueue("jobs", strings.Repeat("x", 2000))
			}
			var re *actors.Error
			if errors.As(err, &re) {
				return re.Code, nil
			}
			return fmt.Sprint(err), nil
		}))
}

func enqueueEffects(t testing.TB, b *bundle, id string) []actors.EnqueueDelivery {
	t.Helper()
	var out []actors.EnqueueDelivery
	for _, ev := range ftEvents(t, b, id) {
		out = append(out, actors.Enqueues(ev)...)
	}
	return out
}

func TestFeatureEnqueueRecordedAndPerformedAfterTheAck(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{known: map[string]bool{"jobs": true}}
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Enqueuer = enq }, enqueueType())
	h := ftCreate(t, b, "ftenq", "a")
	ftCall[int64](t, h, "enqueue", "jobs", map[string]any{"n": 1})

	effs := enqueueEffects(t, b, h.ID)
	if len(effs) != 1 || effs[0].Queue != "jobs" || string(effs[0].Body) != `{"n":1}` || effs[0].From != h.ID {
		t.Fatalf("recorded enqueues %+v, want one into jobs", effs)
	}
	id := effs[0].EffectID
	ftEventually(t, "the fast path enqueued", func() bool { return len(enq.performed()) == 1 })
	if got := enq.performed()[0]; got != (fakeEnqueue{"jobs", `{"n":1}`, id}) {
		t.Fatalf("performed %+v, want the body with dedup ID %s", got, id)
	}
	// The outbox's delivery of what the fast path did performs nothing more.
	if err := b.rt.DeliverEnqueue(ftCtx(t), effs[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(enq.performed()); n != 1 {
		t.Fatalf("performed %d times, want 1", n)
	}
	// An unknown queue is undeliverable.
	d := effs[0]
	d.EffectID, d.Queue = "999999/0", "nope"
	if err := b.rt.DeliverEnqueue(ftCtx(t), d); !errors.Is(err, actors.ErrQueueNotFound) || !actors.EnqueueUndeliverable(err) {
		t.Fatalf("unknown queue: %v, want ErrQueueNotFound", err)
	}
}

func TestFeatureEnqueueNothingUnlessCommitted(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{known: map[string]bool{"jobs": true}}
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Enqueuer = enq }, enqueueType())
	h := ftCreate(t, b, "ftenq", "a")
	if _, err := actors.Call[int64](ftCtx(t), h, "enqueueThenFail", "jobs"); err == nil {
		t.Fatal("enqueueThenFail succeeded")
	}
	for kind, want := range map[string]string{"badName": "invalid_args", "emptyName": "invalid_args",
		"unencodable": "invalid_args", "tooLarge": "args_too_large"} {
		if got := ftCall[string](t, h, "tryEnqueue", kind); got != want {
			t.Errorf("tryEnqueue %s: %q, want %q", kind, got, want)
		}
	}
	if effs := enqueueEffects(t, b, h.ID); len(effs) != 0 {
		t.Fatalf("recorded %+v, want nothing", effs)
	}
	if got := ftCall[int64](t, h, "get"); got != 0 {
		t.Fatalf("count %d, want 0 (the failed action's change is dropped)", got)
	}
	ftCall[int64](t, h, "enqueue", "jobs", map[string]any{})
	ftEventually(t, "the fast path enqueued", func() bool { return len(enq.performed()) == 1 })
	if got := enq.performed()[0].body; got != `{}` {
		t.Fatalf("performed %q, want the committed enqueue only", got)
	}
}

// Without an Enqueuer nothing is performed on the fast path, and the
// outbox's delivery is undeliverable (a dead letter).
func TestFeatureEnqueueWithoutEnqueuer(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, enqueueType())
	h := ftCreate(t, b, "ftenq", "a")
	ftCall[int64](t, h, "enqueue", "jobs", map[string]any{"n": 1})
	effs := enqueueEffects(t, b, h.ID)
	if len(effs) != 1 {
		t.Fatalf("recorded %+v, want one", effs)
	}
	if err := b.rt.DeliverEnqueue(ftCtx(t), effs[0]); !actors.EnqueueUndeliverable(err) {
		t.Fatalf("deliver without an Enqueuer: %v, want undeliverable", err)
	}
}
