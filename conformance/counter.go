package conformance

import "github.com/rivet-flow/rivet-flow/actors/builtin"

func init() {
	// The suite's counter is the built-in one: increment, setCount,
	// getCount, getKey, and newCount broadcasts.
	add(builtin.Counter)
}
