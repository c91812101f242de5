package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
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
	opts                 actors.EnqueueOptions
}

func (f *fakeEnqueuer) EnqueueEffect(_ context.Context, queue string, body json.RawMessage, dedupID string, opts ...actors.EnqueueOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known[queue] {
		return fmt.Errorf("%w: %s", actors.ErrQueueNotFound, queue)
	}
	if len(opts) > 1 {
		return fmt.Errorf("%w: %d options", actors.ErrInvalidArgs, len(opts))
	}
	e := fakeEnqueue{queue: queue, body: string(body), dedupID: dedupID}
	if len(opts) == 1 {
		e.opts = opts[0]
	}
	f.calls = append(f.calls, e)
	return nil
}

func (f *fakeEnqueuer) performed() []fakeEnqueue {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeEnqueue(nil), f.calls...)
}

// enqueueType enqueues: enqueue(queue, body), enqueueWith(queue, body,
// key, priority, delayMs), enqueueThenFail(queue), tryEnqueue(kind) -> the
// error code (recording nothing).
func enqueueType() *actors.Type[ftState] {
	return ftType("ftenq", actors.Options[ftState]{MaxArgsBytes: 1024}).
		Action("enqueue", actors.Act2(func(c *actors.Context[ftState], queue string, body map[string]any) (int64, error) {
			c.State.Count++
			return c.State.Count, c.Enqueue(queue, body)
		})).
		Action("enqueueWith", actors.Act(func(c *actors.Context[ftState], a enqueueWithArgs) (int64, error) {
			c.State.Count++
			return c.State.Count, c.Enqueue(a.Queue, a.Body, actors.EnqueueOptions{Key: a.Key, Priority: a.Priority,
				Delay: time.Duration(a.DelayUs) * time.Microsecond})
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
			case "priorityHigh":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Priority: 6})
			case "priorityNegative":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Priority: -1})
			case "delayNegative":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Delay: -time.Second})
			case "delayTooLong":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Delay: actors.MaxEnqueueDelay + time.Millisecond})
			case "keyTooLong":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Key: strings.Repeat("k", actors.MaxEnqueueKeyBytes+1)})
			case "keyControl":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Key: "a\nb"})
			case "keyNotUTF8":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{Key: "\xff"})
			case "twoOptions":
				err = c.Enqueue("jobs", 1, actors.EnqueueOptions{}, actors.EnqueueOptions{})
			}
			var re *actors.Error
			if errors.As(err, &re) {
				return re.Code, nil
			}
			return fmt.Sprint(err), nil
		}))
}

