package api

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/projections"
	"github.com/rivet-flow/rivet-flow/queues"
	"github.com/rivet-flow/rivet-flow/scheduler"
)

// Server schedules (/v1/schedules): cron schedules that fire an action on
// an actor, or enqueue a message into a durable queue, each one a schedule
// actor (type scheduler.ScheduleType) keyed by its name. Reads fold the
// schedule's log without running it (no event is appended); writes are its
// actions.

// ScheduleSpec is a schedule's definition: the body of PUT
// /v1/schedules/{name}, and the spec a schedule shows (defaults filled in).
type ScheduleSpec struct {
	Cron         string         `json:"cron" minLength:"1" maxLength:"256" doc:"Cron expression: 5 fields (minute hour day-of-month month day-of-week), an optional leading seconds field, or a descriptor (@hourly, @daily, @every 90s). A CRON_TZ=Zone prefix may name the zone" example:"0 2 * * *"`
	Timezone     string         `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone the expression runs in (default UTC); DST changes follow the zone" example:"America/New_York"`
	Target       ScheduleTarget `json:"target" doc:"What each fire does: an action on an actor (actor, action, args) or a message for a queue (queue, body), one of the two"`
	Overlap      string         `json:"overlap,omitempty" enum:"skip,bufferOne,allow" doc:"When a fire comes while the previous one's action has not finished: skip it (default), bufferOne (run it when the previous finishes; at most one waits), or allow (run at once)" example:"skip"`
	CatchUp      string         `json:"catchUp,omitempty" enum:"none,latest,all" doc:"When ticks were missed (the server was down): none fires none of them, latest (default) fires the latest, all fires up to maxCatchUp of the latest, oldest first. The others are recorded as missed, in one event" example:"latest"`
	MaxCatchUp   int            `json:"maxCatchUp,omitempty" minimum:"0" maximum:"1000" doc:"Most fires a catch-up (catchUp all) makes (default 10)" example:"10"`
	JitterMs     int64          `json:"jitterMs,omitempty" minimum:"0" maximum:"3600000" doc:"Delay each tick by a random 0 to jitterMs milliseconds" example:"2000"`
	Paused       bool           `json:"paused,omitempty" doc:"Create or keep the schedule paused: no ticks until resumed" example:"false"`
	RunTimeoutMs int64          `json:"runTimeoutMs,omitempty" minimum:"0" maximum:"604800000" doc:"A fire with no outcome after this long counts as finished with outcome unknown (default 300000: 5 minutes)" example:"300000"`
}

// ScheduleTarget is what a schedule fires: an action on an actor (Actor,
// Action, Args), or a message for a durable queue (Queue, Body).
type ScheduleTarget struct {
	Actor  ScheduleActor     `json:"actor,omitzero" doc:"The actor to call; it need not exist yet (a fire while it does not fails with actor_not_found)"`
	Action string            `json:"action,omitempty" minLength:"1" doc:"Its action" example:"increment"`
	Args   []json.RawMessage `json:"args,omitempty" doc:"The action's arguments" example:"[1]"`
	// Queue and Body: the queue form.
	Queue string          `json:"queue,omitempty" doc:"Instead of an actor: the durable queue each fire enqueues body into, exactly once per fire (the fire's effect ID is the message's dedup ID). It must exist when the schedule is set (400 queue_not_found); one deleted later turns each fire's enqueue into an outbox dead letter (GET /v1/projections/outbox/rows?prefix=dead/)" example:"reports"`
	Body  json.RawMessage `json:"body,omitempty" doc:"With queue: the message each fire enqueues, any JSON value (at most 64 KiB)" example:"{\"report\":\"weekly\"}"`
}

// ScheduleActor names the target actor.
type ScheduleActor struct {
	Type string   `json:"type" minLength:"1" maxLength:"64" doc:"Actor type" example:"counter"`
	Key  keyParts `json:"key" nullable:"false" doc:"Actor key: an array of strings ([] for the empty key; null is refused), UTF-8 text" example:"[\"my-counter\"]"`
}

