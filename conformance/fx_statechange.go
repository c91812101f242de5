package conformance

import "github.com/rivet-flow/rivet-flow/actors"

type onStateChangeState struct {
	Value float64   `json:"value"`
	Blob  []float64 `json:"blob"`
}

// onStateChangeVars counts OnStateChange runs since the actor woke.
type onStateChangeVars struct {
	ChangeCount int `json:"changeCount"`
}

func onStateChangeVarsOf(c *actors.Context[onStateChangeState]) *onStateChangeVars {
	return c.Vars.(*onStateChangeVars)
}

// onStateChangeActor counts its OnStateChange calls in its vars. The
// runtime runs OnStateChange once per call that changed the state (RivetKit
// 2.2.1 runs it once per assignment).
var onStateChangeActor = actors.NewType("onStateChangeActor", actors.Options[onStateChangeState]{
	State: onStateChangeState{Blob: []float64{}},
	Vars:  &onStateChangeVars{},
	OnStateChange: func(c *actors.Context[onStateChangeState]) {
		onStateChangeVarsOf(c).ChangeCount++
	},
}).
	Action("setValue", actors.Act(func(c *actors.Context[onStateChangeState], v float64) (float64, error) {
		c.State.Value = v
		return c.State.Value, nil
	})).
	Action("incrementMultiple", actors.Act(func(c *actors.Context[onStateChangeState], times int) (float64, error) {
		for range times {
			c.State.Value++
		}
		return c.State.Value, nil
	})).
	Action("getValue", actors.Act0(func(c *actors.Context[onStateChangeState]) (float64, error) {
		return c.State.Value, nil
	})).
	Action("getDoubled", actors.Act0(func(c *actors.Context[onStateChangeState]) (float64, error) {
		return c.State.Value * 2, nil
	})).
	Action("getChangeCount", actors.Act0(func(c *actors.Context[onStateChangeState]) (int, error) {
		return onStateChangeVarsOf(c).ChangeCount, nil
	})).
	Action("resetChangeCount", actors.Act0(func(c *actors.Context[onStateChangeState]) (any, error) {
		onStateChangeVarsOf(c).ChangeCount = 0
		return nil, nil
	}))

func init() { add(onStateChangeActor) }
