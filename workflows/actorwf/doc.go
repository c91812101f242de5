// Package actorwf runs a durable workflow inside an ordinary actor, as
// RivetKit's `run: workflow(async ctx => ...)` does: the workflow is the
// actor's Run handler, its journal lives in the actor's reserved KV (so the
// actor's log, snapshots and forks carry it), and the actor keeps its own
// state, actions, connections and queues beside it.
//
//	t := actors.NewType("agent", actorwf.With(actors.Options[State]{...},
//		func(w *actorwf.W[State]) error {
//			return actorwf.Forever(w, "commands", func(w *actorwf.W[State]) error {
//				m, err := w.Queue().Next("wait", actors.NextOptions{Names: []string{"cmd"}, Completable: true})
//				...
//				_, err = actorwf.Step(w, "apply", func(c *actors.Context[State]) (int, error) {
//					c.State.Done++ // state and journal entry: one event
//					return c.State.Done, nil
//				})
//				...
//				return m.Complete(map[string]any{"ok": true})
//			})
//		}, actorwf.Options[State]{}))
//
// # Execution
//
// The workflow function runs after every wake, from the top. Every journaled
// call (Step, Sleep, Loop, Join, Race, Queue().Next) has a name; a call the
// journal records returns its recorded outcome at once, and a new one runs
// and is committed before the function goes on. Paths, entries and the
// nondeterminism rules are package workflows' (workflows.Replay): a renamed,
// reordered-into-recorded or removed call fails the workflow with a
// *workflows.NondeterminismError instead of running twice.
//
// # Steps run in the mailbox
//
// A Step's function runs as a turn of the actor's mailbox with the actor's
// Context: its state changes, KV writes, broadcasts, queue sends and its
// journal entry are one event, so a committed step's effects on the actor
// happen exactly once. A failed attempt is committed too (its state changes
// included, as RivetKit's live state keeps them), with the attempt count
// and the next attempt's time; Options.OnError runs in that same event.
// Work that is slow or talks to the world (an LLM call, an HTTP request)
// belongs in Activity, which runs outside the mailbox, so the actor's
// actions go on meanwhile, and journals its result in a turn of its own
// (at least once: a crash before that turn runs it again).
//
// # Waiting
//
// Sleep and Queue().Next wait without keeping the actor awake: it may sleep
// meanwhile. A sleep sets a wake alarm (actors.WakeAction), so the actor
// wakes and the workflow resumes at its deadline even after a restart; a
// queue send wakes the actor as any send does. A workflow that returns, or
// fails, is recorded as such, and the actor sleeps when idle: it does not
// run again on later wakes (the inspector's replay starts it over).
//
// Limits: a workflow interrupted in the middle of its work (between two
// journaled calls) by a crash of the process resumes at the actor's next
// wake (a call, a send, an alarm), not at the node's start.
package actorwf