// ScheduleTime is one fire time, in the schedule's zone.
type ScheduleTime struct {
	Time   time.Time `json:"time" doc:"The time in the schedule's zone, with its UTC offset" example:"2026-12-04T02:00:00-05:00"`
	UTC    time.Time `json:"utc" doc:"The same instant in UTC" example:"2026-12-04T07:00:00Z"`
	Offset string    `json:"offset" doc:"The zone's UTC offset at that time" example:"-05:00"`
	Zone   string    `json:"zone" doc:"The zone's abbreviation at that time" example:"EST"`
	DST    bool      `json:"dst" doc:"Whether daylight saving time is in effect" example:"false"`
}

// ScheduleFire is one fire of a schedule, or occurrences it skipped or
// missed (count of them, from nominal to until).
type ScheduleFire scheduler.Fire

// ScheduleCounters count a schedule's fires since it was created.
type ScheduleCounters scheduler.Counters

// Schedule is a schedule as the API shows it.
type Schedule struct {
	Name string       `json:"name" doc:"The schedule's name" example:"nightly-report"`
	Spec ScheduleSpec `json:"spec" doc:"Its definition, defaults filled in"`
	// State.
	Paused        bool             `json:"paused" doc:"No ticks while paused (trigger still fires)" example:"false"`
	PausedAt      time.Time        `json:"pausedAt,omitzero" example:"2026-12-03T11:20:41.502114763Z"`
	NextTick      *ScheduleTime    `json:"nextTick,omitempty" doc:"The occurrence the armed tick fires for (absent while paused)"`
	NextTickAt    time.Time        `json:"nextTickAt,omitzero" doc:"When the armed tick is due: nextTick plus the jitter" example:"2026-12-04T07:00:01.318Z"`
	NextFireTimes []ScheduleTime   `json:"nextFireTimes" doc:"The next 5 fire times, from the armed tick on"`
	Running       []ScheduleFire   `json:"running" doc:"Fires whose outcome has not come yet"`
	Buffered      *ScheduleFire    `json:"buffered,omitempty" doc:"A fire waiting for the running one (overlap bufferOne)"`
	RecentFires   []ScheduleFire   `json:"recentFires" doc:"The last 20 fires, skips and misses, newest first, with their outcomes"`
	Counters      ScheduleCounters `json:"counters"`
	Generation    uint64           `json:"generation" doc:"1 for the first set, +1 for each set after a delete" example:"1"`
	UpdatedAt     time.Time        `json:"updatedAt" example:"2026-12-03T11:15:28.553579208Z"`
}

type scheduleName struct {
	Name string `path:"name" maxLength:"128" doc:"Schedule name: 1 to 128 of A-Z a-z 0-9 . _ -" example:"nightly-report"`
}

type putScheduleInput struct {
	Name string `path:"name" maxLength:"128" doc:"Schedule name: 1 to 128 of A-Z a-z 0-9 . _ -" example:"nightly-report"`
	Body ScheduleSpec
}

type scheduleOutput struct {
	Status int `json:"-"`
	Body   Schedule
}

type listSchedulesInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size (at most the server's limit)"`
	Cursor string `query:"cursor" doc:"Continue from the previous page: pass its nextCursor"`
}

type listSchedulesOutput struct {
	Body struct {
		Schedules  []Schedule `json:"schedules"`
		NextCursor string     `json:"nextCursor,omitempty" doc:"Pass as cursor for the next page; absent on the last" example:"cmZfc2NoZWR1bGUAbmlnaHRseS1yZXBvcnQAAQ"`
	}
}

type triggerOutput struct {
	Body struct {
		Status string       `json:"status" enum:"fired,buffered,skipped" doc:"fired; or, under the overlap policy while a fire runs, buffered or skipped" example:"fired"`
		Fire   ScheduleFire `json:"fire"`
	}
}

