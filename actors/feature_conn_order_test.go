package actors_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

// TestFeatureConnActionAsyncOrder: actions queued with ActionAsync run in the
// order queued, whatever order their answers are waited for in; a full
// mailbox is refused at once, in order, with nothing queued.
func TestFeatureConnActionAsyncOrder(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	typ := ftType("ftasync", actors.Options[ftState]{MailboxSize: 300}).
		Action("note", actors.Act(func(c *actors.Context[ftState], s string) (int, error) {
			c.State.Log = append(c.State.Log, s)
			return len(c.State.Log), nil
		})).
		Action("hold", actors.Act0(func(c *actors.Context[ftState]) (bool, error) {
			entered <- struct{}{}
			<-release
			return true, nil
		}))
	b := ftSetup(t, nil, typ)
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftasync", "a")
	conn, err := h.Connect(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Hold the mailbox so every note is queued behind it, then fill it.
	hold, err := conn.ActionAsync(ctx, "hold", nil)
	if err != nil {
		t.Fatal(err)
	}
	ftWait(t, entered, "hold to start")
	const n = 300
	var pending []*actors.PendingAction
	for i := range n + 5 {
		p, err := conn.ActionAsync(ctx, "note", json.RawMessage(fmt.Sprintf(`["m-%03d"]`, i)))
		if i >= n {
			if !errors.Is(err, actors.ErrOverloaded) {
				t.Fatalf("note %d past the mailbox: %v, want ErrOverloaded", i, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("note %d: %v", i, err)
		}
		pending = append(pending, p)
	}
	close(release)
	if out, err := hold.Wait(); err != nil || string(out) != "true" {
		t.Fatalf("hold: %s %v", out, err)
	}
	for i := len(pending) - 1; i >= 0; i-- { // waiting order does not matter
		out, err := pending[i].Wait()
		if err != nil || string(out) != fmt.Sprint(i+1) {
			t.Fatalf("note %d: %s %v, want %d", i, out, err, i+1)
		}
		if again, err2 := pending[i].Wait(); string(again) != string(out) || err2 != nil {
			t.Fatalf("a second Wait: %s %v", again, err2)
		}
	}
	st := ftCall[ftState](t, h, "state")
	for i, s := range st.Log {
		if want := fmt.Sprintf("m-%03d", i); s != want {
			t.Fatalf("log[%d] = %s, want %s: actions ran out of order", i, s, want)
		}
	}
	if len(st.Log) != n {
		t.Fatalf("%d notes ran, want %d", len(st.Log), n)
	}

	if _, err := conn.ActionAsync(ctx, "note", json.RawMessage(`[`)); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Fatalf("invalid args: %v", err)
	}
	conn.Close()
	if _, err := conn.ActionAsync(ctx, "note", json.RawMessage(`["x"]`)); !errors.Is(err, actors.ErrConnClosed) {
		t.Fatalf("after Close: %v, want ErrConnClosed", err)
	}
}
