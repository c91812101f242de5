package conformance_test

import (
	"errors"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// A workflow step that destroys its actor leaves it gone: resolving its ID
// is not found (the suite's "workflow steps can destroy the actor").
func TestFxWorkflowDestroyStep(t *testing.T) {
	ctx, cl := fxqNode(t, nil)
	h := fxqHandle(ctx, t, cl, "workflowDestroyActor", "d1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := cl.GetByID(ctx, h.ID)
		if errors.Is(err, actors.ErrNotFound) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("actor %s still resolves after its workflow destroyed it: %v", h.ID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
