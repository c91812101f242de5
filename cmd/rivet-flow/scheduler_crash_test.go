package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
)

// waitKilled waits for p to die of SIGKILL.
func waitKilled(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("rivet-flow still running after %v: %s", within, p.stderr.String())
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("rivet-flow exited with %v, want killed by SIGKILL: %s", p.cmd.ProcessState, p.stderr.String())
	}
}

// eventually polls cond every 50ms until it holds, for at most within; cond
// returns what it saw, for the failure message.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last saw %s", what, within, saw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// historyOf returns every event of actor id, through the API.
func historyOf(t *testing.T, c *client.Client, id string) []client.Event {
	t.Helper()
	var all []client.Event
	for after := uint64(0); ; {
		page, err := c.Events(context.Background(), id, &client.EventsOptions{After: after, Limit: 1000})
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		all = append(all, page.Events...)
		if page.NextAfter == 0 {
			return all
		}
		after = page.NextAfter
	}
}

// TestSchedulerCrashInFire kills the real binary with SIGKILL inside an
// alarm's fire (the built-in reminder's), at each hook point of
// actors/crashhooks.go, restarts it on the same data dir and checks over
// HTTP that the reminder was sent exactly once:
//
//   - before_record: the action ran but its event was never appended, so
//     the alarm is still pending after the restart and fires then;
//   - after_record: the event was acknowledged but the fire never returned
//     to the scheduler (whose index still holds the alarm), so the restarted
//     node must not fire it again.
func TestSchedulerCrashInFire(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"before_record", "after_record"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			marker := filepath.Join(t.TempDir(), "crashed")
			p := startServeEnv(t, dir, []string{"RIVETFLOW_TEST_CRASH_IN_FIRE=" + point, "RIVETFLOW_TEST_CRASH_MARKER=" + marker})
			c := newTestClient(t, p.addr, "")
			ctx := context.Background()
			a, _, err := c.GetOrCreate(ctx, "reminder", []string{"crash-" + point}, nil)
			if err != nil {
				t.Fatal(err)
			}
			set, err := client.CallAs[builtin.SetReminderResult](ctx, c, a.ID, "setReminder", "u1", "stand up", 300)
			if err != nil {
				t.Fatal(err)
			}
			waitKilled(t, p, 30*time.Second)
			killedAt := time.Now()
			if _, err := os.Stat(marker); err != nil {
				t.Fatalf("the hook did not leave its marker: %v", err)
			}

			// Restart without the hook: the reminder is sent, once.
			p2 := startServe(t, dir)
			c2 := newTestClient(t, p2.addr, "")
			var sent []builtin.SentReminder
			eventually(t, 30*time.Second, "the reminder is sent after the restart", func() (bool, string) {
				sent, err = client.CallAs[[]builtin.SentReminder](ctx, c2, a.ID, "listSent")
				return err == nil && len(sent) > 0, fmt.Sprintf("%v %v", sent, err)
			})
			if len(sent) != 1 || sent[0].ID != set.ReminderID || sent[0].Message != "stand up" {
				t.Fatalf("listSent = %+v, want reminder %s once", sent, set.ReminderID)
			}
			pending, err := client.CallAs[[]builtin.PendingReminder](ctx, c2, a.ID, "listPending")
			if err != nil || len(pending) != 0 {
				t.Fatalf("listPending = %+v, %v; want none", pending, err)
			}
			// Where the fire's record came from: the run the hook killed
			// (after_record) or the restarted node (before_record).
			fired := time.UnixMilli(sent[0].FiredAt)
			if point == "before_record" && fired.Before(killedAt) {
				t.Errorf("firedAt %v before the kill (%v): the killed fire was recorded", fired, killedAt)
			}
			if point == "after_record" && fired.After(killedAt) {
				t.Errorf("firedAt %v after the kill (%v): the acknowledged fire was lost", fired, killedAt)
			}
			// One deliver in the log, whatever the scheduler retried.
			delivers := 0
			for _, ev := range historyOf(t, c2, a.ID) {
				if ev.Action == builtin.ReminderDeliverAction {
					delivers++
					if ev.Caller != "scheduler" {
						t.Errorf("deliver called by %q", ev.Caller)
					}
				}
			}
			if delivers != 1 {
				t.Fatalf("%d deliver events in the reminder's history, want 1", delivers)
			}
		})
	}
}

