package conformance

import (
	"encoding/json"

	"github.com/rivet-flow/rivet-flow/actors"
)

// inputState keeps the create input as CreateState and OnCreate saw it; a
// create without input leaves both absent (undefined to the client).
type inputState struct {
	InitialInput  json.RawMessage `json:"initialInput,omitempty"`
	OnCreateInput json.RawMessage `json:"onCreateInput,omitempty"`
}

// inputOf is the create input, or nil when there was none.
func inputOf(input json.RawMessage) json.RawMessage {
	if len(input) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), input...)
}

var inputActor = actors.NewType("inputActor", actors.Options[inputState]{
	CreateState: func(c *actors.Context[inputState], input json.RawMessage) (inputState, error) {
		return inputState{InitialInput: inputOf(input)}, nil
	},
	OnCreate: func(c *actors.Context[inputState], input json.RawMessage) error {
		c.State.OnCreateInput = inputOf(input)
		return nil
	},
}).
	Action("getInputs", actors.Act0(func(c *actors.Context[inputState]) (inputState, error) {
		return *c.State, nil
	}))

func init() { add(inputActor) }
