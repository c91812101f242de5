// Package actorstate is what an actor is, as of a point in its history, and
// the one fold that gets it there from the log: an Image (generation, whether
// it exists, the state's JSON, the KV) and Apply, which folds one event onto
// it. The runtime, the snapshot rebuild and replay tools share this fold, so
// they all produce the same bytes. It runs no user code.
//
// It sits between the runtime (actors/) and the log (eventlog/). State
// changes are RFC 6902 JSON Patches (internal/jsonpatch), folded in memory:
// decode once, apply a tail of patches, encode once.
package actorstate
