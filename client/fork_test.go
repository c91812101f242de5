package client_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// Fork copies a counter as of an earlier event; a seq that is not one of
// its events and an existing key are refused with their codes.
func TestFork(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	a, _, err := c.GetOrCreate(ctx, "counter", []string{"src"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, a.ID, "increment", 3); err != nil {
		t.Fatal(err)
	}
	page, err := c.Events(ctx, a.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := page.Events[len(page.Events)-1].Seq
	if _, err := c.Call(ctx, a.ID, "increment", 4); err != nil {
		t.Fatal(err)
	}

	fork, err := c.Fork(ctx, a.ID, at, []string{"copy"})
	if err != nil {
		t.Fatalf("Fork: %v", err)
	}
	if fork.Type != "counter" || !slices.Equal(fork.Key, []string{"copy"}) || fork.Generation != 1 || fork.ID == a.ID {
		t.Fatalf("fork = %+v", fork)
	}
	out, err := c.Call(ctx, fork.ID, "getCount")
	if err != nil || string(out) != "3" {
		t.Fatalf("fork's count = %s, %v; want 3", out, err)
	}
	if out, err := c.Call(ctx, a.ID, "getCount"); err != nil || string(out) != "7" {
		t.Fatalf("source's count = %s, %v; want 7", out, err)
	}

	_, err = c.Fork(ctx, a.ID, 0, []string{"other"})
	if e := wantCode(t, err, http.StatusBadRequest, client.CodeInvalidArgs); !strings.Contains(e.Message, "is not an event of") {
		t.Fatalf("message %q does not say why", e.Message)
	}
	_, err = c.Fork(ctx, a.ID, at, []string{"copy"})
	wantCode(t, err, http.StatusConflict, client.CodeActorExists)
	if _, err := c.Fork(ctx, "", at, nil); err == nil {
		t.Fatal("Fork with no ID: no error")
	}
}
