package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/client"
)

// queueNode starts a real node in the test process (it serves /v1/queues)
// and returns its --addr flag and a Go client for it.
func queueNode(t *testing.T) (string, *client.Client) {
	t.Helper()
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: builtin.Registry()})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	t.Cleanup(func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	return "--addr=http://" + n.Addr(), newTestClient(t, n.Addr(), "")
}

// claimCLI claims with the Go client until it holds n messages (a message
// is claimable a moment after its send), for at most 10s.
func claimCLI(t *testing.T, c *client.Client, name string, n int) []client.QueueMessage {
	t.Helper()
	var out []client.QueueMessage
	for deadline := time.Now().Add(10 * time.Second); len(out) < n && time.Now().Before(deadline); {
		got, err := c.Claim(context.Background(), name, &client.ClaimOptions{Max: n - len(out), Wait: time.Second})
		if err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
		out = append(out, got...)
	}
	return out
}

func TestCLIQueues(t *testing.T) {
	t.Parallel()
	addr, c := queueNode(t)
	ctx := context.Background()
	cli(t, nil, "queues", "list", addr).want(t, 0, "no queues")
	cli(t, nil, "queues", "create", "jobs", addr, "--max-deliveries", "3", "--backoff", "1s,5s", "--ack-wait", "10s").
		want(t, 0, "created queue jobs", "max deliveries     3", "backoff            1s,5s", "ack wait           10s")
	cli(t, nil, "queues", "create", "jobs", addr, "--max-deliveries", "2").want(t, 0, "replaced the configuration of queue jobs", "ack wait           30s")

	cli(t, nil, "queues", "send", "jobs", `{"to":"ada"}`, addr, "--dedup-id", "d1").want(t, 0, "sent message ")
	cli(t, nil, "queues", "send", "jobs", `{"to":"bob"}`, addr, "--dedup-id", "d1").want(t, 0, "duplicate: dedup ID d1")
	r := cli(t, nil, "queues", "send", "jobs", addr, "--count", "50", "--body", `{"n":1}`)
	r.want(t, 0, "queue jobs: 50 sent, 0 duplicates, 0 failed of 50")
	if !strings.Contains(r.stderr, "[##############################] 100%  50 of 50 sent") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	file := filepath.Join(t.TempDir(), "msgs.jsonl")
	if err := os.WriteFile(file, []byte("{\"i\":1}\n\n{\"i\":2}\n\"three\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "queues", "send", "jobs", addr, "--file", file, "--dedup-id", "f").want(t, 0, "3 sent, 0 duplicates, 0 failed of 3")
	r = cli(t, nil, "queues", "send", "jobs", addr, "--file", file, "--dedup-id", "f", "--json")
	r.want(t, 0, `{"sent":0,"duplicates":3,"failed":0,"fullRetries":0}`)

	cli(t, nil, "queues", "list", addr).want(t, 0, "NAME", "DEPTH", "IN-FLIGHT", "jobs  54")
	r = cli(t, nil, "queues", "get", "jobs", addr, "--json")
	r.want(t, 0)
	var q client.Queue
	if err := json.Unmarshal([]byte(r.stdout), &q); err != nil || q.Name != "jobs" || q.Stats == nil || q.Stats.Depth != 54 || q.Config.MaxDeliveries != 2 {
		t.Fatalf("get --json: %v %q", err, r.stdout)
	}
	cli(t, nil, "queues", "get", "jobs", addr).want(t, 0, "54 waiting, 0 in flight, 0 dead letters")

	// Claim: the first message, left in flight; then JSON lines, acknowledged.
	r = cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "5s")
	r.want(t, 0, `{"to":"ada"}`, "attempt 1", "receipt ", "rivet-flow queues ack jobs RECEIPT")
	receipt := strings.TrimSpace(strings.SplitN(strings.SplitN(r.stdout, "receipt ", 2)[1], "\n", 2)[0])
	cli(t, nil, "queues", "ack", "jobs", receipt, addr).want(t, 0, "acknowledged 1")
	cli(t, nil, "queues", "ack", "jobs", receipt, addr).want(t, 1, "invalid_receipt", "rivet-flow queues claim jobs")
	// A message is claimable a moment after its send: claim until all came.
	var lines []string
	for range 20 {
		r = cli(t, nil, "queues", "claim", "jobs", addr, "--max", "60", "--ack", "--json", "--wait", "2s")
		r.want(t, 0)
		if out := strings.TrimSpace(r.stdout); out != "" {
			lines = append(lines, strings.Split(out, "\n")...)
		}
		if len(lines) >= 53 {
			break
		}
	}
	if len(lines) != 53 {
		t.Fatalf("claim --max 60 --json: %d lines: %q", len(lines), lines)
	} else {
		var m client.QueueMessage
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m.Receipt == "" || string(m.Body) != `{"n":1}` {
			t.Fatalf("claim --json line: %v %q", err, lines[0])
		}
	}
	cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "100ms").want(t, 0, "no message ready in queue jobs")

	// Dead letters: one delivery each, a short lease not acked.
	cli(t, nil, "queues", "create", "work", addr, "--max-deliveries", "1", "--ack-wait", "100ms").want(t, 0, "created queue work")
	cli(t, nil, "queues", "dead-letters", "work", addr).want(t, 0, "no dead letters in queue work")
	cli(t, nil, "queues", "send", "work", addr, "--count", "3", "--body", `{"job":"x"}`).want(t, 0, "3 sent")
	if msgs := claimCLI(t, c, "work", 3); len(msgs) != 3 {
		t.Fatalf("claim work: %+v", msgs)
	}
	time.Sleep(300 * time.Millisecond)
	var page *client.DeadLetterPage
	for range 50 {
		if _, err := c.Claim(ctx, "work", &client.ClaimOptions{Max: 3, Wait: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		var err error
		if page, err = c.DeadLetters(ctx, "work", nil); err != nil {
			t.Fatal(err)
		}
		if len(page.DeadLetters) == 3 {
			break
		}
	}
	if len(page.DeadLetters) != 3 {
		t.Fatalf("dead letters: %+v", page)
	}
	cli(t, nil, "queues", "dead-letters", "work", addr).want(t, 0, "ID", "ATTEMPTS", "max_deliveries", `{"job":"x"}`)
	cli(t, nil, "queues", "dead-letters", "work", addr, "--limit", "2").want(t, 0, "showing the first 2")
	r = cli(t, nil, "queues", "redrive", "work", addr, "--id", page.DeadLetters[0].ID, "--id", "999999", "--body", `{"job":"y"}`)
	r.want(t, 0, "redrove 1 dead letters into queue work", "not dead letters", "999999")
	if !strings.Contains(r.stderr, "100%  2 of 2 dead letters") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	r = cli(t, nil, "queues", "redrive", "work", addr, "--all")
	r.want(t, 0, "redrove 2 dead letters into queue work")
	if !strings.Contains(r.stderr, "100%  2 of 2 dead letters") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	cli(t, nil, "queues", "get", "work", addr).want(t, 0, "3 waiting, 0 in flight, 0 dead letters")
	cli(t, nil, "queues", "claim", "work", addr, "--max", "1", "--wait", "5s", "--json").want(t, 0, `{"job":"y"}`, `"attempt":1`)

	// More dead letters than one redrive batch: pages, one progress bar.
	cli(t, nil, "queues", "create", "many", addr, "--max-deliveries", "1", "--ack-wait", "100ms").want(t, 0, "created queue many")
	cli(t, nil, "queues", "send", "many", addr, "--count", "250", "--body", "0").want(t, 0, "250 sent")
	if msgs := claimCLI(t, c, "many", 250); len(msgs) != 250 {
		t.Fatalf("claim many: %d", len(msgs))
	}
	time.Sleep(300 * time.Millisecond)
	for range 50 {
		if _, err := c.Claim(ctx, "many", &client.ClaimOptions{Max: 1000, Wait: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
		if q, err := c.Queue(ctx, "many"); err != nil || q.Stats.DeadLetters == 250 {
			break
		}
	}
	r = cli(t, nil, "queues", "redrive", "many", addr, "--all")
	r.want(t, 0, "redrove 250 dead letters into queue many")
	if !strings.Contains(r.stderr, "100%  250 of 250 dead letters") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	cli(t, nil, "queues", "get", "many", addr).want(t, 0, "250 waiting, 0 in flight, 0 dead letters")
	cli(t, nil, "queues", "redrive", "many", addr, "--all").want(t, 0, "no dead letters to redrive in queue many")

	// A full queue: with a short --full-timeout the rest fail; with a long
	// one the send waits out Retry-After while a worker makes room.
	cli(t, nil, "queues", "create", "tiny", addr, "--max-messages", "2").want(t, 0, "created queue tiny")
	r = cli(t, nil, "queues", "send", "tiny", addr, "--count", "4", "--body", "1", "--full-timeout", "100ms", "--concurrency", "1")
	r.want(t, 1, "2 sent, 0 duplicates, 2 failed of 4", "queue_full", "--dedup-id PREFIX")
	// Run the send, watch its progress line for the wait, then make room.
	sendCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	send := exec.CommandContext(sendCtx, binary, "queues", "send", "tiny", addr, "--count", "1", "--body", "2", "--full-timeout", "30s")
	var stdout strings.Builder
	send.Stdout = &stdout
	stderr, err := send.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := send.Start(); err != nil {
		t.Fatal(err)
	}
	var progressLine strings.Builder
	for buf := make([]byte, 4096); !strings.Contains(progressLine.String(), "queue full: retrying in "); {
		n, err := stderr.Read(buf)
		if err != nil {
			t.Fatalf("send ended before it waited: %v %q", err, progressLine.String())
		}
		progressLine.Write(buf[:n])
	}
	msgs, err := c.Claim(ctx, "tiny", &client.ClaimOptions{Wait: 5 * time.Second})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("claim tiny: %+v %v", msgs, err)
	}
	if _, err := c.Ack(ctx, "tiny", msgs[0].Receipt); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(stderr)
	res := cliResult{code: exitCode(send.Wait())}
	res.stdout, res.stderr = stdout.String(), progressLine.String()+string(rest)
	res.want(t, 0, "1 sent, 0 duplicates, 0 failed of 1", "the queue was full 1 times")

	cli(t, nil, "queues", "delete", "tiny", addr).want(t, 0, "deleted queue tiny")
	cli(t, nil, "queues", "get", "tiny", addr).want(t, 1, "queue_not_found", "rivet-flow queues list")
	cli(t, nil, "queues", "send", "tiny", addr, "--count", "2", "--body", "1").want(t, 1, "queue_not_found", "rivet-flow queues create tiny")

	// Bad input: what is wrong and what to do.
	cli(t, nil, "queues", "create", "x", addr, "--backoff", "1s,soon").want(t, 2, "--backoff", "1s,5s,30s")
	cli(t, nil, "queues", "create", "x", addr, "--ack-wait", "1ms").want(t, 2, "--ack-wait 1ms: want at least 100ms")
	cli(t, nil, "queues", "create", "bad name!", addr).want(t, 1, "invalid_request")
	cli(t, nil, "queues", "send", "jobs", "{nope", addr).want(t, 2, "not valid JSON")
	cli(t, nil, "queues", "send", "jobs", addr).want(t, 2, "missing the body")
	cli(t, nil, "queues", "send", "jobs", addr, "--count", "2").want(t, 2, "--count needs --body")
	if err := os.WriteFile(file, []byte("{\"i\":1}\nnot json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "queues", "send", "jobs", addr, "--file", file).want(t, 2, "line 2 is not valid JSON")
	cli(t, nil, "queues", "redrive", "work", addr).want(t, 2, "--all, or --id ID")
	cli(t, nil, "queues", "claim", "jobs", addr, "--wait", "1m").want(t, 2, "want 0 to 30s")
	cli(t, nil, "queues", "get", addr).want(t, 2, "missing arguments")
	cli(t, nil, "queues", "bogus").want(t, 2, "unknown command")
	cli(t, nil, "queues", "--help").want(t, 0, "dead-letters NAME", "redrive NAME")
	cli(t, []string{"RIVETFLOW_ADDR=127.0.0.1:1"}, "queues", "list").want(t, 1, "cannot reach the server")
}
