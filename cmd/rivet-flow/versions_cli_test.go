package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// runVersions runs `rivet-flow versions args...` in this process (main's
// dispatch is not needed) and returns its exit code, stdout and stderr.
func runVersions(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"versions"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCLIVersions(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir())
	addr := "--addr=http://" + p.addr
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		if _, _, err := c.GetOrCreate(ctx, "counter", []string{k}, nil); err != nil {
			t.Fatal(err)
		}
	}
	room, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"lobby"}, nil)
	if err == nil {
		err = c.Destroy(ctx, room.ID)
	}
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runVersions(addr)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "TYPE KIND VERSION OPEN" ||
		strings.Join(strings.Fields(lines[1]), " ") != "counter actor 1 3" {
		t.Fatalf("versions: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = runVersions(addr, "--all")
	if code != 0 || !strings.Contains(out, "chatRoom") || !strings.Contains(errOut, "can be retired") {
		t.Fatalf("versions --all: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, _ = runVersions(addr, "--all", "--json", "--type", "chatRoom")
	var list []client.CodeVersion
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("versions --json: exit %d, %v: %q", code, err, out)
	}
	if want := []client.CodeVersion{{Type: "chatRoom", CodeVersion: "1", Kind: "actor", Open: 0}}; !reflect.DeepEqual(list, want) {
		t.Fatalf("versions --all --json --type chatRoom = %+v, want %+v", list, want)
	}
	if code, out, errOut = runVersions(addr, "--type", "chatRoom"); code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(errOut, "--all") {
		t.Fatalf("versions --type chatRoom: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{addr, "--type", "no such"}, 1, "malformed_request (400)"},
		{[]string{addr, "extra"}, 2, "unexpected arguments"},
		{[]string{addr, "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"--addr=http://127.0.0.1:1"}, 1, "cannot reach the server"},
	} {
		code, out, errOut := runVersions(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("versions %v: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
}
