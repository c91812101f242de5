// Package clock is the time source of the actor runtime and the scheduler:
// Now, and timers that call a function once a duration has passed. System is
// the wall clock; Fake is a clock a test moves by hand, which runs every
// timer that comes due synchronously, in due order, so that alarms and cron
// fire deterministically and no test sleeps on the wall clock.
//
// The package is a leaf: it imports only the standard library.
package clock

import "time"

// Clock tells the time and runs timers. Implementations are safe for
// concurrent use.
type Clock interface {
	// Now returns the current time on this clock.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed on this clock
	// (at once for d <= 0) and returns a Timer that can stop it.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending call of AfterFunc.
type Timer interface {
	// Stop prevents the call; it reports true if it stopped the timer before
	// it fired, false if the timer had already fired or been stopped.
	Stop() bool
}

// System is the wall clock: time.Now and time.AfterFunc.
var System Clock = system{}

type system struct{}

func (system) Now() time.Time { return time.Now() }

func (system) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
