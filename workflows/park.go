package workflows

import (
	"errors"
	"slices"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// errParked unwinds a runner whose run parked (sleeping or waiting, design
// §1.3): the park is committed, the runner exits without committing
// anything else and without touching the actor again (it may be asleep).
// The next trigger ($timer, signal) starts a new runner.
var errParked = errors.New("workflows: run parked")

// Waiting is what a parked run waits for: the entry (its path), the signal
// names that wake it (none for a sleep) and the deadline its alarm is armed
// for (zero: none).
type Waiting struct {
	Entry string    `json:"entry"`
	Names []string  `json:"names,omitempty"`
	Until time.Time `json:"until,omitzero"`
	Alarm string    `json:"alarm,omitempty"`
}

// waitsOn reports whether a run parked on wt runs again when the entry at
// path completes (its alarm fired). A nil wt waits on nothing.
func (wt *Waiting) waitsOn(path string) bool {
	return wt != nil && wt.Entry == path
}

// wantsSignal reports whether a run parked on wt runs again when a signal
// or message named name arrives. A nil wt wants none.
func (wt *Waiting) wantsSignal(name string) bool {
	return wt != nil && slices.Contains(wt.Names, name)
}

// poke wakes a runner waiting in memory, without blocking.
func poke(v *runVars) {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

// park commits, in the mailbox, that the run waits for wt: status st
// (sleeping or waiting), the runner gone, the actor free to sleep (it
// leaves memory once the runner has unwound). It reports whether it
// parked; when it did not, the caller goes on waiting in memory.
func (w *W) park(ac *actors.Context[RunState], st Status, wt *Waiting) bool {
	ac.State.Status, ac.State.Waiting, ac.State.UpdatedAt = st, wt, ac.Now()
	ac.Broadcast("wf.progress", map[string]any{"entry": wt.Entry, "status": st})
	vars(ac).active = false
	ac.Sleep()
	return true
}

// memWait waits in memory until d has passed on the runtime's clock, the
// wake channel (may be nil) is poked, or the execution ends (false).
func (w *W) memWait(d time.Duration, wake <-chan struct{}) bool {
	fired := make(chan struct{})
	t := w.e.rt.Clock().AfterFunc(d, func() { close(fired) })
	defer t.Stop()
	select {
	case <-fired:
	case <-wake:
	case <-w.ctx.Done():
		return false
	}
	return true
}
