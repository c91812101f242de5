package workflows

import (
	"context"
	"errors"

	"github.com/rivet-flow/rivet-flow/actors"
)

// ControlResult is what cancel, pause and resume answer: the run's status
// after the call and whether it changed anything.
type ControlResult struct {
	Status  Status `json:"status"`
	Changed bool   `json:"changed"`
}

// registerControlActions adds cancel, pause and resume to the run type.
func registerControlActions(t *actors.Type[RunState], c *core) {}

// Cancel cancels run runID of workflow name with reason: the compensations
// of its completed steps run in reverse order, then the run ends
// cancelled. A finished run is ErrRunFinished.
func (e *Engine) Cancel(ctx context.Context, name, runID, reason string) (ControlResult, error) {
	return ControlResult{}, errors.New("workflows: cancel lands later in this session")
}

// Pause pauses run runID of workflow name: its timers stop (their time
// left is kept) and its runner stops at its next journaled call. Signals
// are still buffered. A finished run is ErrRunFinished.
func (e *Engine) Pause(ctx context.Context, name, runID string) (ControlResult, error) {
	return ControlResult{}, errors.New("workflows: pause lands later in this session")
}

// Resume resumes a paused run: its timers are re-armed for the time they
// had left, and it runs again. A finished run is ErrRunFinished.
func (e *Engine) Resume(ctx context.Context, name, runID string) (ControlResult, error) {
	return ControlResult{}, errors.New("workflows: resume lands later in this session")
}