// TestServerScheduleSurvivesKill9 runs a server schedule (@every 1s,
// incrementing a counter) across a kill -9 and a restart: it keeps firing,
// each occurrence fires once (distinct nominal times), every succeeded fire
// incremented the counter once, and after DELETE it stops.
//
// The kill lands within 4ms of a tick, so it often catches a fire between
// its event, the counter's increment and the reply. It usually takes ~6s;
// when the killed process held the increment's event in the outbox
// (delivered, not acknowledged) the reply comes only after the outbox's
// AckWait (30s), and the schedule skips its ticks meanwhile (overlap skip):
// ~36s. Hence -short skips it.
func TestServerScheduleSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("up to ~40s (a fire caught by the kill waits for the outbox's 30s AckWait)")
	}
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir)
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	counter, _, err := c.GetOrCreate(ctx, "counter", []string{"ticks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec := client.ScheduleSpec{Cron: "@every 1s", Target: client.ScheduleTarget{
		Actor: client.ScheduleActor{Type: "counter", Key: []string{"ticks"}}, Action: "increment", Args: json.RawMessage("[1]")}}
	if _, created, err := c.SetSchedule(ctx, "ticker", spec); err != nil || !created {
		t.Fatalf("set the schedule: created %v, %v", created, err)
	}
	count := func(c *client.Client) int64 {
		t.Helper()
		n, err := client.CallAs[int64](ctx, c, counter.ID, "getCount")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var s *client.Schedule
	eventually(t, 15*time.Second, "two fires before the kill", func() (bool, string) {
		s, err = c.Schedule(ctx, "ticker")
		return err == nil && s.Counters.Succeeded >= 2, fmt.Sprintf("%+v %v", s, err)
	})
	before := count(c)
	// Kill at the next tick, 0 to 4ms after it: between its event, the
	// counter's increment and the reply, where a crash can land.
	time.Sleep(time.Until(s.NextTickAt) + time.Duration(rand.IntN(4000))*time.Microsecond)
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitKilled(t, p, 10*time.Second)

	p2 := startServe(t, dir)
	c2 := newTestClient(t, p2.addr, "")
	restarted := count(c2)
	// consistent reads the schedule, the counter, the schedule again: every
	// fire the first read counts succeeded has incremented, and every
	// increment is a fire of the second read, finished or running.
	consistent := func() (s *client.Schedule, n int64, quiet bool) {
		t.Helper()
		s1, err := c2.Schedule(ctx, "ticker")
		if err != nil {
			t.Fatal(err)
		}
		n = count(c2)
		s2, err := c2.Schedule(ctx, "ticker")
		if err != nil {
			t.Fatal(err)
		}
		if n < int64(s1.Counters.Succeeded) || n > int64(s2.Counters.Succeeded)+int64(len(s2.Running)) {
			t.Fatalf("counter %d, succeeded fires %d then %d (+%d running): a fire was lost or applied twice",
				n, s1.Counters.Succeeded, s2.Counters.Succeeded, len(s2.Running))
		}
		if len(s2.Running) > 1 {
			t.Fatalf("%d fires running under overlap skip: %+v", len(s2.Running), s2.Running)
		}
		nominal := map[time.Time]uint64{}
		for _, f := range s2.RecentFires {
			if f.ID == 0 || f.Manual {
				continue
			}
			if other, dup := nominal[f.Nominal.UTC()]; dup {
				t.Fatalf("occurrence %v fired twice (fires #%d and #%d): %+v", f.Nominal, other, f.ID, s2.RecentFires)
			}
			nominal[f.Nominal.UTC()] = f.ID
		}
		if s2.Counters.Failed+s2.Counters.Unknown != 0 {
			t.Fatalf("fires failed: %+v %+v", s2.Counters, s2.RecentFires)
		}
		quiet = s1.Counters == s2.Counters && len(s2.Running) == 0
		return s2, n, quiet
	}
	eventually(t, 50*time.Second, "the schedule fires again after the restart", func() (bool, string) {
		s, n, _ := consistent()
		return n >= restarted+2, fmt.Sprintf("counter %d (%d at the restart), counters %+v", n, restarted, s.Counters)
	})
	eventually(t, 45*time.Second, "counter == succeeded fires, no fire running", func() (bool, string) {
		s, n, quiet := consistent()
		return quiet && n == int64(s.Counters.Succeeded), fmt.Sprintf("counter %d, counters %+v, running %+v", n, s.Counters, s.Running)
	})

	if err := c2.DeleteSchedule(ctx, "ticker"); err != nil {
		t.Fatal(err)
	}
	var apiErr *client.Error
	if _, err := c2.Schedule(ctx, "ticker"); !errors.As(err, &apiErr) || apiErr.Status != http.StatusNotFound {
		t.Fatalf("get after delete: %v, want 404", err)
	}
	time.Sleep(300 * time.Millisecond) // a fire sent before the delete still runs: let it land
	stopped := count(c2)
	time.Sleep(2500 * time.Millisecond) // two ticks' worth: none may come
	if n := count(c2); n != stopped {
		t.Fatalf("the counter went from %d to %d after the schedule was deleted", stopped, n)
	}
	t.Logf("counter %d before the kill, %d at the restart, %d when deleted", before, restarted, stopped)
}
