// Package projections folds the event log into read models: checkpointed
// consumers that tail the log and write rows (key -> JSON) to a local Pebble
// database, among them the built-in actor directory and the code versions projection.
//
// A projection is a name, a Filter (actor types and event kinds) and a fold.
// Define builds a typed one over rows of any JSON type; the non-generic core
// is the Projection interface over a RawTx. A Runner holds every projection
// of a process in one Pebble database (under <data-dir>/projections), each in
// its own keyspace, and runs each one as a worker:
//
//   - at start a worker catches up from its checkpoint with a sequential
//     eventlog.Log.Scan, then follows the log with eventlog.Log.Tail from the
//     sequence after the one the scan ended at, so nothing falls in between;
//   - it folds events into a RawTx and commits many events at once (up to
//     Options.BatchSize, or as soon as it has nothing more to read), in one
//     Pebble batch holding the rows and the checkpoint (the last stream
//     sequence applied), so a crash never applies an event twice or skips one;
//   - a fold that fails stops its projection (State failed, with the sequence
//     and the message in Status); it never skips an event. Resume retries it
//     from its checkpoint after a code fix; Rebuild clears its keyspace and
//     folds the whole log again.
//
// Each projection has its own consumer: a slow, failed or rebuilding
// projection holds no other back, and no projection needs to know where the
// others are. The price is one decode of each event per projection, which is
// small next to a fold for the handful of projections a node runs.
//
// Projections are caches of the log (DESIGN.md invariant 3): writes are not
// fsynced by default and deleting the folder loses nothing; every projection
// rebuilds from the log on the next start. On a cluster each node keeps its
// own projections from the shared log.
//
// Reads (Runner.Rows, Definition.Get, Directory.List) see committed batches:
// a read model trails the log by its lag, which Status and the
// rivetflow_projection_lag metric show; Runner.Wait waits for a sequence.
package projections
