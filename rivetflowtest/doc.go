// Package rivetflowtest is a test kit for code built on rivet-flow, in the
// shape of river's rivertest: Start runs a whole node in-process (a temp
// data dir, an embedded log with no port, no HTTP listener, a fake clock),
// and the Require functions assert on what actors recorded in the log.
//
//	n := rivetflowtest.Start(t, rivetflowtest.Config{}) // the built-in types
//	ctx := n.Context()
//	h, _, err := n.Client().GetOrCreate(ctx, "reminder", []string{"r1"}, nil)
//	...
//	_, err = h.Action(ctx, "setReminder", "u1", "stand up", 60_000)
//	...
//	n.Advance(time.Minute) // the reminder's alarm fires, at its due time
//	rivetflowtest.RequireBroadcasts(t, n, h.ID, "reminder")
//
// Example (the package's example_test.go) runs this.
//
// Time moves only when the test moves it: Advance walks the fake clock
// forward alarm by alarm (actor alarms, cron, workflow sleeps and
// timeouts), waiting after each for the scheduler to fire what is due and
// for the work it caused to settle, so a test needs no sleeps.
//
// Golden histories: Node.Export writes an actor's history as the replayer
// reads it (JSON Lines, history.Write), and RequireReplays replays such a
// file with this build's code (actors.NewReplayer), failing with the
// divergence report: check recorded histories in under testdata/ and a
// change that alters what the code records fails the build.
package rivetflowtest
