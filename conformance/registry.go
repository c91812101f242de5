// Package conformance holds the fixture actors of RivetKit's driver test
// suite (the `rivetkit/driver-test-suite` the npm package publishes), written
// in Go with the same names, actions, hooks and options, so that the suite
// runs against the real binary: `rivet-flow serve --registry conformance`
// and `make conformance`. Each fixture file adds its types in an init.
package conformance

import (
	"fmt"

	"github.com/rivet-flow/rivet-flow/actors"
)

// fixtures are the types the files of this package define.
var fixtures []actors.Definition

// add adds fixture types; each file calls it from init.
func add(defs ...actors.Definition) { fixtures = append(fixtures, defs...) }

// Registry returns a registry holding every fixture type.
func Registry() (*actors.Registry, error) {
	reg, err := actors.NewRegistry(fixtures...)
	if err != nil {
		return nil, fmt.Errorf("conformance fixtures: %w", err)
	}
	return reg, nil
}

// Names returns the fixture types' names, for messages and tests.
func Names() []string {
	out := make([]string, len(fixtures))
	for i, d := range fixtures {
		out[i] = d.Name()
	}
	return out
}
