package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/scheduler"
)

// scheduleSetup is setup with the schedule type served.
func scheduleSetup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{entered: make(chan string, 16), release: make(chan struct{}), header: http.Header{}}
	reg, err := actors.NewRegistry(builtin.Counter, testerType())
	if err != nil {
		t.Fatal(err)
	}
	if err := scheduler.RegisterType(reg); err != nil {
		t.Fatal(err)
	}
	n, err := startNode(t, testOpts{}, reg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b.n, b.base = n, "http://"+n.Addr()
	b.http = checkedClient(t, b.n, "")
	t.Cleanup(func() {
		b.http.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	return b
}

// counterSpec is a spec incrementing the counter "c" by 1.
func counterSpec(cron string) map[string]any {
	return map[string]any{"cron": cron, "target": map[string]any{"actor": map[string]any{"type": "counter", "key": []string{"c"}},
		"action": "increment", "args": []any{1}}}
}

// scheduleEvents returns how many events the schedule's actor has.
func (b *bundle) scheduleEvents(t *testing.T, name string) int {
	t.Helper()
	resp, data := b.do(t, http.MethodGet, "/v1/schedules/"+name+"/history?limit=1000", nil)
	if resp.StatusCode == http.StatusNotFound {
		return 0
	}
	var page struct {
		Events []api.Event `json:"events"`
	}
	b.callDecode(t, resp, data, &page)
	return len(page.Events)
}

func (b *bundle) callDecode(t *testing.T, resp *http.Response, data []byte, out any) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
}

// Bad input over HTTP is refused with its code, and nothing is stored: no
// schedule, no event.
func TestSchedulesBadInputStoresNothing(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	with := func(mutate func(m map[string]any)) map[string]any {
		m := counterSpec("* * * * *")
		mutate(m)
		return m
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		msg    string
	}{
		{"cron", with(func(m map[string]any) { m["cron"] = "every day at 9" }), 400, "invalid_cron", "expected"},
		{"cron-range", with(func(m map[string]any) { m["cron"] = "0 25 * * *" }), 400, "invalid_cron", "25"},
		{"zone", with(func(m map[string]any) { m["timezone"] = "Mars/Olympus" }), 400, "invalid_timezone", "Mars/Olympus"},
		{"cron-tz", with(func(m map[string]any) { m["cron"] = "CRON_TZ=Nowhere/Land 0 9 * * *" }), 400, "invalid_timezone", "Nowhere/Land"},
		{"type", with(func(m map[string]any) {
			m["target"].(map[string]any)["actor"] = map[string]any{"type": "nosuch", "key": []string{}}
		}), 400, "actor_type_not_found", "nosuch"},
		{"action", with(func(m map[string]any) { m["target"].(map[string]any)["action"] = "nosuch" }), 400, "action_not_found", "nosuch"},
		{"overlap", with(func(m map[string]any) { m["overlap"] = "sometimes" }), 422, "invalid_request", "overlap"},
		{"not-json", "{", 400, "malformed_json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, data := b.do(t, http.MethodPut, "/v1/schedules/bad", tc.body)
			p := wantProblem(t, resp, data, tc.status, tc.code)
			if !strings.Contains(string(data), tc.msg) {
				t.Errorf("problem %+v does not mention %q", p, tc.msg)
			}
		})
	}
	resp, data := b.do(t, http.MethodPut, "/v1/schedules/bad%20name", counterSpec("* * * * *"))
	wantProblem(t, resp, data, http.StatusUnprocessableEntity, "invalid_request")
	resp, data = b.do(t, http.MethodGet, "/v1/schedules/bad", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	if n := b.scheduleEvents(t, "bad"); n != 0 {
		t.Fatalf("%d events stored for refused schedules", n)
	}
	var list struct {
		Schedules []api.Schedule `json:"schedules"`
	}
	b.call(t, http.MethodGet, "/v1/schedules", nil, http.StatusOK, &list)
	if len(list.Schedules) != 0 {
		t.Fatalf("listed %+v, want none", list.Schedules)
	}

	// A refused change to an existing schedule changes nothing either.
	b.call(t, http.MethodPut, "/v1/schedules/good", counterSpec("0 9 * * *"), http.StatusCreated, nil)
	before := b.scheduleEvents(t, "good")
	resp, data = b.do(t, http.MethodPut, "/v1/schedules/good", counterSpec("0 9 * * 8"))
	wantProblem(t, resp, data, http.StatusBadRequest, "invalid_cron")
	var sc api.Schedule
	b.call(t, http.MethodGet, "/v1/schedules/good", nil, http.StatusOK, &sc)
	if n := b.scheduleEvents(t, "good"); n != before || sc.Spec.Cron != "0 9 * * *" {
		t.Fatalf("after a refused change: %d events (want %d), cron %q", n, before, sc.Spec.Cron)
	}
}

// A schedule's life over HTTP: set (created, then replaced), read (with
// defaults, next fire times; reading appends nothing), listed, triggered
// (its outcome comes back), paused and resumed, its history, deleted.
func TestSchedulesLifecycle(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	b.actor(t, "counter", "c")
	var sc api.Schedule
	b.call(t, http.MethodPut, "/v1/schedules/nightly", counterSpec("0 2 * * *"), http.StatusCreated, &sc)
	s := sc.Spec
	if sc.Name != "nightly" || s.Overlap != "skip" || s.CatchUp != "latest" || s.MaxCatchUp != 10 || s.RunTimeoutMs != 300000 || s.Timezone != "" ||
		sc.Paused || sc.NextTick == nil || len(sc.NextFireTimes) != 5 || sc.Generation != 1 || string(s.Target.Args[0]) != "1" {
		t.Fatalf("created %+v", sc)
	}
	for i, ft := range sc.NextFireTimes {
		if ft.Time.Hour() != 2 || ft.Offset != "+00:00" || ft.Zone != "UTC" || (i > 0 && ft.Time.Sub(sc.NextFireTimes[i-1].Time) != 24*time.Hour) {
			t.Fatalf("fire time %d: %+v", i, ft)
		}
	}
	spec := counterSpec("*/5 * * * *")
	spec["overlap"], spec["jitterMs"] = "allow", 1000
	b.call(t, http.MethodPut, "/v1/schedules/nightly", spec, http.StatusOK, &sc)
	if sc.Spec.Cron != "*/5 * * * *" || sc.Spec.Overlap != "allow" || sc.Spec.JitterMs != 1000 {
		t.Fatalf("replaced %+v", sc.Spec)
	}
	if d := sc.NextTickAt.Sub(sc.NextTick.UTC); d < 0 || d > time.Second {
		t.Fatalf("tick due %v after its occurrence, want at most the 1s jitter", d)
	}

	events := b.scheduleEvents(t, "nightly")
	b.call(t, http.MethodGet, "/v1/schedules/nightly", nil, http.StatusOK, &sc)
	var list struct {
		Schedules []api.Schedule `json:"schedules"`
	}
	b.call(t, http.MethodGet, "/v1/schedules", nil, http.StatusOK, &list)
	if len(list.Schedules) != 1 || list.Schedules[0].Name != "nightly" {
		t.Fatalf("listed %+v", list.Schedules)
	}
	b.call(t, http.MethodGet, "/v1/schedules/nightly/preview?n=3", nil, http.StatusOK, nil)
	if n := b.scheduleEvents(t, "nightly"); n != events {
		t.Fatalf("reads appended events: %d, want %d", n, events)
	}

	var tr struct {
		Status string           `json:"status"`
		Fire   api.ScheduleFire `json:"fire"`
	}
	b.call(t, http.MethodPost, "/v1/schedules/nightly/trigger", nil, http.StatusOK, &tr)
	if tr.Status != "fired" || tr.Fire.ID != 1 || !tr.Fire.Manual {
		t.Fatalf("trigger: %+v", tr)
	}
	// The outcome comes back asynchronously (the reply): poll the schedule.
	deadline := time.Now().Add(waitFor)
	for sc.Counters.Succeeded == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no outcome: %+v", sc)
		}
		time.Sleep(5 * time.Millisecond)
		b.call(t, http.MethodGet, "/v1/schedules/nightly", nil, http.StatusOK, &sc)
	}
	if f := sc.RecentFires[0]; f.ID != 1 || f.Outcome != "succeeded" || f.Finished.IsZero() || len(sc.Running) != 0 {
		t.Fatalf("recent fires %+v, running %+v", sc.RecentFires, sc.Running)
	}
	if got := b.action(t, b.actor(t, "counter", "c").ID, "getCount"); string(got) != "1" {
		t.Fatalf("counter = %s, want 1", got)
	}

	sc = api.Schedule{}
	b.call(t, http.MethodPost, "/v1/schedules/nightly/pause", nil, http.StatusOK, &sc)
	if !sc.Paused || sc.NextTick != nil || sc.PausedAt.IsZero() {
		t.Fatalf("paused %+v", sc)
	}
	b.call(t, http.MethodPost, "/v1/schedules/nightly/resume", nil, http.StatusOK, &sc)
	if sc.Paused || sc.NextTick == nil {
		t.Fatalf("resumed %+v", sc)
	}

	var hist struct {
		Events []api.Event `json:"events"`
	}
	b.call(t, http.MethodGet, "/v1/schedules/nightly/history", nil, http.StatusOK, &hist)
	var actions []string
	for _, ev := range hist.Events {
		actions = append(actions, ev.Action)
	}
	want := []string{"$create", "configure", "configure", "trigger", "fireDone", "pause", "resume"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("history %v, want %v", actions, want)
	}

	b.call(t, http.MethodDelete, "/v1/schedules/nightly", nil, http.StatusNoContent, nil)
	for _, path := range []string{"/v1/schedules/nightly", "/v1/schedules/nightly/preview"} {
		resp, data := b.do(t, http.MethodGet, path, nil)
		wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	}
	for _, path := range []string{"/pause", "/resume", "/trigger"} {
		resp, data := b.do(t, http.MethodPost, "/v1/schedules/nightly"+path, nil)
		wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	}
	resp, data := b.do(t, http.MethodDelete, "/v1/schedules/nightly", nil)
	wantProblem(t, resp, data, http.StatusNotFound, "actor_not_found")
	b.call(t, http.MethodGet, "/v1/schedules", nil, http.StatusOK, &list)
	if len(list.Schedules) != 0 {
		t.Fatalf("listed after delete: %+v", list.Schedules)
	}
}

