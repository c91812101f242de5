package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/rivet-flow/rivet-flow/client"
)

// actors list shows whether each actor is awake on the server: with room for
// one actor in memory, creating a second one puts the first to sleep.
func TestCLIActorsListAwake(t *testing.T) {
	t.Parallel()
	p := startServe(t, t.TempDir(), "--max-awake-actors", "1")
	addr := "--addr=http://" + p.addr

	var ids []string
	for _, k := range []string{"a", "b"} {
		r := cli(t, nil, "actors", "create", addr, "--type", "counter", "--key", k, "--json")
		var created struct {
			Actor client.Actor `json:"actor"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &created); err != nil || r.code != 0 {
			t.Fatalf("create %s: %v %q %q", k, err, r.stdout, r.stderr)
		}
		ids = append(ids, created.Actor.ID)
	}

	r := cli(t, nil, "actors", "list", addr, "--type", "counter")
	r.want(t, 0, "AWAKE")
	for i, want := range []string{"no", "yes"} {
		line := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(ids[i]) + `\s.*\s` + want + `\s*$`)
		if !line.MatchString(r.stdout) {
			t.Errorf("actor %s not listed as awake %q:\n%s", ids[i], want, r.stdout)
		}
	}

	r = cli(t, nil, "actors", "list", addr, "--type", "counter", "--json")
	var list []client.ActorInfo
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 {
		t.Fatalf("list --json: %v %q", err, r.stdout)
	}
	if list[0].ID != ids[0] || list[0].Awake || list[1].ID != ids[1] || !list[1].Awake || list[1].Status != "active" {
		t.Fatalf("list --json: %+v, want %s asleep and %s awake", list, ids[0], ids[1])
	}
}
