package api_test

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/api"
)

// Stopping a node ends its open streams and sockets promptly: an SSE client,
// a log tail, a connection or a raw WebSocket never holds a graceful stop
// until its timeout.
func TestStopEndsRealtime(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	counter := b.actor(t, "counter", "stop")
	tester := b.actor(t, "tester", "stop")
	_, sse := b.stream(t, "/v1/actors/"+counter.ID+"/sse")
	_, tail := b.stream(t, "/v1/events/tail")
	conn, _, err := b.dial(t, "/v1/actors/"+counter.ID+"/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := recv[wsMsg](t, conn); m.Type != "init" {
		t.Fatalf("first message %+v", m)
	}
	raw, _, err := b.dial(t, "/v1/actors/"+tester.ID+"/websocket/", nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, raw, "hi")
	if _, _, err := raw.Read(context.Background()); err != nil {
		t.Fatal(err)
	}

	const bound = 10 * time.Second // far below the 30s drain timeout a held stream would cost
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	start := time.Now()
	if err := b.stop(ctx); err != nil {
		t.Errorf("stop with open streams: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	}
	ended := func(name string, wait func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		if err := wait(ctx); err != nil {
			t.Errorf("%s still open after the node stopped", name)
		}
	}
	drain := func(events <-chan sseEvent) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			for {
				select {
				case _, ok := <-events:
					if !ok {
						return nil
					}
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
	}
	ended("SSE stream", drain(sse))
	ended("log tail", drain(tail))
	ended("raw WebSocket", func(ctx context.Context) error {
		for {
			if _, _, err := raw.Read(ctx); err != nil {
				return ctx.Err()
			}
		}
	})
	// A connection learns that the server is going away.
	err = readUntilClosed(t, conn)
	if code := websocket.CloseStatus(err); code != websocket.StatusGoingAway {
		t.Errorf("connection closed with %v, want a close frame with status going away (1001)", err)
	}
}

// A connection over the per-actor limit is refused with 429 and Retry-After.
func TestConnectionLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{Actors: actors.RuntimeOptions{MaxConnections: 2}})
	a := b.actor(t, "counter", "full")
	b.stream(t, "/v1/actors/"+a.ID+"/sse")
	ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := recv[wsMsg](t, ws); m.Type != "init" {
		t.Fatalf("first message %+v", m)
	}
	_, resp, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
	if err == nil || resp == nil {
		t.Fatalf("a third connection: %v, want it refused", err)
	}
	wantProblem(t, resp, readAll(t, resp), http.StatusTooManyRequests, "too_many_connections")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	resp, data := b.do(t, http.MethodGet, "/v1/actors/"+a.ID+"/sse", nil)
	wantProblem(t, resp, data, http.StatusTooManyRequests, "too_many_connections")
	// Closing one frees its slot.
	if err := ws.Close(websocket.StatusNormalClosure, ""); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("close: %v", err)
	}
	for deadline := time.Now().Add(waitFor); ; {
		ws, _, err := b.dial(t, "/v1/actors/"+a.ID+"/connect", nil)
		if err == nil {
			if m := recv[wsMsg](t, ws); m.Type != "init" {
				t.Fatalf("first message %+v", m)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed connection's slot was never freed: %v", err)
		}
	}
}

// Idle streams carry heartbeats that keep proxies from closing them.
func TestSSEHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{API: api.Options{Heartbeat: 20 * time.Millisecond}})
	a := b.actor(t, "counter", "beat")
	for _, path := range []string{"/v1/actors/" + a.ID + "/sse", "/v1/events/tail"} {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		resp, err := b.http.Do(b.request(t, http.MethodGet, path, nil).WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		beats := 0
		for beats < 2 && sc.Scan() {
			if strings.HasPrefix(sc.Text(), ": heartbeat") {
				beats++
			}
		}
		if beats < 2 {
			t.Errorf("%s: %d heartbeats before the stream ended: %v", path, beats, sc.Err())
		}
	}
}
