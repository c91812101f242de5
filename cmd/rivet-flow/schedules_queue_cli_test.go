package main

import (
	"encoding/json"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// schedules set --queue NAME --body JSON: a schedule that enqueues body into
// a durable queue at each fire.
func TestCLISchedulesQueueTarget(t *testing.T) {
	t.Parallel()
	addr := scheduleNode(t)
	cli(t, nil, "queues", "create", "reports", addr).want(t, 0)
	set := []string{"schedules", "set", "weekly", addr, "--cron", "0 9 * * 1", "--queue", "reports", "--body", `{"report":"weekly"}`}
	cli(t, nil, set...).want(t, 0, "created schedule weekly; next fire ")
	cli(t, nil, "schedules", "list", addr).want(t, 0, "weekly", `queue reports {"report":"weekly"}`)
	cli(t, nil, "schedules", "get", "weekly", addr).want(t, 0, `queue reports {"report":"weekly"}`)
	r := cli(t, nil, "schedules", "get", "weekly", addr, "--json")
	r.want(t, 0)
	var s client.Schedule
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || s.Spec.Target.Queue != "reports" || string(s.Spec.Target.Body) != `{"report":"weekly"}` {
		t.Fatalf("get --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "schedules", "trigger", "weekly", addr).want(t, 0, "fired schedule weekly (fire #1)")

	cli(t, nil, "schedules", "set", "other", addr, "--cron", "0 9 * * 1", "--queue", "nosuch", "--body", "1").
		want(t, 1, "queue_not_found", "rivet-flow queues create")
	cli(t, nil, append(set, "--type", "counter", "--action", "increment")...).want(t, 2, "not both")
	cli(t, nil, "schedules", "set", "other", addr, "--cron", "0 9 * * 1", "--queue", "reports").want(t, 2, "--queue and --body go together")
	cli(t, nil, "schedules", "set", "other", addr, "--cron", "0 9 * * 1", "--queue", "reports", "--body", "{").want(t, 2, "want a JSON value")
	cli(t, nil, "schedules", "set", "other", addr, "--cron", "0 9 * * 1", "--queue", "9bad", "--body", "1").want(t, 1, "invalid_request", "queue name")
	cli(t, nil, "schedules", "get", "other", addr).want(t, 1, "actor_not_found") // nothing was stored
}
