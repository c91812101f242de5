package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Server schedules: cron schedules managed over the API (/v1/schedules),
// each one an actor of the built-in type ScheduleType keyed by its name. Its
// log is fenced like any actor's, so a tick is an event carrying the nominal
// time it fires for, and a second tick for the same nominal time (from a
// restart, a retried alarm or another node) finds the schedule moved on and
// changes nothing: exactly one fire per occurrence, without leader election.
//
// A fire of an actor target sends the target's action with a reply
// (actors.Context.SendReply): the schedule does not wait for the target, and
// learns its outcome from the reply (fireDone). A fire of a queue target
// enqueues its body (actors.Context.Enqueue): an effect of the fire's own
// event, performed once that event is committed (and by the outbox after a
// crash) with the effect ID as the message's dedup ID, so exactly one
// message per fire; the fire is finished, succeeded, in that event. The
// overlap policy decides what a tick does while an earlier fire has not
// finished (a queue fire never is); the catch-up policy what a late tick
// does with the occurrences it missed. Every fire, skip and miss is in the
// schedule's events and counters, and in metrics.

// ScheduleType is the actor type name of server schedules.
const ScheduleType = "rf_schedule"

// Overlap policies (ScheduleSpec.Overlap): what a tick does while an earlier
// fire of the schedule has not finished.
const (
	// OverlapSkip skips the tick (counted as skipped). The default.
	OverlapSkip = "skip"
	// OverlapBufferOne keeps one tick to fire when the running fire
	// finishes; further ones are skipped.
	OverlapBufferOne = "bufferOne"
	// OverlapAllow fires anyway (at most MaxRunning at once).
	OverlapAllow = "allow"
)

// Catch-up policies (ScheduleSpec.CatchUp): what a late tick (after
// downtime) does with the occurrences it missed.
const (
	// CatchUpNone fires none of them: all are missed (an occurrence still
	// within LateAfter fires).
	CatchUpNone = "none"
	// CatchUpLatest fires the latest one; the others are missed. The default.
	CatchUpLatest = "latest"
	// CatchUpAll fires the latest MaxCatchUp of them, oldest first, each
	// under the overlap policy; the others are missed.
	CatchUpAll = "all"
)

// Limits and defaults of a schedule.
const (
	// LateAfter is how late past its time a tick may run and still be on
	// time; later, it is catching up and the catch-up policy applies.
	LateAfter = time.Minute
	// DefaultMaxCatchUp is MaxCatchUp when unset; MaxMaxCatchUp bounds it.
	DefaultMaxCatchUp = 10
	MaxMaxCatchUp     = 1000
	// MaxJitter bounds JitterMs.
	MaxJitter = time.Hour
	// DefaultRunTimeout is RunTimeoutMs when unset: a fire with no reply
	// after this long counts as finished with outcome unknown at the next
	// tick. MinRunTimeout and MaxRunTimeout bound it.
	DefaultRunTimeout = 5 * time.Minute
	MinRunTimeout     = time.Second
	MaxRunTimeout     = 7 * 24 * time.Hour
	// MaxRunning bounds the fires in flight at once (OverlapAllow).
	MaxRunning = 100
	// RecentFires is how many fires (and skips and misses) a schedule keeps.
	RecentFires = 20
	// MaxTargetArgsBytes bounds the target's encoded arguments, or the
	// queue target's body.
	MaxTargetArgsBytes = 64 << 10
	// MaxNameLen bounds a schedule's name.
	MaxNameLen = 128
)

// ScheduleSpec is what a schedule does: the JSON body of PUT
// /v1/schedules/{name}.
type ScheduleSpec struct {
	// Cron is the cron expression: five fields, an optional leading seconds
	// field, or a descriptor (@hourly, @every 90s); a CRON_TZ= prefix may
	// name the zone.
	Cron string `json:"cron"`
	// Timezone is the IANA zone the expression runs in. Defaults to UTC.
	Timezone string `json:"timezone,omitempty"`
	// Target is the action each fire sends, or the queue it enqueues into.
	Target Target `json:"target"`
	// Overlap is one of the Overlap* policies. Defaults to OverlapSkip.
	Overlap string `json:"overlap,omitempty"`
	// CatchUp is one of the CatchUp* policies. Defaults to CatchUpLatest.
	CatchUp string `json:"catchUp,omitempty"`
	// MaxCatchUp bounds the fires of CatchUpAll. Defaults to DefaultMaxCatchUp.
	MaxCatchUp int `json:"maxCatchUp,omitempty"`
	// JitterMs delays each tick by a random 0..JitterMs milliseconds (drawn
	// from the recorded random source: a replay draws the same).
	JitterMs int64 `json:"jitterMs,omitempty"`
	// Paused stops the ticks (Trigger still fires).
	Paused bool `json:"paused,omitempty"`
	// RunTimeoutMs is how long a fire may go without a reply before it
	// counts as finished with outcome unknown. Defaults to DefaultRunTimeout.
	RunTimeoutMs int64 `json:"runTimeoutMs,omitempty"`
}

