package conformance

import (
	"context"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Action Features" group: synchronous,
// asynchronous and promise-returning actions (Go has one kind of action, so
// each is a plain action), per-type action timeouts, and large payloads.

type actionValueState struct {
	Value float64 `json:"value"`
}

type asyncActionState struct {
	Value float64 `json:"value"`
	Data  any     `json:"data"`
}

type promiseState struct {
	Results []string `json:"results"`
}

// actionsPause waits d or until the call's context ends (its action timeout).
func actionsPause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// actionsAmountOr is JavaScript's default parameter: a missing amount is def.
func actionsAmountOr(amount *float64, def float64) float64 {
	if amount == nil {
		return def
	}
	return *amount
}

var syncActionActor = actors.NewType("syncActionActor", actors.Options[actionValueState]{}).
	Action("increment", actors.Act(func(c *actors.Context[actionValueState], amount *float64) (float64, error) {
		c.State.Value += actionsAmountOr(amount, 1)
		return c.State.Value, nil
	})).
	Action("getInfo", actors.Act0(func(c *actors.Context[actionValueState]) (map[string]any, error) {
		return map[string]any{"currentValue": c.State.Value, "timestamp": c.Now().UnixMilli()}, nil
	})).
	Action("reset", actors.Act0(func(c *actors.Context[actionValueState]) (any, error) {
		c.State.Value = 0
		return nil, nil
	}))

var asyncActionActor = actors.NewType("asyncActionActor", actors.Options[asyncActionState]{}).
	Action("delayedIncrement", actors.Act(func(c *actors.Context[asyncActionState], amount *float64) (float64, error) {
		c.State.Value += actionsAmountOr(amount, 1)
		return c.State.Value, nil
	})).
	Action("fetchData", actors.Act(func(c *actors.Context[asyncActionState], id string) (map[string]any, error) {
		data := map[string]any{"id": id, "timestamp": c.Now().UnixMilli()}
		c.State.Data = data
		return data, nil
	})).
	Action("asyncWithError", actors.Act(func(c *actors.Context[asyncActionState], shouldError bool) (string, error) {
		if shouldError {
			return "", actors.NewUserError("user_error", "Intentional error", nil)
		}
		return "Success", nil
	}))

var promiseActor = actors.NewType("promiseActor", actors.Options[promiseState]{State: promiseState{Results: []string{}}}).
	Action("resolvedPromise", actors.Act0(func(c *actors.Context[promiseState]) (string, error) {
		return "resolved value", nil
	})).
	Action("delayedPromise", actors.Act0(func(c *actors.Context[promiseState]) (string, error) {
		c.State.Results = append(c.State.Results, "delayed")
		return "delayed value", nil
	})).
	Action("rejectedPromise", actors.Act0(func(c *actors.Context[promiseState]) (any, error) {
		return nil, actors.NewUserError("user_error", "promised rejection", nil)
	})).
	Action("getResults", actors.Act0(func(c *actors.Context[promiseState]) ([]string, error) {
		return c.State.Results, nil
	}))

var shortTimeoutActor = actors.NewType("shortTimeoutActor", actors.Options[actionValueState]{ActionTimeout: 50 * time.Millisecond}).
	Action("quickAction", actors.Act0(func(c *actors.Context[actionValueState]) (string, error) {
		return "quick response", nil
	})).
	Action("slowAction", actors.Act0(func(c *actors.Context[actionValueState]) (string, error) {
		actionsPause(c.Context(), 100*time.Millisecond)
		return "slow response", nil
	}))

var longTimeoutActor = actors.NewType("longTimeoutActor", actors.Options[actionValueState]{ActionTimeout: 200 * time.Millisecond}).
	Action("delayedAction", actors.Act0(func(c *actors.Context[actionValueState]) (string, error) {
		actionsPause(c.Context(), 100*time.Millisecond)
		return "delayed response", nil
	}))

var defaultTimeoutActor = actors.NewType("defaultTimeoutActor", actors.Options[actionValueState]{}).
	Action("normalAction", actors.Act0(func(c *actors.Context[actionValueState]) (string, error) {
		actionsPause(c.Context(), 50*time.Millisecond)
		return "normal response", nil
	}))

var syncTimeoutActor = actors.NewType("syncTimeoutActor", actors.Options[actionValueState]{ActionTimeout: 50 * time.Millisecond}).
	Action("syncAction", actors.Act0(func(c *actors.Context[actionValueState]) (string, error) {
		return "sync response", nil
	}))

// actionsLargeItems is the list getLargeResponse returns.
func actionsLargeItems(n int) []string {
	items := make([]string, 0, max(n, 0))
	for i := range n {
		items = append(items, "Item "+strconv.Itoa(i)+" with some additional text to increase size")
	}
	return items
}

// largePayloadActor takes RivetKit's default incoming message limit (64 KiB)
// as its argument limit.
var largePayloadActor = actors.NewType("largePayloadActor", actors.Options[struct{}]{MaxArgsBytes: 64 << 10}).
	Action("processLargeRequest", actors.Act(func(c *actors.Context[struct{}], data struct {
		Items []string `json:"items"`
	}) (map[string]any, error) {
		out := map[string]any{"itemCount": len(data.Items)}
		if n := len(data.Items); n > 0 {
			out["firstItem"] = data.Items[0]
			out["lastItem"] = data.Items[n-1]
		}
		return out, nil
	})).
	Action("getLargeResponse", actors.Act(func(c *actors.Context[struct{}], itemCount int) (map[string]any, error) {
		return map[string]any{"items": actionsLargeItems(itemCount)}, nil
	})).
	Action("echo", actors.Act(func(c *actors.Context[struct{}], data any) (any, error) {
		return data, nil
	}))

func init() {
	add(syncActionActor, asyncActionActor, promiseActor, shortTimeoutActor, longTimeoutActor,
		defaultTimeoutActor, syncTimeoutActor, largePayloadActor)
}
