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
	"github.com/rivet-flow/rivet-flow/scheduler"
)

// scheduleClient starts a node serving the built-in types and schedules.
func scheduleClient(t *testing.T) *client.Client {
	t.Helper()
	reg := builtin.Registry()
	if err := scheduler.RegisterType(reg); err != nil {
		t.Fatal(err)
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
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
	return c
}

// The typed schedule methods against a real node: set (created, then
// replaced), get, list, preview, trigger, pause, resume, history, delete,
// and the errors of a bad definition and a missing schedule.
func TestSchedules(t *testing.T) {
	t.Parallel()
	c := scheduleClient(t)
	ctx := ctxT(t)
	spec := client.ScheduleSpec{Cron: "0 9 * * 1-5", Timezone: "Europe/Paris",
		Target: client.ScheduleTarget{Actor: client.ScheduleActor{Type: "counter", Key: []string{"c"}}, Action: "increment", Args: json.RawMessage(`[2]`)}}
	s, created, err := c.SetSchedule(ctx, "weekdays", spec)
	if err != nil || !created || s.Spec.Overlap != client.OverlapSkip || s.Spec.CatchUp != client.CatchUpLatest || s.NextTick == nil || len(s.NextFireTimes) != 5 {
		t.Fatalf("SetSchedule: %+v created=%v err=%v", s, created, err)
	}
	if nt := s.NextTick.Time; nt.Hour() != 9 || nt.Weekday() == time.Saturday || nt.Weekday() == time.Sunday || s.NextTick.Zone[0] != 'C' {
		t.Fatalf("next tick %+v, want 09:00 Paris time on a weekday", s.NextTick)
	}
	spec.Overlap = client.OverlapBufferOne
	if s, created, err = c.SetSchedule(ctx, "weekdays", spec); err != nil || created || s.Spec.Overlap != client.OverlapBufferOne {
		t.Fatalf("SetSchedule again: %+v created=%v err=%v", s, created, err)
	}
	if got, err := c.Schedule(ctx, "weekdays"); err != nil || got.Name != "weekdays" || got.Spec.Cron != spec.Cron {
		t.Fatalf("Schedule: %+v %v", got, err)
	}
	page, err := c.Schedules(ctx, &client.ScheduleListOptions{Limit: 10})
	if err != nil || len(page.Schedules) != 1 || page.NextCursor != "" {
		t.Fatalf("Schedules: %+v %v", page, err)
	}
	p, err := c.PreviewSchedule(ctx, "weekdays", &client.PreviewOptions{N: 3, From: time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)})
	if err != nil || p.Timezone != "Europe/Paris" || len(p.Times) != 3 {
		t.Fatalf("PreviewSchedule: %+v %v", p, err)
	}
	// Paris moves to summer time on 2026-03-29: Friday +01:00, Monday +02:00.
	if p.Times[0].Offset != "+01:00" || p.Times[1].Offset != "+02:00" || !p.Times[1].DST {
		t.Fatalf("preview across the change: %+v", p.Times)
	}
	if _, _, err := c.GetOrCreate(ctx, "counter", []string{"c"}, nil); err != nil {
		t.Fatal(err)
	}
	tr, err := c.TriggerSchedule(ctx, "weekdays")
	if err != nil || tr.Status != "fired" || tr.Fire.ID != 1 || !tr.Fire.Manual {
		t.Fatalf("TriggerSchedule: %+v %v", tr, err)
	}
	if s, err = c.PauseSchedule(ctx, "weekdays"); err != nil || !s.Paused || s.NextTick != nil {
		t.Fatalf("PauseSchedule: %+v %v", s, err)
	}
	if s, err = c.ResumeSchedule(ctx, "weekdays"); err != nil || s.Paused || s.NextTick == nil {
		t.Fatalf("ResumeSchedule: %+v %v", s, err)
	}
	h, err := c.ScheduleHistory(ctx, "weekdays", &client.EventsOptions{Limit: 2})
	if err != nil || len(h.Events) != 2 || h.Events[0].Action != "$create" || h.NextAfter == 0 {
		t.Fatalf("ScheduleHistory: %+v %v", h, err)
	}
	if err := c.DeleteSchedule(ctx, "weekdays"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Schedule(ctx, "weekdays")
	wantCode(t, err, http.StatusNotFound, client.CodeActorNotFound)

	spec.Cron = "0 9 * * funday"
	_, _, err = c.SetSchedule(ctx, "weekdays", spec)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidCron)
	spec.Cron, spec.Timezone = "0 9 * * *", "Atlantis/Capital"
	_, _, err = c.SetSchedule(ctx, "weekdays", spec)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidTimezone)
	spec.Timezone, spec.Target.Action = "", "explode"
	_, _, err = c.SetSchedule(ctx, "weekdays", spec)
	wantCode(t, err, http.StatusBadRequest, client.CodeActionNotFound)
	if _, _, err := c.SetSchedule(ctx, "", spec); err == nil {
		t.Fatal("SetSchedule with no name sent a request")
	}
}
