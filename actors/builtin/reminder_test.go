package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/clock"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const waitLimit = 20 * time.Second

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// reminderSetup starts a runtime over the built-in registry on a fresh data
// dir with a fake clock; the alarms are fired by hand (Runtime.FireAlarm),
// as the scheduler would (its own tests run the reminder through it).
func reminderSetup(t *testing.T) (*actors.Runtime, *clock.Fake, *actors.Handle) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dir := t.TempDir()
	log, err := eventlog.Open(context.Background(), eventlog.Config{DataDir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := snapshot.Open(filepath.Join(dir, "snapshots"), &snapshot.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	rt, err := actors.NewRuntime(log, snaps, builtin.Registry(), actors.RuntimeOptions{Logger: quiet, Clock: clk, SweepInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := rt.Stop(ctx); err != nil {
			t.Errorf("stop runtime: %v", err)
		}
		if err := snaps.Close(); err != nil {
			t.Errorf("close snapshots: %v", err)
		}
		if err := log.Close(ctx); err != nil {
			t.Errorf("close log: %v", err)
		}
	})
	h, _, err := rt.Client().GetOrCreate(testCtx(t), "reminder", []string{"team"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rt, clk, h
}

func call[R any](t testing.TB, h *actors.Handle, action string, args ...any) R {
	t.Helper()
	out, err := actors.Call[R](testCtx(t), h, action, args...)
	if err != nil {
		t.Fatalf("%s%v: %v", action, args, err)
	}
	return out
}

// setReminder -> {"reminderId"}; the reminder is pending until its alarm
// fires, then sent with its fired time and broadcast as "reminder"; a second
// delivery of the same fire changes nothing.
func TestReminderFires(t *testing.T) {
	rt, clk, h := reminderSetup(t)
	conn, err := h.Subscribe(testCtx(t), "reminder")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := h.Action(testCtx(t), "setReminder", "alice", "stand up", 5000)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]string
	if err := json.Unmarshal(raw, &res); err != nil || res["reminderId"] == "" || len(res) != 1 {
		t.Fatalf("setReminder returned %s (%v), want {\"reminderId\": ...}", raw, err)
	}
	id := res["reminderId"]
	due := clk.Now().Add(5 * time.Second)
	pending := call[[]builtin.PendingReminder](t, h, "listPending")
	if len(pending) != 1 || pending[0].ID != id || pending[0].UserID != "alice" || pending[0].Message != "stand up" ||
		pending[0].DueAt != due.UnixMilli() {
		t.Fatalf("pending %+v", pending)
	}

	clk.Set(due.Add(7 * time.Millisecond)) // a little late
	fired, err := rt.FireAlarm(testCtx(t), h.ID, id, due)
	if err != nil || !fired {
		t.Fatalf("FireAlarm: fired %v, err %v", fired, err)
	}
	want := builtin.SentReminder{ID: id, UserID: "alice", Message: "stand up", SetAt: due.Add(-5 * time.Second).UnixMilli(),
		DueAt: due.UnixMilli(), FiredAt: due.Add(7 * time.Millisecond).UnixMilli()}
	select {
	case b := <-conn.Events():
		var args []builtin.SentReminder
		if err := json.Unmarshal(b.Args, &args); err != nil || b.Name != "reminder" || len(args) != 1 || args[0] != want {
			t.Fatalf("broadcast %s %s (%v), want reminder %+v", b.Name, b.Args, err, want)
		}
	case <-time.After(waitLimit):
		t.Fatal("no reminder broadcast")
	}
	if sent := call[[]builtin.SentReminder](t, h, "listSent"); len(sent) != 1 || sent[0] != want {
		t.Fatalf("sent %+v, want %+v", sent, want)
	}
	if pending := call[[]builtin.PendingReminder](t, h, "listPending"); len(pending) != 0 {
		t.Fatalf("still pending: %+v", pending)
	}
	if fired, err := rt.FireAlarm(testCtx(t), h.ID, id, due); fired || err != nil {
		t.Fatalf("second delivery: fired %v, err %v", fired, err)
	}
	if sent := call[[]builtin.SentReminder](t, h, "listSent"); len(sent) != 1 {
		t.Fatalf("sent %d after a second delivery, want 1", len(sent))
	}
}

// A cancelled reminder is no longer pending and its alarm does not fire.
func TestReminderCancel(t *testing.T) {
	rt, clk, h := reminderSetup(t)
	id := call[builtin.SetReminderResult](t, h, "setReminder", "bob", "lunch", 60_000).ReminderID
	due := clk.Now().Add(time.Minute)
	if !call[bool](t, h, "cancelReminder", id) {
		t.Fatal("cancelReminder found nothing")
	}
	if call[bool](t, h, "cancelReminder", id) {
		t.Fatal("cancelReminder cancelled twice")
	}
	clk.Set(due)
	if fired, err := rt.FireAlarm(testCtx(t), h.ID, id, due); fired || err != nil {
		t.Fatalf("FireAlarm of a cancelled reminder: fired %v, err %v", fired, err)
	}
	if len(call[[]builtin.PendingReminder](t, h, "listPending")) != 0 || len(call[[]builtin.SentReminder](t, h, "listSent")) != 0 {
		t.Fatal("a cancelled reminder left a trace")
	}
}

// setReminder refuses bad input with a clear error, and deliver refuses
// any caller but the scheduler.
func TestReminderErrors(t *testing.T) {
	_, _, h := reminderSetup(t)
	for _, tc := range []struct {
		name string
		args []any
		code string
	}{
		{"empty message", []any{"u", "  ", 10}, builtin.CodeInvalidMessage},
		{"no message", []any{"u"}, builtin.CodeInvalidMessage},
		{"long message", []any{"u", strings.Repeat("x", builtin.MaxReminderMessage+1), 10}, builtin.CodeInvalidMessage},
		{"negative delay", []any{"u", "hi", -1}, builtin.CodeInvalidDelay},
		{"delay too long", []any{"u", "hi", builtin.MaxReminderDelay.Milliseconds() + 1}, builtin.CodeInvalidDelay},
		{"fractional delay", []any{"u", "hi", 1.5}, "invalid_args"},
		{"delay as a string", []any{"u", "hi", "10"}, "invalid_args"},
		{"four arguments", []any{"u", "hi", 10, 1}, "invalid_args"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.Action(testCtx(t), "setReminder", tc.args...)
			if code := errCode(err); code != tc.code {
				t.Fatalf("error %v (code %q), want code %q", err, code, tc.code)
			}
		})
	}
	if got := call[[]builtin.PendingReminder](t, h, "listPending"); len(got) != 0 {
		t.Fatalf("a refused reminder is pending: %+v", got)
	}
	_, err := h.Action(testCtx(t), builtin.ReminderDeliverAction)
	if code := errCode(err); code != builtin.CodeSchedulerOnly {
		t.Fatalf("deliver from a Go client: %v, want %s", err, builtin.CodeSchedulerOnly)
	}
}

// The sent list keeps the last MaxSentReminders, oldest first.
func TestReminderSentIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("fires over a thousand reminders")
	}
	rt, clk, h := reminderSetup(t)
	total := builtin.MaxSentReminders + 3
	for done := 0; done < total; {
		batch := min(500, total-done)
		type set struct {
			id  string
			due time.Time
		}
		var sets []set
		for i := range batch {
			id := call[builtin.SetReminderResult](t, h, "setReminder", "u", "m"+string(rune('a'+(done+i)%26)), 1000).ReminderID
			sets = append(sets, set{id, clk.Now().Add(time.Second)})
		}
		clk.Advance(time.Second)
		for _, s := range sets {
			if fired, err := rt.FireAlarm(testCtx(t), h.ID, s.id, s.due); !fired || err != nil {
				t.Fatalf("FireAlarm %s: fired %v, err %v", s.id, fired, err)
			}
		}
		done += batch
	}
	sent := call[[]builtin.SentReminder](t, h, "listSent")
	if len(sent) != builtin.MaxSentReminders || sent[0].ID != "4" || sent[len(sent)-1].ID != "1003" {
		t.Fatalf("%d sent, from %s to %s; want %d, from 4 to 1003", len(sent), sent[0].ID, sent[len(sent)-1].ID, builtin.MaxSentReminders)
	}
}

func errCode(err error) string {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		return ue.Code
	}
	var re *actors.Error
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}
