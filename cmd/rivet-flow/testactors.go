package main

import (
	"encoding/json"
	"os"

	"github.com/rivet-flow/rivet-flow/actors"
)

// testActorsEnv, set to 1, makes serve also run the actor types the
// RivetKit client tests need (test/rivetkit): never set in production.
const testActorsEnv = "RIVETFLOW_TEST_ACTORS"

// guardedState is the guarded fixture's state: none to speak of.
type guardedState struct{}

// testActors registers, when testActorsEnv is 1, the fixture "guarded":
// its OnBeforeConnect refuses connection params {"token":"bad"} with the
// user error forbidden, and its one action, ping, answers 1.
func testActors(reg *actors.Registry) *actors.Registry {
	if os.Getenv(testActorsEnv) != "1" {
		return reg
	}
	guarded := actors.NewType("guarded", actors.Options[guardedState]{
		OnBeforeConnect: func(_ *actors.Context[guardedState], params json.RawMessage) error {
			var p struct {
				Token string `json:"token"`
			}
			if len(params) > 0 {
				_ = json.Unmarshal(params, &p)
			}
			if p.Token == "bad" {
				return actors.NewUserError("forbidden", "this token may not connect", nil)
			}
			return nil
		},
	}).Action("ping", actors.Act0(func(*actors.Context[guardedState]) (int, error) { return 1, nil }))
	if err := reg.Register(guarded); err != nil {
		panic(err) // a fixed fixture: a failure is a bug here
	}
	return reg
}
