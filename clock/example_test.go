package clock_test

import (
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/clock"
)

// A fake clock runs timers only when the test moves it, synchronously and in
// due order.
func ExampleFake() {
	f := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	f.AfterFunc(2*time.Second, func() { fmt.Println("second timer at", f.Now().Format(time.TimeOnly)) })
	f.AfterFunc(time.Second, func() { fmt.Println("first timer at", f.Now().Format(time.TimeOnly)) })
	fmt.Println("pending:", f.Pending())
	f.Advance(time.Minute)
	fmt.Println("pending:", f.Pending(), "now", f.Now().Format(time.TimeOnly))
	// Output:
	// pending: 2
	// first timer at 00:00:01
	// second timer at 00:00:02
	// pending: 0 now 00:01:00
}
