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
	if got := b.claim(t, "jobs", 10, 200*time.Millisecond); len(got) != 1 || string(got[0].Body) != `{"n":1}` {
		t.Fatalf("claimed %+v, want one message", got)
	}

	err := b.m.EnqueueEffect(c, "nope", []byte(`1`), "7/1")
	if !errors.Is(err, actors.ErrQueueNotFound) || !actors.EnqueueUndeliverable(err) || !errors.Is(err, queues.ErrNotFound) {
		t.Fatalf("unknown queue: %v, want ErrQueueNotFound (undeliverable)", err)
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
