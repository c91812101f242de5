package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Error codes of a schedule definition the server refuses (400): a cron
// expression that does not parse, an unknown time zone. A target type or
// action the server does not serve is CodeActorTypeNotFound or
// CodeActionNotFound, a queue target's queue that does not exist
// CodeQueueNotFound, a target that is not exactly one valid form
// CodeInvalidRequest, all with status 400.
const (
	CodeInvalidCron     = string(errcode.InvalidCron)
	CodeInvalidTimezone = string(errcode.InvalidTimezone)
)

// Overlap policies (ScheduleSpec.Overlap).
const (
	OverlapSkip      = "skip"
	OverlapBufferOne = "bufferOne"
	OverlapAllow     = "allow"
)

// Catch-up policies (ScheduleSpec.CatchUp).
const (
	CatchUpNone   = "none"
	CatchUpLatest = "latest"
	CatchUpAll    = "all"
)

// ScheduleSpec defines a server schedule: a cron expression in a zone, and
// the action on an actor each fire sends or the queue message it enqueues.
type ScheduleSpec struct {
	// Cron is the expression: 5 fields, an optional leading seconds field,
	// or a descriptor (@hourly, @every 90s); a CRON_TZ= prefix may name the
	// zone.
	Cron string `json:"cron"`
	// Timezone is the IANA zone it runs in. Defaults to UTC.
	Timezone string `json:"timezone,omitempty"`
	// Target is what each fire does.
	Target ScheduleTarget `json:"target"`
	// Overlap is one of the Overlap* policies. Defaults to OverlapSkip.
	Overlap string `json:"overlap,omitempty"`
	// CatchUp is one of the CatchUp* policies. Defaults to CatchUpLatest.
	CatchUp string `json:"catchUp,omitempty"`
	// MaxCatchUp bounds the fires of CatchUpAll. Defaults to 10.
	MaxCatchUp int `json:"maxCatchUp,omitempty"`
	// JitterMs delays each tick by a random 0 to JitterMs milliseconds.
	JitterMs int64 `json:"jitterMs,omitempty"`
	// Paused creates or keeps the schedule paused.
	Paused bool `json:"paused,omitempty"`
	// RunTimeoutMs: a fire with no outcome after this long counts as
	// finished with outcome unknown. Defaults to 5 minutes.
	RunTimeoutMs int64 `json:"runTimeoutMs,omitempty"`
}

// ScheduleTarget is what a schedule fires, one of two forms: an action on
// an actor (Actor, Action, Args; see ActorTarget), or a message for a
// durable queue (Queue, Body; see QueueTarget).
type ScheduleTarget struct {
	Actor ScheduleActor `json:"actor,omitzero"`
	// Action is the actor's action.
	Action string `json:"action,omitempty"`
	// Args are its arguments, a JSON array; nil for none.
	Args json.RawMessage `json:"args,omitempty"`
	// Queue is the durable queue each fire enqueues Body into, exactly once
	// per fire. It must exist when the schedule is set (CodeQueueNotFound);
	// if it is deleted later, each fire's enqueue becomes one of the
	// server's outbox dead letters.
	Queue string `json:"queue,omitempty"`
	// Body is the message, any JSON value (at most 64 KiB).
	Body json.RawMessage `json:"body,omitempty"`
}

// ActorTarget is the target calling action on the actor (typ, key) with
// args (a JSON array, or nil for none).
func ActorTarget(typ string, key []string, action string, args json.RawMessage) ScheduleTarget {
	if key == nil {
		key = []string{}
	}
	return ScheduleTarget{Actor: ScheduleActor{Type: typ, Key: key}, Action: action, Args: args}
}

// QueueTarget is the target enqueuing body (a JSON value) into queue.
func QueueTarget(queue string, body json.RawMessage) ScheduleTarget {
	return ScheduleTarget{Queue: queue, Body: body}
}

// IsQueue reports whether t is a queue target.
func (t ScheduleTarget) IsQueue() bool { return t.Queue != "" }

// ScheduleActor names a schedule's target actor. It need not exist when
// the schedule is set.
type ScheduleActor struct {
	Type string   `json:"type"`
	Key  []string `json:"key"`
}

// ScheduleTime is a fire time in the schedule's zone.
type ScheduleTime struct {
	// Time is in the schedule's zone, with its UTC offset.
	Time time.Time `json:"time"`
	// UTC is the same instant in UTC.
	UTC time.Time `json:"utc"`
	// Offset is the zone's offset then ("-04:00"), Zone its abbreviation
	// ("EDT"), DST whether daylight saving time is in effect.
	Offset string `json:"offset"`
	Zone   string `json:"zone"`
	DST    bool   `json:"dst"`
}

