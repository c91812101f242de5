package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
	"github.com/rivet-flow/rivet-flow/conformance"
)

// The front door of the CLI: completion, flag errors, size units, JSON
// errors, hints from the server's registry, types, actors state and
// history, token files and progress that stays out of logs.

// completion writes cobra's script for each shell.
func TestCLICompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "bash completion", "zsh": "#compdef rivet-flow", "fish": "complete -c rivet-flow", "powershell": "Register-ArgumentCompleter",
	} {
		cli(t, nil, "completion", shell).want(t, 0, want)
	}
	cli(t, nil, "completion", "tcsh").want(t, 2, "tcsh")
}

// An unknown flag is said once, with its two dashes, and is a usage error;
// Go-style single-dash long flags still work.
func TestCLIFlagErrors(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "actors", "list", "--type", "counter", "--bogus")
	r.want(t, 2, "--bogus")
	if n := strings.Count(r.stdout+r.stderr, "bogus"); n != 1 {
		t.Errorf("the unknown flag is named %d times, want once:\n%s%s", n, r.stdout, r.stderr)
	}
	r = cli(t, nil, "serve", "--bogus-flag")
	r.want(t, 2, "--bogus-flag")
	if n := strings.Count(r.stderr, "bogus-flag"); n != 1 || strings.Contains(r.stderr, " -bogus-flag") {
		t.Errorf("serve --bogus-flag: named %d times: %s", n, r.stderr)
	}
	// One dash, as Go's flag package took it: the server is not running, so
	// it fails reaching it (exit 1), not parsing (exit 2).
	cli(t, nil, "actors", "list", "-type", "counter", "-addr=127.0.0.1:1").want(t, 1, "cannot reach the server at http://127.0.0.1:1")
}

