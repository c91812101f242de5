// Package jsonpatch computes and applies RFC 6902 JSON Patches over JSON
// documents kept as raw bytes, with a byte-exact round trip.
//
// # Contract
//
// Diff(old, new) returns a patch that turns old into new. Doc is an
// order-preserving tree whose leaves (strings, numbers, literals) and object
// keys keep their raw token bytes, so integers beyond 2^53, escaped strings
// and HTML-escaped text (\u003c) survive untouched. For compact inputs (as
// encoding/json's Marshal emits) the key invariant is
//
//	Parse(old).Apply(Diff(old, new)) then Encode() == new, byte for byte.
//
// This lets a snapshot (the bytes a runtime encoded) equal a rebuild that
// folds patches over an older snapshot.
//
// # Member order
//
// RFC 6902 leaves the order of object members unspecified. This package
// defines it: a "replace" (or an "add" of an existing key) keeps the member in
// place, "remove" deletes it, and an "add" of a NEW key appends it at the end
// of its object. The patches Diff produces are valid RFC 6902 patches and
// give a semantically equal result with any conforming implementation; with
// this package they also reproduce the member order exactly. When new's key
// order cannot be reached by removes, in-place replaces and appends (for
// example an omitempty field reappearing in the middle of a struct), Diff
// emits whichever is smaller: a replace of that object, or removes followed
// by re-adds of the members from the first out-of-place one onward.
//
// Keys added by name are encoded the way Marshal encodes a Go string
// (HTML-safe escaping). If a new key's raw bytes differ from that encoding
// (foreign, non-Marshal input), Diff replaces the enclosing object instead,
// so the invariant holds for any compact input. Objects with duplicate
// member names are likewise replaced as a whole, never patched inside.
//
// # Diff algorithm
//
// Diff never builds trees. One validating pass over each input also records
// a "tape" (where each array and object ends), so afterwards value
// boundaries are found without rescanning containers: strings are skipped 8
// bytes at a time, containers in O(1) via the tape. Values are compared by
// their bytes and Diff only descends into values that differ. Objects are matched member by member (a fast path for identical
// key sequences covers typical structs). Arrays are diffed with Myers' O(ND)
// algorithm over element hashes after trimming the common prefix and
// suffix, with D capped; beyond the cap the array is replaced. Within a
// change hunk, deleted and inserted elements at the same position are paired
// into a recursive diff when both are objects or both arrays (so a field
// change yields "replace /items/3/done"), otherwise into a replace. Every
// container's ops are compared with the size of replacing the container
// outright and the smaller is kept. Appending to an array yields
// "add /a/-"; a bounded list dropping its oldest element and appending one
// yields "remove /a/0" plus "add /a/-".
//
// DiffTrusted returns the same patches for inputs known to be valid compact
// JSON (two outputs of Marshal) at about half the cost: it checks only the
// structure it walks, scans old in full but new only where it differs from
// old (new's tape is copied from old's for their common prefix and suffix and
// for containers whose bytes old also holds), and never panics or loops on
// bad input.
//
// # Apply
//
// Apply supports add, remove, replace, move, copy and test with RFC 6901
// pointers (~0 and ~1 escapes, "-" to append to an array). A patch applies
// atomically: if any operation fails, every earlier operation of that patch
// is undone and the error (an *OpError) names the operation index, op and
// path. Values inside patches may be any JSON; ones with whitespace are
// compacted so the document always encodes compactly. Object lookups are
// linear, with a lazily built index for objects with many members. When
// an object has duplicate member names, pointers address the first.
package jsonpatch
