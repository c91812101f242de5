package actors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// doType is ftType plus doInside, an action that tries Do through its own
// Client (refused: Do is for code outside any mailbox).
func doType(name string) *actors.Type[ftState] {
	return ftType(name, actors.Options[ftState]{MaxArgsBytes: 1024}).
		Action("doInside", actors.Act0(func(c *actors.Context[ftState]) (string, error) {
			h, err := c.Client().Get(c.Context(), name, []string{"other"})
			if err != nil {
				return "", err
			}
			err = actors.Do(c.Context(), h, "$step", nil, func(*actors.Context[ftState]) error { return nil })
			return fmt.Sprint(err), nil
		}))
}

// doSetup starts a bundle serving doType("ftdo") and an unrelated type.
func doSetup(t *testing.T) *bundle {
	t.Helper()
	other := actors.NewType("ftdoother", actors.Options[struct{}]{})
	return ftSetup(t, nil, doType("ftdo"), other)
}

func TestDoAppendsOneEvent(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	before := ftLastSeq(t, b, h.ID)
	args := json.RawMessage(`{"path":"root/1","epoch":2}`)
	err := actors.Do(ftCtx(t), h, "$step", args, func(c *actors.Context[ftState]) error {
		c.State.Count = 7
		c.State.Log = append(c.State.Log, "step")
		c.KV().Put("j/2/root/1", []byte(`{"done":true}`))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var after []*eventlog.Event
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Seq > before {
			after = append(after, ev)
		}
	}
	if len(after) != 1 {
		t.Fatalf("%d events appended, want 1", len(after))
	}
	ev := after[0]
	if ev.Kind != eventlog.KindSystem || ev.Action != "$step" || string(ev.Args) != string(args) || len(ev.KV) != 1 {
		t.Fatalf("event: kind %v action %q args %s kv %d; want system $step %s with 1 KV write", ev.Kind, ev.Action, ev.Args, len(ev.KV), args)
	}
	b.restart(t) // the state comes back from the log and snapshots alone
	h = ftCreate(t, b, "ftdo", "a")
	if got := ftCall[ftState](t, h, "state"); got.Count != 7 || strings.Join(got.Log, ",") != "step" {
		t.Fatalf("state after restart: %+v", got)
	}
	var kv string
	err = actors.Do(ftCtx(t), h, "$read", nil, func(c *actors.Context[ftState]) error {
		v, _ := c.KV().Get("j/2/root/1")
		kv = string(v)
		return nil
	})
	if err != nil || kv != `{"done":true}` {
		t.Fatalf("KV after restart: %q, err %v", kv, err)
	}
}

func TestDoWithoutChangeAppendsNothing(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	ftCall[int64](t, h, "inc", 3)
	before := ftLastSeq(t, b, h.ID)
	var seen int64
	err := actors.Do(ftCtx(t), h, "$read", json.RawMessage(`[1]`), func(c *actors.Context[ftState]) error {
		seen = c.State.Count
		return nil
	})
	if err != nil || seen != 3 {
		t.Fatalf("Do saw count %d, err %v; want 3", seen, err)
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("last sequence %d after a read-only Do, want %d", got, before)
	}
}

func TestDoErrorAppendsNothing(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	before := ftLastSeq(t, b, h.ID)
	stale := errors.New("stale runner")
	err := actors.Do(ftCtx(t), h, "$step", nil, func(c *actors.Context[ftState]) error {
		c.State.Count = 99
		c.KV().Put("k", []byte("v"))
		c.Broadcast("progress", 1)
		return stale
	})
	if err != stale { //nolint:errorlint // Do returns fn's error itself
		t.Fatalf("Do returned %v, want fn's error as is", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("last sequence %d after a failed Do, want %d", got, before)
	}
	if got := ftCall[int64](t, h, "get"); got != 0 {
		t.Fatalf("count %d after a failed Do, want 0 (rolled back)", got)
	}
	// A UserError comes back as is too.
	err = actors.Do(ftCtx(t), h, "$step", nil, func(*actors.Context[ftState]) error { return ftUserErr })
	if !errors.Is(err, ftUserErr) {
		t.Fatalf("Do returned %v, want the UserError", err)
	}
}

func TestDoRefusesBadCalls(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	before := ftLastSeq(t, b, h.ID)
	change := func(c *actors.Context[ftState]) error { c.State.Count++; return nil }
	for _, tc := range []struct {
		name string
		args json.RawMessage
		want error
	}{
		{"", nil, actors.ErrInvalidArgs},
		{"step", nil, actors.ErrInvalidArgs},
		{"$", nil, actors.ErrInvalidArgs},
		{"$wake", nil, actors.ErrInvalidArgs},
		{actors.FireAction, nil, actors.ErrInvalidArgs},
		{"$step", json.RawMessage(`{"a":`), actors.ErrInvalidArgs},
		{"$step", json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`), actors.ErrArgsTooLarge},
	} {
		if err := actors.Do(ftCtx(t), h, tc.name, tc.args, change); !errors.Is(err, tc.want) {
			t.Errorf("Do(%q, %.20s): %v, want %v", tc.name, tc.args, err, tc.want)
		}
	}
	if err := actors.Do[ftState](ftCtx(t), h, "$step", nil, nil); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Errorf("Do with a nil fn: %v, want invalid args", err)
	}
	err := actors.Do(ftCtx(t), h, "$step", nil, func(*actors.Context[struct{}]) error { return nil })
	if !errors.Is(err, actors.ErrInvalidArgs) || !strings.Contains(err.Error(), "does not hold state of type struct {}") {
		t.Errorf("Do with the wrong state type: %v", err)
	}
	// A system name is no action: what the HTTP routes call (ActionJSON)
	// refuses it.
	if _, err := h.Action(ftCtx(t), "$step"); !errors.Is(err, actors.ErrActionNotFound) {
		t.Errorf("action $step: %v, want action not found", err)
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("last sequence %d after refused calls, want %d", got, before)
	}
	// Inside an action, through an actor's Client: refused.
	ftCreate(t, b, "ftdo", "other")
	if got := ftCall[string](t, h, "doInside"); !strings.Contains(got, "not from inside an action") {
		t.Errorf("Do from inside an action: %q", got)
	}
}

func TestDoWakesAndReportsNotFound(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	gone := ftCreate(t, b, "ftdo", "gone")
	if err := gone.Destroy(ftCtx(t)); err != nil {
		t.Fatal(err)
	}
	ftAsleep(t, b)
	err := actors.Do(ftCtx(t), h, "$step", nil, func(c *actors.Context[ftState]) error { c.State.Count = 5; return nil })
	if err != nil {
		t.Fatalf("Do on a sleeping actor: %v", err)
	}
	if !b.rt.IsAwake(h.ID) {
		t.Fatal("Do did not wake the actor")
	}
	if got := ftCall[int64](t, h, "get"); got != 5 {
		t.Fatalf("count %d, want 5", got)
	}
	_, callErr := gone.Action(ftCtx(t), "get")
	err = actors.Do(ftCtx(t), gone, "$step", nil, func(c *actors.Context[ftState]) error { c.State.Count = 5; return nil })
	if !errors.Is(err, actors.ErrNotFound) || !errors.Is(callErr, actors.ErrNotFound) {
		t.Fatalf("Do on a destroyed actor: %v (a call: %v), want not found for both", err, callErr)
	}
}

func TestDoSerialisedWithActions(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	before := ftLastSeq(t, b, h.ID)
	const workers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers*each)
	for w := range workers {
		wg.Go(func() {
			for range each {
				_, err := h.Action(ftCtx(t), "inc", 1)
				errs <- err
			}
		})
		wg.Go(func() {
			for i := range each {
				args := json.RawMessage(fmt.Sprintf(`[%d,%d]`, w, i))
				errs <- actors.Do(ftCtx(t), h, "$step", args, func(c *actors.Context[ftState]) error {
					c.State.Count++ // a read-modify-write: lost updates show if not serialised
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := ftCall[int64](t, h, "get"); got != 2*workers*each {
		t.Fatalf("count %d, want %d", got, 2*workers*each)
	}
	var steps int
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Seq > before && ev.Action == "$step" {
			steps++
		}
	}
	if steps != workers*each {
		t.Fatalf("%d $step events, want %d", steps, workers*each)
	}
}

// TestDoFencedOut: another writer appends to the actor behind the runtime's
// back; the next Do's append is fenced off (ErrConflict) and the actor then
// reloads and sees the other writer's state.
func TestDoFencedOut(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	ftCall[int64](t, h, "inc", 1)
	foreign := &eventlog.Event{Kind: eventlog.KindAction, Generation: h.Generation, Action: "inc", Args: []byte(`[41]`),
		Caller: "zombie", HasState: true, State: []byte(`{"count":42}`), CodeVersion: "1"}
	if _, err := b.log.Append(ftCtx(t), ftSubject(h.ID), ftLastSeq(t, b, h.ID), foreign); err != nil {
		t.Fatal(err)
	}
	err := actors.Do(ftCtx(t), h, "$step", nil, func(c *actors.Context[ftState]) error { c.State.Count = 100; return nil })
	if !errors.Is(err, actors.ErrConflict) {
		t.Fatalf("Do fenced out: %v, want conflict", err)
	}
	if got := ftCall[int64](t, h, "get"); got != 42 {
		t.Fatalf("count %d after the conflict, want the other writer's 42", got)
	}
}

// A Do closure can replace the args its event records (SetEventArgs):
// arguments that describe what it did.
func TestDoSetEventArgs(t *testing.T) {
	t.Parallel()
	b := doSetup(t)
	h := ftCreate(t, b, "ftdo", "a")
	before := ftLastSeq(t, b, h.ID)
	err := actors.Do(ftCtx(t), h, "$step", json.RawMessage(`{"status":"waiting"}`), func(c *actors.Context[ftState]) error {
		c.State.Count = 1
		c.SetEventArgs(json.RawMessage(`{"status":"running"}`))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range ftEvents(t, b, h.ID) {
		if ev.Seq > before && string(ev.Args) != `{"status":"running"}` {
			t.Fatalf("event args %s, want the closure's", ev.Args)
		}
	}
}