// Size flags take units as the README writes them and name the format when
// they cannot read a value.
func TestCLISizeFlags(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir(), "--max-body-bytes", "1KiB", "--nats-max-store", "1GiB", "--nats-max-memory", "64MiB", "--max-args-bytes", "512")
	base := "http://" + p.addr
	id := createActor(t, p.addr, "counter", "size")
	post := func(n int) int {
		t.Helper()
		body := `{"args":[1],"pad":"` + strings.Repeat("x", n) + `"}`
		resp, err := http.Post(base+"/v1/actors/"+id+"/actions/increment", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(2048); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 KiB body with --max-body-bytes 1KiB: status %d, want 413", code)
	}
	for _, tc := range []struct{ flag, value string }{
		{"--max-body-bytes", "1XB"}, {"--nats-max-store", "lots"}, {"--max-body-bytes", "-5"},
	} {
		r := cli(t, nil, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", tc.flag, tc.value)
		r.want(t, 2, tc.flag, "16GiB", "want bytes")
	}
	cli(t, nil, "serve", "--help").want(t, 0, `--nats-max-store size`, "(default 16GiB)", "(default 1MiB)")
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "1MiB": 1 << 20, "16GiB": 16 << 30, "16gib": 16 << 30, "512 KiB": 512 << 10,
		"1.5GiB": 3 << 29, "100KB": 100_000, "2MB": 2_000_000, "1B": 1, "1T": 1 << 40,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "1XB", "-1", "1..5MiB", "99999999TiB", "1.5", "1.5B", "0.0000001KiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
	for n, want := range map[int64]string{0: "0", 16 << 30: "16GiB", 1 << 20: "1MiB", 1500: "1500", 3 << 10: "3KiB"} {
		if got := formatSize(n); got != want {
			t.Errorf("formatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// jsonErr decodes the one JSON object --json prints on stderr for an error.
func jsonErr(t *testing.T, r cliResult) jsonError {
	t.Helper()
	var e jsonError
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &e) != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("stderr is not one JSON error object: %q", r.stderr)
	}
	return e
}

// With --json every error is one JSON object on stderr (code, message,
// hint): the server's, a usage mistake, an unreachable server.
func TestCLIJSONErrors(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	id := createActor(t, p.addr, "counter", "j")

	r := cli(t, nil, "actors", "call", addr, id, "nope", "--json")
	r.want(t, 1)
	if e := jsonErr(t, r); e.Code != "action_not_found" || e.Status != 404 || !strings.Contains(e.Hint, "increment") {
		t.Errorf("action_not_found as JSON: %+v", e)
	}
	r = cli(t, nil, "actors", "get", addr, id, "extra", "--json")
	r.want(t, 2)
	if e := jsonErr(t, r); e.Code != "usage" || !strings.Contains(e.Message, "unexpected arguments") || !strings.Contains(e.Hint, "--help") {
		t.Errorf("usage error as JSON: %+v", e)
	}
	r = cli(t, nil, "actors", "list", "--json", "--bogus", addr)
	r.want(t, 2)
	if e := jsonErr(t, r); e.Code != "usage" || !strings.Contains(e.Message, "--bogus") {
		t.Errorf("unknown flag as JSON: %+v", e)
	}
	r = cli(t, nil, "actors", "get", id, "--json", "--addr", "127.0.0.1:1")
	r.want(t, 1)
	if e := jsonErr(t, r); e.Code != "unreachable" || !strings.Contains(e.Hint, "rivet-flow serve") {
		t.Errorf("unreachable as JSON: %+v", e)
	}
}

// createActor creates an actor through the Go client and returns its ID.
func createActor(t *testing.T, addr, typ string, key ...string) string {
	t.Helper()
	a, _, err := newTestClient(t, addr, "").GetOrCreate(context.Background(), typ, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// Hints name what the server runs: a chatRoom's actions for a chatRoom, and
// the registry's types (here the conformance fixtures) for an unknown type.
func TestCLIHintsFromRegistry(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	room := createActor(t, p.addr, "chatRoom", "h")
	r := cli(t, nil, "actors", "call", addr, room, "increment", "[1]")
	r.want(t, 1, "action_not_found", "a chatRoom has the actions getHistory, sendMessage")
	if strings.Contains(r.stderr, "getCount") {
		t.Errorf("a chatRoom's hint names the counter's actions: %s", r.stderr)
	}
	cli(t, nil, "actors", "list", addr, "--type", "nope").want(t, 1, "actor_type_not_found", "counter", "chatRoom", "reminder")

	conf := startServe(t, t.TempDir(), "--registry", "conformance")
	r = cli(t, nil, "actors", "list", "--addr", conf.addr, "--type", "nope")
	r.want(t, 1, "actor_type_not_found", "this server's types are")
	for _, name := range conformance.Names()[:3] {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("the hint lacks the fixture type %s: %s", name, r.stderr)
		}
	}
	if !slices.Contains(conformance.Names(), "chatRoom") && strings.Contains(r.stderr, "chatRoom") {
		t.Errorf("the hint names a built-in type the server does not run: %s", r.stderr)
	}
}

// types lists the server's types and actions; actors state prints the
// current state without appending; actors history pages the events.
func TestCLITypesStateHistory(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=" + p.addr
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()

	r := cli(t, nil, "types", addr)
	r.want(t, 0, "TYPE", "ACTIONS", "chatRoom", "getHistory, sendMessage")
	if strings.Contains(r.stdout, "rf_") {
		t.Errorf("types shows the server's own types without --all: %s", r.stdout)
	}
	cli(t, nil, "types", addr, "--all").want(t, 0, "rf_")
	r = cli(t, nil, "types", addr, "--json")
	var types []client.ActorType
	if err := json.Unmarshal([]byte(r.stdout), &types); err != nil || !slices.ContainsFunc(types, func(at client.ActorType) bool {
		return at.Name == "counter" && slices.Contains(at.Actions, "increment")
	}) {
		t.Fatalf("types --json: %v %s", err, r.stdout)
	}

	// create says what happened, in both formats.
	cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "s").want(t, 0, "(created)")
	cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", "s").want(t, 0, "(it existed already)")
	id := createActor(t, p.addr, "counter", "s")
	for range 3 {
		if _, err := c.Call(ctx, id, "increment", 2); err != nil {
			t.Fatal(err)
		}
	}
	before, err := c.Events(ctx, id, &client.EventsOptions{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}

	r = cli(t, nil, "actors", "state", addr, id)
	r.want(t, 0, `"count": 6`)
	r = cli(t, nil, "actors", "state", addr, id, "--json")
	var st client.ActorState
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.ID != id || string(st.State) != `{"count":6}` {
		t.Fatalf("state --json: %v %s", err, r.stdout)
	}
	after, err := c.Events(ctx, id, &client.EventsOptions{Limit: 1000})
	if err != nil || len(after.Events) != len(before.Events) {
		t.Fatalf("events after actors state: %d (%v), want %d: reading the state appended", len(after.Events), err, len(before.Events))
	}
	cli(t, nil, "actors", "state", addr, "bad-id").want(t, 1, "invalid_actor_id")

	// history: one page and the next one's --after, or --all; JSON lines.
	r = cli(t, nil, "actors", "history", addr, id, "--limit", "2")
	r.want(t, 0, "SEQ", "TIME", "EVENT", "create", "--after")
	if rows := strings.Count(strings.TrimSpace(r.stdout), "\n"); rows != 2 {
		t.Errorf("history --limit 2 printed %d rows:\n%s", rows, r.stdout)
	}
	r = cli(t, nil, "actors", "history", addr, id, "--limit", "2", "--all", "--json")
	r.want(t, 0)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(before.Events) {
		t.Fatalf("history --all --json: %d lines, want %d: %s", len(lines), len(before.Events), r.stdout)
	}
	var last client.Event
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last.Action != "increment" || string(last.Output) != "6" {
		t.Fatalf("last history line %s: %v", lines[len(lines)-1], err)
	}
	cli(t, nil, "actors", "history", addr, id, "--limit", "0").want(t, 2, "--limit")
}

// healthcheck takes --addr (a host:port or a URL) like the client commands;
// --http-addr stays.
func TestCLIHealthcheckAddr(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	cli(t, nil, "healthcheck", "--addr", p.addr).want(t, 0, "200 OK")
	cli(t, nil, "healthcheck", "--addr", "http://"+p.addr).want(t, 0, "200 OK")
	cli(t, nil, "healthcheck", "--http-addr", p.addr).want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_HTTP_ADDR=" + p.addr}, "healthcheck").want(t, 0, "200 OK")
	cli(t, []string{"RIVETFLOW_HTTP_ADDR=127.0.0.1:1"}, "healthcheck", "--addr", p.addr).want(t, 0, "200 OK")
}

// The token can come from a file, for serve and for the client commands;
// an unreadable file is named.
func TestCLITokenFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("  s3cret-from-file \nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, t.TempDir(), "--api-token-file", file)
	addr := "--addr=" + p.addr
	cli(t, nil, "actors", "list", addr, "--type", "counter").want(t, 1, "unauthorized", "--token-file")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--token", "s3cret-from-file").want(t, 0, "no live counter actors")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--token-file", file).want(t, 0, "no live counter actors")
	cli(t, []string{"RIVETFLOW_API_TOKEN_FILE=" + file}, "types", addr).want(t, 0, "counter")
	missing := filepath.Join(dir, "missing")
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--token-file", missing).want(t, 2, "--token-file", missing)
	cli(t, nil, "actors", "list", addr, "--type", "counter", "--token-file", file, "--token", "x").want(t, 2, "not both")
	cli(t, nil, "serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--api-token-file", missing).
		want(t, 2, "--api-token-file", missing)
	cli(t, nil, "serve", "--help").want(t, 0, "--api-token-file", "RIVETFLOW_API_TOKEN_FILE")
}

// Progress is drawn only on a terminal: piped, a command writes no carriage
// returns, only its final lines.
func TestCLIProgressOffTerminal(t *testing.T) {
	t.Parallel()
	r := cli(t, nil, "bench", "http", "--duration", "200ms", "--rounds", "1", "--concurrency", "2", "--actors", "3")
	r.want(t, 0, "creating 3 counter actors: 3/3", "round 1/1")
	if bytes.ContainsRune([]byte(r.stderr), '\r') {
		t.Errorf("carriage returns on a piped stderr: %q", r.stderr)
	}
}
