package workflows_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// echo takes n messages of queue "ask" one by one, completable, and
// completes each with {"echo": body}; it returns the bodies it saw.
func echo(name string, n int, opts workflows.Options) *workflows.Workflow[struct{}, []string] {
	return workflows.Define(name, func(w *workflows.W, _ struct{}) ([]string, error) {
		var seen []string
		for i := range n {
			m, err := w.Queue().Next(fmt.Sprintf("take-%d", i), workflows.NextOptions{Names: []string{"ask"}, Completable: true})
			if err != nil {
				return nil, err
			}
			seen = append(seen, string(m.Body))
			if err := m.Complete(map[string]json.RawMessage{"echo": m.Body}); err != nil {
				return nil, err
			}
		}
		return seen, nil
	}, opts)
}

// startRun starts run r1 of wf and returns its actor ID.
func startRun[In, Out any](t *testing.T, e *env, wf *workflows.Workflow[In, Out], in In) string {
	t.Helper()
	run, _, err := workflows.Start(context.Background(), e.eng, wf, "r1", in)
	if err != nil {
		t.Fatal(err)
	}
	return run.ActorID
}

// A waiting Send gets the response the run completes its message with,
// whether the run was parked on the wait (woken by the send) or the
// message was buffered before the wait.
func TestQueueSendWaitCompleted(t *testing.T) {
	t.Parallel()
	wf := echo("qecho", 3, workflows.Options{ParkAfter: 30 * time.Millisecond})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	run := e.waitStatus(t, "qecho", "r1", workflows.StatusWaiting)
	e.waitAsleep(t, run.ActorID)
	res, err := e.eng.Send(ctx, id, "ask", json.RawMessage(`"one"`), workflows.SendOptions{Wait: true, Timeout: 10 * time.Second})
	if err != nil || res.Status != workflows.SendCompleted || string(res.Response) != `{"echo":"one"}` || res.ID != 1 {
		t.Fatalf("send one: %+v (response %s), %v", res, res.Response, err)
	}
	// Without Wait: completed once committed; both are taken in order.
	for _, body := range []string{`"two"`, `"three"`} {
		if res, err := e.eng.Send(ctx, id, "ask", json.RawMessage(body), workflows.SendOptions{}); err != nil || res.Status != workflows.SendCompleted || res.Response != nil {
			t.Fatalf("send %s: %+v, %v", body, res, err)
		}
	}
	run = e.wait(t, "qecho", "r1")
	got, err := workflows.Result(wf, run)
	if err != nil || strings.Join(got, ",") != `"one","two","three"` {
		t.Fatalf("result %q, %v (run %+v, error %+v)", got, err, run, run.Error)
	}
}

