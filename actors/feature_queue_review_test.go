package actors_test

// Regression tests from the review of the actor queues.

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// A send that queued in the mailbox while the call ran, before it waited,
// reaches the wait at once (not after the call's timeout).
func TestQueueSendQueuedBeforeWaitReachesIt(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	typ := ftQueueType("q", actors.Options[ftState]{}).
		Action("busyThenTake", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			started <- struct{}{}
			<-gate
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Timeout: 2 * time.Second})
			if m == nil {
				return "none", err
			}
			return string(m.Body), err
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "q", "a")
	res := make(chan string, 1)
	go func() {
		raw, err := h.Action(ftCtx(t), "busyThenTake")
		res <- string(raw) + " err=" + errString(err)
	}()
	ftWait(t, started, "start")
	sent := make(chan error, 1)
	go func() {
		_, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`"early"`), actors.QueueSendOptions{})
		sent <- err
	}()
	time.Sleep(200 * time.Millisecond)
	close(gate)
	t0 := time.Now()
	got := ftWait(t, res, "call")
	if got != `"\"early\"" err=<nil>` || time.Since(t0) > time.Second {
		t.Fatalf("call returned %s after %v, want the early send at once", got, time.Since(t0))
	}
	if err := ftWait(t, sent, "send"); err != nil {
		t.Fatal(err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// A destroy refused as overloaded does not abort later queue waits.
func TestQueueRefusedDestroyAbortsNothing(t *testing.T) {
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	typ := ftQueueType("q", actors.Options[ftState]{MailboxSize: 1}).
		Action("block", actors.Act0(func(c *actors.Context[ftState]) (int, error) {
			started <- struct{}{}
			<-gate
			return 0, nil
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "q", "a")
	done := make(chan error, 2)
	go func() { _, err := h.Action(ftCtx(t), "block"); done <- err }()
	ftWait(t, started, "block")
	go func() { _, err := h.Action(ftCtx(t), "get"); done <- err }()
	time.Sleep(100 * time.Millisecond)
	if err := h.Destroy(ftCtx(t)); !errors.Is(err, actors.ErrOverloaded) {
		t.Fatalf("destroy on a full mailbox: %v, want ErrOverloaded", err)
	}
	close(gate)
	ftWait(t, done, "block")
	ftWait(t, done, "get")
	if raw, err := h.Action(ftCtx(t), "take", 100); err != nil {
		t.Fatalf("take after the refused destroy: %s %v, want no error", raw, err)
	}
}

// A sender waiting on a message of a destroyed actor is told so, and never
// gets the completion of the recreated actor's message of the same ID.
func TestQueueWaitEndsAtDestroy(t *testing.T) {
	b := ftSetup(t, nil, ftQueueType("q", actors.Options[ftState]{}))
	h := ftCreate(t, b, "q", "a")
	resA := make(chan string, 1)
	go func() {
		r, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`"from-A"`), actors.QueueSendOptions{Wait: true, Timeout: 5 * time.Second})
		resA <- r.Status + " " + string(r.Response) + " " + errString(err)
	}()
	time.Sleep(200 * time.Millisecond)
	if err := h.Destroy(ftCtx(t)); err != nil {
		t.Fatal(err)
	}
	h2 := ftCreate(t, b, "q", "a")
	if _, err := h2.SendQueue(ftCtx(t), "jobs", json.RawMessage(`"from-B"`), actors.QueueSendOptions{}); err != nil {
		t.Fatal(err)
	}
	ftCall[string](t, h2, "takeAndComplete")
	if got := ftWait(t, resA, "A"); !strings.Contains(got, "was destroyed") {
		t.Fatalf("sender A got %q, want the destroy", got)
	}
}
