package actors_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ftQueueType has queues "jobs" (any sender) and "locked" (refused), and
// actions that take from them.
func ftQueueType(name string, opts actors.Options[ftState]) *actors.Type[ftState] {
	opts.Queues = map[string]actors.QueueSpec[ftState]{
		"jobs":   {},
		"locked": {CanPublish: func(c *actors.Context[ftState]) (bool, error) { return false, nil }},
	}
	return ftType(name, opts).
		Action("take", actors.Act(func(c *actors.Context[ftState], timeoutMs int64) ([]string, error) {
			msgs, err := c.Queue().NextBatch(c.Context(), actors.NextOptions{Names: []string{"jobs"}, Count: 10, Timeout: time.Duration(timeoutMs) * time.Millisecond})
			var out []string
			for _, m := range msgs {
				out = append(out, string(m.Body))
			}
			return out, err
		})).
		Action("takeAndComplete", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Completable: true})
			if err != nil || m == nil {
				return "", err
			}
			return string(m.Body), m.Complete(map[string]string{"echo": string(m.Body)})
		})).
		Action("holdWithoutComplete", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Completable: true, Timeout: time.Second})
			if err != nil || m == nil {
				return "", err
			}
			if _, err := c.Queue().TryNextBatch(actors.NextOptions{}); !errors.Is(err, actors.ErrMessageNotCompleted) {
				return "", errors.New("a second take while holding a completable message did not fail")
			}
			return string(m.Body), nil
		})).
		Action("sendSelf", actors.Act(func(c *actors.Context[ftState], body string) (uint64, error) {
			return c.Queue().Send("jobs", body)
		})).
		Action("kvKeys", actors.Act0(func(c *actors.Context[ftState]) (int, error) {
			return len(c.KV().List("")), nil
		}))
}

func TestQueueSendIsDurableAndTakenOnce(t *testing.T) {
	b := ftSetup(t, nil, ftQueueType("q", actors.Options[ftState]{}))
	h := ftCreate(t, b, "q", "a")
	for _, body := range []string{`"one"`, `"two"`} {
		if _, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(body), actors.QueueSendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := ftCall[int](t, h, "kvKeys"); n != 0 {
		t.Fatalf("the actor's KV shows %d keys: queue messages must stay hidden", n)
	}
	ftAsleep(t, b) // the messages outlive the instance: they are in the log
	if got := ftCall[[]string](t, h, "take", 0); len(got) != 2 || got[0] != `"one"` || got[1] != `"two"` {
		t.Fatalf("take = %v, want [\"one\" \"two\"] in order", got)
	}
	if got := ftCall[[]string](t, h, "take", 1); len(got) != 0 {
		t.Fatalf("second take = %v, want none (the first took them)", got)
	}
	st, err := h.QueueStatus(ftCtx(t), 0)
	if err != nil || st.Size != 0 {
		t.Fatalf("QueueStatus = %+v, %v; want empty", st, err)
	}
}

func TestQueueWaitingCallReceivesSend(t *testing.T) {
	waiting := make(chan struct{}, 1)
	typ := ftQueueType("q", actors.Options[ftState]{}).
		Action("signalThenTake", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			waiting <- struct{}{}
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Completable: true})
			if err != nil || m == nil {
				return "", err
			}
			return string(m.Body), m.Complete(map[string]string{"echo": string(m.Body)})
		}))
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "q", "a")
	type out struct {
		body string
		err  error
	}
	got := make(chan out, 1)
	go func() {
		raw, err := h.Action(ftCtx(t), "signalThenTake")
		var s string
		_ = json.Unmarshal(raw, &s)
		got <- out{s, err}
	}()
	// The call holds the mailbox while it waits; the send must still reach it.
	ftWait(t, waiting, "the call's wait")
	res, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`"ping"`), actors.QueueSendOptions{Wait: true, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != actors.QueueCompleted || string(res.Response) != `{"echo":"\"ping\""}` {
		t.Fatalf("send = %+v (response %s), want completed with the echo", res, res.Response)
	}
	if o := ftWait(t, got, "the waiting call"); o.err != nil || o.body != `"ping"` {
		t.Fatalf("takeAndComplete = %q, %v", o.body, o.err)
	}
}