// Target is what a fire does, one of two forms: an action on an actor
// (Actor, Action and Args), or a message for a durable queue (Queue and
// Body).
type Target struct {
	Actor  TargetActor     `json:"actor,omitzero"`
	Action string          `json:"action,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	// Queue names the queue each fire enqueues Body into (the rules of
	// queue names: 1 to 64 of [A-Za-z0-9_-], starting with a letter). It
	// must exist when a fire's enqueue is performed, or that enqueue becomes
	// one of the outbox's dead letters (target "queue:<name>").
	Queue string `json:"queue,omitempty"`
	// Body is the message, any JSON value (null included).
	Body json.RawMessage `json:"body,omitempty"`
}

// IsQueue reports whether the target is a queue.
func (t Target) IsQueue() bool { return t.Queue != "" }

// TargetActor names the target actor. It need not exist when the schedule
// is set; a fire while it does not fails with actor_not_found.
type TargetActor struct {
	Type string   `json:"type"`
	Key  []string `json:"key"`
}

// Fire outcomes (Fire.Outcome).
const (
	OutcomeRunning   = "running"   // sent; no reply yet
	OutcomeSucceeded = "succeeded" // the target's action succeeded
	OutcomeFailed    = "failed"    // it failed, or could not be sent
	OutcomeUnknown   = "unknown"   // no reply within the run timeout
	OutcomeBuffered  = "buffered"  // waiting for the running fire (bufferOne)
	OutcomeSkipped   = "skipped"   // not fired: see Reason
	OutcomeMissed    = "missed"    // occurrences a late tick did not fire (Count)
)

// Skip reasons (Fire.Reason).
const (
	ReasonOverlap        = "overlap"          // a fire was running (skip)
	ReasonBufferFull     = "buffer_full"      // one was running and one buffered (bufferOne)
	ReasonTooManyRunning = "too_many_running" // MaxRunning were running (allow)
	ReasonPaused         = "paused"           // occurrences while paused, counted at resume
)

// Fire is one entry of a schedule's recent fires: a fire, or occurrences
// skipped or missed (Count of them, from Nominal to Until).
type Fire struct {
	// ID numbers the schedule's fires from 1; 0 for skips and misses.
	ID uint64 `json:"id,omitempty"`
	// Nominal is the occurrence the fire is for (the trigger time for a
	// manual fire).
	Nominal time.Time `json:"nominal"`
	// At is when it fired, or was skipped or found missed.
	At time.Time `json:"at"`
	// Finished is when its outcome came.
	Finished time.Time `json:"finished,omitzero"`
	// Outcome is one of the Outcome* values.
	Outcome string `json:"outcome"`
	// Reason says why it was skipped.
	Reason string `json:"reason,omitempty"`
	// Code and Error describe a failed fire.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
	// Count and Until: the occurrences an entry of skips or misses covers
	// (Nominal the first, Until the last); CountCapped says there were at
	// least Count.
	Count       int       `json:"count,omitempty"`
	Until       time.Time `json:"until,omitzero"`
	CountCapped bool      `json:"countCapped,omitempty"`
	// Manual marks a fire by trigger.
	Manual bool `json:"manual,omitempty"`
	// Effect is the send's effect ID (empty for a queue target's fire: its
	// enqueue's effect ID is known once the fire's event is appended; see
	// the schedule's history).
	Effect string `json:"effect,omitempty"`
}

// Counters count a schedule's fires and outcomes since it was created.
type Counters struct {
	Fired     uint64 `json:"fired"`
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Unknown   uint64 `json:"unknown"`
	Skipped   uint64 `json:"skipped"`
	Missed    uint64 `json:"missed"`
}

// ScheduleState is a schedule actor's state.
type ScheduleState struct {
	// Name is the schedule's name (its actor key).
	Name string       `json:"name"`
	Spec ScheduleSpec `json:"spec"`
	// Next is the occurrence the armed tick fires for; NextAt when its
	// alarm is due (Next plus jitter); AlarmID the alarm. All zero while
	// paused.
	Next    time.Time `json:"next,omitzero"`
	NextAt  time.Time `json:"nextAt,omitzero"`
	AlarmID string    `json:"alarmId,omitempty"`
	// PausedAt is when the schedule was paused.
	PausedAt time.Time `json:"pausedAt,omitzero"`
	// Running are the fires sent and not finished; Buffered the fire
	// waiting for them (bufferOne).
	Running  []Fire   `json:"running"`
	Buffered *Fire    `json:"buffered,omitempty"`
	Counters Counters `json:"counters"`
	// Recent are the last RecentFires entries, oldest first.
	Recent []Fire `json:"recent"`
	// LastFireID is the ID of the last fire.
	LastFireID uint64    `json:"lastFireId,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// FireTag is the tag of a fire's reply.
type FireTag struct {
	ID      uint64    `json:"id"`
	Nominal time.Time `json:"nominal"`
}

// ScheduleName returns the name of a schedule's actor ID, and whether id
// names a schedule.
func ScheduleName(id string) (string, bool) {
	typ, key, err := actors.ParseID(id)
	if err != nil || typ != ScheduleType || len(key) != 1 {
		return "", false
	}
	return key[0], true
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidateName checks a schedule name: 1 to MaxNameLen of [A-Za-z0-9._-],
// starting with a letter or digit.
func ValidateName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !nameRE.MatchString(name) {
		return actors.NewUserError("invalid_request", fmt.Sprintf("schedule name %q: want 1 to %d of A-Z a-z 0-9 . _ -, starting with a letter or digit", name, MaxNameLen), nil)
	}
	return nil
}

// Normalize checks spec and returns it with its defaults filled in, and its
// parsed expression. It checks neither the target's type nor its action
// (Validate does, against a registry). Errors are *SpecError for the
// expression and zone, *actors.UserError (invalid_request) for the rest.
func (spec ScheduleSpec) Normalize() (ScheduleSpec, *Cron, error) {
	c, err := ParseCron(spec.Cron, spec.Timezone)
	if err != nil {
		return spec, nil, err
	}
	bad := func(format string, args ...any) (ScheduleSpec, *Cron, error) {
		return spec, nil, actors.NewUserError("invalid_request", fmt.Sprintf(format, args...), nil)
	}
	switch spec.Overlap {
	case "":
		spec.Overlap = OverlapSkip
	case OverlapSkip, OverlapBufferOne, OverlapAllow:
	default:
		return bad("overlap %q: want skip, bufferOne or allow", spec.Overlap)
	}
	switch spec.CatchUp {
	case "":
		spec.CatchUp = CatchUpLatest
	case CatchUpNone, CatchUpLatest, CatchUpAll:
	default:
		return bad("catchUp %q: want none, latest or all", spec.CatchUp)
	}
	if spec.MaxCatchUp == 0 {
		spec.MaxCatchUp = DefaultMaxCatchUp
	}
	if spec.MaxCatchUp < 1 || spec.MaxCatchUp > MaxMaxCatchUp {
		return bad("maxCatchUp %d: want 1 to %d", spec.MaxCatchUp, MaxMaxCatchUp)
	}
	if spec.JitterMs < 0 || spec.JitterMs > MaxJitter.Milliseconds() {
		return bad("jitterMs %d: want 0 to %d", spec.JitterMs, MaxJitter.Milliseconds())
	}
	if spec.RunTimeoutMs == 0 {
		spec.RunTimeoutMs = DefaultRunTimeout.Milliseconds()
	}
	if spec.RunTimeoutMs < MinRunTimeout.Milliseconds() || spec.RunTimeoutMs > MaxRunTimeout.Milliseconds() {
		return bad("runTimeoutMs %d: want %d to %d", spec.RunTimeoutMs, MinRunTimeout.Milliseconds(), MaxRunTimeout.Milliseconds())
	}
	if err := spec.Target.normalize(); err != nil {
		return spec, nil, err
	}
	return spec, c, nil
}

// targetError is an invalid target: invalid_request, with the metadata
// {"field": "target"} (the API answers it 400).
func targetError(format string, args ...any) error {
	return actors.NewUserError("invalid_request", "target: "+fmt.Sprintf(format, args...), map[string]any{"field": "target"})
}

// IsTargetError reports whether err, from Normalize or Validate, is about
// the target.
func IsTargetError(err error) bool {
	var ue *actors.UserError
	if !errors.As(err, &ue) {
		return false
	}
	m, ok := ue.Metadata.(map[string]any)
	return ok && m["field"] == "target"
}

// normalize checks the target, one form exactly, and fills in the actor
// form's defaults.
func (t *Target) normalize() error {
	actorForm := t.Actor.Type != "" || t.Actor.Key != nil || t.Action != "" || len(t.Args) > 0
	queueForm := t.Queue != "" || len(t.Body) > 0
	switch {
	case actorForm && queueForm:
		return targetError("give either an actor action (actor, action, args) or a queue (queue, body), not both")
	case queueForm:
		return t.normalizeQueue()
	case !actorForm:
		return targetError("give an actor action ({\"actor\":{\"type\",\"key\"},\"action\",\"args\"}) or a queue ({\"queue\",\"body\"})")
	}
	if t.Actor.Type == "" || t.Action == "" {
		return targetError("an actor target needs actor.type and action")
	}
	if t.Actor.Key == nil {
		t.Actor.Key = []string{}
	}
	if _, err := actors.ActorID(t.Actor.Type, t.Actor.Key); err != nil {
		return targetError("actor: %v", err)
	}
	if len(t.Args) == 0 || string(t.Args) == "null" {
		t.Args = json.RawMessage("[]")
	}
	if len(t.Args) > MaxTargetArgsBytes {
		return targetError("args are %d bytes, limit %d", len(t.Args), MaxTargetArgsBytes)
	}
	var args []json.RawMessage
	if err := json.Unmarshal(t.Args, &args); err != nil {
		return targetError("args must be a JSON array: %v", err)
	}
	return nil
}

func (t *Target) normalizeQueue() error {
	if err := eventlog.ValidateType(t.Queue); err != nil {
		return targetError("queue name %q: want 1 to 64 of A-Z a-z 0-9 _ -, starting with a letter", t.Queue)
	}
	if len(t.Body) == 0 {
		return targetError("a queue target needs a body: the message each fire enqueues, any JSON value")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, t.Body); err != nil {
		return targetError("body is not a JSON value: %v", err)
	}
	if compact.Len() > MaxTargetArgsBytes {
		return targetError("body is %d bytes, limit %d", compact.Len(), MaxTargetArgsBytes)
	}
	t.Body = json.RawMessage(compact.Bytes())
	return nil
}

// TargetID returns the target actor's ID.
func (t Target) TargetID() (string, error) { return actors.ActorID(t.Actor.Type, t.Actor.Key) }

// Validate is Normalize, then a check that reg serves an actor target's
// type and action: an unknown one is an *actors.UserError with code
// actor_type_not_found or action_not_found. It does not check that a queue
// target's queue exists (the scheduler does not know queues; the API does).
func (spec ScheduleSpec) Validate(reg *actors.Registry) (ScheduleSpec, *Cron, error) {
	spec, c, err := spec.Normalize()
	if err != nil || spec.Target.IsQueue() {
		return spec, c, err
	}
	names, ok := reg.CallableActions(spec.Target.Actor.Type)
	if !ok {
		return spec, nil, actors.NewUserError("actor_type_not_found", fmt.Sprintf("target: unknown actor type %q (%s)", spec.Target.Actor.Type, userTypes(reg)), nil)
	}
	if _, found := slices.BinarySearch(names, spec.Target.Action); !found {
		return spec, nil, actors.NewUserError("action_not_found", fmt.Sprintf("target: actor type %s has no action %q (%s)", spec.Target.Actor.Type, spec.Target.Action, actionList(names)), nil)
	}
	return spec, c, nil
}

// userTypes names the types a schedule can target for a message
// ("registered: agent, counter"): the server's own (rf_ names) are left out.
func userTypes(reg *actors.Registry) string {
	var names []string
	for _, n := range reg.Types() {
		if !strings.HasPrefix(n, "rf_") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "no actor types are registered"
	}
	return "registered: " + strings.Join(names, ", ")
}

// actionList names a type's actions for a message: "it has: add, get".
func actionList(names []string) string {
	if len(names) == 0 {
		return "it has no actions"
	}
	return "it has: " + strings.Join(names, ", ")
}

// userError makes a *SpecError the runtime error of its code (catalogued:
// 400), as the actor returns it.
func userError(err error) error {
	if se, ok := AsSpecError(err); ok {
		return &actors.Error{Code: se.Code, Message: se.Message}
	}
	return err
}

// validateIn is Normalize plus the target check from inside the actor.
func validateIn(c *actors.Context[ScheduleState], spec ScheduleSpec) (ScheduleSpec, *Cron, error) {
	spec, cr, err := spec.Normalize()
	if err != nil {
		return spec, nil, userError(err)
	}
	if spec.Target.IsQueue() {
		return spec, cr, nil
	}
	id, _ := spec.Target.TargetID()
	if err := c.CheckSend(id, spec.Target.Action); err != nil {
		var re *actors.Error
		if errors.As(err, &re) {
			return spec, nil, actors.NewUserError(re.Code, "target: "+re.Message, nil)
		}
		return spec, nil, err
	}
	return spec, cr, nil
}
