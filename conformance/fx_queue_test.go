package conformance_test

// In-process checks of the queue, run and access-control fixtures
// (fx_queue.go, fx_run.go, fx_access.go), and regression tests of the
// runtime's queue behaviour the fixtures ran into. Names start with fxq.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/conformance"
)

// fxqNode starts a node serving reg (nil: the fixtures) and returns its
// client.
func fxqNode(t *testing.T, reg *actors.Registry) (context.Context, *actors.Client) {
	t.Helper()
	if reg == nil {
		var err error
		if reg, err = conformance.Registry(); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return ctx, n.Runtime().Client()
}

func fxqHandle(ctx context.Context, t *testing.T, cl *actors.Client, typ, key string) *actors.Handle {
	t.Helper()
	h, _, err := cl.GetOrCreate(ctx, typ, []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fxqCall calls action on h and returns its output as compact JSON.
func fxqCall(ctx context.Context, t *testing.T, h *actors.Handle, action string, args ...any) string {
	t.Helper()
	out, err := h.Action(ctx, action, args...)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	return string(out)
}

func fxqSend(ctx context.Context, t *testing.T, h *actors.Handle, name, body string) {
	t.Helper()
	if _, err := h.SendQueue(ctx, name, json.RawMessage(body), actors.QueueSendOptions{}); err != nil {
		t.Fatalf("send %s to %s: %v", body, name, err)
	}
}

func TestFxqQueueActorTakes(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	h := fxqHandle(ctx, t, cl, "queueActor", "takes")
	fxqSend(ctx, t, h, "greeting", `{"hello":"world"}`)
	if got := fxqCall(ctx, t, h, "receiveOne", "greeting"); got != `{"name":"greeting","body":{"hello":"world"}}` {
		t.Fatalf("receiveOne = %s", got)
	}
	fxqCall(ctx, t, h, "sendToSelf", "self", map[string]int{"value": 42})
	if got := fxqCall(ctx, t, h, "receiveOne", "self"); got != `{"name":"self","body":{"value":42}}` {
		t.Fatalf("receiveOne after sendToSelf = %s", got)
	}
	for _, b := range []string{"1", "2", "3"} {
		fxqSend(ctx, t, h, map[string]string{"1": "a", "2": "b", "3": "c"}[b], b)
	}
	if got := fxqCall(ctx, t, h, "receiveMany", []string{"a", "b"}, map[string]int{"count": 2}); got != `[{"name":"a","body":1},{"name":"b","body":2}]` {
		t.Fatalf("receiveMany = %s", got)
	}
	if got := fxqCall(ctx, t, h, "receiveMany", []string{"missing"}, map[string]int{"timeout": 20}); got != `[]` {
		t.Fatalf("receiveMany with a timeout = %s", got)
	}
	if got := fxqCall(ctx, t, h, "tryReceiveMany", map[string]any{"names": []string{"missing"}, "count": 1}); got != `[]` {
		t.Fatalf("tryReceiveMany = %s", got)
	}
	if got := fxqCall(ctx, t, h, "waitForSignalAbort"); got != `{"group":"actor","code":"aborted"}` {
		t.Fatalf("waitForSignalAbort = %s", got)
	}
	if got := fxqCall(ctx, t, h, "iterWithSignalAbort"); got != `{"ok":true}` {
		t.Fatalf("iterWithSignalAbort = %s", got)
	}
	fxqSend(ctx, t, h, "twice", `{"value":"test"}`)
	if got := fxqCall(ctx, t, h, "receiveAndCompleteTwice", "twice"); got != `{"group":"queue","code":"already_completed"}` {
		t.Fatalf("receiveAndCompleteTwice = %s", got)
	}
	fxqSend(ctx, t, h, "tasks", `{"value":789}`)
	fxqCall(ctx, t, h, "receiveWithoutComplete", "tasks")
	if got := fxqCall(ctx, t, h, "receiveOne", "tasks", map[string]int{"timeout": 1000}); got != `{"name":"tasks","body":{"value":789}}` {
		t.Fatalf("a message taken and not completed must come again; got %s", got)
	}
}

func TestFxqQueueActorWaitingCall(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	h := fxqHandle(ctx, t, cl, "queueActor", "wait")
	done := make(chan string, 1)
	go func() {
		out, err := h.Action(ctx, "receiveAndComplete", "tasks")
		done <- fmt.Sprintf("%s %v", out, err)
	}()
	time.Sleep(50 * time.Millisecond) // let the call wait
	res, err := h.SendQueue(ctx, "tasks", json.RawMessage(`{"value":123}`), actors.QueueSendOptions{Wait: true, Timeout: 5 * time.Second})
	if err != nil || res.Status != actors.QueueCompleted || string(res.Response) != `{"echo":{"value":123}}` {
		t.Fatalf("send = %+v (%s), %v", res, res.Response, err)
	}
	if got := <-done; got != `{"name":"tasks","body":{"value":123}} <nil>` {
		t.Fatalf("receiveAndComplete = %s", got)
	}
}

func TestFxqQueueActorAbort(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	for _, c := range []struct{ action, want string }{
		{"waitForAbort", ""},
		{"waitForActorAbortWithSignal", `{"group":"actor","code":"aborted"}`},
	} {
		h := fxqHandle(ctx, t, cl, "queueActor", c.action)
		start := time.Now()
		out, err := h.Action(ctx, c.action)
		if time.Since(start) > 5*time.Second {
			t.Errorf("%s took %s: the destroy did not end the wait", c.action, time.Since(start))
		}
		if c.want == "" {
			if !errors.Is(err, actors.ErrAborted) {
				t.Errorf("%s = %s, %v; want ErrAborted", c.action, out, err)
			}
		} else if err != nil || string(out) != c.want {
			t.Errorf("%s = %s, %v; want %s", c.action, out, err, c.want)
		}
	}
}

func TestFxqManyQueueChildDrains(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	parent := fxqHandle(ctx, t, cl, "manyQueueActionParentActor", "p")
	if got := fxqCall(ctx, t, parent, "spawnChild", "kid"); got != `{"key":"kid"}` {
		t.Fatalf("spawnChild = %s", got)
	}
	child := fxqHandle(ctx, t, cl, "manyQueueChildActor", "kid")
	const n = 128
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := child.SendQueue(ctx, fmt.Sprintf("cmd.%d", i%32), json.RawMessage(fmt.Sprintf(`{"index":%d}`, i)), actors.QueueSendOptions{})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var snap struct {
		Label     string   `json:"label"`
		Started   bool     `json:"started"`
		Processed []string `json:"processed"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		_ = json.Unmarshal([]byte(fxqCall(ctx, t, child, "getSnapshot")), &snap)
		if len(snap.Processed) >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !snap.Started || len(snap.Processed) != n || snap.Label != "kid" {
		t.Fatalf("snapshot: started %v, label %q, %d processed; want %d", snap.Started, snap.Label, len(snap.Processed), n)
	}
	res, err := child.SendQueue(ctx, "cmd.0", json.RawMessage(`{"index":128}`), actors.QueueSendOptions{Wait: true, Timeout: 5 * time.Second})
	if err != nil || res.Status != actors.QueueCompleted || string(res.Response) != `{"index":128,"ok":true}` {
		t.Fatalf("send with wait = %+v (%s), %v", res, res.Response, err)
	}
}

func TestFxqRunQueueConsumer(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	h := fxqHandle(ctx, t, cl, "runWithQueueConsumer", "c")
	for i := 1; i <= 3; i++ {
		fxqCall(ctx, t, h, "sendMessage", map[string]int{"value": i})
	}
	var st struct {
		MessagesReceived []struct {
			Body struct{ Value int } `json:"body"`
		} `json:"messagesReceived"`
		RunStarted bool `json:"runStarted"`
	}
	for deadline := time.Now().Add(5 * time.Second); len(st.MessagesReceived) < 3 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		_ = json.Unmarshal([]byte(fxqCall(ctx, t, h, "getState")), &st)
	}
	if !st.RunStarted || len(st.MessagesReceived) != 3 || st.MessagesReceived[2].Body.Value != 3 {
		t.Fatalf("state = %+v", st)
	}
}

func TestFxqAccessControlQueues(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	h := fxqHandle(ctx, t, cl, "accessControlActor", "q")
	fxqSend(ctx, t, h, "allowedQueue", `{"value":"one"}`)
	if id := fxqCall(ctx, t, h, "allowedGetLastCanPublishConnId"); id == `""` {
		t.Fatalf("CanPublish's connection ID was not kept")
	}
	var ue *actors.UserError
	if _, err := h.SendQueue(ctx, "blockedQueue", json.RawMessage(`1`), actors.QueueSendOptions{}); !errors.As(err, &ue) || ue.Code != "forbidden" {
		t.Fatalf("send to blockedQueue: %v", err)
	}
	if got := fxqCall(ctx, t, h, "allowedReceiveQueue"); got != `{"value":"one"}` {
		t.Fatalf("allowedReceiveQueue = %s", got)
	}
	if got := fxqCall(ctx, t, h, "allowedReceiveAnyQueue"); got != `null` {
		t.Fatalf("allowedReceiveAnyQueue = %s", got)
	}
}

// Regression tests of the runtime's queue behaviour the fixtures ran into.

type fxqState struct{}

// fxqWaiting is signalled when a "wait" action is about to wait in Next.
var fxqWaiting = make(chan struct{}, 1)

// fxqRegType has queues x and y and, with hooks, refuses connections whose
// params are {"deny":true}; "wait" takes from y (waiting up to 5 s),
// "sendXThenWait" first puts a message on x, "sleep" sleeps.
func fxqRegType(slept chan<- struct{}, hooks bool) *actors.Type[fxqState] {
	wait := func(c *actors.Context[fxqState]) (uint64, error) {
		fxqWaiting <- struct{}{}
		m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"y"}, Timeout: 5 * time.Second})
		if err != nil || m == nil {
			return 0, err
		}
		return m.ID, nil
	}
	opts := actors.Options[fxqState]{
		Queues: map[string]actors.QueueSpec[fxqState]{"x": {}, "y": {}},
		OnSleep: func(c *actors.Context[fxqState]) error {
			if slept != nil {
				slept <- struct{}{}
			}
			return nil
		},
	}
	if hooks {
		opts.OnBeforeConnect = func(c *actors.Context[fxqState], params json.RawMessage) error {
			var p struct{ Deny bool }
			_ = json.Unmarshal(params, &p)
			if p.Deny {
				return actors.NewUserError("forbidden", "denied by OnBeforeConnect", nil)
			}
			return nil
		}
	}
	return actors.NewType("fxqReg", opts).
		Action("wait", actors.Act0(wait)).
		Action("sendXThenWait", actors.Act0(func(c *actors.Context[fxqState]) (uint64, error) {
			if _, err := c.Queue().Send("x", 1); err != nil {
				return 0, err
			}
			return wait(c)
		})).
		Action("takePlainAndComplete", actors.Act0(func(c *actors.Context[fxqState]) (bool, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"y"}, Timeout: 5 * time.Second})
			if err != nil || m == nil {
				return false, err
			}
			return true, m.Complete("done")
		})).
		Action("waitTwiceForAbort", actors.Act0(func(c *actors.Context[fxqState]) (string, error) {
			// Ask for our own destroy, then wait twice: RivetKit's actor
			// abort signal stays aborted, so its second next throws at once.
			h, err := c.Client().Ref(c.ActorID())
			if err != nil {
				return "", err
			}
			go func() {
				time.Sleep(10 * time.Millisecond)
				_ = h.Destroy(context.Background())
			}()
			_, err1 := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"y"}, Timeout: 5 * time.Second})
			start := time.Now()
			_, err2 := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"y"}, Timeout: 2 * time.Second})
			return fmt.Sprintf("first aborted: %v; second aborted: %v after %s", errors.Is(err1, actors.ErrAborted),
				errors.Is(err2, actors.ErrAborted), time.Since(start).Round(100*time.Millisecond)), nil
		})).
		Action("sleep", actors.Act0(func(c *actors.Context[fxqState]) (bool, error) {
			c.Sleep()
			return true, nil
		}))
}

func fxqRegNode(t *testing.T, slept chan<- struct{}, hooks bool) (context.Context, *actors.Handle) {
	reg, err := actors.NewRegistry(fxqRegType(slept, hooks))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cl := fxqNode(t, reg)
	return ctx, fxqHandle(ctx, t, cl, "fxqReg", t.Name())
}

// fxqWaitThenSend runs action in the background, waits until it waits in
// Next, and sends body to y with params.
func fxqWaitThenSend(ctx context.Context, t *testing.T, h *actors.Handle, action, params string) (<-chan error, actors.QueueSendResult, error) {
	done := make(chan error, 1)
	go func() {
		_, err := h.Action(ctx, action)
		done <- err
	}()
	select {
	case <-fxqWaiting:
	case <-time.After(5 * time.Second):
		t.Fatal("the action did not start waiting")
	}
	time.Sleep(20 * time.Millisecond) // into Next's wait
	o := actors.QueueSendOptions{}
	if params != "" {
		o.Params = json.RawMessage(params)
	}
	res, err := h.SendQueue(ctx, "y", json.RawMessage(`2`), o)
	return done, res, err
}

// A send that OnBeforeConnect refuses is refused also when it arrives while
// a call waits in Next (it is not handed to the call: its hooks need a turn).
func TestFxqHookedSendNotHandedToWaitingCall(t *testing.T) {
	ctx, h := fxqRegNode(t, nil, true)
	if _, err := h.SendQueue(ctx, "y", json.RawMessage(`1`), actors.QueueSendOptions{Params: json.RawMessage(`{"deny":true}`)}); err == nil {
		t.Fatal("setup: an idle actor accepted a send its OnBeforeConnect refuses")
	}
	done, _, err := fxqWaitThenSend(ctx, t, h, "wait", `{"deny":true}`)
	<-done
	if err == nil {
		t.Fatal("a send OnBeforeConnect refuses was accepted because a call was waiting in Next")
	}
}

// Message IDs are not reused after a wake: a call that sends to its own
// queue and then waits in Next commits the counter as the highest ID handed
// out, not its own Send's, though a send handed to it wrote a higher one.
func TestFxqQueueIDNotReusedAfterWake(t *testing.T) {
	slept := make(chan struct{}, 4)
	ctx, h := fxqRegNode(t, slept, false)
	done, res, err := fxqWaitThenSend(ctx, t, h, "sendXThenWait", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	handedID := res.ID // taken by the call: gone from the queue
	fxqCall(ctx, t, h, "sleep")
	select {
	case <-slept:
	case <-time.After(5 * time.Second):
		t.Fatal("the actor did not sleep")
	}
	time.Sleep(50 * time.Millisecond)
	res2, err := h.SendQueue(ctx, "x", json.RawMessage(`3`), actors.QueueSendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res2.ID <= handedID {
		t.Fatalf("message ID %d handed out again after the wake (the handed send had %d)", res2.ID, handedID)
	}
}

// A call that goes on waiting after its wait ended with ErrAborted (a
// destroy is queued behind it) fails at once again, as RivetKit's abort
// signal stays aborted.
func TestFxqNextAfterAbortFailsAtOnce(t *testing.T) {
	ctx, h := fxqRegNode(t, nil, false)
	out := fxqCall(ctx, t, h, "waitTwiceForAbort")
	if out != `"first aborted: true; second aborted: true after 0s"` {
		t.Fatalf("waitTwiceForAbort = %s; want the second Next to fail at once with ErrAborted", out)
	}
}

// Complete of a message taken without Completable answers its waiting sender.
func TestFxqCompleteOfPlainMessageAnswersSender(t *testing.T) {
	ctx, h := fxqRegNode(t, nil, false)
	done := make(chan error, 1)
	go func() {
		_, err := h.Action(ctx, "takePlainAndComplete")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	res, err := h.SendQueue(ctx, "y", json.RawMessage(`1`), actors.QueueSendOptions{Wait: true, Timeout: time.Second})
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil || res.Status != actors.QueueCompleted {
		t.Fatalf("send with wait = %+v, %v; the doc says Complete answers the sender", res, err)
	}
}
