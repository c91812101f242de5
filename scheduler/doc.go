// Package scheduler fires actors' alarms when they come due (Scheduler),
// from an index of every pending alarm that is a projection of the log.
//
// An alarm is an effect of the event of the action that set it
// (actors.Context.Schedule), so it exists once that event is committed and
// survives sleep, restarts and the loss of snapshots. The index (the
// projection IndexName) folds actorstate.AlarmChanges of every event, the
// function the actors' own fold uses, into one row per pending alarm keyed
// by due time, actor and alarm ID. The next due alarm is the index's first
// row: a Pebble seek, whatever the number pending, and a node keeps no
// alarm in memory but those it is firing.
//
// The Scheduler reads the earliest rows, fires those due (Runtime.FireAlarm:
// the alarm's action with the caller "scheduler", waking the actor if it
// sleeps) up to Options.MaxConcurrentFires at once, and arms one timer on
// its clock, for the earliest alarm not yet due. The index tells it, once
// the batch is committed, of an alarm set earlier than that timer. A fire's
// event removes the alarm, so a fire delivered twice (a crash between the
// fire and its record, two nodes each firing from their own index) takes
// effect once: the runtime fires an alarm only while the actor still has it
// pending with that due time, and the log's fencing lets one writer append.
// The scheduler itself never fires an alarm again while a fire of it is in
// flight or until its index drops the row.
//
// Tests move a clock.Fake: the timer and the retry waits run on it, so
// alarms fire deterministically and no test sleeps on the wall clock.
package scheduler