type enqueueWithArgs struct {
	Queue    string         `json:"queue"`
	Body     map[string]any `json:"body"`
	Key      string         `json:"key"`
	Priority int            `json:"priority"`
	DelayUs  int64          `json:"delayUs"`
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
	if got := enq.performed()[0]; got != (fakeEnqueue{queue: "jobs", body: `{"n":1}`, dedupID: id}) {
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
		"unencodable": "invalid_args", "tooLarge": "args_too_large", "priorityHigh": "invalid_args",
		"priorityNegative": "invalid_args", "delayNegative": "invalid_args", "delayTooLong": "invalid_args",
		"keyTooLong": "invalid_args", "keyControl": "invalid_args", "keyNotUTF8": "invalid_args", "twoOptions": "invalid_args"} {
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

// Options (key, priority, delay) are recorded in the effect and given to
// the Enqueuer on the fast path and from the outbox; the delay is kept in
// whole milliseconds, rounded up.
func TestFeatureEnqueueWithOptions(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{known: map[string]bool{"jobs": true}}
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Enqueuer = enq }, enqueueType())
	h := ftCreate(t, b, "ftenq", "a")
	ftCall[int64](t, h, "enqueueWith", enqueueWithArgs{Queue: "jobs", Body: map[string]any{"n": 1}, Key: "k1", Priority: 1, DelayUs: 1500})

	effs := enqueueEffects(t, b, h.ID)
	want := actors.EnqueueOptions{Key: "k1", Priority: 1, Delay: 2 * time.Millisecond}
	if len(effs) != 1 || effs[0].Key != "k1" || effs[0].Priority != 1 || effs[0].DelayMs != 2 || effs[0].Options() != want {
		t.Fatalf("recorded enqueues %+v, want one with key k1, priority 1, delayMs 2", effs)
	}
	ftEventually(t, "the fast path enqueued", func() bool { return len(enq.performed()) == 1 })
	if got := enq.performed()[0]; got != (fakeEnqueue{queue: "jobs", body: `{"n":1}`, dedupID: effs[0].EffectID, opts: want}) {
		t.Fatalf("performed %+v, want the options %+v", got, want)
	}
	// The outbox's path carries them too (a delivery this runtime did not
	// perform: another effect ID).
	d := effs[0]
	d.EffectID = "999999/0"
	if err := b.rt.DeliverEnqueue(ftCtx(t), d); err != nil {
		t.Fatal(err)
	}
	if got := enq.performed(); len(got) != 2 || got[1].opts != want || got[1].dedupID != "999999/0" {
		t.Fatalf("performed %+v, want the outbox's with the options", got)
	}
	// A delivery with options no queue takes is undeliverable.
	d.EffectID, d.Priority = "999999/1", 9
	if err := b.rt.DeliverEnqueue(ftCtx(t), d); !errors.Is(err, actors.ErrInvalidArgs) || !actors.EnqueueUndeliverable(err) {
		t.Fatalf("priority 9: %v, want invalid_args (undeliverable)", err)
	}
	d.Priority, d.DelayMs = 0, -1
	if err := b.rt.DeliverEnqueue(ftCtx(t), d); !actors.EnqueueUndeliverable(err) {
		t.Fatalf("negative delay: %v, want undeliverable", err)
	}
}

// An enqueue without options records the JSON it did before options
// existed, and an old event's effect decodes with zero options.
func TestFeatureEnqueueEffectJSONCompatible(t *testing.T) {
	t.Parallel()
	enq := &fakeEnqueuer{known: map[string]bool{"jobs": true}}
	b := ftSetup(t, func(o *actors.RuntimeOptions) { o.Enqueuer = enq }, enqueueType())
	h := ftCreate(t, b, "ftenq", "a")
	ftCall[int64](t, h, "enqueue", "jobs", map[string]any{"n": 1})
	var data string
	for _, ev := range ftEvents(t, b, h.ID) {
		for _, e := range ev.Effects {
			if e.Type == actors.EffectEnqueue {
				data = string(e.Data)
			}
		}
	}
	if data != `{"queue":"jobs","body":{"n":1}}` {
		t.Fatalf("effect data %s, want the pre-options encoding", data)
	}

	old := []byte(`{"queue":"jobs","body":[1,2]}`)
	q, err := actors.DecodeEnqueue(old)
	if err != nil || q.Queue != "jobs" || string(q.Body) != `[1,2]` || q.Options() != (actors.EnqueueOptions{}) {
		t.Fatalf("old effect decodes to %+v (%v), want zero options", q, err)
	}
	ev := &eventlog.Event{Seq: 7, Subject: ftSubject(h.ID), Effects: []eventlog.Effect{{Type: actors.EffectEnqueue, Data: old}}}
	if ds := actors.Enqueues(ev); len(ds) != 1 || ds[0].EffectID != "7/0" || ds[0].Options() != (actors.EnqueueOptions{}) {
		t.Fatalf("enqueues of an old event %+v", ds)
	}
	for _, bad := range []string{`{"queue":"jobs","body":1,"priority":7}`, `{"queue":"jobs","body":1,"delayMs":-5}`,
		`{"queue":"jobs","body":1,"delayMs":9223372036854775807}`, `{"queue":"jobs","body":1,"key":"a\u0000"}`} {
		if _, err := actors.DecodeEnqueue([]byte(bad)); !errors.Is(err, actors.ErrInvalidArgs) {
			t.Errorf("decode %s: %v, want invalid_args", bad, err)
		}
	}
}
