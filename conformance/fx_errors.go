package conformance

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Error Handling Tests"
// (tests/actor-error-handling.ts: errorHandlingActor, customTimeoutActor)
// and "Connection Error Serialization Tests"
// (tests/conn-error-serialization.ts: connErrorSerializationActor).

func init() {
	add(errorHandlingActor, customTimeoutActor, connErrorSerializationActor)
}

// errorsSleep waits d, or until the call's context ends (the action
// timeout), which the runtime reports as action_timeout.
func errorsSleep[S any](c *actors.Context[S], d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.Context().Done():
		return c.Context().Err()
	}
}

type errorHandlingState struct {
	ErrorLog []string `json:"errorLog"`
}

// errorHandlingActor throws user errors (with RivetKit's default code
// user_error, or a code and metadata) and an internal error, and has a
// 500 ms action timeout for its slow actions.
var errorHandlingActor = actors.NewType("errorHandlingActor", actors.Options[errorHandlingState]{
	State:         errorHandlingState{ErrorLog: []string{}},
	ActionTimeout: 500 * time.Millisecond,
}).
	Action("throwSimpleError", actors.Act0(func(*actors.Context[errorHandlingState]) (any, error) {
		return nil, actors.NewUserError("user_error", "Simple error message", nil)
	})).
	Action("throwDetailedError", actors.Act0(func(c *actors.Context[errorHandlingState]) (any, error) {
		return nil, actors.NewUserError("detailed_error", "Detailed error message",
			map[string]any{"reason": "test", "timestamp": c.Now().UnixMilli()})
	})).
	Action("throwInternalError", actors.Act0(func(*actors.Context[errorHandlingState]) (any, error) {
		return nil, errors.New("This is an internal error")
	})).
	Action("successfulAction", actors.Act0(func(*actors.Context[errorHandlingState]) (string, error) {
		return "success", nil
	})).
	Action("timeoutAction", actors.Act0(func(c *actors.Context[errorHandlingState]) (string, error) {
		if err := errorsSleep(c, 10*time.Second); err != nil {
			return "", err
		}
		return "This should not be reached if timeout works", nil
	})).
	Action("delayedAction", actors.Act(func(c *actors.Context[errorHandlingState], delayMs int64) (string, error) {
		if err := errorsSleep(c, time.Duration(delayMs)*time.Millisecond); err != nil {
			return "", err
		}
		return fmt.Sprintf("Completed after %dms", delayMs), nil
	})).
	Action("logError", actors.Act(func(c *actors.Context[errorHandlingState], msg string) ([]string, error) {
		c.State.ErrorLog = append(c.State.ErrorLog, msg)
		return c.State.ErrorLog, nil
	})).
	Action("getErrorLog", actors.Act0(func(c *actors.Context[errorHandlingState]) ([]string, error) {
		return c.State.ErrorLog, nil
	})).
	Action("clearErrorLog", actors.Act0(func(c *actors.Context[errorHandlingState]) (bool, error) {
		c.State.ErrorLog = []string{}
		return true, nil
	}))

// customTimeoutActor has a 200 ms action timeout: quickAction (50 ms) ends
// in time, slowAction (300 ms) does not.
var customTimeoutActor = actors.NewType("customTimeoutActor", actors.Options[struct{}]{
	ActionTimeout: 200 * time.Millisecond,
}).
	Action("quickAction", actors.Act0(func(c *actors.Context[struct{}]) (string, error) {
		if err := errorsSleep(c, 50*time.Millisecond); err != nil {
			return "", err
		}
		return "Quick action completed", nil
	})).
	Action("slowAction", actors.Act0(func(c *actors.Context[struct{}]) (string, error) {
		if err := errorsSleep(c, 300*time.Millisecond); err != nil {
			return "", err
		}
		return "Slow action completed", nil
	}))

type connErrorSerializationState struct {
	Value int64 `json:"value"`
}

// connErrorSerializationActor refuses connections whose params say
// {shouldThrow: true} from CreateConnState with an error of group
// "connection", code "custom_error" (a UserError with a Group of its own).
var connErrorSerializationActor = actors.NewType("connErrorSerializationActor", actors.Options[connErrorSerializationState]{
	CreateConnState: func(_ *actors.Context[connErrorSerializationState], params json.RawMessage) (any, error) {
		var p struct {
			ShouldThrow bool `json:"shouldThrow"`
		}
		connParamsInto(params, &p)
		if p.ShouldThrow {
			return nil, &actors.UserError{Group: "connection", Code: "custom_error", Message: "Test error from createConnState"}
		}
		return map[string]bool{"initialized": true}, nil
	},
}).
	Action("getValue", actors.Act0(func(c *actors.Context[connErrorSerializationState]) (int64, error) {
		return c.State.Value, nil
	}))