type previewInput struct {
	Name string    `path:"name" maxLength:"128" doc:"Schedule name"`
	N    int       `query:"n" minimum:"1" maximum:"1000" default:"20" doc:"How many fire times"`
	From time.Time `query:"from" doc:"List the times after this one (RFC 3339; default: from the armed tick, or now while paused)"`
}

type previewOutput struct {
	Body struct {
		Name     string         `json:"name" example:"nightly-report"`
		Timezone string         `json:"timezone" doc:"The zone the times are in" example:"America/New_York"`
		Times    []ScheduleTime `json:"times"`
	}
}

type scheduleHistoryInput struct {
	Name  string `path:"name" maxLength:"128" doc:"Schedule name"`
	After uint64 `query:"after" doc:"Return events after this log sequence (0 = from the start)"`
	Limit int    `query:"limit" minimum:"1" maximum:"10000" default:"100" doc:"Page size (at most the server's limit)"`
}

// registerSchedules serves /v1/schedules, if the runtime serves the
// schedule actor type.
func (s *Server) registerSchedules() {
	if s.rt == nil {
		return
	}
	if _, ok := s.rt.Registry().Actions(scheduler.ScheduleType); !ok {
		return
	}
	tags := []string{"schedules"}
	huma.Register(s.api, huma.Operation{
		OperationID: "setSchedule", Method: http.MethodPut, Path: "/v1/schedules/{name}", Tags: tags,
		Summary: "Create or replace a schedule",
		Description: "Creates the schedule (201) or replaces its definition (200) and arms its next tick. Everything is checked first, and nothing is stored if anything is wrong: " +
			"a cron expression that does not parse is 400 `invalid_cron` (with the parser's message), an unknown zone 400 `invalid_timezone`, a target type or action the server does not serve 400 `actor_type_not_found` or `action_not_found`, " +
			"a queue target's queue that does not exist 400 `queue_not_found`, a target key part that is not text (invalid UTF-8 or an unpaired surrogate escape) 400 `invalid_key`, a target with both forms, neither, a bad queue name or a body that is not JSON 400 `invalid_request`. " +
			"Fires already running go on and count.",
		MaxBodyBytes: s.opts.MaxBodyBytes + 1,
	}, s.putSchedule)
	huma.Register(s.api, huma.Operation{
		OperationID: "listSchedules", Method: http.MethodGet, Path: "/v1/schedules", Tags: tags,
		Summary: "List schedules", Description: "The schedules in name order, `limit` at a time, each as GET /v1/schedules/{name} shows it.",
	}, s.listSchedules)
	huma.Register(s.api, huma.Operation{
		OperationID: "getSchedule", Method: http.MethodGet, Path: "/v1/schedules/{name}", Tags: tags,
		Summary:     "Get a schedule",
		Description: "Its definition, state (paused, the armed tick, the next 5 fire times), fires running, the last fires with their outcomes, and counters. Reading appends nothing.",
	}, func(ctx context.Context, in *scheduleName) (*scheduleOutput, error) {
		sc, err := s.readSchedule(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		return &scheduleOutput{Status: http.StatusOK, Body: sc}, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "deleteSchedule", Method: http.MethodDelete, Path: "/v1/schedules/{name}", Tags: tags, DefaultStatus: http.StatusNoContent,
		Summary: "Delete a schedule", Description: "Destroys the schedule actor: its tick goes with it. A fire already sent still runs; its outcome is dropped.",
	}, func(ctx context.Context, in *scheduleName) (*struct{}, error) {
		h, err := s.scheduleHandle(ctx, in.Name)
		if err != nil {
			return nil, err
		}
		if err := h.Destroy(ctx); err != nil {
			return nil, s.fromSchedule(in.Name, err)
		}
		return nil, nil
	})
	for _, op := range []struct{ action, summary, desc string }{
		{"pause", "Pause a schedule", "Stops its ticks; fires running go on. Pausing a paused schedule changes nothing."},
		{"resume", "Resume a schedule", "Arms the next tick after now. The occurrences that passed while paused are counted as skipped (reason paused), in one event."},
	} {
		huma.Register(s.api, huma.Operation{
			OperationID: op.action + "Schedule", Method: http.MethodPost, Path: "/v1/schedules/{name}/" + op.action, Tags: tags,
			Summary: op.summary, Description: op.desc,
		}, func(ctx context.Context, in *scheduleName) (*scheduleOutput, error) {
			if err := s.scheduleAction(ctx, in.Name, op.action, nil); err != nil {
				return nil, err
			}
			sc, err := s.readSchedule(ctx, in.Name)
			if err != nil {
				return nil, err
			}
			return &scheduleOutput{Status: http.StatusOK, Body: sc}, nil
		})
	}
	huma.Register(s.api, huma.Operation{
		OperationID: "triggerSchedule", Method: http.MethodPost, Path: "/v1/schedules/{name}/trigger", Tags: tags,
		Summary:     "Fire a schedule now",
		Description: "Fires the target now, outside the cron sequence (paused or not), under the overlap policy: while a fire runs it may be buffered or skipped. The next tick stays as it was.",
	}, func(ctx context.Context, in *scheduleName) (*triggerOutput, error) {
		var res scheduler.TriggerResult
		if err := s.scheduleAction(ctx, in.Name, "trigger", &res); err != nil {
			return nil, err
		}
		out := &triggerOutput{}
		out.Body.Status, out.Body.Fire = res.Status, ScheduleFire(res.Fire)
		return out, nil
	})
	huma.Register(s.api, huma.Operation{
		OperationID: "previewSchedule", Method: http.MethodGet, Path: "/v1/schedules/{name}/preview", Tags: tags,
		Summary:     "Preview a schedule's fire times",
		Description: "The next `n` times the cron expression names after `from` (default now), in the schedule's zone, each with its UTC offset, so DST changes show: a wall-clock time a change skips does not fire that day, one it repeats fires at each of its instants.",
	}, s.previewSchedule)
	huma.Register(s.api, huma.Operation{
		OperationID: "scheduleHistory", Method: http.MethodGet, Path: "/v1/schedules/{name}/history", Tags: tags,
		Summary:     "Read a schedule's events",
		Description: "The schedule actor's events after sequence `after`, oldest first, straight from the log: its configurations, ticks (each with its nominal time), fires, skips, misses and outcomes. Page with `nextAfter`.",
	}, func(ctx context.Context, in *scheduleHistoryInput) (*historyOutput, error) {
		id, err := scheduleID(in.Name)
		if err != nil {
			return nil, err
		}
		out, err := s.history(ctx, &historyInput{ID: id, After: in.After, Limit: in.Limit})
		if err != nil {
			return nil, s.fromSchedule(in.Name, err)
		}
		return out, nil
	})
}

// scheduleID returns a schedule's actor ID, or 422 for a bad name.
func scheduleID(name string) (string, error) {
	if err := scheduler.ValidateName(name); err != nil {
		return "", specError(err)
	}
	id, err := actors.ActorID(scheduler.ScheduleType, []string{name})
	if err != nil {
		return "", fromActors(err)
	}
	return id, nil
}

func (s *Server) putSchedule(ctx context.Context, in *putScheduleInput) (*scheduleOutput, error) {
	if _, err := scheduleID(in.Name); err != nil {
		return nil, err
	}
	if err := in.Body.Target.Actor.Key.check(); err != nil {
		return nil, fromActors(errorfKey("target: " + err.Error()))
	}
	spec, _, err := specOf(in.Body).Validate(s.rt.Registry())
	if err != nil {
		return nil, specError(err)
	}
	if err := s.checkTargetQueue(ctx, spec.Target); err != nil {
		return nil, err
	}
	c := s.client(ctx)
	h, created, err := c.GetOrCreate(ctx, scheduler.ScheduleType, []string{in.Name}, spec)
	if err == nil {
		_, err = h.Action(ctx, "configure", spec)
	}
	if err != nil {
		return nil, s.fromSchedule(in.Name, err)
	}
	sc, err := s.readSchedule(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	out := &scheduleOutput{Status: http.StatusOK, Body: sc}
	if created {
		out.Status = http.StatusCreated
	}
	return out, nil
}

// checkTargetQueue answers 400 queue_not_found when t is a queue target
// whose queue does not exist (with a queue manager to ask; without one the
// fires' enqueues find out).
func (s *Server) checkTargetQueue(ctx context.Context, t scheduler.Target) error {
	if !t.IsQueue() || s.opts.Queues == nil {
		return nil
	}
	_, err := s.opts.Queues.Get(ctx, t.Queue)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, queues.ErrNotFound):
		// Like an unknown target action: the request names a target that
		// does not exist, a bad request (the catalogue's 404 is for a
		// missing queue at the URL).
		return newError(http.StatusBadRequest, errcode.GroupAPI, errcode.QueueNotFound,
			"target: no queue named "+t.Queue+"; create it first with PUT /v1/queues/"+t.Queue+" (GET /v1/queues lists them)",
			map[string]any{"field": "target", "queue": t.Queue})
	}
	return s.fromQueues(err)
}

