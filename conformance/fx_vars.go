package conformance

import (
	"strconv"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Variables" group: static vars (copied
// for each wake, so instances never share them) and vars built by CreateVars.

type varsState struct {
	Value float64 `json:"value"`
}

type varsConnState struct {
	Hello string `json:"hello"`
}

type staticVars struct {
	Counter int    `json:"counter"`
	Name    string `json:"name"`
}

type nestedVarsInner struct {
	Value string            `json:"value"`
	Array []int             `json:"array"`
	Obj   map[string]string `json:"obj"`
}

type nestedVars struct {
	Counter int             `json:"counter"`
	Nested  nestedVarsInner `json:"nested"`
}

// varsOptions are the options every vars fixture shares.
func varsOptions() actors.Options[varsState] {
	return actors.Options[varsState]{ConnState: &varsConnState{Hello: "world"}}
}

// varsGetter is the getVars action of every vars fixture.
func varsGetter(c *actors.Context[varsState]) (any, error) { return c.Vars, nil }

var staticVarActor = func() *actors.Type[varsState] {
	o := varsOptions()
	o.Vars = &staticVars{Counter: 42, Name: "test-actor"}
	return actors.NewType("staticVarActor", o).
		Action("getVars", actors.Act0(varsGetter)).
		Action("getName", actors.Act0(func(c *actors.Context[varsState]) (string, error) {
			return c.Vars.(*staticVars).Name, nil
		}))
}()

var nestedVarActor = func() *actors.Type[varsState] {
	o := varsOptions()
	o.Vars = &nestedVars{Counter: 42, Nested: nestedVarsInner{
		Value: "original", Array: []int{1, 2, 3}, Obj: map[string]string{"key": "value"},
	}}
	return actors.NewType("nestedVarActor", o).
		Action("getVars", actors.Act0(varsGetter)).
		Action("modifyNested", actors.Act0(func(c *actors.Context[varsState]) (any, error) {
			v := c.Vars.(*nestedVars)
			v.Nested.Value = "modified"
			v.Nested.Array = append(v.Nested.Array, 4)
			v.Nested.Obj["key"] = "new-value"
			return v, nil
		}))
}()

var dynamicVarActor = func() *actors.Type[varsState] {
	o := varsOptions()
	o.CreateVars = func(c *actors.Context[varsState]) (any, error) {
		return map[string]any{
			"random":   c.Rand().Float64(),
			"computed": "Actor-" + strconv.Itoa(c.Rand().IntN(1000)),
		}, nil
	}
	return actors.NewType("dynamicVarActor", o).Action("getVars", actors.Act0(varsGetter))
}()

var uniqueVarActor = func() *actors.Type[varsState] {
	o := varsOptions()
	o.CreateVars = func(c *actors.Context[varsState]) (any, error) {
		return map[string]any{"id": c.Rand().IntN(1000000)}, nil
	}
	return actors.NewType("uniqueVarActor", o).Action("getVars", actors.Act0(varsGetter))
}()

// driverCtxActor: RivetKit passes CreateVars a driver context (isTest in its
// test driver); this runtime has none, so hasDriverCtx is false.
var driverCtxActor = func() *actors.Type[varsState] {
	o := varsOptions()
	o.CreateVars = func(c *actors.Context[varsState]) (any, error) {
		return map[string]any{"hasDriverCtx": false}, nil
	}
	return actors.NewType("driverCtxActor", o).Action("getVars", actors.Act0(varsGetter))
}()

func init() {
	add(staticVarActor, nestedVarActor, dynamicVarActor, uniqueVarActor, driverCtxActor)
}
