package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/queues"
)

// Server schedules whose target is a durable queue:
// "target":{"queue":"name","body":<any JSON>}.

// queueScheduleSetup is scheduleSetup with the queue "reports" created over
// HTTP, and the node's queue manager dispatching (started here unless the
// node runs it).
func queueScheduleSetup(t *testing.T) *bundle {
	t.Helper()
	b := scheduleSetup(t)
	m := b.n.Queues()
	if svc, ok := any(m).(interface {
		Start(context.Context) error
		Stop(context.Context) error
		Started() <-chan struct{}
	}); ok {
		select {
		case <-svc.Started(): // the node runs it
		default:
			if err := svc.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				if err := svc.Stop(ctx); err != nil {
					t.Errorf("stop the queue manager: %v", err)
				}
			})
		}
	}
	b.call(t, http.MethodPut, "/v1/queues/reports", map[string]any{}, http.StatusCreated, nil)
	return b
}

// queueSpec is a spec enqueuing body into queue.
func queueSpec(cron, queue string, body any) map[string]any {
	return map[string]any{"cron": cron, "target": map[string]any{"queue": queue, "body": body}}
}

// claimBodies claims n messages of queue through the node's queue manager,
// acknowledges them and returns their bodies.
func (b *bundle) claimBodies(t *testing.T, queue string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	m := b.n.Queues()
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
	msgs, err := m.Claim(ctx, queue, queues.ClaimOptions{Max: 10, Wait: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 0 {
		t.Fatalf("queue %s has %d messages beyond the %d expected, first %s", queue, len(msgs), n, msgs[0].Body)
	}
	return bodies
}

// A schedule "@every 1s" with a queue target enqueues its body once per
// fire, on the real clock: after it is paused, the queue holds exactly as
// many messages as the schedule counts fires, each with the body. A
// trigger adds one more. The spec reads back in the queue form alone.
func TestScheduleQueueTargetEnqueuesOncePerFire(t *testing.T) {
	t.Parallel()
	b := queueScheduleSetup(t)
	const body = `{"kind":"daily","n":7}`
	resp, data := b.do(t, http.MethodPut, "/v1/schedules/every-second", queueSpec("@every 1s", "reports", json.RawMessage(body)))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, data)
	}
	var raw struct {
		Spec struct {
			Target map[string]json.RawMessage `json:"target"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	if tg := raw.Spec.Target; len(tg) != 2 || string(tg["queue"]) != `"reports"` || string(tg["body"]) != body {
		t.Fatalf("the spec's target reads back as %s, want only queue and body", data)
	}

	var sc api.Schedule
	deadline := time.Now().Add(waitFor)
	for {
		b.call(t, http.MethodGet, "/v1/schedules/every-second", nil, http.StatusOK, &sc)
		if sc.Counters.Fired >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters %+v after %v, want 2 fires", sc.Counters, waitFor)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.call(t, http.MethodPost, "/v1/schedules/every-second/pause", nil, http.StatusOK, &sc)
	fired := int(sc.Counters.Fired)
	if sc.Counters.Succeeded != sc.Counters.Fired || sc.Counters.Failed != 0 || sc.Counters.Skipped != 0 || len(sc.Running) != 0 {
		t.Fatalf("after the pause: counters %+v, running %+v; want every fire succeeded, none running", sc.Counters, sc.Running)
	}
	for _, f := range sc.RecentFires {
		if f.Outcome != "succeeded" || f.Finished.IsZero() {
			t.Fatalf("recent fire %+v, want succeeded", f)
		}
	}
	for i, got := range b.claimBodies(t, "reports", fired) {
		if got != body {
			t.Fatalf("message %d is %s, want %s", i, got, body)
		}
	}

	var trig struct {
		Status string           `json:"status"`
		Fire   api.ScheduleFire `json:"fire"`
	}
	b.call(t, http.MethodPost, "/v1/schedules/every-second/trigger", nil, http.StatusOK, &trig)
	if trig.Status != "fired" || trig.Fire.Outcome != "succeeded" || !trig.Fire.Manual {
		t.Fatalf("trigger: %+v, want fired and succeeded", trig)
	}
	if got := b.claimBodies(t, "reports", 1); got[0] != body {
		t.Fatalf("the triggered message is %s", got[0])
	}
}

// A target with both forms or neither, a bad queue name, a missing or
// oversized body, or a queue that does not exist is refused with 400 and
// stores nothing.
func TestScheduleQueueTargetBadInput(t *testing.T) {
	t.Parallel()
	b := queueScheduleSetup(t)
	both := queueSpec("* * * * *", "reports", 1)
	target := both["target"].(map[string]any)
	target["actor"], target["action"] = map[string]any{"type": "counter", "key": []string{"c"}}, "increment"
	for _, tc := range []struct {
		name string
		body any
		code string
		msg  string
	}{
		{"both", both, "invalid_request", "not both"},
		{"neither", map[string]any{"cron": "* * * * *", "target": map[string]any{}}, "invalid_request", "queue"},
		{"body-only", map[string]any{"cron": "* * * * *", "target": map[string]any{"body": 1}}, "invalid_request", "queue name"},
		{"bad-name", queueSpec("* * * * *", "9reports", 1), "invalid_request", "9reports"},
		{"bad-name-chars", queueSpec("* * * * *", "re.ports", 1), "invalid_request", "re.ports"},
		{"no-body", map[string]any{"cron": "* * * * *", "target": map[string]any{"queue": "reports"}}, "invalid_request", "body"},
		{"big-body", queueSpec("* * * * *", "reports", strings.Repeat("x", 70<<10)), "invalid_request", "limit"},
		{"unknown-queue", queueSpec("* * * * *", "nosuch", 1), "queue_not_found", "nosuch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := b.do(t, http.MethodPut, "/v1/schedules/bad", tc.body)
			p := wantProblem(t, resp, data, http.StatusBadRequest, tc.code)
			if !strings.Contains(p.Message, tc.msg) || p.Metadata["field"] != "target" {
				t.Errorf("problem %+v: want a message mentioning %q and the field target", p, tc.msg)
			}
		})
	}
	resp, data := b.do(t, http.MethodGet, "/v1/schedules/bad", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	if n := b.scheduleEvents(t, "bad"); n != 0 {
		t.Fatalf("%d events stored for refused schedules", n)
	}

	// An actor schedule changed to a queue that does not exist stays as it was.
	b.call(t, http.MethodPut, "/v1/schedules/good", counterSpec("0 9 * * *"), http.StatusCreated, nil)
	before := b.scheduleEvents(t, "good")
	resp, data = b.do(t, http.MethodPut, "/v1/schedules/good", queueSpec("0 9 * * *", "nosuch", 1))
	wantProblem(t, resp, data, http.StatusBadRequest, "queue_not_found")
	var sc api.Schedule
	b.call(t, http.MethodGet, "/v1/schedules/good", nil, http.StatusOK, &sc)
	if n := b.scheduleEvents(t, "good"); n != before || sc.Spec.Target.Action != "increment" || sc.Spec.Target.Queue != "" {
		t.Fatalf("after a refused change: %d events (want %d), target %+v", n, before, sc.Spec.Target)
	}
}

// A queue deleted after the schedule was set: the fire still succeeds (its
// enqueue is recorded), and the enqueue becomes an outbox dead letter with
// target "queue:<name>" and code queue_not_found, listed under
// GET /v1/projections/outbox/rows?prefix=dead/.
func TestScheduleQueueTargetDeletedQueueIsADeadLetter(t *testing.T) {
	t.Parallel()
	b := queueScheduleSetup(t)
	b.call(t, http.MethodPut, "/v1/queues/gone", map[string]any{}, http.StatusCreated, nil)
	b.call(t, http.MethodPut, "/v1/schedules/to-gone", queueSpec("0 0 1 1 *", "gone", map[string]any{"x": 1}), http.StatusCreated, nil)
	b.call(t, http.MethodDelete, "/v1/queues/gone", nil, http.StatusNoContent, nil)
	var trig struct {
		Status string           `json:"status"`
		Fire   api.ScheduleFire `json:"fire"`
	}
	b.call(t, http.MethodPost, "/v1/schedules/to-gone/trigger", nil, http.StatusOK, &trig)
	if trig.Status != "fired" || trig.Fire.Outcome != "succeeded" {
		t.Fatalf("trigger: %+v", trig)
	}
	deadline := time.Now().Add(waitFor)
	for {
		var page struct {
			Rows []api.ProjectionRow `json:"rows"`
		}
		b.call(t, http.MethodGet, "/v1/projections/outbox/rows?prefix=dead/", nil, http.StatusOK, &page)
		for _, r := range page.Rows {
			var dl struct {
				Target string          `json:"target"`
				Code   string          `json:"code"`
				Args   json.RawMessage `json:"args"`
			}
			if err := json.Unmarshal(r.Value, &dl); err != nil {
				t.Fatal(err)
			}
			if dl.Target == "queue:gone" {
				if dl.Code != "queue_not_found" || string(dl.Args) != `{"x":1}` {
					t.Fatalf("dead letter %s", r.Value)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter for queue:gone after %v: %+v", waitFor, page.Rows)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