// specOf is the scheduler's spec of a request body. Each target form's
// fields are passed only when set, so that the scheduler sees which forms
// the request gave.
func specOf(in ScheduleSpec) scheduler.ScheduleSpec {
	var args []byte
	if in.Target.Args != nil {
		args, _ = json.Marshal(in.Target.Args)
	}
	return scheduler.ScheduleSpec{Cron: in.Cron, Timezone: in.Timezone, Overlap: in.Overlap, CatchUp: in.CatchUp,
		MaxCatchUp: in.MaxCatchUp, JitterMs: in.JitterMs, Paused: in.Paused, RunTimeoutMs: in.RunTimeoutMs,
		Target: scheduler.Target{Actor: scheduler.TargetActor{Type: in.Target.Actor.Type, Key: in.Target.Actor.Key},
			Action: in.Target.Action, Args: args, Queue: in.Target.Queue, Body: in.Target.Body}}
}

// specView is a schedule's spec as the API shows it.
func specView(sp scheduler.ScheduleSpec) ScheduleSpec {
	view := ScheduleSpec{Cron: sp.Cron, Timezone: sp.Timezone, Overlap: sp.Overlap, CatchUp: sp.CatchUp,
		MaxCatchUp: sp.MaxCatchUp, JitterMs: sp.JitterMs, Paused: sp.Paused, RunTimeoutMs: sp.RunTimeoutMs}
	if sp.Target.IsQueue() {
		view.Target = ScheduleTarget{Queue: sp.Target.Queue, Body: sp.Target.Body}
		return view
	}
	var args []json.RawMessage
	_ = json.Unmarshal(sp.Target.Args, &args)
	if args == nil {
		args = []json.RawMessage{}
	}
	key := keyParts(sp.Target.Actor.Key)
	if key == nil {
		key = keyParts{}
	}
	view.Target = ScheduleTarget{Actor: ScheduleActor{Type: sp.Target.Actor.Type, Key: key}, Action: sp.Target.Action, Args: args}
	return view
}

