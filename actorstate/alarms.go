package actorstate

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// An actor's alarms and crons are part of its image, folded from the effects
// of its events: an alarm exists only if the event that set it was committed,
// and it survives sleep, restart and snapshot loss because the fold rebuilds
// it. The scheduler indexes them with AlarmChanges, the same function the fold
// uses, so the index and the image agree.

// Alarm is one pending alarm of an actor: at At, the actor's Action runs with
// Args and the caller "scheduler".
type Alarm struct {
	ID     string          `json:"id"`
	At     time.Time       `json:"at"` // due time, UTC, millisecond precision
	Action string          `json:"action"`
	Args   json.RawMessage `json:"args"`           // JSON array
	Cron   string          `json:"cron,omitempty"` // the actor cron that armed it, if any
}

// Cron is one of an actor's crons: Action runs with Args at each occurrence
// of Spec. Its next fire is a pending alarm (Alarm.Cron is Name) due at Next,
// re-armed by each fire's event.
type Cron struct {
	Name    string          `json:"name"`
	Spec    string          `json:"spec"`
	Action  string          `json:"action"`
	Args    json.RawMessage `json:"args"`
	Next    time.Time       `json:"next"`
	History []CronFire      `json:"history,omitempty"` // most recent last, at most MaxCronHistory
}

// CronFire is one fire of a cron, as its history keeps it.
type CronFire struct {
	Nominal time.Time `json:"nominal"`       // when it was due
	At      time.Time `json:"at"`            // when it ran
	Seq     uint64    `json:"seq,omitempty"` // the fire's event (set by the fold)
	Error   string    `json:"error,omitempty"`
	Code    string    `json:"code,omitempty"`
}

// MaxCronHistory bounds Cron.History: the fold keeps the most recent fires.
const MaxCronHistory = 20

// Effect types (eventlog.Effect.Type) of alarms and crons, recorded in events.
const (
	EffectAlarmSet    = "alarm.set"    // Data: Alarm JSON
	EffectAlarmCancel = "alarm.cancel" // Data: {"id": ...}  (also how a fire's event removes the fired alarm)
	EffectCronSet     = "cron.set"     // Data: Cron JSON without History
	EffectCronDelete  = "cron.delete"  // Data: {"name": ...}
	EffectCronFired   = "cron.fired"   // Data: {"name":..., "fire": CronFire}
)

// AlarmCancel is the Data of an EffectAlarmCancel.
type AlarmCancel struct {
	ID string `json:"id"`
}

// CronDelete is the Data of an EffectCronDelete.
type CronDelete struct {
	Name string `json:"name"`
}

// CronFired is the Data of an EffectCronFired.
type CronFired struct {
	Name string   `json:"name"`
	Fire CronFire `json:"fire"`
}

// AlarmChanges is what one event does to the actor's pending alarms: reset
// is true when the event clears every alarm first (a destroy tombstone, or a
// create that starts a new generation); then the IDs in removed go; then the
// alarms in set are added (a set of an existing ID replaces it). The lists
// are the event's net effect: an alarm the event set and cancelled again is
// only in removed, one it cancelled and set again only in set. A destroy sets
// nothing, whatever effects it records. err reports an alarm effect whose
// data does not decode (the rest is still returned).
func AlarmChanges(ev *eventlog.Event) (set []Alarm, removed []string, reset bool, err error) {
	reset = ev.Kind == eventlog.KindDestroy || ev.Kind == eventlog.KindCreate
	if ev.Kind == eventlog.KindDestroy {
		return nil, nil, true, nil
	}
	for i, e := range ev.Effects {
		switch e.Type {
		case EffectAlarmSet:
			var a Alarm
			if derr := json.Unmarshal(e.Data, &a); derr != nil || a.ID == "" {
				err = badEffect(ev, i, e.Type, derr)
				continue
			}
			removed = slices.DeleteFunc(removed, func(id string) bool { return id == a.ID })
			set = slices.DeleteFunc(set, func(s Alarm) bool { return s.ID == a.ID })
			set = append(set, a)
		case EffectAlarmCancel:
			var c AlarmCancel
			if derr := json.Unmarshal(e.Data, &c); derr != nil || c.ID == "" {
				err = badEffect(ev, i, e.Type, derr)
				continue
			}
			set = slices.DeleteFunc(set, func(s Alarm) bool { return s.ID == c.ID })
			if !slices.Contains(removed, c.ID) {
				removed = append(removed, c.ID)
			}
		}
	}
	return set, removed, reset, err
}

