package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/queues"
)

// Server schedules whose target is a durable queue: each fire enqueues the
// body, an effect of the fire's own event, with the effect ID as the
// message's dedup ID.

// ssQueueSetup is ssSetup with a queue manager over the log's JetStream as
// the runtime's Enqueuer (as the node sets it) and the queue "jobs".
func ssQueueSetup(t *testing.T) (*ssKit, *queues.Manager) {
	t.Helper()
	k := ssSetup(t)
	m, err := queues.New(k.b.log.JetStream(), &queues.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	// A Manager that dispatches messages to claims in the background is a
	// service: start it, and stop it before the log closes.
	if svc, ok := any(m).(interface {
		Start(context.Context) error
		Stop(context.Context) error
	}); ok {
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
			defer cancel()
			if err := svc.Stop(ctx); err != nil {
				t.Errorf("stop the queue manager: %v", err)
			}
		})
	}
	k.n.stop(t)
	k.n.rtOpts.Enqueuer = m
	k.n.start(t)
	if _, _, err := m.Put(testCtx(t), "jobs", queues.Config{}); err != nil {
		t.Fatal(err)
	}
	return k, m
}

// ssQueueSpec is a spec enqueuing body into queue.
func ssQueueSpec(cron, queue, body string) ScheduleSpec {
	return ScheduleSpec{Cron: cron, Target: Target{Queue: queue, Body: json.RawMessage(body)}}
}

// claimN claims n messages of queue (waiting for them), acknowledges them
// and returns their bodies.
func claimN(t *testing.T, m *queues.Manager, queue string, n int) []string {
	t.Helper()
	ctx := testCtx(t)
	var bodies []string
	for len(bodies) < n {
		msgs, err := m.Claim(ctx, queue, queues.ClaimOptions{Max: n - len(bodies), Wait: 5 * time.Second})
		if err != nil {
			t.Fatalf("claim %s: %v (have %d of %d)", queue, err, len(bodies), n)
		}
		receipts := make([]string, len(msgs))
		for i, msg := range msgs {
			bodies = append(bodies, string(msg.Body))
			receipts[i] = msg.Receipt
		}
		if len(receipts) > 0 {
			if _, err := m.Ack(ctx, queue, receipts); err != nil {
				t.Fatalf("ack: %v", err)
			}
		}
	}
	return bodies
}