// Fire outcomes (ScheduleFire.Outcome).
const (
	FireRunning   = "running"
	FireSucceeded = "succeeded"
	FireFailed    = "failed"
	FireUnknown   = "unknown"
	FireBuffered  = "buffered"
	FireSkipped   = "skipped"
	FireMissed    = "missed"
)

// ScheduleFire is one fire of a schedule, or occurrences it skipped or
// missed (Count of them, from Nominal to Until).
type ScheduleFire struct {
	// ID numbers the schedule's fires from 1; 0 for skips and misses.
	ID uint64 `json:"id,omitempty"`
	// Nominal is the occurrence fired (the trigger time for a manual fire).
	Nominal time.Time `json:"nominal"`
	// At is when it fired, or was skipped or found missed.
	At time.Time `json:"at"`
	// Finished is when its outcome came.
	Finished time.Time `json:"finished,omitzero"`
	// Outcome is one of the Fire* values.
	Outcome string `json:"outcome"`
	// Reason says why it was skipped: overlap, buffer_full,
	// too_many_running or paused.
	Reason string `json:"reason,omitempty"`
	// Code and Error describe a failed fire.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Count and Until describe an entry of several skips or misses;
	// CountCapped says there were at least Count.
	Count       int       `json:"count,omitempty"`
	Until       time.Time `json:"until,omitzero"`
	CountCapped bool      `json:"countCapped,omitempty"`
	// Manual marks a fire by TriggerSchedule.
	Manual bool `json:"manual,omitempty"`
	// Effect is the ID of the send that fired an actor target (empty for
	// a queue target: its fire's enqueue is in the fire's event).
	Effect string `json:"effect,omitempty"`
}