func badEffect(ev *eventlog.Event, i int, typ string, err error) error {
	if err == nil {
		err = fmt.Errorf("no ID or name")
	}
	return fmt.Errorf("event %d: effect %d (%s) does not decode: %w", ev.Seq, i, typ, err)
}

// AlarmNumber returns the number of an alarm ID the runtime allocated (IDs
// are decimal numbers counted per actor), and false for any other string.
func AlarmNumber(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && n > 0 && strconv.FormatUint(n, 10) == id
}

// AlarmID returns the ID of alarm number n.
func AlarmID(n uint64) string { return strconv.FormatUint(n, 10) }

// SortAlarms orders alarms by due time, then ID (numerically when both are
// numbers).
func SortAlarms(as []Alarm) {
	slices.SortFunc(as, func(a, b Alarm) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		na, oka := AlarmNumber(a.ID)
		nb, okb := AlarmNumber(b.ID)
		if oka && okb {
			switch {
			case na < nb:
				return -1
			case na > nb:
				return 1
			}
			return 0
		}
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
}

// applyAlarms folds ev's alarm and cron effects. Effects that do not decode
// are skipped (the runtime never writes them; a corrupt one must not stop a
// wake). The alarm counter never goes back, across generations too, so an
// alarm ID is never reused by an actor.
func (im *Image) applyAlarms(ev *eventlog.Event) {
	if ev.Kind == eventlog.KindDestroy || ev.Kind == eventlog.KindCreate {
		im.Alarms, im.Crons = nil, nil
	}
	if ev.Kind == eventlog.KindDestroy {
		return
	}
	for _, e := range ev.Effects {
		switch e.Type {
		case EffectAlarmSet:
			var a Alarm
			if json.Unmarshal(e.Data, &a) != nil || a.ID == "" {
				continue
			}
			if im.Alarms == nil {
				im.Alarms = map[string]Alarm{}
			}
			im.Alarms[a.ID] = a
			if n, ok := AlarmNumber(a.ID); ok && n >= im.NextAlarmID {
				im.NextAlarmID = n + 1
			}
			if a.Cron != "" {
				if c, ok := im.Crons[a.Cron]; ok {
					c.Next = a.At
					im.Crons[a.Cron] = c
				}
			}
		case EffectAlarmCancel:
			var c AlarmCancel
			if json.Unmarshal(e.Data, &c) != nil {
				continue
			}
			delete(im.Alarms, c.ID)
			if len(im.Alarms) == 0 {
				im.Alarms = nil
			}
		case EffectCronSet:
			var c Cron
			if json.Unmarshal(e.Data, &c) != nil || c.Name == "" {
				continue
			}
			if im.Crons == nil {
				im.Crons = map[string]Cron{}
			}
			c.History = im.Crons[c.Name].History // a replaced cron keeps its name's history
			im.Crons[c.Name] = c
		case EffectCronDelete:
			var d CronDelete
			if json.Unmarshal(e.Data, &d) != nil {
				continue
			}
			delete(im.Crons, d.Name)
			if len(im.Crons) == 0 {
				im.Crons = nil
			}
		case EffectCronFired:
			var f CronFired
			if json.Unmarshal(e.Data, &f) != nil {
				continue
			}
			c, ok := im.Crons[f.Name]
			if !ok {
				continue // deleted by the fire itself
			}
			f.Fire.Seq = ev.Seq
			c.History = append(slices.Clip(c.History), f.Fire)
			if len(c.History) > MaxCronHistory {
				c.History = slices.Clone(c.History[len(c.History)-MaxCronHistory:])
			}
			im.Crons[f.Name] = c
		}
	}
}
