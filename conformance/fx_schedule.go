package conformance

import (
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// scheduledState is the state of the suite's `scheduled` fixture: when a
// scheduled task last ran (unix ms), how many ran, and the IDs of those
// scheduled with one, in the order they ran.
type scheduledState struct {
	LastRun        int64    `json:"lastRun"`
	ScheduledCount int      `json:"scheduledCount"`
	TaskHistory    []string `json:"taskHistory"`
}

// scheduledTaskWithID is what scheduleTaskAfterWithId answers.
type scheduledTaskWithID struct {
	TaskID       string `json:"taskId"`
	ScheduledFor int64  `json:"scheduledFor"`
}

// msDuration turns a JavaScript number of milliseconds into a duration.
func msDuration(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

// scheduled is the "Actor Schedule Tests" fixture: c.schedule.at and
// c.schedule.after are durable alarms (Context.Schedule), which call the
// onScheduledTask / onScheduledTaskWithId actions when due.
var scheduled = actors.NewType("scheduled", actors.Options[scheduledState]{
	State: scheduledState{TaskHistory: []string{}},
}).
	Action("scheduleTaskAt", actors.Act(func(c *actors.Context[scheduledState], timestamp float64) (float64, error) {
		if _, err := c.Schedule().At(time.UnixMilli(int64(timestamp)), "onScheduledTask"); err != nil {
			return 0, err
		}
		return timestamp, nil
	})).
	Action("scheduleTaskAfter", actors.Act(func(c *actors.Context[scheduledState], delayMs float64) (int64, error) {
		if _, err := c.Schedule().After(msDuration(delayMs), "onScheduledTask"); err != nil {
			return 0, err
		}
		return c.Now().UnixMilli() + int64(delayMs), nil
	})).
	Action("scheduleTaskAfterWithId", actors.Act2(func(c *actors.Context[scheduledState], taskID string, delayMs float64) (scheduledTaskWithID, error) {
		if _, err := c.Schedule().After(msDuration(delayMs), "onScheduledTaskWithId", taskID); err != nil {
			return scheduledTaskWithID{}, err
		}
		return scheduledTaskWithID{TaskID: taskID, ScheduledFor: c.Now().UnixMilli() + int64(delayMs)}, nil
	})).
	Action("scheduleTask", actors.Act(func(c *actors.Context[scheduledState], delayMs float64) (int64, error) {
		at := c.Now().UnixMilli() + int64(delayMs)
		if _, err := c.Schedule().At(time.UnixMilli(at), "onScheduledTask"); err != nil {
			return 0, err
		}
		return at, nil
	})).
	Action("getLastRun", actors.Act0(func(c *actors.Context[scheduledState]) (int64, error) {
		return c.State.LastRun, nil
	})).
	Action("getScheduledCount", actors.Act0(func(c *actors.Context[scheduledState]) (int, error) {
		return c.State.ScheduledCount, nil
	})).
	Action("getTaskHistory", actors.Act0(func(c *actors.Context[scheduledState]) ([]string, error) {
		if c.State.TaskHistory == nil {
			return []string{}, nil
		}
		return c.State.TaskHistory, nil
	})).
	Action("clearHistory", actors.Act0(func(c *actors.Context[scheduledState]) (bool, error) {
		c.State.TaskHistory = []string{}
		c.State.ScheduledCount = 0
		c.State.LastRun = 0
		return true, nil
	})).
	Action("onScheduledTask", actors.Act0(func(c *actors.Context[scheduledState]) (any, error) {
		c.State.LastRun = c.Now().UnixMilli()
		c.State.ScheduledCount++
		c.Broadcast("scheduled", map[string]any{"time": c.State.LastRun, "count": c.State.ScheduledCount})
		return nil, nil
	})).
	Action("onScheduledTaskWithId", actors.Act(func(c *actors.Context[scheduledState], taskID string) (any, error) {
		c.State.LastRun = c.Now().UnixMilli()
		c.State.ScheduledCount++
		c.State.TaskHistory = append(c.State.TaskHistory, taskID)
		c.Broadcast("scheduledWithId", map[string]any{"taskId": taskID, "time": c.State.LastRun, "count": c.State.ScheduledCount})
		return nil, nil
	}))

func init() { add(scheduled) }
