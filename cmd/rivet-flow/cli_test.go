package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// cliResult is what one run of the binary printed and its exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// cli runs the binary with args (and env added to the environment) and waits
// for it, at most a minute.
func cli(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("rivet-flow %v did not finish: %s", args, stderr.String())
	}
	return cliResult{stdout.String(), stderr.String(), exitCode(err)}
}

// want fails unless the run exited with code and its stdout+stderr hold every
// string in wants.
func (r cliResult) want(t *testing.T, code int, wants ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range wants {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("output lacks %q\nstdout: %s\nstderr: %s", w, r.stdout, r.stderr)
		}
	}
}

// newTestClient is a Go client for a test server.
func newTestClient(t *testing.T, addr, token string) *client.Client {
	t.Helper()
	c, err := client.New(addr, &client.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestCLIActors(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=http://" + p.addr

	// create (get or create), in both formats.
	r := cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "org", "--key", "a")
	r.want(t, 0, "ID", "TYPE", "counter", `["org","a"]`, "GENERATION")
	r = cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "org", "--key", "a", "--json")
	var created struct {
		Actor   client.Actor `json:"actor"`
		Created bool         `json:"created"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || created.Created || created.Actor.Type != "counter" {
		t.Fatalf("create --json: %v %q", err, r.stdout)
	}
	id := created.Actor.ID
	r = cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "b", "--json")
	r.want(t, 0, `"created":true`)

	// list: a table by default, JSON with --json, one actor with --key.
	r = cli(t, nil, "actors", "list", addr, "--type", "counter")
	r.want(t, 0, "ID", "TYPE", "KEY", "GENERATION", id, `["org","a"]`, `["b"]`)
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 {
		t.Errorf("list table has %d lines: %q", len(lines), r.stdout)
	}
	r = cli(t, nil, "actors", "list", addr, "--type", "counter", "--json")
	var list []client.Actor
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 {
		t.Fatalf("list --json: %v %q", err, r.stdout)
	}
	r = cli(t, nil, "actors", "list", addr, "--type", "counter", "--key", "org", "--key", "a", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list --key --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--key", "nope").want(t, 0, `no live counter actor with key ["nope"]`)
	cli(t, nil, "actors", "list", addr, "--type", "chatRoom", "--json").want(t, 0, "[]")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--limit", "1").want(t, 0, "showing the first 1")

	// get.
	cli(t, nil, "actors", "get", addr, id).want(t, 0, "ID", id, "GENERATION", "1")
	r = cli(t, nil, "actors", "get", id, "--json", addr) // flags after the ID work too
	var a client.Actor
	if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.ID != id || a.Generation != 1 {
		t.Fatalf("get --json: %v %q", err, r.stdout)
	}

	// call: the output as is, or {"output":...} with --json; no args means [].
	cli(t, nil, "actors", "call", addr, id, "increment", "[5]").want(t, 0, "5")
	r = cli(t, nil, "actors", "call", addr, id, "increment", "[2]", "--json")
	if strings.TrimSpace(r.stdout) != `{"output":7}` {
		t.Fatalf("call --json = %q", r.stdout)
	}
	r = cli(t, nil, "actors", "call", addr, id, "getCount")
	if strings.TrimSpace(r.stdout) != "7" {
		t.Fatalf("call getCount = %q %s", r.stdout, r.stderr)
	}

	// Errors: the code, the message and what to do next; exit 1 from the
	// server, 2 for usage.
	cli(t, nil, "actors", "call", addr, id, "increment", `["x"]`).want(t, 1, "invalid_args", "JSON array")
	cli(t, nil, "actors", "call", addr, id, "nope").want(t, 1, "action_not_found", "check the action name")
	cli(t, nil, "actors", "call", addr, "bad-id", "increment").want(t, 1, "invalid_actor_id", "rivet-flow actors list")
	cli(t, nil, "actors", "list", addr, "--type", "nope").want(t, 1, "actor_type_not_found")
	cli(t, nil, "actors", "call", addr, id, "increment", "5").want(t, 2, "not a JSON array")
	cli(t, nil, "actors", "call", addr, id).want(t, 2, "missing arguments")
	cli(t, nil, "actors", "get", addr, id, "extra").want(t, 2, "unexpected arguments")
	cli(t, nil, "actors", "list", addr).want(t, 2, "--type is required")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--bogus").want(t, 2, "bogus")
	cli(t, nil, "actors", "frobnicate").want(t, 2, "unknown command")
	cli(t, nil, "actors").want(t, 2, "Usage: rivet-flow actors")
	cli(t, nil, "actors", "call", "--help").want(t, 0, "ID ACTION [ARGS_JSON]", "RIVETFLOW_ADDR", "RIVETFLOW_API_TOKEN")

	// The user error of an actor carries its code.
	r = cli(t, nil, "actors", "create", addr, "--type", "chatRoom", "--key", "r", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &created); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "actors", "call", addr, created.Actor.ID, "sendMessage", `[" "]`).want(t, 1, "empty_message", "user error")

	// destroy, then it is gone; RIVETFLOW_ADDR works like --addr.
	env := []string{"RIVETFLOW_ADDR=" + p.addr}
	cli(t, env, "actors", "destroy", id).want(t, 0, "destroyed "+id)
	cli(t, env, "actors", "get", id).want(t, 1, "actor_not_found", "rivet-flow actors list --type")
	cli(t, env, "actors", "destroy", id, "--json").want(t, 1, "actor_not_found")
	r = cli(t, env, "actors", "list", "--type", "counter", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Key[0] != "b" {
		t.Fatalf("list after destroy: %v %q", err, r.stdout)
	}
}

func TestCLIServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, args := range [][]string{
		{"actors", "list", "--type", "counter"},
		{"actors", "get", "counter.kAWE"},
		{"actors", "call", "counter.kAWE", "increment", "[1]"},
		{"actors", "destroy", "counter.kAWE"},
		{"events", "tail"},
	} {
		cli(t, []string{"RIVETFLOW_ADDR=" + addr}, args...).want(t, 1, "cannot reach the server at http://"+addr,
			"is the server running?", "rivet-flow serve")
	}
	cli(t, nil, "actors", "list", "--type", "counter", "--addr", "ftp://x").want(t, 2, "--addr")
}

func TestCLIToken(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir(), "--api-token", "s3cret")
	addr := "--addr=" + p.addr
	cli(t, nil, "actors", "list", addr, "--type", "counter").want(t, 1, "unauthorized", "--token", "RIVETFLOW_API_TOKEN")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--token", "s3cret").want(t, 0, "no live counter actors")
	cli(t, []string{"RIVETFLOW_API_TOKEN=s3cret"}, "actors", "list", addr, "--type", "counter").want(t, 0, "no live counter actors")
	cli(t, []string{"RIVETFLOW_API_TOKEN=s3cret"}, "events", "tail", addr, "--after", "0", "--count", "1", "--token", "wrong").
		want(t, 1, "unauthorized")
}

func TestCLIEventsTail(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	counter, _, err := c.GetOrCreate(ctx, "counter", []string{"t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, counter.ID, "increment", 5); err != nil {
		t.Fatal(err)
	}
	room, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"t"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The log from the start, as JSON lines.
	r := cli(t, nil, "events", "tail", addr, "--after", "0", "--count", "3", "--json")
	r.want(t, 0)
	var evs []client.LogEvent
	for line := range strings.Lines(r.stdout) {
		var ev client.LogEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 3 || evs[0].Kind != "create" || evs[1].Action != "increment" || string(evs[1].Output) != "5" || evs[2].ActorID != room.ID {
		t.Fatalf("tail --json: %q", r.stdout)
	}

	// As a table, filtered by type and after a sequence.
	r = cli(t, nil, "events", "tail", addr, "--after", "1", "--type", "counter", "--count", "1")
	r.want(t, 0, "SEQ", "TIME", "ACTOR", "EVENT", counter.ID, "increment [5] -> 5", "tailing the event log")

	// Following: new events stream until interrupted, then exit 0.
	cmd := exec.Command(binary, "events", "tail", addr)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	connected := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "tailing the event log") {
				close(connected)
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("events tail did not connect")
	}
	// Call until an event shows up: the server subscribes to new events just
	// after it opens the stream.
	deadline := time.After(30 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var got []string
	for !strings.Contains(strings.Join(got, "\n"), "sendMessage") {
		select {
		case <-tick.C:
			if _, err := c.Call(ctx, room.ID, "sendMessage", "alice", "hi"); err != nil {
				t.Fatal(err)
			}
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("events tail ended: %q", got)
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("no new event streamed: %q", got)
		}
	}
	if !strings.HasPrefix(got[0], "SEQ") || !strings.Contains(strings.Join(got, "\n"), room.ID) {
		t.Errorf("streamed: %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("events tail after SIGINT: %v", err)
	}

	cli(t, nil, "events", "tail", addr, "--after", "-5").want(t, 2, "--after")
	cli(t, nil, "events", "tail", addr, "--type", "bad type!", "--after", "0").want(t, 1, "invalid_request")
	cli(t, nil, "events").want(t, 2, "Usage: rivet-flow events")
}

func TestCLIBenchHTTP(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "bench", "http", "--duration", "2s", "--concurrency", "8", "--actors", "20")
	r.want(t, 0, "in-process node", "raw net/http handler", "creating 20 counter actors: 20/20",
		"throughput", "req/s", "actions/s", "p50", "p99", "p999", "ratio: actions/s over raw req/s = ")
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^raw net/http +(\d+) +0 +(\d+) req/s +\S+ +\S+ +\S+ +\S+$`),
		regexp.MustCompile(`(?m)^actions +(\d+) +0 +(\d+) actions/s +\S+ +\S+ +\S+ +\S+$`),
	} {
		m := re.FindStringSubmatch(r.stdout)
		if m == nil || m[1] == "0" || m[2] == "0" {
			t.Errorf("no throughput line like %s in:\n%s", re, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "errors, the first") {
		t.Errorf("requests failed:\n%s", r.stdout)
	}
}

func TestCLIBenchHTTPAddrAndJSON(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	r := cli(t, []string{"RIVETFLOW_ADDR=127.0.0.2:1"}, // ignored: bench takes --addr only
		"bench", "http", "--addr", p.addr, "--duration", "500ms", "--concurrency", "4", "--actors", "5", "--json")
	r.want(t, 0)
	var res struct {
		Target    string  `json:"target"`
		InProcess bool    `json:"inProcess"`
		Ratio     float64 `json:"ratio"`
		Raw       struct {
			Requests  int64   `json:"requests"`
			PerSecond float64 `json:"perSecond"`
		} `json:"raw"`
		Actions struct {
			Requests int64   `json:"requests"`
			Errors   int64   `json:"errors"`
			P99      float64 `json:"p99Ms"`
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("bench --json: %v %q", err, r.stdout)
	}
	if res.InProcess || res.Target != "http://"+p.addr || res.Raw.Requests == 0 || res.Actions.Requests == 0 ||
		res.Actions.Errors != 0 || res.Ratio <= 0 || res.Actions.P99 <= 0 {
		t.Fatalf("bench --json = %+v", res)
	}
	// The actors it created are on that server.
	c := newTestClient(t, p.addr, "")
	if _, err := c.Get(context.Background(), "counter", []string{"bench-4"}); err != nil {
		t.Errorf("bench actor on the server: %v", err)
	}

	cli(t, nil, "bench", "http", "--addr", "http://10.1.2.3:6420", "--duration", "1s").want(t, 2, "loopback")
	cli(t, nil, "bench", "http", "--concurrency", "0").want(t, 2, "--concurrency")
	cli(t, nil, "bench", "http", "--duration", "1h").want(t, 2, "--duration")
	cli(t, nil, "bench", "http", "--args", "1").want(t, 2, "--args")
	cli(t, nil, "bench", "ftp").want(t, 2, "unknown command")
}