// Preview shows the times in the schedule's zone with their offsets: in
// America/New_York 02:30 does not exist on 2026-03-08, and 01:30 happens
// twice on 2026-11-01.
func TestSchedulesPreviewDST(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	for _, tc := range []struct {
		name, cron, from string
		want             []string
		dst              []bool
	}{
		{"spring", "30 2 * * *", "2026-03-07T00:00:00-05:00",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}, []bool{false, true, true}},
		{"fall", "30 1 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-02T01:30:00-05:00"}, []bool{true, false, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := counterSpec(tc.cron)
			spec["timezone"] = "America/New_York"
			b.call(t, http.MethodPut, "/v1/schedules/"+tc.name, spec, http.StatusCreated, nil)
			var p struct {
				Timezone string             `json:"timezone"`
				Times    []api.ScheduleTime `json:"times"`
			}
			b.call(t, http.MethodGet, "/v1/schedules/"+tc.name+"/preview?n=3&from="+url.QueryEscape(tc.from), nil, http.StatusOK, &p)
			if p.Timezone != "America/New_York" || len(p.Times) != 3 {
				t.Fatalf("preview %+v", p)
			}
			for i, w := range tc.want {
				got := p.Times[i]
				if got.Time.Format(time.RFC3339) != w || got.Offset != w[len(w)-6:] || got.DST != tc.dst[i] || !got.UTC.Equal(got.Time) {
					t.Errorf("time %d: %+v, want %s (dst %v)", i, got, w, tc.dst[i])
				}
			}
		})
	}
}

// Without ?from=, preview starts at the armed tick: an @every schedule
// counts from its last occurrence, so preview and nextFireTimes agree.
func TestSchedulesPreviewFromArmedTick(t *testing.T) {
	t.Parallel()
	b := scheduleSetup(t)
	var sc api.Schedule
	b.call(t, http.MethodPut, "/v1/schedules/every", counterSpec("@every 7s"), http.StatusCreated, &sc)
	var p struct {
		Times []api.ScheduleTime `json:"times"`
	}
	b.call(t, http.MethodGet, "/v1/schedules/every/preview?n=3", nil, http.StatusOK, &p)
	if len(p.Times) != 3 || sc.NextTick == nil {
		t.Fatalf("preview %+v, schedule %+v", p, sc)
	}
	for i, got := range p.Times {
		if want := sc.NextTick.UTC.Add(time.Duration(i) * 7 * time.Second); !got.UTC.Equal(want) {
			t.Errorf("preview time %d: %v, want %v (from the armed tick %v)", i, got.UTC, want, sc.NextTick.UTC)
		}
	}
}
