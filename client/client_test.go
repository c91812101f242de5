package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/api"
	"github.com/rivet-flow/rivet-flow/client"
)

// testBundle is what setup starts: a real node on loopback and a client for it.
type testBundle struct {
	node *rivetflow.Node
	url  string
}

type setupOpts struct {
	token string
}

// setup starts a node on 127.0.0.1:0 in a temp dir and returns a client for
// it; both are stopped when the test ends.
func setup(t *testing.T, opts *setupOpts) (*client.Client, *testBundle) {
	t.Helper()
	if opts == nil {
		opts = &setupOpts{}
	}
	n, err := rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), API: api.Options{Token: opts.token}})
	if err != nil {
		t.Fatalf("start a node: %v", err)
	}
	b := &testBundle{node: n, url: "http://" + n.Addr()}
	c, err := client.New(b.url, &client.Options{Token: opts.token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.CloseIdleConnections()
		if err := n.Stop(context.Background()); err != nil {
			t.Errorf("stop the node: %v", err)
		}
	})
	return c, b
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is a *client.Error with this status and code.
func wantCode(t *testing.T, err error, status int, code string) *client.Error {
	t.Helper()
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *client.Error; want %d %s", err, err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error = %d %s (%s); want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	if e.Message == "" {
		t.Errorf("error %s has no message", e.Code)
	}
	return e
}

