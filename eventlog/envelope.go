package eventlog

import (
	"time"
)

// EnvelopeVersion is the format version written in the first byte of every
// encoded event. Readers refuse versions newer than they know, so a build that
// predates state patches (version 1) refuses a log it would fold wrongly.
// Version 2 added Patch; version 1 events (full state only) still decode.
const EnvelopeVersion = 2

// Kind says what an event does to its actor.
type Kind uint8

const (
	// KindAction is a completed action (the common case).
	KindAction Kind = 1
	// KindCreate creates an actor; it is always appended at expected sequence 0,
	// or after a tombstone, so "create if absent" is atomic in the log.
	KindCreate Kind = 2
	// KindDestroy is a tombstone: the actor's generation ends here.
	KindDestroy Kind = 3
	// KindSystem records runtime work that is not a caller's action (an alarm
	// that fired, a sleep, a migration) and may change state.
	KindSystem Kind = 4
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindAction:
		return "action"
	case KindCreate:
		return "create"
	case KindDestroy:
		return "destroy"
	case KindSystem:
		return "system"
	}
	return "unknown"
}

// Event is one entry of an actor's history: everything an action did and
// everything non-deterministic it saw, so that replaying the same code over the
// history reproduces the same changes (DESIGN.md invariant 4).
type Event struct {
	// Seq is the stream sequence, set by the log when the event is read or
	// acknowledged; it is not part of the encoded envelope.
	Seq uint64
	// Subject is the actor's subject, set on read.
	Subject string
	// Stored is the time JetStream stored the event, set on read.
	Stored time.Time

	Kind        Kind
	Generation  uint64 // increments with each create after a tombstone
	Action      string
	Args        []byte // JSON array of arguments
	Caller      string // who asked: "http:<remote>", "actor:<id>", "scheduler", ...
	Time        time.Time
	Seed        uint64 // seed of the action's random source
	HasState    bool   // State holds the whole state after the event (create, or a patch would be larger)
	State       []byte
	Patch       []byte // JSON Patch (RFC 6902) from the state before to the state after; nil: no state change
	Output      []byte // JSON result returned to the caller
	CodeVersion string
	// CallID names a synchronous call from another actor (caller, its
	// expected sequence, step index): the callee answers a repeat from here.
	CallID string
	// IdempotencyKey is the caller's key for this action: a repeat within the
	// window gets this event's output and appends nothing.
	IdempotencyKey string

	Broadcasts []Broadcast
	KV         []KVWrite
	Steps      []Step   // recorded results of non-deterministic steps (calls, now, rand)
	Effects    []Effect // outbound work done after the append: schedules, queue sends
}

// Broadcast is a realtime event sent to an actor's subscribers after the append.
type Broadcast struct {
	Name string
	Args []byte // JSON array
}

// KVWrite is one change to an actor's low-level key-value store.
type KVWrite struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// Step is a recorded non-deterministic result, replayed instead of re-run.
type Step struct {
	Name string
	Data []byte
}

// Effect is outbound work that leaves the actor, performed only once the event
// is acknowledged (a schedule to arm, a message to enqueue).
type Effect struct {
	Type string
	Data []byte
}
