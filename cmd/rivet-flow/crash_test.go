package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/client"
)

// TestServeKill9KeepsEveryAnsweredAction drives increments over HTTP into the
// real binary from many goroutines, kills it with SIGKILL mid-load, restarts
// it on the same data dir and checks, through the API, that every answered
// increment is in each counter's history exactly once and the counts agree:
// an HTTP answer means the event was acknowledged by JetStream.
func TestServeKill9KeepsEveryAnsweredAction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := startServe(t, dir, "--snapshot-every", "5")
	c := newTestClient(t, p.addr, "")
	ctx := context.Background()
	const counters, workers = 16, 16
	ids := make([]string, counters)
	for i := range ids {
		a, _, err := c.GetOrCreate(ctx, "counter", []string{fmt.Sprint("crash-", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = a.ID
	}

	var mu sync.Mutex
	answered := map[string][]int64{} // actor -> counts returned to callers
	total := 0
	enough := make(chan struct{})
	var wg sync.WaitGroup
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	for w := range workers {
		wg.Go(func() {
			for i := w; loadCtx.Err() == nil; i += workers {
				id := ids[i%counters]
				n, err := client.CallAs[int64](loadCtx, c, id, "increment", 1)
				if err != nil {
					return // the server died under us: unanswered calls prove nothing
				}
				mu.Lock()
				answered[id] = append(answered[id], n)
				total++
				if total == 1500 {
					close(enough)
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d actions answered in 60s", total)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	stopLoad()
	<-p.exited

	p2 := startServe(t, dir)
	c2 := newTestClient(t, p2.addr, "")
	for _, id := range ids {
		var outputs []int64
		for after := uint64(0); ; {
			page, err := c2.Events(ctx, id, &client.EventsOptions{After: after, Limit: 1000})
			if err != nil {
				t.Fatalf("history of %s after restart: %v", id, err)
			}
			for _, ev := range page.Events {
				if ev.Kind == "action" && ev.Action == "increment" {
					var n int64
					if err := json.Unmarshal(ev.Output, &n); err != nil {
						t.Fatalf("output %s: %v", ev.Output, err)
					}
					outputs = append(outputs, n)
				}
			}
			if page.NextAfter == 0 {
				break
			}
			after = page.NextAfter
		}
		for i, n := range outputs {
			if n != int64(i+1) {
				t.Fatalf("%s: increment %d returned %d: history has a gap or a duplicate", id, i+1, n)
			}
		}
		seen := map[int64]bool{}
		for _, n := range answered[id] {
			if n < 1 || n > int64(len(outputs)) {
				t.Fatalf("%s: answered count %d is not in the log (%d increments survived)", id, n, len(outputs))
			}
			if seen[n] {
				t.Fatalf("%s: two callers were answered count %d", id, n)
			}
			seen[n] = true
		}
		got, err := client.CallAs[int64](ctx, c2, id, "getCount")
		if err != nil {
			t.Fatal(err)
		}
		if got != int64(len(outputs)) {
			t.Fatalf("%s: count %d after restart, history has %d increments", id, got, len(outputs))
		}
	}
	t.Logf("%d answered actions across %d counters all survived kill -9", total, counters)
}