// specError is the API error of a spec Validate refused: 400 for the
// expression, the zone and the target (an unknown type or action, or a
// target that is not one valid form: invalid_request with the field
// "target"), 422 for the other fields.
func specError(err error) *Error {
	if se, ok := scheduler.AsSpecError(err); ok {
		return errorOf(errcode.Code(se.Code), se.Message, nil)
	}
	var ue *actors.UserError
	if errors.As(err, &ue) {
		switch ue.Code {
		case string(errcode.ActorTypeNotFound), string(errcode.ActionNotFound):
			// The catalogue's 404 is for a missing resource at the URL; here
			// the request names a target that does not exist: a bad request.
			return newError(http.StatusBadRequest, errcode.GroupAPI, errcode.Code(ue.Code), ue.Message, map[string]any{"field": "target"})
		}
		if scheduler.IsTargetError(err) {
			return newError(http.StatusBadRequest, errcode.GroupAPI, errcode.InvalidRequest, ue.Message, map[string]any{"field": "target"})
		}
		return errorOf(errcode.InvalidRequest, ue.Message, nil)
	}
	return fromActors(err)
}

// scheduleHandle returns a handle to an existing schedule, or 404.
func (s *Server) scheduleHandle(ctx context.Context, name string) (*actors.Handle, error) {
	if _, err := scheduleID(name); err != nil {
		return nil, err
	}
	h, err := s.client(ctx).Get(ctx, scheduler.ScheduleType, []string{name})
	if err != nil {
		return nil, s.fromSchedule(name, err)
	}
	return h, nil
}

