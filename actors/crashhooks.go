package actors

import (
	"os"
	"syscall"
)

// Test crash hooks for alarm fires. A test's child process (the real
// binary, cmd/rivet-flow/scheduler_crash_test.go) sets
// RIVETFLOW_TEST_CRASH_IN_FIRE to one of the points below and
// RIVETFLOW_TEST_CRASH_MARKER to a file path: the first fire that reaches the
// point creates the marker and SIGKILLs the process. With the marker already
// there the hook does nothing, so a process restarted with the same
// environment on the same data dir does not crash again. Without both
// variables (always, outside those tests) the hooks cost one comparison.
const (
	crashInFireEnv    = "RIVETFLOW_TEST_CRASH_IN_FIRE"
	crashMarkerEnv    = "RIVETFLOW_TEST_CRASH_MARKER"
	crashBeforeRecord = "before_record" // the alarm's action ran; its event is not appended
	crashAfterRecord  = "after_record"  // the fire's event is acknowledged; FireAlarm has not returned
)

var (
	crashInFire = os.Getenv(crashInFireEnv)
	crashMarker = os.Getenv(crashMarkerEnv)
)

// crashInFireAt kills the process with SIGKILL if the hook is set for point
// and its marker file did not exist yet (it creates it first).
func crashInFireAt(point string) {
	if crashInFire != point || crashMarker == "" {
		return
	}
	f, err := os.OpenFile(crashMarker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return // crashed here before (or the marker cannot be made): carry on
	}
	_ = f.Close()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
