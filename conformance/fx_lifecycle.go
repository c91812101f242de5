package conformance

import (
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// startStopRaceState is the state of the suite's startStopRaceActor.
type startStopRaceState struct {
	Initialized    bool  `json:"initialized"`
	StartTime      int64 `json:"startTime"`
	DestroyCalled  bool  `json:"destroyCalled"`
	StartCompleted bool  `json:"startCompleted"`
}

// startStopRaceActor is the "Actor Lifecycle Tests" fixture: a slow wake
// (100 ms) to open a window for a destroy during start, and a destroy action.
var startStopRaceActor = actors.NewType("startStopRaceActor", actors.Options[startStopRaceState]{
	OnWake: func(c *actors.Context[startStopRaceState]) error {
		c.State.StartTime = c.Now().UnixMilli()
		// Simulate a slow initialization, as upstream does.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-c.Context().Done():
			return c.Context().Err()
		}
		c.State.Initialized = true
		c.State.StartCompleted = true
		return nil
	},
	OnDestroy: func(c *actors.Context[startStopRaceState]) error {
		c.State.DestroyCalled = true
		return nil
	},
}).
	Action("getState", actors.Act0(func(c *actors.Context[startStopRaceState]) (startStopRaceState, error) {
		return *c.State, nil
	})).
	Action("ping", actors.Act0(func(c *actors.Context[startStopRaceState]) (string, error) {
		return "pong", nil
	})).
	Action("destroy", actors.Act0(func(c *actors.Context[startStopRaceState]) (any, error) {
		c.Destroy()
		return nil, nil
	}))

func init() { add(startStopRaceActor) }
