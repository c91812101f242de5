package actors_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// stringCount is ftState after a code change turned count into a string.
type stringCount struct {
	Count string `json:"count"`
}

// A state that no longer decodes (a new code version changed a field's type)
// is never written over: every call fails with state_decode_failed naming
// the actor and sequence, nothing is appended, and the sweeper leaves it.
func TestFeatureUndecodableStateIsNeverOverwritten(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftdecode", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftdecode", "a")
	ftCall[int64](t, h, "inc", 7)
	ftAsleep(t, b)
	last := ftLastSeq(t, b, h.ID)

	b.stop(t)
	changed := actors.NewType("ftdecode", actors.Options[stringCount]{}).
		Action("ping", actors.Act0(func(c *actors.Context[stringCount]) (string, error) { return "pong", nil }))
	b.reg = ftRegistry(t, changed)
	b.start(t)
	h, err := b.rt.Client().Ref(h.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first and a later call: the actor stays unloaded
		_, err := h.Action(ftCtx(t), "ping")
		var re *actors.Error
		if !errors.Is(err, actors.ErrStateDecodeFailed) || !errors.As(err, &re) {
			t.Fatalf("ping on an undecodable state: %v, want state_decode_failed", err)
		}
		for _, want := range []string{h.ID, "sequence", "cannot unmarshal"} {
			if !containsStr(re.Message, want) {
				t.Errorf("message %q does not name %q", re.Message, want)
			}
		}
	}
	b.clock.Advance(time.Hour)
	b.rt.SleepIdle()
	if got := ftLastSeq(t, b, h.ID); got != last {
		t.Fatalf("log moved from %d to %d over a state that does not decode", last, got)
	}
	if evs := ftEvents(t, b, h.ID); string(evs[len(evs)-1].Patch)+string(evs[len(evs)-1].State) == "null" {
		t.Fatal("the state was overwritten with null")
	}
}

// A snapshot the log does not reach (the log was replaced) is not served:
// the actor is folded from the log alone, so a key whose log is gone can be
// created again instead of failing with 409 forever.
func TestFeatureSnapshotAheadOfTheLogIsNotTrusted(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftType("ftahead", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftahead", "a")
	ftCall[int64](t, h, "inc", 3)
	ftAsleep(t, b) // the snapshot is on disk at the head
	b.stop(t)
	if err := os.RemoveAll(filepath.Join(b.dir, "nats")); err != nil { // the log is replaced by an empty one
		t.Fatal(err)
	}
	b.start(t)
	if _, err := b.rt.Client().Get(ftCtx(t), "ftahead", []string{"a"}); !errors.Is(err, actors.ErrNotFound) {
		t.Fatalf("get after the log was replaced: %v, want actor_not_found (no phantom)", err)
	}
	h = ftCreate(t, b, "ftahead", "a")
	if n := ftCall[int64](t, h, "inc", 1); n != 1 {
		t.Fatalf("count on the re-created actor: %d, want 1", n)
	}
}

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }
