package main

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// actors fork copies an actor as of one of its events; bad input is a usage
// error (exit 2) or the server's refusal with its code (exit 1).
func TestCLIActorsFork(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=http://" + p.addr

	r := cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "src", "--json")
	var created struct {
		Actor client.Actor `json:"actor"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || r.code != 0 {
		t.Fatalf("create: %v %q %q", err, r.stdout, r.stderr)
	}
	id := created.Actor.ID
	cli(t, nil, "actors", "call", addr, id, "increment", "[2]").want(t, 0, "2")
	c, err := client.New("http://"+p.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	page, err := c.Events(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := strconv.FormatUint(page.Events[len(page.Events)-1].Seq, 10)
	cli(t, nil, "actors", "call", addr, id, "increment", "[40]").want(t, 0, "42")

	r = cli(t, nil, "actors", "fork", id, addr, "--at-seq", at, "--key", "team", "--key", "copy")
	r.want(t, 0, "GENERATION", `["team","copy"]`, "forked from "+id+" at seq "+at)
	r = cli(t, nil, "actors", "fork", id, addr, "--at-seq", at, "--key", "json", "--json")
	var forked struct {
		Actor   client.Actor `json:"actor"`
		Created bool         `json:"created"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &forked); err != nil || r.code != 0 || !forked.Created || forked.Actor.Type != "counter" {
		t.Fatalf("fork --json: %v %q %q", err, r.stdout, r.stderr)
	}
	cli(t, nil, "actors", "call", addr, forked.Actor.ID, "getCount").want(t, 0, "2")
	cli(t, nil, "actors", "call", addr, id, "getCount").want(t, 0, "42")

	cli(t, nil, "actors", "fork", id, addr, "--key", "x").want(t, 2, "--at-seq is required")
	cli(t, nil, "actors", "fork", id, addr, "--at-seq", at).want(t, 2, "--key is required")
	cli(t, nil, "actors", "fork", addr, "--at-seq", at, "--key", "x").want(t, 2, "missing arguments")
	cli(t, nil, "actors", "fork", id, addr, "--at-seq", "999999", "--key", "y").want(t, 1, "invalid_args (400)", "is not an event of")
	cli(t, nil, "actors", "fork", id, addr, "--at-seq", at, "--key", "json").want(t, 1, "actor_exists (409)")
}