// requireEmpty fails if queue has a message to claim.
func requireEmpty(t *testing.T, m *queues.Manager, queue string) {
	t.Helper()
	msgs, err := m.Claim(testCtx(t), queue, queues.ClaimOptions{Max: 10, Wait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Fatalf("queue %s has %d more messages, first %s", queue, len(msgs), msgs[0].Body)
	}
}

// Each tick (and a trigger) enqueues the body once; the fire is finished,
// succeeded, in the tick's own event, whose one enqueue effect is the
// message. The enqueue performed again under its effect ID (as the outbox
// does after a crash, on any node) adds nothing, and after a restart the
// schedule goes on.
func TestServerScheduleQueueTargetEnqueuesOncePerFire(t *testing.T) {
	t.Parallel()
	k, m := ssQueueSetup(t)
	const name = "queue-every-minute"
	const body = `{"report":"daily","n":1}`
	done := k.done(t, name)
	k.set(t, name, ssQueueSpec("* * * * *", "jobs", "{ \"report\": \"daily\", \"n\": 1 }"))
	if st := k.state(t, name); string(st.Spec.Target.Body) != body || st.Spec.Target.Args != nil || st.Spec.Target.Actor.Key != nil {
		t.Fatalf("stored target %+v, want the queue form with the body compacted", st.Spec.Target)
	}

	k.tick(t, name)
	f := ssWait(t, done)
	if f.ID != 1 || f.Outcome != OutcomeSucceeded || !f.Nominal.Equal(epoch.Add(time.Minute)) || f.Finished.IsZero() {
		t.Fatalf("fire %+v, want fire 1 succeeded", f)
	}
	if got := claimN(t, m, "jobs", 1); got[0] != body {
		t.Fatalf("claimed %v, want %s", got, body)
	}
	st := k.state(t, name)
	if st.Counters != (Counters{Fired: 1, Succeeded: 1}) || len(st.Running) != 0 {
		t.Fatalf("counters %+v, running %+v; want one fire, finished", st.Counters, st.Running)
	}

	// The fire's event holds the enqueue.
	var enq []actors.EnqueueDelivery
	for _, ev := range k.events(t, name) {
		if ds := actors.Enqueues(ev); len(ds) > 0 {
			if ev.Action != "tick" {
				t.Fatalf("an enqueue in the %s event", ev.Action)
			}
			enq = append(enq, ds...)
		}
	}
	if len(enq) != 1 || enq[0].Queue != "jobs" || string(enq[0].Body) != body {
		t.Fatalf("enqueue effects %+v, want one into jobs", enq)
	}
	// Performed again under its effect ID, it is a duplicate.
	res, err := m.Enqueue(testCtx(t), "jobs", enq[0].Body, queues.EnqueueOptions{DedupID: enq[0].EffectID})
	if err != nil || !res.Duplicate {
		t.Fatalf("the enqueue again: %+v, %v; want a duplicate", res, err)
	}
	if err := k.n.rt.DeliverEnqueue(testCtx(t), enq[0]); err != nil {
		t.Fatalf("DeliverEnqueue again: %v", err)
	}
	requireEmpty(t, m, "jobs")

	// A trigger fires at once; so does the next tick after a restart.
	h := k.handle(t, name)
	if r := call[TriggerResult](t, h, "trigger"); r.Status != "fired" || r.Fire.Outcome != OutcomeSucceeded || r.Fire.ID != 2 {
		t.Fatalf("trigger: %+v, want fire 2 succeeded", r)
	}
	ssWait(t, done)
	k.n.stop(t)
	k.n.start(t)
	k.tick(t, name)
	if f := ssWait(t, done); f.ID != 3 || f.Outcome != OutcomeSucceeded {
		t.Fatalf("after the restart: %+v, want fire 3 succeeded", f)
	}
	if got := claimN(t, m, "jobs", 2); got[0] != body || got[1] != body {
		t.Fatalf("claimed %v", got)
	}
	requireEmpty(t, m, "jobs")
	if st := k.state(t, name); st.Counters != (Counters{Fired: 3, Succeeded: 3}) {
		t.Fatalf("counters %+v, want 3 fired and succeeded", st.Counters)
	}
}

// A queue fire is complete once enqueued: under overlap skip every tick
// fires (none is held back by a running fire), and a catch-up (all) fires
// each occurrence it keeps with one message each, in one event.
func TestServerScheduleQueueTargetPolicies(t *testing.T) {
	t.Parallel()
	k, m := ssQueueSetup(t)
	const name = "queue-policies"
	done := k.done(t, name)
	spec := ssQueueSpec("0 * * * *", "jobs", `"tick"`)
	spec.CatchUp, spec.MaxCatchUp = CatchUpAll, 3 // overlap: skip, the default
	k.set(t, name, spec)
	k.tick(t, name) // 01:00
	ssWait(t, done)
	k.tick(t, name) // 02:00
	ssWait(t, done)
	if st := k.state(t, name); st.Counters != (Counters{Fired: 2, Succeeded: 2}) {
		t.Fatalf("counters %+v, want two fires and no skip", st.Counters)
	}
	claimN(t, m, "jobs", 2)

	st := k.state(t, name)
	k.n.waitArmed(t, st.NextAt) // 03:00
	k.n.stop(t)
	k.b.clock.Set(epoch.Add(7*time.Hour + 30*time.Minute)) // down until 07:30: 03:00 to 07:00 due
	k.n.start(t)
	if o := k.n.next(t); o.Result != ResultFired {
		t.Fatalf("the overdue tick: %+v", o)
	}
	for range 3 {
		if f := ssWait(t, done); f.Outcome != OutcomeSucceeded {
			t.Fatalf("outcome %+v", f)
		}
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 5, Succeeded: 5, Missed: 2}) {
		t.Fatalf("counters %+v, want 3 more fires and 2 missed", st.Counters)
	}
	if got := claimN(t, m, "jobs", 3); strings.Join(got, ",") != `"tick","tick","tick"` {
		t.Fatalf("claimed %v", got)
	}
	requireEmpty(t, m, "jobs")
	evs := k.events(t, name)
	if n := len(actors.Enqueues(evs[len(evs)-1])); n != 3 {
		t.Fatalf("the catch-up tick's event has %d enqueues, want 3", n)
	}
}

// A queue that does not exist when a fire's enqueue is performed does not
// fail the fire (it succeeded: the enqueue is recorded); the runtime's
// enqueue finds no queue, an error no retry can fix, which the node's outbox
// records as a dead letter. An enqueue that cannot be recorded (a body over
// the actor's argument limit) fails the fire at once.
func TestServerScheduleQueueTargetMissingQueue(t *testing.T) {
	t.Parallel()
	k, m := ssQueueSetup(t)
	const name = "queue-missing"
	done := k.done(t, name)
	k.set(t, name, ssQueueSpec("0 0 1 1 *", "nosuch", `{"a":1}`))
	r := call[TriggerResult](t, k.handle(t, name), "trigger")
	if r.Fire.Outcome != OutcomeSucceeded {
		t.Fatalf("trigger: %+v", r)
	}
	ssWait(t, done)
	var enq []actors.EnqueueDelivery
	for _, ev := range k.events(t, name) {
		enq = append(enq, actors.Enqueues(ev)...)
	}
	if len(enq) != 1 {
		t.Fatalf("enqueues %+v, want one", enq)
	}
	err := m.EnqueueEffect(testCtx(t), enq[0].Queue, enq[0].Body, enq[0].EffectID)
	if !errors.Is(err, actors.ErrQueueNotFound) || !actors.EnqueueUndeliverable(err) {
		t.Fatalf("the enqueue into a missing queue: %v, want an undeliverable queue_not_found", err)
	}
}