// A waiting Send whose message nobody completes in time is timedOut; the
// message stays sent, and when the run ends without completing it the
// completion is null.
func TestQueueSendWaitTimedOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	taken := make(chan struct{}, 1)
	wf := workflows.Define("qslow", func(w *workflows.W, _ struct{}) (string, error) {
		m, err := w.Queue().Next("take", workflows.NextOptions{Names: []string{"ask"}, Completable: true})
		if err != nil {
			return "", err
		}
		if _, err := workflows.Step(w, "hold", func(ctx context.Context, s *workflows.StepContext) (bool, error) {
			taken <- struct{}{}
			<-release
			return true, nil
		}); err != nil {
			return "", err
		}
		return string(m.Body), nil // never completed: the run's end completes it
	}, workflows.Options{ParkAfter: time.Minute})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	res, err := e.eng.Send(ctx, id, "ask", json.RawMessage(`{"n":1}`), workflows.SendOptions{Wait: true, Timeout: 100 * time.Millisecond})
	if err != nil || res.Status != workflows.SendTimedOut || res.Response != nil {
		t.Fatalf("send: %+v, %v", res, err)
	}
	<-taken // the run took it and holds it, uncompleted
	// A second waiting send is completed (null) by the run's end.
	done := make(chan workflows.SendResult, 1)
	go func() {
		res, err := e.eng.Send(ctx, id, "other", nil, workflows.SendOptions{Wait: true, Timeout: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	for { // until the second message is in the inbox
		st, err := actors.Call[workflows.RunState](ctx, handle(t, e, "qslow"), "status")
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Inbox) == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	if res := <-done; res.Status != workflows.SendCompleted || string(res.Response) != "null" {
		t.Fatalf("send at the run's end: %+v", res)
	}
	run := e.wait(t, "qslow", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `{"n":1}` {
		t.Fatalf("result %q, %v", got, err)
	}
	if _, err := e.eng.Send(ctx, id, "ask", nil, workflows.SendOptions{}); !errors.Is(err, workflows.ErrRunFinished) {
		t.Fatalf("send to a finished run: %v", err)
	}
}

// handle returns a handle to run r1 of workflow name.
func handle(t *testing.T, e *env, name string) *actors.Handle {
	t.Helper()
	h, err := e.rt.Client().Get(context.Background(), name, []string{"r1"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A waiting Send to a wait that is not completable completes when the
// message is taken, with a null response (the run goes on waiting).
func TestQueueSendWaitNotCompletable(t *testing.T) {
	t.Parallel()
	wf := workflows.Define("qplain", func(w *workflows.W, _ struct{}) (string, error) {
		m, err := w.Queue().Next("take", workflows.NextOptions{})
		if err != nil {
			return "", err
		}
		if err := m.Complete("ignored"); err != nil || m.Completable {
			return "", fmt.Errorf("complete of a plain take: %v (completable %v)", err, m.Completable)
		}
		if _, _, err := w.WaitSignal("end", "end", 0); err != nil {
			return "", err
		}
		return m.Name + "=" + string(m.Body), nil
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	res, err := e.eng.Send(ctx, id, "any", json.RawMessage(`7`), workflows.SendOptions{Wait: true, Timeout: 10 * time.Second})
	if err != nil || res.Status != workflows.SendCompleted || string(res.Response) != "null" {
		t.Fatalf("send: %+v (response %s), %v", res, res.Response, err)
	}
	if run, err := e.eng.Get(ctx, "qplain", "r1"); err != nil || run.Status.Finished() {
		t.Fatalf("run after the send: %+v, %v", run, err)
	}
	if _, _, err := e.eng.Signal(ctx, "qplain", "r1", "end", nil); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "qplain", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != "any=7" {
		t.Fatalf("result %q, %v (error %+v)", got, err, run.Error)
	}
}

// NextBatch takes up to Count buffered messages of its names, oldest
// first, leaving the others; a Next for any name takes what is left in
// order; a Next with a timeout and nothing to take is ErrTimeout.
func TestQueueNextBatch(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	wf := workflows.Define("qbatch", func(w *workflows.W, _ struct{}) ([]string, error) {
		if _, err := workflows.Step(w, "gate", func(ctx context.Context, s *workflows.StepContext) (bool, error) {
			<-gate
			return true, nil
		}); err != nil {
			return nil, err
		}
		var out []string
		batch, err := w.Queue().NextBatch("batch", workflows.NextOptions{Names: []string{"a", "b"}, Count: 3})
		if err != nil {
			return nil, err
		}
		for _, m := range batch {
			out = append(out, m.Name+string(m.Body))
		}
		for i := range 2 {
			m, err := w.Queue().Next(fmt.Sprintf("rest-%d", i), workflows.NextOptions{})
			if err != nil {
				return nil, err
			}
			out = append(out, m.Name+string(m.Body))
		}
		if _, err := w.Queue().Next("none", workflows.NextOptions{Timeout: 20 * time.Millisecond}); !errors.Is(err, workflows.ErrTimeout) {
			return nil, fmt.Errorf("next with nothing to take: %v", err)
		}
		return append(out, "timeout"), nil
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	for i, q := range []string{"a", "c", "b", "a", "b"} {
		if _, err := e.eng.Send(ctx, id, q, json.RawMessage(fmt.Sprint(i)), workflows.SendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	close(gate)
	run := e.wait(t, "qbatch", "r1")
	got, err := workflows.Result(wf, run)
	if want := "a0,b2,a3,c1,b4,timeout"; err != nil || strings.Join(got, ",") != want {
		t.Fatalf("result %q, %v (error %+v), want %s", got, err, run.Error, want)
	}
}

// A workflow's own action enqueues with QueueOf, in its event; a run
// parked on a wait for any queue runs again.
func TestQueueOfAction(t *testing.T) {
	t.Parallel()
	wf := workflows.Define("qaction", func(w *workflows.W, _ struct{}) (string, error) {
		m, err := w.Queue().Next("take", workflows.NextOptions{})
		if err != nil {
			return "", err
		}
		return m.Name + ":" + string(m.Body), nil
	}, workflows.Options{ParkAfter: 30 * time.Millisecond, Actions: map[string]actors.ActionFunc[workflows.RunState]{
		"order": actors.Act(func(ac *actors.Context[workflows.RunState], item string) (uint64, error) {
			return workflows.QueueOf(ac).Send("orders", map[string]string{"item": item})
		}),
	}})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	e.waitStatus(t, "qaction", "r1", workflows.StatusWaiting)
	e.waitAsleep(t, id)
	n, err := actors.Call[uint64](ctx, handle(t, e, "qaction"), "order", "tea")
	if err != nil || n != 1 {
		t.Fatalf("order: %d, %v", n, err)
	}
	run := e.wait(t, "qaction", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `orders:{"item":"tea"}` {
		t.Fatalf("result %q, %v (error %+v)", got, err, run.Error)
	}
}

// The send action is public: a client may call it directly.
func TestQueueSendAction(t *testing.T) {
	t.Parallel()
	wf := echo("qsendaction", 1, workflows.Options{})
	e := newEnv(t, wf)
	ctx := context.Background()
	startRun(t, e, wf, struct{}{})
	res, err := actors.Call[workflows.SignalResult](ctx, handle(t, e, "qsendaction"), "send", "ask", "hi", true)
	if err != nil || res.ID != 1 {
		t.Fatalf("send action: %+v, %v", res, err)
	}
	if _, err := handle(t, e, "qsendaction").Action(ctx, "send", "bad/name", 1); err == nil {
		t.Fatal("send to an invalid queue name succeeded")
	}
	run := e.wait(t, "qsendaction", "r1")
	if got, err := workflows.Result(wf, run); err != nil || len(got) != 1 || got[0] != `"hi"` {
		t.Fatalf("result %q, %v (error %+v)", got, err, run.Error)
	}
}

// Send refuses an actor that is not a workflow run, a run that does not
// exist, and a full inbox.
func TestQueueSendRefused(t *testing.T) {
	t.Parallel()
	wf := echo("qfull", 1, workflows.Options{MaxInbox: 1})
	e := newEnv(t, wf)
	ctx := context.Background()
	other, err := actors.ActorID("counter", []string{"c1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Send(ctx, other, "ask", nil, workflows.SendOptions{}); !errors.Is(err, workflows.ErrQueueNotSupported) {
		t.Fatalf("send to a non-workflow actor: %v", err)
	}
	missing, err := actors.ActorID("qfull", []string{"nope"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Send(ctx, missing, "ask", nil, workflows.SendOptions{}); !errors.Is(err, workflows.ErrRunNotFound) {
		t.Fatalf("send to a missing run: %v", err)
	}
	id := startRun(t, e, wf, struct{}{})
	if _, err := e.eng.Send(ctx, id, "other", nil, workflows.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Send(ctx, id, "other", nil, workflows.SendOptions{Wait: true}); !errors.Is(err, workflows.ErrInboxFull) {
		t.Fatalf("send to a full inbox: %v", err)
	}
}

// A restart after a completable take and before Complete: the replay
// returns the same message, Complete then completes it (once), and the
// step after the take ran once.
func TestQueueCompleteAfterRestart(t *testing.T) {
	t.Parallel()
	var steps atomic.Int32
	gate := make(chan struct{})
	wf := workflows.Define("qrestart", func(w *workflows.W, _ struct{}) (string, error) {
		m, err := w.Queue().Next("take", workflows.NextOptions{Names: []string{"ask"}, Completable: true})
		if err != nil {
			return "", err
		}
		if _, err := workflows.Step(w, "work", func(ctx context.Context, s *workflows.StepContext) (bool, error) {
			if steps.Add(1) == 1 {
				<-gate // the first attempt hangs until the runtime stops
				return false, ctx.Err()
			}
			return true, nil
		}); err != nil {
			return "", err
		}
		if !m.Completable {
			return "", errors.New("the replayed message lost its completion")
		}
		if err := m.Complete("done"); err != nil {
			return "", err
		}
		return string(m.Body), nil
	})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	sent := make(chan error, 1)
	go func() {
		_, err := e.eng.Send(ctx, id, "ask", json.RawMessage(`"x"`), workflows.SendOptions{Wait: true, Timeout: 20 * time.Second})
		sent <- err
	}()
	for steps.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	e.restart(t) // the waiting Send ends with the runtime
	<-sent
	run := e.wait(t, "qrestart", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != `"x"` {
		t.Fatalf("result %q, %v (error %+v)", got, err, run.Error)
	}
	if n := steps.Load(); n != 2 {
		t.Fatalf("step work ran %d times, want 2 (a crash in the middle)", n)
	}
}

// completeLeftovers (what the run's finish calls) completes with null
// the messages still owed a completion, taken or not, and tells their
// waiting senders; a later Complete of such a message has nothing to do.
func TestQueueCompleteLeftovers(t *testing.T) {
	t.Parallel()
	wf := workflows.Define("qleft", func(w *workflows.W, _ struct{}) (string, error) {
		m, err := w.Queue().Next("take", workflows.NextOptions{Names: []string{"ask"}, Completable: true})
		if err != nil {
			return "", err
		}
		if _, _, err := w.WaitSignal("end", "end", 0); err != nil {
			return "", err
		}
		return string(m.Body), m.Complete("late")
	}, workflows.Options{ParkAfter: 30 * time.Millisecond})
	e := newEnv(t, wf)
	ctx := context.Background()
	id := startRun(t, e, wf, struct{}{})
	results := make(chan workflows.SendResult, 2)
	for _, q := range []string{"ask", "never"} {
		go func() {
			res, err := e.eng.Send(ctx, id, q, json.RawMessage(`1`), workflows.SendOptions{Wait: true, Timeout: 20 * time.Second})
			if err != nil {
				t.Error(err)
			}
			results <- res
		}()
	}
	for { // until ask is taken and never buffered
		st, err := actors.Call[workflows.RunState](ctx, handle(t, e, "qleft"), "status")
		if err != nil {
			t.Fatal(err)
		}
		if st.Status == workflows.StatusWaiting && len(st.Inbox) == 1 && st.Inbox[0].Name == "never" {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.eng.CompleteLeftovers(ctx, id); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if res := <-results; res.Status != workflows.SendCompleted || string(res.Response) != "null" {
			t.Fatalf("send: %+v", res)
		}
	}
	if _, _, err := e.eng.Signal(ctx, "qleft", "r1", "end", nil); err != nil {
		t.Fatal(err)
	}
	run := e.wait(t, "qleft", "r1")
	if got, err := workflows.Result(wf, run); err != nil || got != "1" {
		t.Fatalf("result %q, %v (error %+v)", got, err, run.Error)
	}
}
