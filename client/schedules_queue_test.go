package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
)

// queueScheduleClient starts a node (it serves schedules and queues) with
// its queue manager dispatching: started here unless the node runs it.
func queueScheduleClient(t *testing.T) *client.Client {
	t.Helper()
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: builtin.Registry()})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	c, err := client.New("http://"+n.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	if svc, ok := any(n.Queues()).(interface {
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
				if err := svc.Stop(context.Background()); err != nil {
					t.Errorf("stop the queue manager: %v", err)
				}
			})
		}
	}
	return c
}

// A schedule with a queue target (QueueTarget) reads back in the queue form;
// each trigger enqueues its body once. A queue that does not exist, or a
// target with both forms, is refused with 400.
func TestScheduleQueueTarget(t *testing.T) {
	t.Parallel()
	c := queueScheduleClient(t)
	ctx := ctxT(t)
	if _, _, err := c.PutQueue(ctx, "reports", client.QueueSpec{}); err != nil {
		t.Fatal(err)
	}
	body := json.RawMessage(`{"report":"weekly"}`)
	spec := client.ScheduleSpec{Cron: "0 9 * * 1", Target: client.QueueTarget("reports", body)}
	s, created, err := c.SetSchedule(ctx, "weekly", spec)
	if err != nil || !created {
		t.Fatalf("SetSchedule: %+v created=%v err=%v", s, created, err)
	}
	if tg := s.Spec.Target; !tg.IsQueue() || tg.Queue != "reports" || string(tg.Body) != string(body) || tg.Action != "" || tg.Actor.Type != "" {
		t.Fatalf("target reads back as %+v", tg)
	}
	for i := range 2 {
		r, err := c.TriggerSchedule(ctx, "weekly")
		if err != nil || r.Status != "fired" || r.Fire.Outcome != client.FireSucceeded {
			t.Fatalf("trigger %d: %+v %v", i, r, err)
		}
	}
	var got []string
	for len(got) < 2 {
		msgs, err := c.Claim(ctx, "reports", &client.ClaimOptions{Max: 10, Wait: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) == 0 {
			t.Fatalf("claimed %d messages, want 2", len(got))
		}
		for _, m := range msgs {
			got = append(got, string(m.Body))
			if _, err := c.Ack(ctx, "reports", m.Receipt); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(got) != 2 || got[0] != string(body) || got[1] != string(body) {
		t.Fatalf("claimed %v, want the body twice", got)
	}
	if s, err := c.Schedule(ctx, "weekly"); err != nil || s.Counters.Fired != 2 || s.Counters.Succeeded != 2 {
		t.Fatalf("Schedule: %+v %v", s, err)
	}

	_, _, err = c.SetSchedule(ctx, "weekly", client.ScheduleSpec{Cron: "0 9 * * 1", Target: client.QueueTarget("nosuch", body)})
	wantCode(t, err, http.StatusBadRequest, client.CodeQueueNotFound)
	both := client.ActorTarget("counter", []string{"c"}, "increment", nil)
	both.Queue, both.Body = "reports", body
	_, _, err = c.SetSchedule(ctx, "weekly", client.ScheduleSpec{Cron: "0 9 * * 1", Target: both})
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidRequest)
}
