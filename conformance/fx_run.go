package conformance

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Run Tests" (upstream run.ts): actors
// with a Run handler (actors.Options.Run) that ticks, consumes a queue,
// returns early or fails, and one without.

// runSleepTimeout is upstream's RUN_SLEEP_TIMEOUT, the run fixtures' idle
// timeout.
const runSleepTimeout = 1000 * time.Millisecond

// runTicksState is runWithTicks' state.
type runTicksState struct {
	TickCount  int64 `json:"tickCount"`
	LastTickAt int64 `json:"lastTickAt"`
	RunStarted bool  `json:"runStarted"`
	RunExited  bool  `json:"runExited"`
}

// runWithTicks: its Run handler counts a tick every 50 ms until the actor
// stops (which keeps it awake); getState().
var runWithTicks = actors.NewType("runWithTicks", actors.Options[runTicksState]{
	IdleTimeout: runSleepTimeout,
	Run: func(rc *actors.RunContext[runTicksState]) error {
		ctx := rc.Context()
		if err := rc.Do(func(c *actors.Context[runTicksState]) error {
			c.State.RunStarted = true
			return nil
		}); err != nil {
			return err
		}
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for ctx.Err() == nil {
			if err := rc.Do(func(c *actors.Context[runTicksState]) error {
				c.State.TickCount++
				c.State.LastTickAt = c.Now().UnixMilli()
				return nil
			}); err != nil {
				return err
			}
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		// Upstream records runExited here; once the context has ended a Do
		// is refused (ErrAborted), so it is not recorded.
		_ = rc.Do(func(c *actors.Context[runTicksState]) error {
			c.State.RunExited = true
			return nil
		})
		return nil
	},
}).
	Action("getState", actors.Act0(func(c *actors.Context[runTicksState]) (runTicksState, error) {
		return *c.State, nil
	}))

// runQueueState is runWithQueueConsumer's state.
type runQueueState struct {
	MessagesReceived []queueView `json:"messagesReceived"`
	RunStarted       bool        `json:"runStarted"`
	WakeCount        int64       `json:"wakeCount"`
}

// runWithQueueConsumer: its Run handler takes the messages of its queue
// "messages" into messagesReceived; sendMessage(body) puts one there;
// getState().
var runWithQueueConsumer = actors.NewType("runWithQueueConsumer", actors.Options[runQueueState]{
	State:       runQueueState{MessagesReceived: []queueView{}},
	IdleTimeout: runSleepTimeout,
	Queues:      map[string]actors.QueueSpec[runQueueState]{"messages": {}},
	OnWake: func(c *actors.Context[runQueueState]) error {
		c.State.WakeCount++
		return nil
	},
	Run: func(rc *actors.RunContext[runQueueState]) error {
		if err := rc.Do(func(c *actors.Context[runQueueState]) error {
			c.State.RunStarted = true
			return nil
		}); err != nil {
			return err
		}
		for {
			m, err := rc.Queue().Next(actors.NextOptions{Names: []string{"messages"}})
			if err != nil {
				return err
			}
			if m == nil {
				continue
			}
			if err := rc.Do(func(c *actors.Context[runQueueState]) error {
				c.State.MessagesReceived = append(c.State.MessagesReceived, queueView{Name: m.Name, Body: m.Body})
				return nil
			}); err != nil {
				return err
			}
		}
	},
}).
	Action("getState", actors.Act0(func(c *actors.Context[runQueueState]) (runQueueState, error) {
		return *c.State, nil
	})).
	Action("sendMessage", actors.Act(func(c *actors.Context[runQueueState], body json.RawMessage) (bool, error) {
		// Upstream sends through a client handle to itself; a call cannot
		// wait for its own mailbox, and c.Queue().Send is the same send.
		_, err := c.Queue().Send("messages", body)
		return err == nil, err
	}))

// runExitState is the state of runWithEarlyExit and runWithError.
type runExitState struct {
	RunStarted    bool  `json:"runStarted"`
	DestroyCalled bool  `json:"destroyCalled"`
	SleepCount    int64 `json:"sleepCount"`
	WakeCount     int64 `json:"wakeCount"`
}

// runExitType is an actor whose Run handler marks runStarted, waits 200 ms
// and returns fail (nil: a plain early return).
func runExitType(name string, fail error) *actors.Type[runExitState] {
	return actors.NewType(name, actors.Options[runExitState]{
		IdleTimeout: runSleepTimeout,
		OnWake: func(c *actors.Context[runExitState]) error {
			c.State.WakeCount++
			return nil
		},
		OnSleep: func(c *actors.Context[runExitState]) error {
			c.State.SleepCount++
			return nil
		},
		OnDestroy: func(c *actors.Context[runExitState]) error {
			c.State.DestroyCalled = true
			return nil
		},
		Run: func(rc *actors.RunContext[runExitState]) error {
			if err := rc.Do(func(c *actors.Context[runExitState]) error {
				c.State.RunStarted = true
				return nil
			}); err != nil {
				return err
			}
			select {
			case <-time.After(200 * time.Millisecond):
			case <-rc.Context().Done():
			}
			return fail
		},
	}).
		Action("getState", actors.Act0(func(c *actors.Context[runExitState]) (runExitState, error) {
			return *c.State, nil
		}))
}

var (
	runWithEarlyExit = runExitType("runWithEarlyExit", nil)
	runWithError     = runExitType("runWithError", errors.New("intentional error in run handler"))
)

// runWithoutHandler has no Run handler: getState() -> {wakeCount}.
type runWithoutHandlerState struct {
	WakeCount int64 `json:"wakeCount"`
}

var runWithoutHandler = actors.NewType("runWithoutHandler", actors.Options[runWithoutHandlerState]{
	IdleTimeout: runSleepTimeout,
	OnWake: func(c *actors.Context[runWithoutHandlerState]) error {
		c.State.WakeCount++
		return nil
	},
}).
	Action("getState", actors.Act0(func(c *actors.Context[runWithoutHandlerState]) (runWithoutHandlerState, error) {
		return *c.State, nil
	}))

func init() {
	add(runWithTicks, runWithQueueConsumer, runWithEarlyExit, runWithError, runWithoutHandler)
}
