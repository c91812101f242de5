package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// The queue verbs and flags of the queue features: create's new limits,
// update, history, send with key, priority and delay and in batches, claim
// with a lease, nack, extend, purge.
func TestCLIQueueFeatures(t *testing.T) {
	t.Parallel()
	addr, _ := queueNode(t)
	cli(t, nil, "queues", "create", "jobs", addr, "--overflow", "block", "--block-ms", "200", "--concurrency", "4", "--rate", "100").
		want(t, 0, "created queue jobs", "overflow           block (a send waits up to 200ms", "concurrency        4", "rate               100/s")
	dt := `{"type":"counter","keyFrom":"/k","action":"increment"}`
	cli(t, nil, "queues", "update", "jobs", addr, "--max-messages", "5000", "--deliver-to", dt).
		want(t, 0, "updated queue jobs", "max messages       5000", "deliver to         actor counter, action increment, key from /k", "concurrency        4")
	r := cli(t, nil, "queues", "update", "jobs", addr, "--deliver-to", "null", "--concurrency", "0", "--overflow", "reject", "--json")
	r.want(t, 0)
	var q client.Queue
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil || q.Config.DeliverTo != nil || q.Config.Concurrency != 0 || q.Config.MaxMessages != 5000 {
		t.Fatalf("update --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "queues", "history", "jobs", addr).want(t, 0, "AT", "KIND", "FIELDS", "updated", "overflow,concurrency,deliverTo", "maxMessages,deliverTo", "created")
	r = cli(t, nil, "queues", "history", "jobs", addr, "--limit", "1", "--json")
	r.want(t, 0, `"kind":"updated"`)
	if n := strings.Count(strings.TrimSpace(r.stdout), "\n"); n != 0 {
		t.Errorf("history --limit 1: %q", r.stdout)
	}
	cli(t, nil, "queues", "history", "never", addr).want(t, 0, "no recorded changes of queue never")

	// Key and priority come back with the claim.
	cli(t, nil, "queues", "send", "jobs", `{"n":1}`, addr, "--key", "acct-1", "--priority", "1").want(t, 0, "sent message ")
	r = cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "5s", "--lease-ms", "300")
	r.want(t, 0, "attempt 1  priority 1  key acct-1", `{"n":1}`)
	// The 300ms lease ends: delivered again, and released with nack.
	r = cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "5s", "--json")
	r.want(t, 0, `"attempt":2`, `"key":"acct-1"`, `"priority":1`)
	var m client.QueueMessage
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "queues", "extend", "jobs", m.Receipt, addr, "--lease-ms", "10s").want(t, 0, "extended 1")
	cli(t, nil, "queues", "nack", "jobs", m.Receipt, addr, "--delay-ms", "0").want(t, 0, "released 1 for redelivery")
	cli(t, nil, "queues", "nack", "jobs", "bogus", addr).want(t, 1, "invalid_receipt", "rivet-flow queues claim jobs")
	r = cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "5s", "--ack")
	r.want(t, 0, "attempt 3", "claimed and acknowledged 1")

	// A delayed send is not claimable before its time.
	start := time.Now()
	cli(t, nil, "queues", "send", "jobs", `"later"`, addr, "--delay-ms", "1500").want(t, 0, "sent message ")
	cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "300ms").want(t, 0, "no message ready")
	cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "10s", "--ack").want(t, 0, `"later"`, "claimed and acknowledged 1")
	if took := time.Since(start); took < 1400*time.Millisecond {
		t.Errorf("a delayed message claimed after %s", took)
	}

	// A bulk send goes in batches; a bad line fails alone.
	r = cli(t, nil, "queues", "send", "jobs", addr, "--count", "2500", "--body", `{"n":2}`, "--key", "k", "--priority", "5")
	r.want(t, 0, "queue jobs: 2500 sent, 0 duplicates, 0 failed of 2500")
	if !strings.Contains(r.stderr, "100%  2500 of 2500 sent") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	cli(t, nil, "queues", "create", "small", addr, "--max-message-bytes", "16").want(t, 0, "created queue small")
	file := filepath.Join(t.TempDir(), "msgs.jsonl")
	if err := os.WriteFile(file, []byte("1\n\""+strings.Repeat("x", 40)+"\"\n3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "queues", "send", "small", addr, "--file", file, "--dedup-id", "f", "--batch", "2").
		want(t, 1, "2 sent, 0 duplicates, 1 failed of 3", "message_too_large")
	cli(t, nil, "queues", "send", "small", addr, "--file", file, "--dedup-id", "f", "--json").
		want(t, 1, `{"sent":0,"duplicates":2,"failed":1,"fullRetries":0}`)

	// Purge: the waiting messages go, the queue stays.
	cli(t, nil, "queues", "purge", "jobs", addr).want(t, 0, "purged 2500 messages from queue jobs")
	cli(t, nil, "queues", "get", "jobs", addr).want(t, 0, "0 waiting, 0 in flight", "delayed            0", "rates ")
	cli(t, nil, "queues", "purge", "nope", addr).want(t, 1, "queue_not_found")

	// Bad input: what is wrong and what to do.
	cli(t, nil, "queues", "create", "x", addr, "--overflow", "drop").want(t, 2, "--overflow drop: want reject or block")
	cli(t, nil, "queues", "create", "x", addr, "--block-ms", "0").want(t, 2, "--block-ms 0: want 1 to 30000")
	cli(t, nil, "queues", "create", "x", addr, "--rate", "-1").want(t, 2, "--rate -1: want 0")
	cli(t, nil, "queues", "create", "x", addr, "--deliver-to", `{"type":"counter"}`).want(t, 2, "--deliver-to", "type and action required")
	cli(t, nil, "queues", "update", "jobs", addr).want(t, 2, "give at least one field to change")
	cli(t, nil, "queues", "update", "nope", addr, "--max-messages", "3").want(t, 1, "queue_not_found")
	cli(t, nil, "queues", "send", "jobs", "1", addr, "--priority", "9").want(t, 2, "--priority 9: want 1")
	cli(t, nil, "queues", "send", "jobs", "1", addr, "--delay-ms", "soon").want(t, 2, "--delay-ms")
	cli(t, nil, "queues", "send", "jobs", "1", addr, "--key", strings.Repeat("k", 300)).want(t, 1, "invalid_request")
	cli(t, nil, "queues", "claim", "jobs", addr, "--lease-ms", "13h").want(t, 2, "--lease-ms 46800000: want 0 to 43200000")
	cli(t, nil, "queues", "extend", "jobs", addr).want(t, 2, "missing arguments")
	cli(t, nil, "queues", "--help").want(t, 0, "update NAME", "history NAME", "purge NAME", "nack NAME", "extend NAME")
}
