package actors_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
)

func TestPublishReachesSubscribersUnrecorded(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftBroadcastType("ftpub", actors.Options[ftState]{MaxArgsBytes: 1024}))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftpub", "a")
	tokens, err := h.Subscribe(ctx, "wf.stream")
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.Subscribe(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	before := ftLastSeq(t, b, h.ID)
	if err := h.Publish("wf.stream", map[string]any{"entry": "summarize", "chunk": "tok"}); err != nil {
		t.Fatal(err)
	}
	got := ftWait(t, tokens.Events(), "the published broadcast")
	if got.Name != "wf.stream" || string(got.Args) != `[{"chunk":"tok","entry":"summarize"}]` {
		t.Fatalf("received %s %s", got.Name, got.Args)
	}
	// A recorded broadcast after it arrives after it, and the other
	// subscriber saw only that one.
	ftCall[int](t, h, "emit", "other", 1)
	if got := ftWait(t, other.Events(), "the recorded broadcast"); got.Name != "other" {
		t.Fatalf("the other subscriber received %s first", got.Name)
	}
	if got := ftLastSeq(t, b, h.ID); got != before+1 {
		t.Fatalf("last sequence %d, want %d: Publish appended an event", got, before+1)
	}
	if err := h.Publish(""); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Errorf("Publish without a name: %v", err)
	}
	if err := h.Publish("wf.stream", strings.Repeat("x", 2000)); !errors.Is(err, actors.ErrArgsTooLarge) {
		t.Errorf("Publish over MaxArgsBytes: %v", err)
	}
	if err := h.Publish("wf.stream", func() {}); !errors.Is(err, actors.ErrInvalidArgs) {
		t.Errorf("Publish of unencodable args: %v", err)
	}
}

func TestPublishAsleepWakesNothing(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftBroadcastType("ftpub", actors.Options[ftState]{}))
	h := ftCreate(t, b, "ftpub", "a")
	before := ftLastSeq(t, b, h.ID)
	if err := h.Publish("nobody.listens", 1); err != nil { // awake, no subscriber
		t.Fatal(err)
	}
	ftAsleep(t, b)
	if err := h.Publish("wf.stream", "tok"); err != nil {
		t.Fatal(err)
	}
	if b.rt.IsAwake(h.ID) || b.rt.Awake() != 0 {
		t.Fatal("Publish woke the actor")
	}
	if got := ftLastSeq(t, b, h.ID); got != before {
		t.Fatalf("last sequence %d, want %d", got, before)
	}
}

// TestPublishRacesDisconnects: Publish fans out from outside the mailbox
// while connections close and their streams are closed in it; run under
// -race, a send on a closed stream would panic.
func TestPublishRacesDisconnects(t *testing.T) {
	t.Parallel()
	b := ftSetup(t, nil, ftBroadcastType("ftpub", actors.Options[ftState]{}))
	ctx := ftCtx(t)
	h := ftCreate(t, b, "ftpub", "a")
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := h.Publish("tick", 1); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for range 200 {
		conn, err := h.Subscribe(ctx, "tick")
		if err != nil {
			t.Fatal(err)
		}
		conn.Close()
		for range conn.Events() { // drained until the mailbox closes the stream
		}
	}
	close(done)
	wg.Wait()
}
