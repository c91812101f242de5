package workflows_test

import (
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// Registering the same workflow again is a no-op (a node restarted in the
// same process on the same registry); another type of the same name is not.
func TestRegisterTwice(t *testing.T) {
	reg, err := actors.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	wf := threeSteps("twice", &counters{})
	if err := workflows.Register(reg, wf); err != nil {
		t.Fatal(err)
	}
	if err := workflows.Register(reg, wf); err != nil {
		t.Fatalf("the same workflow again: %v", err)
	}
	if err := workflows.Register(reg, threeSteps("twice", &counters{})); err == nil {
		t.Fatal("another workflow of the same name was accepted")
	}
}
