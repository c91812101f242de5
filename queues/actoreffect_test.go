package queues_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/queues"
)

// EnqueueEffect enqueues once per dedup ID and maps the queue's refusals
// to the errors the runtime and the outbox classify.
func TestEnqueueEffect(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	b.put(t, "jobs", queues.Config{MaxMessages: 2, MaxMessageBytes: 64})
	for range 3 {
		if err := b.m.EnqueueEffect(c, "jobs", []byte(`{"n":1}`), "7/0"); err != nil {
			t.Fatalf("enqueue effect: %v", err)
		}
	}
	if got := b.claimN(t, "jobs", 1); string(got[0].Body) != `{"n":1}` {
		t.Fatalf("claimed %+v, want the message", got)
	}
	if more := b.claim(t, "jobs", 10, 300*time.Millisecond); len(more) != 0 {
		t.Fatalf("claimed %d more: the dedup ID did not hold", len(more))
	}

	err := b.m.EnqueueEffect(c, "nope", []byte(`1`), "7/1")
	if !errors.Is(err, actors.ErrQueueNotFound) || !actors.EnqueueUndeliverable(err) || !errors.Is(err, queues.ErrNotFound) {
		t.Fatalf("unknown queue: %v, want ErrQueueNotFound (undeliverable)", err)
	}
	if err.Error() != "queue not found: nope" { // a dead letter's error: said once
		t.Errorf("unknown queue: message %q, want %q", err, "queue not found: nope")
	}
	err = b.m.EnqueueEffect(c, "jobs", []byte(`"`+strings.Repeat("x", 100)+`"`), "7/2")
	if !errors.Is(err, actors.ErrMessageTooLarge) || !actors.EnqueueUndeliverable(err) {
		t.Fatalf("too large: %v, want ErrMessageTooLarge (undeliverable)", err)
	}
	err = b.m.EnqueueEffect(c, "jobs", []byte(`{`), "7/3")
	if !errors.Is(err, actors.ErrInvalidArgs) || !actors.EnqueueUndeliverable(err) {
		t.Fatalf("bad body: %v, want ErrInvalidArgs (undeliverable)", err)
	}
	// Full: retried, not a dead letter.
	if err := b.m.EnqueueEffect(c, "jobs", []byte(`2`), "7/4"); err != nil {
		t.Fatal(err)
	}
	err = b.m.EnqueueEffect(c, "jobs", []byte(`3`), "7/5")
	if !errors.Is(err, queues.ErrFull) || actors.EnqueueUndeliverable(err) {
		t.Fatalf("full: %v, want ErrFull, retryable", err)
	}
}

// EnqueueEffect gives the message the actor's key, priority and delay, and
// maps options the queue refuses to ErrInvalidArgs (a dead letter).
func TestEnqueueEffectOptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := ctx(t)
	b.put(t, "jobs", queues.Config{})
	start := time.Now()
	if err := b.m.EnqueueEffect(c, "jobs", []byte(`"late"`), "8/0", actors.EnqueueOptions{Delay: 400 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if err := b.m.EnqueueEffect(c, "jobs", []byte(`"low"`), "8/1", actors.EnqueueOptions{Key: "k", Priority: 5}); err != nil {
		t.Fatal(err)
	}
	// Without options, as before.
	if err := b.m.EnqueueEffect(c, "jobs", []byte(`"plain"`), "8/2"); err != nil {
		t.Fatal(err)
	}
	got := map[string]queues.Message{}
	for len(got) < 2 {
		for _, msg := range b.claim(t, "jobs", 10, time.Second) {
			got[string(msg.Body)] = msg
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("claimed %+v, want low and plain", got)
		}
	}
	if m, ok := got[`"low"`]; !ok || m.Key != "k" || m.Priority != 5 {
		t.Fatalf("low: %+v, want key k, priority 5", m)
	}
	if m, ok := got[`"plain"`]; !ok || m.Key != "" || m.Priority != queues.DefaultPriority {
		t.Fatalf("plain: %+v, want no key, the default priority", m)
	}
	if _, early := got[`"late"`]; early {
		t.Fatal("the delayed message came before its delay")
	}
	late := b.claimOne(t, "jobs")
	if string(late.Body) != `"late"` || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("claimed %s after %s, want the delayed message after 400ms", late.Body, time.Since(start))
	}

	err := b.m.EnqueueEffect(c, "jobs", []byte(`1`), "8/3", actors.EnqueueOptions{Priority: 6})
	if !errors.Is(err, actors.ErrInvalidArgs) || !actors.EnqueueUndeliverable(err) || !errors.Is(err, queues.ErrInvalid) {
		t.Fatalf("priority 6: %v, want ErrInvalidArgs (undeliverable)", err)
	}
	err = b.m.EnqueueEffect(c, "jobs", []byte(`1`), "8/4", actors.EnqueueOptions{}, actors.EnqueueOptions{})
	if !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("two options: %v, want ErrInvalidArgs", err)
	}
}
