package builtin

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// PendingReminder is a reminder set and not yet sent. Times are unix milliseconds
// from the recorded clock.
type PendingReminder struct {
	ID      string `json:"id"` // the alarm's ID
	UserID  string `json:"userId"`
	Message string `json:"message"`
	SetAt   int64  `json:"setAt"`
	DueAt   int64  `json:"dueAt"`
}

// SentReminder is a reminder that fired.
type SentReminder struct {
	ID      string `json:"id"`
	UserID  string `json:"userId"`
	Message string `json:"message"`
	SetAt   int64  `json:"setAt"`
	DueAt   int64  `json:"dueAt"`
	FiredAt int64  `json:"firedAt"`
}

// ReminderState is a reminder actor's state.
type ReminderState struct {
	Pending []PendingReminder `json:"pending"`
	Sent    []SentReminder    `json:"sent"`
}

// SetReminderResult is setReminder's output.
type SetReminderResult struct {
	ReminderID string `json:"reminderId"`
}

// Reminder limits. The pending reminders are bounded by the runtime's
// alarms per actor (actors.RuntimeOptions.MaxAlarms, 1,000 by default).
const (
	// MaxSentReminders bounds the sent list; older ones are dropped.
	MaxSentReminders = 1000
	// MaxReminderDelay bounds setReminder's delay.
	MaxReminderDelay = 366 * 24 * time.Hour
	// MaxReminderMessage bounds a reminder's message, in bytes.
	MaxReminderMessage = 4096
)

// The reminder's user error codes.
const (
	CodeInvalidDelay   = "invalid_delay"
	CodeInvalidMessage = "invalid_message"
	CodeSchedulerOnly  = "scheduler_only"
)

// ReminderDeliverAction is the action the scheduler calls when a reminder
// is due; it refuses any other caller.
const ReminderDeliverAction = "deliver"

// Reminder sets reminders that fire later, through the scheduler (an
// alarm per reminder), even if the actor sleeps or the node restarts in
// between:
//
//   - setReminder(userId, message, delayMs) -> {"reminderId"}: message is
//     required, delayMs from 0 to MaxReminderDelay;
//   - cancelReminder(reminderId) -> bool: whether it was pending;
//   - listPending() -> the pending reminders, due first;
//   - listSent() -> the sent ones (the last MaxSentReminders), oldest first,
//     each with its firedAt;
//   - deliver: the fire of a reminder's alarm (caller "scheduler" only),
//     which moves it to the sent list and broadcasts "reminder" with it.
var Reminder = actors.NewType("reminder", actors.Options[ReminderState]{
	State: ReminderState{Pending: []PendingReminder{}, Sent: []SentReminder{}},
}).
	Action("setReminder", setReminder).
	Action("cancelReminder", actors.Act(func(c *actors.Context[ReminderState], id string) (bool, error) {
		i := slices.IndexFunc(c.State.Pending, func(r PendingReminder) bool { return r.ID == id })
		if i < 0 {
			return false, nil
		}
		c.Schedule().Cancel(id)
		c.State.Pending = slices.Delete(c.State.Pending, i, i+1)
		return true, nil
	})).
	Action("listPending", actors.Act0(func(c *actors.Context[ReminderState]) ([]PendingReminder, error) {
		return c.State.Pending, nil
	})).
	Action("listSent", actors.Act0(func(c *actors.Context[ReminderState]) ([]SentReminder, error) {
		return c.State.Sent, nil
	})).
	Action(ReminderDeliverAction, actors.Act0(deliverReminder))

// setReminder takes three arguments, beyond what actors.Act2 adapts.
func setReminder(c *actors.Context[ReminderState], args json.RawMessage) (any, error) {
	userID, message, delayMs, err := decodeSetReminderArgs(args)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(message) == "" {
		return nil, actors.NewUserError(CodeInvalidMessage, "a reminder needs a message", nil)
	}
	if len(message) > MaxReminderMessage {
		return nil, actors.NewUserError(CodeInvalidMessage, "a reminder's message is at most 4096 bytes",
			map[string]any{"maxBytes": MaxReminderMessage})
	}
	if delayMs < 0 || delayMs > MaxReminderDelay.Milliseconds() {
		return nil, actors.NewUserError(CodeInvalidDelay, "delayMs must be from 0 to 31622400000 (366 days)",
			map[string]any{"delayMs": delayMs, "maxDelayMs": MaxReminderDelay.Milliseconds()})
	}
	d := time.Duration(delayMs) * time.Millisecond
	id, err := c.Schedule().After(d, ReminderDeliverAction)
	if err != nil {
		return nil, err
	}
	now := c.Now()
	c.State.Pending = append(c.State.Pending, PendingReminder{ID: id, UserID: userID, Message: message,
		SetAt: now.UnixMilli(), DueAt: now.Add(d).UnixMilli()})
	slices.SortStableFunc(c.State.Pending, func(a, b PendingReminder) int { return cmp.Compare(a.DueAt, b.DueAt) })
	return SetReminderResult{ReminderID: id}, nil
}

func deliverReminder(c *actors.Context[ReminderState]) (*SentReminder, error) {
	alarm, ok := c.Alarm()
	if !ok || c.Caller() != "scheduler" {
		return nil, actors.NewUserError(CodeSchedulerOnly,
			"deliver is called by the scheduler when a reminder is due; set one with setReminder", nil)
	}
	i := slices.IndexFunc(c.State.Pending, func(r PendingReminder) bool { return r.ID == alarm.ID })
	if i < 0 {
		return nil, nil // cancelled in the same breath as it fired: nothing to send
	}
	r := c.State.Pending[i]
	c.State.Pending = slices.Delete(c.State.Pending, i, i+1)
	sent := SentReminder{ID: r.ID, UserID: r.UserID, Message: r.Message, SetAt: r.SetAt, DueAt: r.DueAt,
		FiredAt: c.Now().UnixMilli()}
	c.State.Sent = append(c.State.Sent, sent)
	if over := len(c.State.Sent) - MaxSentReminders; over > 0 {
		c.State.Sent = slices.Clone(c.State.Sent[over:])
	}
	c.Broadcast("reminder", sent)
	return &sent, nil
}

// decodeSetReminderArgs decodes [userId, message, delayMs]: missing
// trailing ones keep their zero value, as actors.Act does; more, a
// non-array or a wrong type are actors.ErrInvalidArgs.
func decodeSetReminderArgs(args json.RawMessage) (userID, message string, delayMs int64, err error) {
	var raw []json.RawMessage
	if t := bytes.TrimSpace(args); len(t) > 0 {
		if json.Unmarshal(t, &raw) != nil {
			return "", "", 0, invalidArgs("arguments must be a JSON array: [userId, message, delayMs]")
		}
	}
	if len(raw) > 3 {
		return "", "", 0, invalidArgs("expected at most 3 arguments: userId, message, delayMs")
	}
	dst := []any{&userID, &message, &delayMs}
	names := []string{"userId (a string)", "message (a string)", "delayMs (an integer)"}
	for i, r := range raw {
		if uerr := json.Unmarshal(r, dst[i]); uerr != nil {
			return "", "", 0, invalidArgs("argument " + names[i] + ": " + uerr.Error())
		}
	}
	return userID, message, delayMs, nil
}

func invalidArgs(msg string) error {
	return &actors.Error{Code: string(errcode.InvalidArgs), Message: msg}
}
