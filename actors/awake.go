package actors

import "github.com/rivet-flow/rivet-flow/eventlog"

// IsAwake reports whether the actor with this ID is in memory on this node
// (awake: loaded, or being looked up), as Awake counts it. It costs one map
// lookup under one shard's lock and never wakes the actor; an unknown or
// malformed ID is simply not awake. The answer can be stale by the time the
// caller reads it: the actor may wake or go to sleep meanwhile.
//
// (Awake, without an argument, already returns how many actors are awake.)
func (rt *Runtime) IsAwake(actorID string) bool {
	if actorID == "" {
		return false
	}
	subject := eventlog.SubjectPrefix + "." + actorID
	sh := rt.shardFor(subject)
	sh.mu.Lock()
	_, ok := sh.m[subject]
	sh.mu.Unlock()
	return ok
}