func TestActorLifecycle(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)

	a, created, err := c.GetOrCreate(ctx, "counter", []string{"org", "a"}, nil)
	if err != nil || !created {
		t.Fatalf("GetOrCreate = %+v, %v, %v; want created", a, created, err)
	}
	if a.Type != "counter" || !slices.Equal(a.Key, []string{"org", "a"}) || a.Generation != 1 || a.ID == "" {
		t.Fatalf("actor = %+v", a)
	}
	again, created, err := c.GetOrCreate(ctx, "counter", []string{"org", "a"}, nil)
	if err != nil || created || again.ID != a.ID {
		t.Fatalf("second GetOrCreate = %+v, %v, %v; want the same actor, not created", again, created, err)
	}
	_, err = c.Create(ctx, "counter", []string{"org", "a"}, nil)
	wantCode(t, err, http.StatusConflict, client.CodeActorExists)

	got, err := c.Get(ctx, "counter", []string{"org", "a"})
	if err != nil || got.ID != a.ID {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	got, err = c.GetByID(ctx, a.ID)
	if err != nil || got.ID != a.ID || got.Type != "counter" {
		t.Fatalf("GetByID = %+v, %v", got, err)
	}

	out, err := c.Call(ctx, a.ID, "increment", 5)
	if err != nil || string(out) != "5" {
		t.Fatalf("Call increment(5) = %s, %v", out, err)
	}
	n, err := client.CallAs[int64](ctx, c, a.ID, "increment", json.RawMessage("2"))
	if err != nil || n != 7 {
		t.Fatalf("CallAs increment(2) = %d, %v", n, err)
	}
	n, err = client.CallAs[int64](ctx, c, a.ID, "getCount")
	if err != nil || n != 7 {
		t.Fatalf("CallAs getCount() = %d, %v", n, err)
	}
	if _, err := client.CallAs[string](ctx, c, a.ID, "getCount"); err == nil || client.ErrorCode(err) != "" {
		t.Fatalf("CallAs[string] of a number = %v; want a decode error", err)
	}

	page, err := c.Events(ctx, a.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range page.Events {
		kinds = append(kinds, ev.Kind+":"+ev.Action)
	}
	// Every action is an event, reads included.
	want := []string{"create:$create", "action:increment", "action:increment", "action:getCount", "action:getCount"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("history = %v; want %v", kinds, want)
	}
	last := page.Events[2] // increment(2)
	if string(last.Args) != "[2]" || string(last.Output) != "7" || string(last.State) != `{"count":7}` ||
		len(last.Broadcasts) != 1 || last.Broadcasts[0].Name != "newCount" || last.Time.IsZero() {
		t.Errorf("last event = %+v", last)
	}
	// Paging: one event at a time.
	page, err = c.Events(ctx, a.ID, &client.EventsOptions{Limit: 1})
	if err != nil || len(page.Events) != 1 || page.NextAfter != page.Events[0].Seq {
		t.Fatalf("history page of 1 = %+v, %v", page, err)
	}
	page, err = c.Events(ctx, a.ID, &client.EventsOptions{After: page.NextAfter, Limit: 5})
	if err != nil || len(page.Events) != 4 || page.NextAfter != 0 {
		t.Fatalf("history after the first = %+v, %v", page, err)
	}

	if err := c.Destroy(ctx, a.ID); err != nil {
		t.Fatalf("Destroy: %v", err)
	}
	_, err = c.GetByID(ctx, a.ID)
	wantCode(t, err, http.StatusNotFound, client.CodeActorNotFound)
	_, err = c.Get(ctx, "counter", []string{"org", "a"})
	wantCode(t, err, http.StatusNotFound, client.CodeActorNotFound)
	_, err = c.Call(ctx, a.ID, "increment", 1)
	wantCode(t, err, http.StatusNotFound, client.CodeActorNotFound)
	err = c.Destroy(ctx, a.ID)
	wantCode(t, err, http.StatusNotFound, client.CodeActorNotFound)

	// A create after destroy starts a new generation.
	a2, err := c.Create(ctx, "counter", []string{"org", "a"}, nil)
	if err != nil || a2.Generation != 2 || a2.ID != a.ID {
		t.Fatalf("create after destroy = %+v, %v; want generation 2", a2, err)
	}
}

func TestListPages(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	var want []string
	for i := range 7 {
		a, _, err := c.GetOrCreate(ctx, "counter", []string{fmt.Sprint("k", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.ID)
	}
	if _, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"other"}, nil); err != nil {
		t.Fatal(err)
	}
	// Listings come from the actor directory, in key order: k0 ... k6.

	var got []string
	var pages int
	opts := &client.ListOptions{Limit: 3}
	for {
		page, err := c.List(ctx, "counter", opts)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page.Actors {
			got = append(got, a.ID)
		}
		if page.NextCursor == "" {
			break
		}
		opts.Cursor = page.NextCursor
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Fatalf("List by 3 = %v in %d pages; want %v in 3", got, pages, want)
	}
	got = got[:0]
	for a, err := range c.All(ctx, "counter") {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.ID)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("All = %v; want %v", got, want)
	}
	for range c.All(ctx, "counter") {
		break // stopping early is fine
	}
	_, err := c.List(ctx, "nope", nil)
	wantCode(t, err, http.StatusNotFound, client.CodeActorTypeNotFound)
	for _, err := range c.All(ctx, "nope") {
		wantCode(t, err, http.StatusNotFound, client.CodeActorTypeNotFound)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	counter, _, err := c.GetOrCreate(ctx, "counter", []string{"e"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	room, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"e"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		call   func() error
		status int
		code   string
		group  string
	}{
		{"unknown type", func() error { _, _, err := c.GetOrCreate(ctx, "nope", []string{"a"}, nil); return err },
			404, client.CodeActorTypeNotFound, "actor"},
		{"unknown action", func() error { _, err := c.Call(ctx, counter.ID, "nope"); return err },
			404, client.CodeActionNotFound, "actor"},
		{"wrong argument type", func() error { _, err := c.Call(ctx, counter.ID, "increment", "x"); return err },
			400, client.CodeInvalidArgs, "actor"},
		{"invalid ID", func() error { _, err := c.GetByID(ctx, "not-an-id"); return err },
			400, client.CodeInvalidActorID, "actor"},
		{"user error", func() error { _, err := c.Call(ctx, room.ID, "sendMessage", " "); return err },
			400, "empty_message", "user"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := wantCode(t, tc.call(), tc.status, tc.code)
			if e.Group != tc.group {
				t.Errorf("group = %q; want %q", e.Group, tc.group)
			}
			if !strings.HasPrefix(e.Error(), tc.code+": ") {
				t.Errorf("Error() = %q", e.Error())
			}
		})
	}
	// Nothing changed on a rejected request.
	if n, err := client.CallAs[int64](ctx, c, counter.ID, "getCount"); err != nil || n != 0 {
		t.Errorf("count after rejected calls = %d, %v", n, err)
	}
	// Arguments are checked before anything is sent.
	for _, err := range []error{
		func() error { _, err := c.Call(ctx, "", "x"); return err }(),
		func() error { _, err := c.Call(ctx, counter.ID, ""); return err }(),
		func() error { _, err := c.List(ctx, "", nil); return err }(),
		c.Destroy(ctx, ""),
		func() error { _, err := c.Get(ctx, "counter", nil); return err }(),
		func() error { _, err := c.Get(ctx, "counter", []string{"a", ""}); return err }(),
	} {
		if err == nil || client.ErrorCode(err) != "" {
			t.Errorf("empty argument: %v", err)
		}
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	c, _ := setup(t, nil)
	ctx := ctxT(t)
	a, _, err := c.GetOrCreate(ctx, "counter", []string{"t"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.GetOrCreate(ctx, "chatRoom", []string{"t"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, a.ID, "increment", 1); err != nil {
		t.Fatal(err)
	}

	// From the start, counters only; a call made while tailing shows up too.
	tailCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var got []client.LogEvent
	err = c.Tail(tailCtx, &client.TailOptions{FromStart: true, Type: "counter"}, func(ev client.LogEvent) error {
		got = append(got, ev)
		switch len(got) {
		case 2:
			go func() { _, _ = c.Call(ctx, a.ID, "increment", 10) }()
		case 3:
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Tail after cancel = %v; want context.Canceled", err)
	}
	if len(got) != 3 {
		t.Fatalf("tailed %d events: %+v", len(got), got)
	}
	for i, ev := range got {
		if ev.ActorID != a.ID || (i > 0 && ev.Seq <= got[i-1].Seq) {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	if got[0].Kind != "create" || string(got[2].Args) != "[10]" || string(got[2].Output) != "11" {
		t.Errorf("events = %+v", got)
	}

	// After a sequence; fn's error ends the tail and comes back as is.
	stop := errors.New("enough")
	var seqs []uint64
	err = c.Tail(ctx, &client.TailOptions{After: got[1].Seq}, func(ev client.LogEvent) error {
		seqs = append(seqs, ev.Seq)
		return stop
	})
	if !errors.Is(err, stop) || len(seqs) != 1 || seqs[0] != got[2].Seq {
		t.Fatalf("Tail after %d = %v, %v; want [%d] and fn's error", got[1].Seq, seqs, err, got[2].Seq)
	}

	// Only new events: nothing old arrives before the context ends.
	shortCtx, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	err = c.Tail(shortCtx, nil, func(ev client.LogEvent) error {
		return fmt.Errorf("unexpected old event %d", ev.Seq)
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tail of new events = %v; want the deadline", err)
	}

	err = c.Tail(ctx, &client.TailOptions{Type: "bad type!"}, func(client.LogEvent) error { return nil })
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidRequest)
}

func TestTailServerStops(t *testing.T) {
	t.Parallel()
	c, b := setup(t, nil)
	ctx := ctxT(t)
	if _, _, err := c.GetOrCreate(ctx, "counter", []string{"s"}, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	seen := make(chan struct{})
	go func() {
		done <- c.Tail(ctx, &client.TailOptions{FromStart: true}, func(client.LogEvent) error {
			close(seen)
			return nil
		})
	}()
	<-seen
	// The node drains HTTP on stop; a tail holds its connection open until the
	// shutdown timeout, so stop with a short context.
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_ = b.node.Stop(stopCtx)
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrStreamClosed) {
			t.Fatalf("Tail when the server stops = %v; want ErrStreamClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Tail did not return after the server stopped")
	}
}

func TestToken(t *testing.T) {
	t.Parallel()
	c, b := setup(t, &setupOpts{token: "s3cret"})
	ctx := ctxT(t)
	if _, _, err := c.GetOrCreate(ctx, "counter", []string{"a"}, nil); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	for _, tok := range []string{"", "wrong"} {
		anon, err := client.New(b.url, &client.Options{Token: tok})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = anon.GetOrCreate(ctx, "counter", []string{"a"}, nil)
		wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized)
		err = anon.Tail(ctx, nil, func(client.LogEvent) error { return nil })
		wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized)
		anon.CloseIdleConnections()
	}
}

// fakeServer answers with handler on loopback, for what a real node does not
// do on demand (429, proxies' errors, slow answers).
func fakeServer(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRetry(t *testing.T) {
	t.Parallel()
	overloaded := func(w http.ResponseWriter, retryAfter string) {
		w.Header().Set("Content-Type", "application/problem+json")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"status":429,"code":"overloaded","message":"actor mailbox is full","group":"actor"}`)
	}
	tests := []struct {
		name       string
		retryAfter string // the server's header
		failures   int64  // 429s before a 200
		opts       client.Options
		wantCalls  int64
		wantErr    bool
		wantWait   time.Duration // the error's RetryAfter
	}{
		{"off by default", "1", 1, client.Options{}, 1, true, time.Second},
		{"retries until it works", "", 2, client.Options{MaxRetries: 3}, 3, false, 0},
		{"honors Retry-After", "1", 1, client.Options{MaxRetries: 1}, 2, false, 0},
		{"bounded by MaxRetries", "", 5, client.Options{MaxRetries: 2}, 3, true, 0},
		{"gives up on a long Retry-After", "30", 1, client.Options{MaxRetries: 5, MaxRetryWait: time.Second}, 1, true, 30 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int64
			var bodies atomic.Int64
			url := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if string(body) == `{"args":[1]}` {
					bodies.Add(1)
				}
				if calls.Add(1) <= tc.failures {
					overloaded(w, tc.retryAfter)
					return
				}
				fmt.Fprint(w, `{"output":42}`)
			})
			c, err := client.New(url, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseIdleConnections()
			start := time.Now()
			out, err := c.Call(ctxT(t), "counter.kAWE", "increment", 1)
			if tc.wantErr {
				e := wantCode(t, err, http.StatusTooManyRequests, client.CodeOverloaded)
				if e.RetryAfter != tc.wantWait || !e.Temporary() {
					t.Errorf("RetryAfter = %v, temporary %v; want %v", e.RetryAfter, e.Temporary(), tc.wantWait)
				}
			} else if err != nil || string(out) != "42" {
				t.Fatalf("Call = %s, %v", out, err)
			}
			if calls.Load() != tc.wantCalls || bodies.Load() != tc.wantCalls {
				t.Errorf("server saw %d calls (%d with the body); want %d", calls.Load(), bodies.Load(), tc.wantCalls)
			}
			if tc.retryAfter == "1" && tc.opts.MaxRetries > 0 && time.Since(start) < time.Second {
				t.Errorf("retried after %v; want Retry-After's 1s", time.Since(start))
			}
		})
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	url := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":503,"code":"stopping","message":"runtime is shutting down","group":"actor"}`)
	})
	c, _ := client.New(url, &client.Options{MaxRetries: 3})
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.GetByID(ctx, "counter.kAWE")
	wantCode(t, err, http.StatusServiceUnavailable, client.CodeStopping)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("returned after %v; want soon after the context's deadline", d)
	}
}

func TestUnexpectedResponses(t *testing.T) {
	t.Parallel()
	url := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/actors/bad.gateway":
			http.Error(w, "<html>upstream down</html>", http.StatusBadGateway)
		case "/v1/actors/not.json":
			fmt.Fprint(w, "this is not JSON")
		case "/v1/actors/slow.answer":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	})
	c, _ := client.New(url, &client.Options{Timeout: 100 * time.Millisecond})
	defer c.CloseIdleConnections()
	ctx := context.Background()
	_, err := c.GetByID(ctx, "bad.gateway")
	e := wantCode(t, err, http.StatusBadGateway, "http_502")
	if !strings.Contains(e.Message, "upstream down") {
		t.Errorf("message = %q", e.Message)
	}
	if _, err := c.GetByID(ctx, "not.json"); err == nil || client.ErrorCode(err) != "" {
		t.Errorf("non-JSON 200: %v", err)
	}
	if _, err := c.GetByID(ctx, "slow.answer"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow answer with Timeout 100ms: %v; want the deadline", err)
	}
}

func TestServerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := client.New(addr, nil) // a bare host:port means http
	if err != nil {
		t.Fatal(err)
	}
	if c.BaseURL() != "http://"+addr {
		t.Errorf("BaseURL = %s", c.BaseURL())
	}
	_, err = c.GetByID(context.Background(), "counter.kAWE")
	var e *client.Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("no server: %v; want a network error", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("no server: %v; want a *net.OpError in the chain", err)
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"ftp://host", "http://", "http://a b"} {
		if _, err := client.New(u, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := client.New("http://x", &client.Options{MaxRetries: -1}); err == nil {
		t.Error("negative MaxRetries accepted")
	}
}
