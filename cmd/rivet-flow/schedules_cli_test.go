package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/scheduler"
)

// scheduleNode starts a real node in the test process serving the built-in
// types and schedules, and returns its --addr flag.
func scheduleNode(t *testing.T) string {
	t.Helper()
	reg := builtin.Registry()
	if err := scheduler.RegisterType(reg); err != nil {
		t.Fatal(err)
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	return "--addr=http://" + n.Addr()
}

func TestCLISchedules(t *testing.T) {
	t.Parallel()
	addr := scheduleNode(t)
	set := []string{"schedules", "set", "nightly", addr, "--cron", "0 2 * * *", "--timezone", "America/New_York",
		"--type", "counter", "--key", "c", "--action", "increment", "--args", "[1]"}
	cli(t, nil, set...).want(t, 0, "created schedule nightly; next fire ")
	cli(t, nil, append(set, "--overlap", "bufferOne")...).want(t, 0, "updated schedule nightly")
	cli(t, nil, "schedules", "list", addr).want(t, 0, "NAME", "CRON", "nightly", "0 2 * * *", "America/New_York", `counter ["c"] increment [1]`, "active")
	cli(t, nil, "schedules", "get", "nightly", addr).want(t, 0, "schedule  nightly", "overlap bufferOne", "catch-up latest", "next fires")
	r := cli(t, nil, "schedules", "get", "nightly", addr, "--json")
	r.want(t, 0)
	var s client.Schedule
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Name != "nightly" || len(s.NextFireTimes) != 5 {
		t.Fatalf("get --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "schedules", "preview", "nightly", addr, "--n", "3", "--from", "2026-03-07T00:00:00-05:00").
		want(t, 0, "in America/New_York", "2026-03-07T02:00:00-05:00  EST", "2026-03-09T02:00:00-04:00  EDT  DST", "2026-03-10T02:00:00-04:00")
	cli(t, nil, "schedules", "trigger", "nightly", addr).want(t, 0, "fired schedule nightly (fire #1)")
	cli(t, nil, "schedules", "pause", "nightly", addr).want(t, 0, "paused schedule nightly")
	cli(t, nil, "schedules", "list", addr).want(t, 0, "paused")
	cli(t, nil, "schedules", "resume", "nightly", addr).want(t, 0, "resumed schedule nightly; next fire")
	cli(t, nil, "schedules", "delete", "nightly", addr).want(t, 0, "deleted schedule nightly")
	cli(t, nil, "schedules", "get", "nightly", addr).want(t, 1, "actor_not_found", "rivet-flow schedules list")
	cli(t, nil, "schedules", "list", addr).want(t, 0, "no schedules")

	// Bad input: what is wrong and what to do.
	bad := func(flag, value string) []string {
		out := append([]string(nil), set...)
		for i, a := range out {
			if a == flag {
				out[i+1] = value
			}
		}
		return out
	}
	cli(t, nil, bad("--cron", "0 2 * *")...).want(t, 1, "invalid_cron", "--cron takes 5 fields")
	cli(t, nil, bad("--timezone", "Mars/Olympus")...).want(t, 1, "invalid_timezone", "IANA zone")
	cli(t, nil, bad("--action", "explode")...).want(t, 1, "action_not_found", "--type and --action")
	cli(t, nil, "schedules", "get", "nightly", addr).want(t, 1, "actor_not_found") // nothing was stored
	cli(t, nil, bad("--args", "5")...).want(t, 2, "want a JSON array")
	cli(t, nil, append(bad("--cron", "0 2 * * *"), "--overlap", "sometimes")...).want(t, 2, "want skip, bufferOne or allow")
	cli(t, nil, "schedules", "set", "x", addr, "--type", "counter", "--action", "increment").want(t, 2, "--cron is required")
	cli(t, nil, "schedules", "get", addr).want(t, 2, "missing arguments")
	cli(t, nil, "schedules", "bogus").want(t, 2, "unknown command")
	cli(t, []string{"RIVETFLOW_ADDR=127.0.0.1:1"}, "schedules", "list").want(t, 1, "cannot reach the server")
}
