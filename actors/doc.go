// Package actors is rivet-flow's actor model: long-lived, stateful actors
// addressed by a type and a key, with actions, realtime broadcasts, hooks,
// sleep and wake, and a per-actor key-value store, where every successful
// action is an event appended to the log before its caller is answered.
//
// Define a type with NewType and its actions with Act, Act0 and Act2; register
// types in a Registry; run them with a Runtime over an eventlog.Log and a
// snapshot store; call them with the Runtime's Client. See example_test.go.
//
// One action runs at a time per actor, in log order; different actors run in
// parallel, each on a goroutine that exists only while the actor has work.
// A failed action appends nothing and changes nothing: its state is restored
// from the last committed bytes.
package actors
