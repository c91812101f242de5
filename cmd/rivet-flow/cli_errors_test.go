package main

import (
	"strings"
	"testing"
)

// The errors of the commands with their own hints (schedules, workflows,
// queues), flag values the CLI cannot read, and healthcheck's address
// variables.

// With --json, the errors of schedules, workflows and queues are the one
// JSON object every command prints, their own hint in it; without it they
// stay text: the code, the status, the message and the hint.
func TestCLIJSONErrorsHinted(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	for _, tc := range []struct {
		args       []string
		code, hint string
	}{
		{[]string{"schedules", "get", "nope"}, "actor_not_found", "no schedule named nope: list them with: rivet-flow schedules list"},
		{[]string{"schedules", "set", "s", "--cron", "0 2 * *", "--type", "counter", "--action", "increment"}, "invalid_cron", "--cron takes 5 fields"},
		{[]string{"workflows", "get", "echo", "nope"}, "run_not_found", "no such run: list them with: rivet-flow workflows list echo"},
		{[]string{"workflows", "list", "nope"}, "workflow_not_found", "the server runs no workflow named nope"},
		{[]string{"queues", "get", "nope"}, "queue_not_found", "no queue named nope: list them with: rivet-flow queues list"},
		{[]string{"queues", "redrive", "nope", "--id", "x"}, "queue_not_found", "no queue named nope"},
	} {
		name := strings.Join(tc.args[:2], " ")
		r := cli(t, nil, append(tc.args, addr, "--json")...)
		r.want(t, 1)
		if e := jsonErr(t, r); e.Code != tc.code || e.Status == 0 || !strings.Contains(e.Hint, tc.hint) {
			t.Errorf("%s --json: %+v, want code %s and a hint with %q", name, e, tc.code, tc.hint)
		}
		if r.stdout != "" {
			t.Errorf("%s --json failed and printed on stdout: %q", name, r.stdout)
		}

		r = cli(t, nil, append(tc.args, addr)...)
		r.want(t, 1, "rivet-flow "+name+": "+tc.code+" (", "\n  "+tc.hint)
		if strings.HasPrefix(strings.TrimSpace(r.stderr), "{") {
			t.Errorf("%s without --json printed JSON: %s", name, r.stderr)
		}
	}
}

// The schedules hint for a target the server does not serve names what
// its registry has (here the conformance fixtures, not the built-in types)
// and the command that lists them, rivet-flow types.
func TestCLIErrorsScheduleHintFromRegistry(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir(), "--registry", "conformance")
	set := []string{"schedules", "set", "s", "--addr", p.addr, "--cron", "0 2 * * *"}

	// The conformance counter has more actions than the built-in one.
	r := cli(t, nil, append(set, "--type", "counter", "--action", "explode")...)
	r.want(t, 1, "action_not_found", "--type and --action", "a counter has the actions add, getCount, getKey, increment, setCount")
	if strings.Contains(r.stderr, "actors types") || strings.Contains(r.stderr, "chatRoom") {
		t.Errorf("the hint is not the server's: %s", r.stderr)
	}

	r = cli(t, nil, append(set, "--type", "nope", "--action", "x", "--json")...)
	r.want(t, 1)
	e := jsonErr(t, r)
	if e.Code != "actor_type_not_found" || !strings.Contains(e.Hint, "this server's types are") ||
		!strings.Contains(e.Hint, "workflowTryActor") || !strings.Contains(e.Hint, "rivet-flow types") {
		t.Errorf("actor_type_not_found: %+v, want a hint naming the server's types and rivet-flow types", e)
	}
	for _, stale := range []string{"chatRoom", "reminder", "actors types", "rf_schedule"} {
		if strings.Contains(e.Hint, stale) {
			t.Errorf("the hint names %q, which this server does not serve or is no command: %s", stale, e.Hint)
		}
	}
}

// A flag value or an environment variable the CLI cannot read says what
// it expects (not Go's parse error) and is a usage error.
func TestCLIFlagValueErrors(t *testing.T) {
	t.Parallel()
	serve := []string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0"}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"actors", "history", "counter.x", "--limit", "x"}, `--limit "x": expected an integer`},
		{nil, []string{"actors", "history", "counter.x", "--after", "-1"}, `--after "-1": expected an integer, 0 or more`},
		{nil, []string{"actors", "list", "--type", "counter", "--limit", "99999999999999999999"}, `--limit "99999999999999999999": out of range`},
		{nil, append(serve, "--insecure=maybe"), `--insecure "maybe": expected true or false`},
		{nil, append(serve, "--action-timeout", "soon"), `--action-timeout "soon": expected a duration`},
		{nil, append(serve, "--max-body-bytes", "1XB"), `--max-body-bytes "1XB": want bytes`},
		{[]string{"RIVETFLOW_MAILBOX_SIZE=x"}, serve, `RIVETFLOW_MAILBOX_SIZE="x" (--mailbox-size): expected an integer`},
		{[]string{"RIVETFLOW_INSECURE=perhaps"}, serve, `RIVETFLOW_INSECURE="perhaps" (--insecure): expected true or false`},
	} {
		r := cli(t, tc.env, tc.args...)
		r.want(t, 2, tc.want)
		if out := r.stdout + r.stderr; strings.Contains(out, "strconv") || strings.Contains(out, "parsing") || strings.Contains(out, "time: ") {
			t.Errorf("%v %v: Go's parse error reaches the user: %s", tc.env, tc.args, out)
		}
	}
	r := cli(t, nil, "actors", "history", "counter.x", "--limit", "x", "--json")
	r.want(t, 2)
	if e := jsonErr(t, r); e.Code != "usage" || e.Message != `--limit "x": expected an integer` {
		t.Errorf("a bad value with --json: %+v", e)
	}
}

// healthcheck reads RIVETFLOW_ADDR like the client commands, and still
// RIVETFLOW_HTTP_ADDR; when both are set RIVETFLOW_ADDR wins, and the flag
// wins over both.
func TestCLIHealthcheckEnv(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	down := "127.0.0.1:1" // nothing listens on port 1
	cli(t, []string{"RIVETFLOW_ADDR=" + p.addr}, "healthcheck").want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_ADDR=http://" + p.addr}, "healthcheck").want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_ADDR=" + down}, "healthcheck").want(t, 1, down)
	cli(t, []string{"RIVETFLOW_ADDR=" + down, "RIVETFLOW_HTTP_ADDR=" + p.addr}, "healthcheck").want(t, 1, down)
	cli(t, []string{"RIVETFLOW_ADDR=" + p.addr, "RIVETFLOW_HTTP_ADDR=" + down}, "healthcheck").want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_HTTP_ADDR=" + p.addr}, "healthcheck").want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_ADDR=" + down, "RIVETFLOW_HTTP_ADDR=" + down}, "healthcheck", "--addr", p.addr).want(t, 0, "200 OK")
	cli(t, nil, "healthcheck", "--help").want(t, 0, "RIVETFLOW_ADDR", "RIVETFLOW_HTTP_ADDR", "RIVETFLOW_ADDR wins when both are set")
}
