package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// TestServerScheduleQueueTargetSurvivesKill9 runs a schedule with a queue
// target (@every 1s) across a kill -9 at a tick and a restart: once paused,
// the queue has received exactly one message per fire the schedule counts,
// none lost (an enqueue the killed process recorded but did not perform is
// performed by the outbox) and none doubled (the fire's effect ID is the
// message's dedup ID).
//
// A fire whose event the killed process held in the outbox (delivered, not
// acknowledged) is enqueued only after the outbox's AckWait (30s): up to
// ~40s. Hence -short skips it.
func TestServerScheduleQueueTargetSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("up to ~40s (an enqueue caught by the kill waits for the outbox's 30s AckWait)")
	}
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir)
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	if _, _, err := c.PutQueue(ctx, "ticks", client.QueueSpec{}); err != nil {
		t.Fatal(err)
	}
	const body = `{"tick":true}`
	spec := client.ScheduleSpec{Cron: "@every 1s", Target: client.QueueTarget("ticks", json.RawMessage(body))}
	if _, created, err := c.SetSchedule(ctx, "qticker", spec); err != nil || !created {
		t.Fatalf("set the schedule: created %v, %v", created, err)
	}
	var s *client.Schedule
	var err error
	eventually(t, 15*time.Second, "two fires before the kill", func() (bool, string) {
		s, err = c.Schedule(ctx, "qticker")
		return err == nil && s.Counters.Succeeded >= 2, fmt.Sprintf("%+v %v", s, err)
	})
	// Kill at the next tick, 0 to 4ms after it: between its event and its
	// enqueue, where a crash can land.
	time.Sleep(time.Until(s.NextTickAt) + time.Duration(rand.IntN(4000))*time.Microsecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, p, 10*time.Second)

	p2 := startServe(t, dir)
	c2 := newTestClient(t, p2.addr, "")
	s, err = c2.Schedule(ctx, "qticker")
	if err != nil {
		t.Fatal(err)
	}
	restarted := s.Counters.Fired
	eventually(t, 20*time.Second, "two fires after the restart", func() (bool, string) {
		s, err = c2.Schedule(ctx, "qticker")
		return err == nil && s.Counters.Fired >= restarted+2, fmt.Sprintf("%+v %v", s, err)
	})
	if s, err = c2.PauseSchedule(ctx, "qticker"); err != nil {
		t.Fatal(err)
	}
	if s.Counters.Succeeded != s.Counters.Fired || s.Counters.Failed+s.Counters.Unknown != 0 || len(s.Running) != 0 {
		t.Fatalf("after the pause: counters %+v, running %+v", s.Counters, s.Running)
	}
	fired := int(s.Counters.Fired)

	claimed := 0
	claim := func(wait time.Duration) {
		t.Helper()
		msgs, err := c2.Claim(ctx, "ticks", &client.ClaimOptions{Max: 100, Wait: wait})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if string(m.Body) != body {
				t.Fatalf("message %s has body %s, want %s", m.ID, m.Body, body)
			}
			if _, err := c2.Ack(ctx, "ticks", m.Receipt); err != nil {
				t.Fatal(err)
			}
		}
		claimed += len(msgs)
	}
	eventually(t, 45*time.Second, "one message per fire", func() (bool, string) {
		claim(time.Second)
		if claimed > fired {
			t.Fatalf("%d messages for %d fires: an enqueue was doubled", claimed, fired)
		}
		return claimed == fired, fmt.Sprintf("%d messages for %d fires", claimed, fired)
	})
	claim(2 * time.Second)
	if claimed != fired {
		t.Fatalf("%d messages for %d fires: an enqueue was doubled", claimed, fired)
	}
	t.Logf("%d fires (%d before the restart), one message each", fired, restarted)
}
