// Package eventlog is rivet-flow's source of truth: an append-only log of actor
// events on NATS JetStream.
//
// Each actor (a type plus a key of strings) owns one subject of a single stream.
// Appends carry the expected last sequence of that subject, so a stale writer is
// fenced off with a [*ConflictError] and can never interleave its events with the
// owner's. Appends are pipelined: many actors append at once without waiting on
// each other's acknowledgements.
//
// The log runs an in-process nats-server by default (no TCP listener unless asked)
// or connects to an external server or cluster; everything above the connection
// is the same code.
package eventlog
