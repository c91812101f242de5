// Package workflows runs durable workflows on rivet-flow's actors: Go
// functions that orchestrate multi-step work (AI agents, business
// processes) where each completed step runs once, a crash resumes where the
// run left off, and a person or another system can step in.
//
// What is built: Define, Register, NewEngine, StartRun (idempotent on the
// run ID), Get, List (the workflow_runs projection), Await; Step and
// TryStep with journaled retries, timeouts, non-retryable errors,
// compensations and live streaming (StepContext.Stream); Sleep,
// SleepUntil, W.Now, W.Rand; WaitSignal, WaitAny and the run's own queues
// (Queue().Next, NextBatch, completable messages, QueueOf, Engine.Send);
// Join, Race, Go, Try, Child; Loop, ContinueAsNew, GetVersion, Removed,
// RollbackCheckpoint; cancel, pause and resume. Runs are single-node:
// every engine resumes every running run it finds.
//
// # A run is an actor
//
// A workflow is a function registered by name (Define). Each run is an actor
// of its own, of the actor type named by the workflow, keyed by its run ID,
// so the run's journal is that actor's log: fenced, snapshotted and
// replayable like any actor's. The run function executes outside the
// actor's mailbox and is not bound by the action timeout.
//
// # The journal is keyed by name paths
//
// Every journaled call (Step, Sleep, Queue().Next, Loop, Join, Race,
// GetVersion, Removed, ...) has a name, and its entry lives in the run
// actor's KV under EntryKey: "j/<epoch>/<path>", the value being the Entry
// as JSON (at most MaxEntryBytes). A path is the call's name within its
// scope (Path): "plan" at the top level, "main#41/fetch" inside iteration
// 41 of loop "main", "tools/search-3/call" inside branch "search-3" of join
// "tools". Names are 1 to MaxNameBytes bytes of UTF-8 with no '/', '#' or
// control characters (ValidateName). The epoch counts ContinueAsNew.
//
// # Re-execution from the top
//
// When a run starts, resumes after a crash or wakes from a sleep, its
// function runs again from the top. Every journaled call looks up its path:
// a recorded outcome is returned at once (a completed step's result, a
// finished sleep); otherwise the call runs and its entry is committed to
// the log before the function goes on. So code outside journaled calls must
// be deterministic: use W.Now and W.Rand, which are derived from the
// journal, and put anything that talks to the world in a step.
//
// # Steps run at least once, with stable IDs
//
// A completed step never runs again. A step that was running when the
// process died left no entry, so it runs again: at least once, not exactly
// once. Its ID ("<actorID>/<epoch>/<path>") is the same across attempts,
// crashes and replays; pass it to external systems as an idempotency key.
// Retries (with backoff), a per-attempt timeout and a final failure
// (*StepError: critical, exhausted, timeout or cancelled) are journaled too,
// so a replayed failure returns the same error.
//
// # Nondeterminism
//
// Replay checks each execution against the journal, scope by scope (its
// doc lists the four rules): a call whose kind differs from the recorded
// one, a new name reached while recorded entries of its scope are still
// unvisited, a name called twice, or a recorded entry never reached fail
// the run with a *NondeterminismError (code "nondeterminism") that names
// both sides. Entries are keyed by name, not by call order, so reordering
// calls that keep their names replays cleanly; renaming, inserting before
// recorded calls or removing calls needs GetVersion or Removed.
//
// A note on RivetKit: its engine (@rivetkit/workflow-engine, context.ts)
// looks entries up by their name path too, and checks kinds, duplicate
// names and unvisited entries when a scope completes, so reordering named
// calls replays cleanly there as well (its migration guide
// nevertheless warns that moving entries "can break replay"). This package
// adds the frontier rule of the design: a renamed or inserted call fails
// before it runs, instead of running and failing only when its scope
// completes.
//
// # Checking new code against recorded runs
//
// Register sets a history check on each run type, so actors.NewReplayer
// over that registry (`rivet-flow replay`) replays run histories offline:
// the workflow function re-executes over each recorded epoch's journal,
// journaled calls return their recorded outcomes, no step runs and
// nothing is written, and the first call that would do new work (the
// run's frontier) ends it. It reports the rules above broken, at the
// event that recorded the contradicted entry; code that returns where the
// run still sleeps or waits, or reaches its frontier where it finished; a
// result or failure code other than the recorded one; and an epoch that
// does not end in ContinueAsNew with the recorded input. Completed Joins,
// Races, Gos and Loop iterations, which the runtime takes from their
// entries, are run too: their branches and iterations must replay their
// journal (entries a Loop pruned are restored from the history) and end
// where it does, with the recorded results; a Race's cancelled losers are
// checked only up to what they recorded. A cancelled run is checked up to
// its frontier only, and a run recorded running or
// paused has no outcome to compare yet.
package workflows