// The body is bounded by the actor's argument limit when the fire records
// it (a limit lowered since the schedule was set): past it, the fire fails
// at once and nothing is recorded to enqueue.
func TestServerScheduleQueueTargetBodyOverActorLimit(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	const name = "queue-big"
	big := `"` + strings.Repeat("x", 20<<10) + `"`
	k.set(t, name, ssQueueSpec("0 0 1 1 *", "jobs", big))
	k.n.stop(t)
	k.n.rtOpts.MaxArgsBytes = 16 << 10
	k.n.start(t)
	r := call[TriggerResult](t, k.handle(t, name), "trigger")
	if r.Fire.Outcome != OutcomeFailed || r.Fire.Code != "args_too_large" {
		t.Fatalf("trigger: %+v, want failed with args_too_large", r)
	}
	if st := k.state(t, name); st.Counters != (Counters{Fired: 1, Failed: 1}) {
		t.Fatalf("counters %+v", st.Counters)
	}
	for _, ev := range k.events(t, name) {
		if len(actors.Enqueues(ev)) > 0 {
			t.Fatalf("an enqueue recorded in %s", ev.Action)
		}
	}
}

// The spec takes exactly one target form; a queue target needs a valid
// queue name and a JSON body within MaxTargetArgsBytes. Validate does not
// ask a registry about a queue target. An actor target encodes as before
// (no queue fields), so stored schedules replay unchanged.
func TestServerScheduleQueueTargetValidation(t *testing.T) {
	t.Parallel()
	actor := TargetActor{Type: "job", Key: []string{"j"}}
	for _, tc := range []struct {
		name   string
		target Target
		msg    string
	}{
		{"both", Target{Actor: actor, Action: "run", Queue: "jobs", Body: json.RawMessage(`1`)}, "not both"},
		{"queue-and-args", Target{Args: json.RawMessage(`[1]`), Queue: "jobs", Body: json.RawMessage(`1`)}, "not both"},
		{"neither", Target{}, "give an actor action"},
		{"body-no-queue", Target{Body: json.RawMessage(`1`)}, "queue name"},
		{"bad-name", Target{Queue: "9jobs", Body: json.RawMessage(`1`)}, "queue name"},
		{"bad-name-chars", Target{Queue: "jobs.daily", Body: json.RawMessage(`1`)}, "queue name"},
		{"long-name", Target{Queue: strings.Repeat("q", 65), Body: json.RawMessage(`1`)}, "queue name"},
		{"no-body", Target{Queue: "jobs"}, "needs a body"},
		{"bad-body", Target{Queue: "jobs", Body: json.RawMessage(`{"a":`)}, "not a JSON value"},
		{"big-body", Target{Queue: "jobs", Body: json.RawMessage(`"` + strings.Repeat("x", MaxTargetArgsBytes) + `"`)}, "limit"},
		{"actor-no-action", Target{Actor: actor}, "needs actor.type and action"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ScheduleSpec{Cron: "* * * * *", Target: tc.target}.Normalize()
			if err == nil || !IsTargetError(err) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Normalize: %v, want a target error about %q", err, tc.msg)
			}
		})
	}

	reg, err := actors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	spec, _, err := ssQueueSpec("* * * * *", "jobs", ` [1, 2] `).Validate(reg)
	if err != nil {
		t.Fatalf("Validate of a queue target: %v", err)
	}
	if string(spec.Target.Body) != `[1,2]` || spec.Target.Args != nil || spec.Target.Action != "" {
		t.Fatalf("normalized target %+v", spec.Target)
	}
	raw, _ := json.Marshal(spec.Target)
	if string(raw) != `{"queue":"jobs","body":[1,2]}` {
		t.Fatalf("a queue target encodes as %s", raw)
	}
	if _, _, err := ssQueueSpec("* * * * *", "jobs", `null`).Normalize(); err != nil {
		t.Fatalf("a null body: %v", err)
	}
	actorSpec, _, err := ssSpec("* * * * *", "run").Normalize()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = json.Marshal(actorSpec.Target)
	if string(raw) != `{"actor":{"type":"job","key":["j"]},"action":"run","args":["x"]}` {
		t.Fatalf("an actor target encodes as %s", raw)
	}
}

// Inside the actor too, a spec with both forms creates nothing.
func TestServerScheduleQueueTargetRefusedByActor(t *testing.T) {
	t.Parallel()
	k := ssSetup(t)
	spec := ssSpec("* * * * *", "run")
	spec.Target.Queue, spec.Target.Body = "jobs", json.RawMessage(`1`)
	_, _, err := k.n.rt.Client().GetOrCreate(testCtx(t), ScheduleType, []string{"both"}, spec)
	var ue *actors.UserError
	if !errors.As(err, &ue) || ue.Code != "invalid_request" || !strings.Contains(ue.Message, "not both") {
		t.Fatalf("create with both target forms: %v, want invalid_request", err)
	}
	if _, err := k.n.rt.Client().Get(testCtx(t), ScheduleType, []string{"both"}); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get after the refused create: %v, want not found", err)
	}
}
