package actors_test

// childMain runs the test binary as a child process when asked to (see the
// crash test); it reports whether it did.
func childMain() bool { return false }
