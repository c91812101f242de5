package rivetflowtest

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// runsState is what the workflow runs in status running are doing, once
// the engine's runners are idle (Engine.WaitIdle: each parked, ended or
// waiting in memory).
type runsState int

const (
	// runsSettled: every runner waits for the clock or a signal.
	runsSettled runsState = iota
	// runsUnsure: a run waits in memory while a signal is already in its
	// inbox: the signal's poke may not have reached its runner yet, so
	// the log is watched for a short window.
	runsUnsure
)

// quietWindow is how long the log must stay still before an unsure run
// counts as settled.
const quietWindow = 25 * time.Millisecond

// runs reports what the runs in status running are doing.
func (n *Node) runs(ctx context.Context) (runsState, error) {
	e := n.node.Workflows()
	state := runsSettled
	for _, name := range e.Names() {
		cursor := ""
		for {
			page, next, err := e.List(ctx, name, workflows.ListQuery{Status: workflows.StatusRunning, Limit: 1000, Cursor: cursor, MaxWait: time.Millisecond})
			if err != nil {
				return 0, err
			}
			for _, r := range page {
				s, err := n.runState(ctx, name, r.RunID)
				if err != nil {
					return 0, err
				}
				state = max(state, s)
			}
			if next == "" {
				break
			}
			cursor = next
		}
	}
	return state, nil
}

// runState reads run runID's actor, as its last event leaves it (no user
// code runs, the actor is not woken), and says what its runner does.
func (n *Node) runState(ctx context.Context, name, runID string) (runsState, error) {
	id, err := actors.ActorID(name, []string{runID})
	if err != nil {
		return 0, err
	}
	subject, err := eventlog.ActorRef{Type: name, Key: []string{runID}}.Subject()
	if err != nil {
		return 0, err
	}
	last, err := n.node.Events().LastSubjectSeq(ctx, subject)
	if err != nil {
		return 0, err
	}
	im, err := n.node.Runtime().ImageAt(ctx, id, last)
	if err != nil {
		return 0, err
	}
	var st workflows.RunState
	if err := json.Unmarshal(im.State, &st); err != nil {
		return runsUnsure, nil // not a state this kit knows: watch the log
	}
	if st.Status == workflows.StatusRunning && len(st.Inbox) > 0 {
		return runsUnsure, nil
	}
	return runsSettled, nil
}

// errMoved stops a tail at its first event.
var errMoved = errors.New("the log moved")

// logMoves reports whether the log gets an event after head within
// window, watching it (no polling); ctx's end is an error.
func (n *Node) logMoves(ctx context.Context, head uint64, window time.Duration) (bool, error) {
	wctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	err := n.node.Events().Tail(wctx, nil, head+1, func(*eventlog.Event) error { return errMoved })
	switch {
	case errors.Is(err, errMoved):
		return true, nil
	case err != nil:
		return false, err
	case ctx.Err() != nil:
		return false, context.Cause(ctx)
	}
	return false, nil
}
