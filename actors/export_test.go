package actors

import "github.com/rivet-flow/rivet-flow/internal/testsignal"

// InitLeftSignal makes rt report the ID of every actor that leaves memory
// (asleep, or gone after a miss), so tests wait on it instead of polling.
// Call it before the runtime has work.
func InitLeftSignal(tb testsignal.TB, rt *Runtime) *testsignal.Signal[string] {
	rt.testSignals.left.Init(tb)
	return &rt.testSignals.left
}