// scheduleAction calls an action of an existing schedule and decodes its
// output into out (if not nil).
func (s *Server) scheduleAction(ctx context.Context, name, action string, out any) error {
	id, err := scheduleID(name)
	if err != nil {
		return err
	}
	h, err := s.client(ctx).Ref(id)
	if err != nil {
		return fromActors(err)
	}
	raw, err := h.Action(ctx, action)
	if err != nil {
		return s.fromSchedule(name, err)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			s.lg.Error("decode a schedule action's output", "schedule", name, "action", action, "err", err)
			return errorOf(errcode.InternalError, "internal error", nil)
		}
	}
	return nil
}

// fromSchedule is fromActors, with a missing schedule said as such.
func (s *Server) fromSchedule(name string, err error) *Error {
	var e *Error
	if errors.As(err, &e) && e.Code != string(errcode.ActorNotFound) {
		return e // an API error already
	}
	if isNotFound(err) || e != nil {
		return errorOf(errcode.ActorNotFound, "no schedule named "+name+"; GET /v1/schedules lists them", map[string]any{"schedule": name})
	}
	var se *scheduler.SpecError
	if errors.As(err, &se) {
		return specError(err)
	}
	return fromActors(err)
}

// readSchedule folds a schedule's state from its snapshot and log: no
// event is appended, the actor is not woken.
func (s *Server) readSchedule(ctx context.Context, name string) (Schedule, error) {
	id, err := scheduleID(name)
	if err != nil {
		return Schedule{}, err
	}
	im, err := s.rt.ImageAt(ctx, id, math.MaxUint64)
	if err != nil {
		s.lg.Error("read a schedule", "schedule", name, "err", err)
		return Schedule{}, fromActors(err)
	}
	if !im.Exists {
		return Schedule{}, s.fromSchedule(name, actors.ErrNotFound)
	}
	var st scheduler.ScheduleState
	if err := json.Unmarshal(im.CurrentState(), &st); err != nil {
		s.lg.Error("decode a schedule's state", "schedule", name, "err", err)
		return Schedule{}, errorOf(errcode.InternalError, "internal error", nil)
	}
	return scheduleView(st, im.Generation), nil
}

// scheduleView is a schedule's state as the API shows it.
func scheduleView(st scheduler.ScheduleState, generation uint64) Schedule {
	sc := Schedule{Name: st.Name, Spec: specView(st.Spec), Paused: st.Spec.Paused, PausedAt: st.PausedAt,
		NextTickAt: st.NextAt, Counters: ScheduleCounters(st.Counters), Generation: generation, UpdatedAt: st.UpdatedAt,
		NextFireTimes: []ScheduleTime{}, Running: []ScheduleFire{}, RecentFires: []ScheduleFire{}}
	cr, err := scheduler.ParseCron(st.Spec.Cron, st.Spec.Timezone)
	if err == nil {
		if !st.Next.IsZero() {
			t := timeIn(st.Next, cr.Location())
			sc.NextTick = &t
			sc.NextFireTimes = append(sc.NextFireTimes, t)
			for _, tm := range cr.Times(st.Next, 4) {
				sc.NextFireTimes = append(sc.NextFireTimes, timeIn(tm, cr.Location()))
			}
		} else {
			for _, tm := range cr.Times(time.Now(), 5) {
				sc.NextFireTimes = append(sc.NextFireTimes, timeIn(tm, cr.Location()))
			}
		}
	}
	for _, f := range st.Running {
		sc.Running = append(sc.Running, ScheduleFire(f))
	}
	if st.Buffered != nil {
		b := ScheduleFire(*st.Buffered)
		sc.Buffered = &b
	}
	for _, f := range slices.Backward(st.Recent) {
		sc.RecentFires = append(sc.RecentFires, ScheduleFire(f))
	}
	return sc
}

