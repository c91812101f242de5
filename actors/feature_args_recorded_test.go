package actors_test

import (
	"errors"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Strict arguments apply to new calls only: a send recorded in its
// sender's event with the arguments left out (as code written before the
// strict decoding did) is delivered as it was recorded, with zero values,
// and the receiver's history replays identically; the same call made now
// is invalid_args and appends nothing.
func TestFeatureRecordedArgsStayLenient(t *testing.T) {
	target := ftType("argsTarget", actors.Options[ftState]{})
	sender := actors.NewType("argsSender", actors.Options[ftState]{}).
		Action("poke", actors.Act(func(c *actors.Context[ftState], id string) (bool, error) {
			return true, c.Send(id, "inc") // no argument: recorded as []
		}))
	b := ftSetup(t, nil, target, sender)
	h := ftCreate(t, b, "argsTarget", "t")
	s := ftCreate(t, b, "argsSender", "s")

	before := ftLastSeq(t, b, h.ID)
	if _, err := h.Action(ftCtx(t), "inc"); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("a new call without its argument: %v, want invalid_args", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("the refused call appended: seq %d -> %d", before, got)
	}

	ftCall[bool](t, s, "poke", h.ID)
	ftEventually(t, "the recorded send is delivered", func() bool { return ftLastSeq(t, b, h.ID) > before })
	if n := ftCall[int64](t, h, "get"); n != 0 {
		t.Fatalf("count after a send without arguments: %d, want 0", n)
	}
	res, err := actors.NewReplayer(b.reg).ReplayHistory(ftCtx(t), h.ID, ftEvents(t, b, h.ID))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("a history with an argument left out diverges on replay: %+v", res.Divergence)
	}
}