// ScheduleCounters count a schedule's fires since it was created.
type ScheduleCounters struct {
	Fired     uint64 `json:"fired"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Unknown   uint64 `json:"unknown"`
	Skipped   uint64 `json:"skipped"`
	Missed    uint64 `json:"missed"`
}

// Schedule is a server schedule: its definition and state.
type Schedule struct {
	Name string `json:"name"`
	// Spec is its definition, defaults filled in.
	Spec ScheduleSpec `json:"spec"`
	// Paused: no ticks until resumed.
	Paused   bool      `json:"paused"`
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// NextTick is the occurrence the armed tick fires for (nil while
	// paused); NextTickAt when it is due (NextTick plus the jitter).
	NextTick   *ScheduleTime `json:"nextTick,omitempty"`
	NextTickAt time.Time     `json:"nextTickAt,omitzero"`
	// NextFireTimes are the next 5 fire times.
	NextFireTimes []ScheduleTime `json:"nextFireTimes"`
	// Running are the fires whose outcome has not come yet; Buffered one
	// waiting for them (OverlapBufferOne).
	Running  []ScheduleFire `json:"running"`
	Buffered *ScheduleFire  `json:"buffered,omitempty"`
	// RecentFires are the last 20 fires, skips and misses, newest first.
	RecentFires []ScheduleFire   `json:"recentFires"`
	Counters    ScheduleCounters `json:"counters"`
	Generation  uint64           `json:"generation"`
	UpdatedAt   time.Time        `json:"updatedAt"`
}

// SetSchedule creates the schedule name (created true) or replaces its
// definition, and arms its next tick. The server checks everything first
// and stores nothing if anything is wrong: CodeInvalidCron,
// CodeInvalidTimezone, CodeActorTypeNotFound, CodeActionNotFound,
// CodeQueueNotFound or CodeInvalidRequest (400).
func (c *Client) SetSchedule(ctx context.Context, name string, spec ScheduleSpec) (s *Schedule, created bool, err error) {
	if name == "" {
		return nil, false, errMissing("schedule name")
	}
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	path := "/v1/schedules/" + escape(name)
	resp, err := c.send(ctx, http.MethodPut, path, nil, spec, "application/json")
	if err != nil {
		return nil, false, err
	}
	defer closeBody(resp.Body)
	s = &Schedule{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(s); err != nil {
		return nil, false, fmt.Errorf("client: PUT %s: decode the response: %w", path, err)
	}
	return s, resp.StatusCode == http.StatusCreated, nil
}

// Schedule returns the schedule name; CodeActorNotFound if there is none.
func (c *Client) Schedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodGet, name, "")
}

// ScheduleListOptions pages through Schedules.
type ScheduleListOptions struct {
	// Limit is the page size; the server caps it (100 by default).
	Limit int
	// Cursor continues from a previous page's NextCursor.
	Cursor string
}

// SchedulePage is a page of Schedules, in name order.
type SchedulePage struct {
	Schedules []Schedule `json:"schedules"`
	// NextCursor is the Cursor of the next page; empty on the last.
	NextCursor string `json:"nextCursor,omitempty"`
}

// Schedules lists the server's schedules. opts may be nil.
func (c *Client) Schedules(ctx context.Context, opts *ScheduleListOptions) (*SchedulePage, error) {
	q := url.Values{}
	if opts != nil {
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Cursor != "" {
			q.Set("cursor", opts.Cursor)
		}
	}
	var page SchedulePage
	if err := c.do(ctx, http.MethodGet, "/v1/schedules", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// DeleteSchedule deletes the schedule name; CodeActorNotFound if there is
// none. A fire already sent still runs.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	if name == "" {
		return errMissing("schedule name")
	}
	return c.do(ctx, http.MethodDelete, "/v1/schedules/"+escape(name), nil, nil, nil)
}

// PauseSchedule stops the schedule's ticks (TriggerSchedule still fires).
func (c *Client) PauseSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, name, "/pause")
}

// ResumeSchedule arms the schedule's next tick after now; the occurrences
// that passed while paused count as skipped.
func (c *Client) ResumeSchedule(ctx context.Context, name string) (*Schedule, error) {
	return c.scheduleCall(ctx, http.MethodPost, name, "/resume")
}

func (c *Client) scheduleCall(ctx context.Context, method, name, suffix string) (*Schedule, error) {
	if name == "" {
		return nil, errMissing("schedule name")
	}
	var s Schedule
	if err := c.do(ctx, method, "/v1/schedules/"+escape(name)+suffix, nil, nil, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// TriggerResult is what TriggerSchedule did: Status "fired", or under the
// overlap policy while a fire runs, "buffered" or "skipped".
type TriggerResult struct {
	Status string       `json:"status"`
	Fire   ScheduleFire `json:"fire"`
}

// TriggerSchedule fires the schedule now, outside its cron sequence
// (paused or not), under its overlap policy. The fire's outcome comes
// later: see Schedule's RecentFires.
func (c *Client) TriggerSchedule(ctx context.Context, name string) (*TriggerResult, error) {
	if name == "" {
		return nil, errMissing("schedule name")
	}
	var r TriggerResult
	if err := c.do(ctx, http.MethodPost, "/v1/schedules/"+escape(name)+"/trigger", nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// PreviewOptions selects PreviewSchedule's times.
type PreviewOptions struct {
	// N is how many times (the server caps it at 1000). Defaults to 20.
	N int
	// From lists the times after this one. Defaults to now.
	From time.Time
}

// SchedulePreview is a schedule's next fire times in its zone.
type SchedulePreview struct {
	Name     string         `json:"name"`
	Timezone string         `json:"timezone"`
	Times    []ScheduleTime `json:"times"`
}

// PreviewSchedule returns the schedule's next fire times in its zone, each
// with its UTC offset (DST changes show). opts may be nil.
func (c *Client) PreviewSchedule(ctx context.Context, name string, opts *PreviewOptions) (*SchedulePreview, error) {
	if name == "" {
		return nil, errMissing("schedule name")
	}
	q := url.Values{}
	if opts != nil {
		if opts.N > 0 {
			q.Set("n", strconv.Itoa(opts.N))
		}
		if !opts.From.IsZero() {
			q.Set("from", opts.From.Format(time.RFC3339Nano))
		}
	}
	var p SchedulePreview
	if err := c.do(ctx, http.MethodGet, "/v1/schedules/"+escape(name)+"/preview", q, nil, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// ScheduleHistory reads a page of the schedule's events (configurations,
// ticks with their nominal times, fires and outcomes), straight from the
// log. opts may be nil; its State is ignored.
func (c *Client) ScheduleHistory(ctx context.Context, name string, opts *EventsOptions) (*EventPage, error) {
	if name == "" {
		return nil, errMissing("schedule name")
	}
	q := url.Values{}
	if opts != nil {
		if opts.After > 0 {
			q.Set("after", strconv.FormatUint(opts.After, 10))
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
	}
	var page EventPage
	if err := c.do(ctx, http.MethodGet, "/v1/schedules/"+escape(name)+"/history", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}