// timeIn is t in loc, with its offset and zone.
func timeIn(t time.Time, loc *time.Location) ScheduleTime {
	t = t.In(loc)
	name, off := t.Zone()
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return ScheduleTime{Time: t, UTC: t.UTC(), Zone: name, DST: t.IsDST(),
		Offset: string(sign) + twoDigits(off/3600) + ":" + twoDigits(off%3600/60)}
}

func twoDigits(n int) string { return string([]byte{byte('0' + n/10%10), byte('0' + n%10)}) }

func (s *Server) previewSchedule(ctx context.Context, in *previewInput) (*previewOutput, error) {
	sc, err := s.readSchedule(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	cr, err := scheduler.ParseCron(sc.Spec.Cron, sc.Spec.Timezone)
	if err != nil {
		return nil, specError(err)
	}
	out := &previewOutput{}
	out.Body.Name, out.Body.Timezone = sc.Name, cr.Location().String()
	out.Body.Times = []ScheduleTime{}
	from, n := in.From, in.N
	if from.IsZero() {
		from = time.Now()
		if sc.NextTick != nil && n > 0 {
			// From the armed tick: an @every schedule counts from its last
			// occurrence, not from now.
			out.Body.Times = append(out.Body.Times, *sc.NextTick)
			from, n = sc.NextTick.UTC, n-1
		}
	}
	for _, t := range cr.Times(from, n) {
		out.Body.Times = append(out.Body.Times, timeIn(t, cr.Location()))
	}
	return out, nil
}

func (s *Server) listSchedules(ctx context.Context, in *listSchedulesInput) (*listSchedulesOutput, error) {
	limit := min(max(in.Limit, 1), s.opts.MaxListActors)
	names, next, err := s.scheduleNames(ctx, limit, in.Cursor)
	if err != nil {
		return nil, err
	}
	out := &listSchedulesOutput{}
	out.Body.Schedules = make([]Schedule, 0, len(names))
	for _, name := range names {
		sc, err := s.readSchedule(ctx, name)
		if err != nil {
			var e *Error
			if errors.As(err, &e) && e.Code == string(errcode.ActorNotFound) {
				continue // deleted since it was listed
			}
			return nil, err
		}
		out.Body.Schedules = append(out.Body.Schedules, sc)
	}
	out.Body.NextCursor = next
	return out, nil
}

// scheduleNames returns a page of schedule names: from the actor directory
// when the server has one, else from the log's subjects.
func (s *Server) scheduleNames(ctx context.Context, limit int, cursor string) ([]string, string, error) {
	var names []string
	if s.projs != nil {
		s.awaitDirectory(ctx)
		page, err := s.projs.Directory().List(projections.ActorQuery{Type: scheduler.ScheduleType, Status: projections.ActorActive, Limit: limit, Cursor: cursor})
		if err != nil {
			return nil, "", s.fromProjections(err)
		}
		for _, a := range page.Actors {
			if len(a.Key) == 1 {
				names = append(names, a.Key[0])
			}
		}
		return names, page.NextCursor, nil
	}
	filter, err := eventlog.TypeFilter(scheduler.ScheduleType)
	if err != nil {
		return nil, "", fromActors(err)
	}
	subjects, err := s.log.Subjects(ctx, filter)
	if err != nil {
		s.lg.Error("list schedules", "err", err)
		return nil, "", fromActors(err)
	}
	for subj := range subjects {
		if name, ok := scheduler.ScheduleName(subj[len(eventlog.SubjectPrefix)+1:]); ok && name > cursor {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	next := ""
	if len(names) > limit {
		names, next = names[:limit], names[limit-1]
	}
	return names, next, nil
}
