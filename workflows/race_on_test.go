//go:build race

package workflows_test

// raceOn reports a -race build: long tests shorten themselves.
const raceOn = true
