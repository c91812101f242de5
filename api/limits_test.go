package api_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rivet-flow/rivet-flow/api"
)

// padTo pads a JSON object with spaces before its closing brace to n bytes.
func padTo(t *testing.T, obj string, n int) string {
	t.Helper()
	if len(obj) > n {
		t.Fatalf("%s is over %d bytes", obj, n)
	}
	return obj[:len(obj)-1] + strings.Repeat(" ", n-len(obj)) + "}"
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 256
	b := setup(t, testOpts{API: api.Options{MaxBodyBytes: limit}})
	a := b.actor(t, "counter", "big")
	tests := []struct {
		name, method, path, body string
		size                     int
		status                   int
	}{
		{"action at the limit", "POST", "/v1/actors/" + a.ID + "/actions/increment", `{"args":[1]}`, limit, http.StatusOK},
		{"action over the limit", "POST", "/v1/actors/" + a.ID + "/actions/increment", `{"args":[1]}`, limit + 1, http.StatusRequestEntityTooLarge},
		{"action far over the limit", "POST", "/v1/actors/" + a.ID + "/actions/increment", `{"args":[1]}`, 10 * limit, http.StatusRequestEntityTooLarge},
		{"create at the limit", "PUT", "/v1/actors", `{"type":"counter","key":["x"]}`, limit, http.StatusOK},
		{"create over the limit", "PUT", "/v1/actors", `{"type":"counter","key":["y"]}`, limit + 1, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(b.history(t, a.ID))
			body := padTo(t, tc.body, tc.size)
			resp, data := b.do(t, tc.method, tc.path, body)
			if tc.status == http.StatusOK {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("a body of exactly %d bytes: %d %s", len(body), resp.StatusCode, data)
				}
				return
			}
			wantProblem(t, resp, data, tc.status, "body_too_large")
			if got := len(b.history(t, a.ID)); got != before {
				t.Errorf("a refused body changed the actor: %d events, want %d", got, before)
			}
		})
	}
	var list actorList
	b.call(t, http.MethodGet, "/v1/actors?type=counter&key=y", nil, http.StatusOK, &list)
	if len(list.Actors) != 0 {
		t.Errorf("a refused create created %+v", list.Actors)
	}
}

// A full mailbox answers 429 with Retry-After and runs nothing; the actor
// serves the queued call once it is free again.
func TestMailboxFull(t *testing.T) {
	t.Parallel()
	b := setup(t, testOpts{})
	a := b.actor(t, "blocker", "busy")
	before := len(b.history(t, a.ID))

	type reply struct {
		status int
		retry  string
		body   []byte
	}
	call := func(action string, args string) <-chan reply {
		ch := make(chan reply, 1)
		go func() {
			req := b.request(t, http.MethodPost, "/v1/actors/"+a.ID+"/actions/"+action, `{"args":`+args+`}`)
			resp, err := b.http.Do(req)
			if err != nil {
				ch <- reply{status: -1, body: []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			data, _ := io.ReadAll(resp.Body)
			ch <- reply{resp.StatusCode, resp.Header.Get("Retry-After"), data}
		}()
		return ch
	}
	wait := func(ch <-chan reply) reply {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(waitFor):
			t.Fatal("no reply in time")
		}
		return reply{}
	}

	blocked := call("block", "[]")
	select {
	case <-b.entered:
	case r := <-blocked:
		t.Fatalf("block returned at once: %d %s", r.status, r.body)
	case <-time.After(waitFor):
		t.Fatal("block never started")
	}
	// The mailbox holds one call: of two more, one waits and one is refused.
	first, second := call("add", "[10]"), call("add", "[100]")
	var refused reply
	var queued <-chan reply
	select {
	case refused = <-first:
		queued = second
	case refused = <-second:
		queued = first
	case <-time.After(waitFor):
		t.Fatal("neither call was refused")
	}
	if refused.status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", refused.status, refused.body)
	}
	if n, err := strconv.Atoi(refused.retry); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want a positive number of seconds", refused.retry)
	}
	if !strings.Contains(string(refused.body), `"code":"overloaded"`) {
		t.Errorf("body %s, want code overloaded", refused.body)
	}

	b.unblock()
	if r := wait(blocked); r.status != http.StatusOK {
		t.Fatalf("block: %d %s", r.status, r.body)
	}
	r := wait(queued)
	if r.status != http.StatusOK {
		t.Fatalf("the queued call: %d %s", r.status, r.body)
	}
	n := b.action(t, a.ID, "add", 0)
	if got := string(n); got != "11" && got != "101" {
		t.Errorf("n = %s: want 1 (block) plus only the queued add", got)
	}
	if got := len(b.history(t, a.ID)); got != before+3 {
		t.Errorf("%d events after block, one add and one refused add, want %d", got, before+3)
	}
}
