package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

func TestCLIProjections(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=http://" + p.addr
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	for i := range 5 {
		if _, _, err := c.GetOrCreate(ctx, "counter", []string{fmt.Sprint(i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The listing waits for the directory: after it, lag is 0.
	if _, err := c.ListActors(ctx, nil); err != nil {
		t.Fatal(err)
	}

	r := cli(t, nil, "projections", "list", addr)
	r.want(t, 0, "NAME", "STATUS", "CHECKPOINT", "LAG", "ROWS", "actors", "live")
	r = cli(t, nil, "projections", "list", addr, "--json")
	r.want(t, 0)
	var list []client.Projection
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) == 0 || list[0].Name != "actors" || list[0].Rows != 5 {
		t.Fatalf("projections list --json: %v %q", err, r.stdout)
	}

	r = cli(t, nil, "projections", "rebuild", "actors", addr)
	r.want(t, 0, "rebuilt projection actors: 5 rows", "100%")
	if !strings.Contains(r.stderr, "[###") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	r = cli(t, nil, "projections", "rebuild", "actors", addr, "--json")
	r.want(t, 0, `"status":"live"`, `"rows":5`)

	r = cli(t, nil, "projections", "rows", "actors", addr, "--limit", "2")
	r.want(t, 0, `"key":"counter.`, "showing the first 2")
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n") + 1; n != 2 {
		t.Errorf("rows --limit 2 printed %d lines: %q", n, r.stdout)
	}

	cli(t, nil, "projections", "rebuild", "nosuch", addr).want(t, 1, "projection_not_found")
	cli(t, nil, "projections", "rebuild", addr).want(t, 2, "missing arguments")
	cli(t, nil, "projections", "bogus").want(t, 2, "unknown command")
	cli(t, []string{"RIVETFLOW_ADDR=127.0.0.1:1"}, "projections", "list").want(t, 1, "cannot reach the server")
}
