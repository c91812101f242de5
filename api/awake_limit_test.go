package api_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// At --max-awake-actors with every awake actor busy, a call that would bring
// one more into memory answers 429 overloaded with Retry-After at once.
func TestAwakeLimitOverloaded(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{Actors: actors.RuntimeOptions{MaxAwakeActors: 2}})
	done := make(chan int, 2)
	for _, k := range []string{"one", "two"} {
		a := b.actor(t, "blocker", k)
		go func() {
			req := b.request(t, http.MethodPost, "/v1/actors/"+a.ID+"/actions/block", `{"args":[]}`)
			resp, err := b.http.Do(req)
			if err != nil {
				done <- -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			done <- resp.StatusCode
		}()
		select {
		case <-b.entered:
		case <-time.After(waitFor):
			t.Fatal("block never started")
		}
	}

	start := time.Now()
	resp, data := b.do(t, http.MethodPut, "/v1/actors", map[string]any{"type": "tester", "key": []string{"new"}})
	if took := time.Since(start); took > time.Second {
		t.Errorf("the refusal took %v, want at once", took)
	}
	wantProblem(t, resp, data, http.StatusTooManyRequests, "overloaded")
	if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
	}

	// Once the actors are idle, the least recently used one sleeps to make room.
	b.unblock()
	for range 2 {
		select {
		case s := <-done:
			if s != http.StatusOK {
				t.Fatalf("block: status %d", s)
			}
		case <-time.After(waitFor):
			t.Fatal("block did not return")
		}
	}
	a := b.actor(t, "tester", "new")
	if got := string(b.action(t, a.ID, "add", 5)); got != "5" {
		t.Fatalf("add: %s", got)
	}
}
