package projections

import (
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Only the outbox records dead letters, and only well-formed ones.
func TestDeadLettersRecordIsTheOutboxs(t *testing.T) {
	t.Parallel()
	n := obStart(t, t.TempDir(), OutboxOptions{})
	h := obHandle(t, n.rt, DeadLettersType, "x")
	dl := DeadLetter{EffectID: "5/0", From: "x", Target: "y", Action: "z", Error: "e"}
	var ue *actors.UserError
	if _, err := h.Action(obCtx(t), "record", dl); !errors.As(err, &ue) || ue.Code != "forbidden" {
		t.Fatalf("record by another caller: %v, want forbidden", err)
	}
	dl.EffectID = "nonsense"
	if err := recordDeadLetter(obCtx(t), n.rt.Client().WithCaller(OutboxCaller), dl); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("record with a bad effect ID: %v, want invalid arguments", err)
	}
	if err := RegisterDeadLetters(n.rt.Registry()); err != nil {
		t.Fatalf("registering the type again: %v", err)
	}
	other := actors.NewType[obState](DeadLettersType, actors.Options[obState]{}).
		Action("x", actors.Act0(func(c *actors.Context[obState]) (int, error) { return 0, nil }))
	reg, err := actors.NewRegistry(other)
	if err != nil {
		t.Fatal(err)
	}
	if err := RegisterDeadLetters(reg); err == nil {
		t.Fatal("a registry with another type named like the dead letters' accepted")
	}
}