func TestQueueCompletableIsRetakenUntilCompleted(t *testing.T) {
	b := ftSetup(t, nil, ftQueueType("q", actors.Options[ftState]{}))
	h := ftCreate(t, b, "q", "a")
	if _, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`7`), actors.QueueSendOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := ftCall[string](t, h, "holdWithoutComplete"); got != "7" {
		t.Fatalf("hold = %q", got)
	}
	if got := ftCall[string](t, h, "holdWithoutComplete"); got != "7" {
		t.Fatalf("a message held and not completed must be taken again; got %q", got)
	}
	res, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`8`), actors.QueueSendOptions{Wait: true, Timeout: 50 * time.Millisecond})
	if err != nil || res.Status != actors.QueueTimedOut {
		t.Fatalf("a wait nobody completes = %+v, %v; want timedOut", res, err)
	}
}

func TestQueueRefusalsChangeNothing(t *testing.T) {
	b := ftSetup(t, nil, ftQueueType("q", actors.Options[ftState]{MaxQueueSize: 2, MaxQueueMessageBytes: 16}))
	h := ftCreate(t, b, "q", "a")
	before := ftLastSeq(t, b, h.ID)
	for _, c := range []struct {
		queue, body string
		want        error
	}{
		{"nope", `1`, actors.ErrUnknownQueue},
		{"jobs", `"this body is longer than sixteen bytes"`, actors.ErrQueueMessageTooLarge},
		{"jobs", `"123456789ab"`, actors.ErrQueueMessageTooLarge}, // 4 + 13 bytes: one over
		{"jobs", `{`, actors.ErrInvalidArgs},
	} {
		if _, err := h.SendQueue(ftCtx(t), c.queue, json.RawMessage(c.body), actors.QueueSendOptions{}); !errors.Is(err, c.want) {
			t.Errorf("send %s to %s: %v, want %v", c.body, c.queue, err, c.want)
		}
	}
	var ue *actors.UserError
	if _, err := h.SendQueue(ftCtx(t), "locked", json.RawMessage(`1`), actors.QueueSendOptions{}); !errors.As(err, &ue) || ue.Code != "forbidden" {
		t.Errorf("send to a queue whose CanPublish refuses: %v, want forbidden", err)
	}
	if seq := ftLastSeq(t, b, h.ID); seq != before {
		t.Fatalf("refused sends appended events (last seq %d, was %d)", seq, before)
	}
	// At the limits: a name and body of exactly 16 bytes, and the second message.
	for _, body := range []string{`"123456789a"`, `1`} {
		if _, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(body), actors.QueueSendOptions{}); err != nil {
			t.Fatalf("send %s at the limits: %v", body, err)
		}
	}
	if _, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(`2`), actors.QueueSendOptions{}); !errors.Is(err, actors.ErrQueueFull) {
		t.Fatalf("send over MaxQueueSize: %v, want ErrQueueFull", err)
	}
}

func TestRunHandlerConsumesAndLetsActorSleep(t *testing.T) {
	started := make(chan struct{}, 4)
	stopped := make(chan error, 4)
	typ := ftQueueType("r", actors.Options[ftState]{Run: func(rc *actors.RunContext[ftState]) error {
		started <- struct{}{}
		for {
			m, err := rc.Queue().Next(actors.NextOptions{Names: []string{"jobs"}})
			if err != nil {
				stopped <- err
				return err
			}
			if err := rc.Do(func(c *actors.Context[ftState]) error {
				c.State.Log = append(c.State.Log, string(m.Body))
				return nil
			}); err != nil {
				stopped <- err
				return err
			}
		}
	}})
	b := ftSetup(t, nil, typ)
	h := ftCreate(t, b, "r", "a")
	ftWait(t, started, "the Run handler's start")
	for _, body := range []string{`1`, `2`, `3`} {
		if _, err := h.SendQueue(ftCtx(t), "jobs", json.RawMessage(body), actors.QueueSendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ftEventually(t, "the handler took all three", func() bool {
		st, err := actors.Call[ftState](context.Background(), h, "state")
		return err == nil && len(st.Log) == 3
	})
	ftAsleep(t, b) // a handler waiting for a message does not keep the actor awake
	if err := ftWait(t, stopped, "the handler's end at sleep"); !errors.Is(err, actors.ErrAborted) {
		t.Fatalf("handler ended with %v, want ErrAborted", err)
	}
	if st := ftCall[ftState](t, h, "state"); len(st.Log) != 3 || st.Log[2] != "3" {
		t.Fatalf("state after wake = %+v", st)
	}
	ftWait(t, started, "the Run handler's start on wake")
}
