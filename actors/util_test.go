package actors_test

import (
	"time"

	"github.com/rivet-flow/rivet-flow/clock"
)

// fakeClock is the runtime's clock in tests: it moves only when told to.
type fakeClock = clock.Fake

func newFakeClock() *fakeClock { return clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }
