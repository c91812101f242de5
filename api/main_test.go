package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/actors/builtin"
	"github.com/rivet-flow/rivet-flow/api"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitFor bounds every wait on a signal: a test that hangs fails instead.
const waitFor = 15 * time.Second

// testOpts configures a node for one test.
type testOpts struct {
	API      api.Options
	Actors   actors.RuntimeOptions
	HTTPAddr string // defaults to 127.0.0.1:0
	Insecure bool
}

// bundle is a running node over a real loopback socket and what a test needs
// to talk to it.
type bundle struct {
	n    *rivetflow.Node
	base string // http://127.0.0.1:port
	http *http.Client
	// header is added to every request (a token, an origin).
	header http.Header

	// blocker's "block" action signals entered and waits for release.
	entered     chan string
	release     chan struct{}
	releaseOnce sync.Once

	stopOnce sync.Once
	stopErr  error
}

// stop stops the node once; later calls return the first call's error.
func (b *bundle) stop(ctx context.Context) error {
	b.stopOnce.Do(func() { b.stopErr = b.n.Stop(ctx) })
	return b.stopErr
}

// unblock lets every blocked and future "block" call return.
func (b *bundle) unblock() { b.releaseOnce.Do(func() { close(b.release) }) }

// setup starts a node with the builtin types and the test types below, stopped
// when the test ends.
func setup(t *testing.T, opts testOpts) *bundle {
	t.Helper()
	b := &bundle{entered: make(chan string, 16), release: make(chan struct{}), header: http.Header{}}
	reg, err := actors.NewRegistry(builtin.Counter, builtin.ChatRoom, b.blockerType(), testerType())
	if err != nil {
		t.Fatal(err)
	}
	n, err := startNode(t, opts, reg)
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	b.n, b.base = n, "http://"+n.Addr()
	b.http = checkedClient(t, b.n, opts.API.Token)
	t.Cleanup(func() {
		b.http.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := b.stop(ctx); err != nil {
			t.Errorf("stop node: %v", err)
		}
	})
	// Runs before the stop above: nothing stays blocked in an action.
	t.Cleanup(b.unblock)
	return b
}

func startNode(t *testing.T, opts testOpts, reg *actors.Registry) (*rivetflow.Node, error) {
	t.Helper()
	addr := opts.HTTPAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	return rivetflow.Start(context.Background(), rivetflow.Config{DataDir: t.TempDir(), HTTPAddr: addr,
		Registry: reg, Actors: opts.Actors, API: opts.API, Insecure: opts.Insecure, Logger: quietLogger()})
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countState is the state of the test types.
type countState struct {
	N        int      `json:"n"`
	Requests []string `json:"requests,omitempty"`
	Echoes   int      `json:"echoes"`
}

// blockerType has a mailbox of one call; "block" holds the mailbox until the
// test releases it.
func (b *bundle) blockerType() *actors.Type[countState] {
	return actors.NewType("blocker", actors.Options[countState]{MailboxSize: 1}).
		Action("block", actors.Act0(func(c *actors.Context[countState]) (string, error) {
			b.entered <- c.ActorID()
			select {
			case <-b.release:
			case <-c.Context().Done():
			}
			c.State.N++
			return "released", nil
		})).
		Action("add", actors.Act(func(c *actors.Context[countState], n int) (int, error) {
			c.State.N += n
			return c.State.N, nil
		}))
}

// testerType exercises create input, user errors, connection hooks,
// broadcasts and the raw request and WebSocket seams.
func testerType() *actors.Type[countState] {
	type params struct {
		Token string `json:"token"`
	}
	return actors.NewType("tester", actors.Options[countState]{
		CreateState: func(c *actors.Context[countState], input json.RawMessage) (countState, error) {
			var in struct {
				Start int `json:"start"`
			}
			if len(input) > 0 {
				if err := json.Unmarshal(input, &in); err != nil {
					return countState{}, actors.NewUserError("bad_input", err.Error(), nil)
				}
			}
			return countState{N: in.Start}, nil
		},
		OnBeforeConnect: func(c *actors.Context[countState], raw json.RawMessage) error {
			var p params
			_ = json.Unmarshal(raw, &p)
			if p.Token == "bad" {
				return actors.NewUserError("forbidden", "this token may not connect", map[string]any{"token": p.Token})
			}
			return nil
		},
		CreateConnState: func(c *actors.Context[countState], raw json.RawMessage) (any, error) {
			var p params
			_ = json.Unmarshal(raw, &p)
			return map[string]string{"user": "user-of-" + p.Token}, nil
		},
		OnRequest: func(c *actors.Context[countState], w http.ResponseWriter, r *http.Request) {
			c.State.Requests = append(c.State.Requests, r.Method+" "+r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusAccepted)
			_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "requests": len(c.State.Requests)})
		},
		OnWebSocket: func(s *actors.Session[countState], ws actors.WebSocket) {
			for {
				text, data, err := ws.Read(s.Context())
				if err != nil {
					return
				}
				var n int
				if err := s.Do(func(c *actors.Context[countState]) error { c.State.Echoes++; n = c.State.Echoes; return nil }); err != nil {
					return
				}
				if err := ws.Write(s.Context(), text, fmt.Appendf(nil, "echo %d: %s", n, data)); err != nil {
					return
				}
			}
		},
	}).
		Action("get", actors.Act0(func(c *actors.Context[countState]) (int, error) { return c.State.N, nil })).
		Action("add", actors.Act(func(c *actors.Context[countState], n int) (int, error) {
			c.State.N += n
			return c.State.N, nil
		})).
		Action("whoami", actors.Act0(func(c *actors.Context[countState]) (any, error) {
			if c.Conn() == nil {
				return nil, nil
			}
			return c.Conn().State(), nil
		})).
		Action("fail", actors.Act(func(c *actors.Context[countState], limit int) (int, error) {
			c.State.N += 1000 // discarded: the call fails
			return 0, actors.NewUserError("quota_exceeded", "over the quota", map[string]any{"limit": limit})
		})).
		Action("echo", actors.Act(func(c *actors.Context[countState], v any) (any, error) { return v, nil })).
		// pair returns a value shaped like RivetKit's JSON escapes (["$tag", v]).
		Action("pair", actors.Act0(func(c *actors.Context[countState]) (any, error) { return []any{"$USD", 5}, nil })).
		// burst adds 1 to n times, broadcasting tick with each new n.
		Action("burst", actors.Act(func(c *actors.Context[countState], times int) (int, error) {
			for range times {
				c.State.N++
				c.Broadcast("tick", c.State.N)
			}
			return c.State.N, nil
		}))
}

// do sends a request with body (marshalled unless it is a string or []byte)
// and returns the response with its body read.
func (b *bundle) do(t *testing.T, method, path string, body any, header ...string) (*http.Response, []byte) {
	t.Helper()
	req := b.request(t, method, path, body, header...)
	resp, err := b.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return resp, data
}

func (b *bundle) request(t *testing.T, method, path string, body any, header ...string) *http.Request {
	t.Helper()
	var r io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(v)
	case []byte:
		r = bytes.NewReader(v)
	default:
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, b.base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// call sends a request, checks its status and decodes its JSON body into out.
func (b *bundle) call(t *testing.T, method, path string, body any, wantStatus int, out any) {
	t.Helper()
	resp, data := b.do(t, method, path, body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
}

// actor gets or creates an actor and returns it.
func (b *bundle) actor(t *testing.T, typ string, key ...string) api.Actor {
	t.Helper()
	var res struct {
		Actor api.Actor `json:"actor"`
	}
	b.call(t, http.MethodPut, "/v1/actors", map[string]any{"type": typ, "key": key}, http.StatusOK, &res)
	return res.Actor
}

// action calls an action and returns its raw output.
func (b *bundle) action(t *testing.T, id, name string, args ...any) json.RawMessage {
	t.Helper()
	if args == nil {
		args = []any{}
	}
	var res struct {
		Output json.RawMessage `json:"output"`
	}
	b.call(t, http.MethodPost, "/v1/actors/"+id+"/actions/"+name, map[string]any{"args": args}, http.StatusOK, &res)
	return res.Output
}

// history returns every event of an actor.
func (b *bundle) history(t *testing.T, id string) []api.Event {
	t.Helper()
	var res struct {
		Events []api.Event `json:"events"`
	}
	b.call(t, http.MethodGet, "/v1/actors/"+id+"/events?limit=1000", nil, http.StatusOK, &res)
	return res.Events
}

// problem is the API's error body.
type problem struct {
	Status   int            `json:"status"`
	Code     string         `json:"code"`
	Message  string         `json:"message"`
	Group    string         `json:"group"`
	Metadata map[string]any `json:"metadata"`
}

// wantProblem checks that a response is problem JSON with this status and code.
func wantProblem(t *testing.T, resp *http.Response, data []byte, status int, code string) problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, data)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatalf("decode problem %s: %v", data, err)
	}
	if p.Status != status || p.Code != code || p.Message == "" || p.Group == "" {
		t.Fatalf("problem %s: want status %d, code %q, a message and a group", data, status, code)
	}
	return p
}

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Event, Data string
}

// readSSE parses a stream into events on a channel, closed at the end of the
// stream. Comments are skipped.
func readSSE(body io.Reader) <-chan sseEvent {
	out := make(chan sseEvent, 64)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			}
		}
	}()
	return out
}

// stream opens a streaming GET and returns its events; the stream is closed
// when the test ends.
func (b *bundle) stream(t *testing.T, path string) (*http.Response, <-chan sseEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req := b.request(t, http.MethodGet, path, nil).WithContext(ctx)
	resp, err := b.http.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET %s: %v", path, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", path, resp.StatusCode, data)
	}
	return resp, readSSE(resp.Body)
}

// next waits for the next event of a stream.
func next(t *testing.T, events <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			t.Fatal("the stream ended")
		}
		return ev
	case <-time.After(waitFor):
		t.Fatal("no event in time")
	}
	return sseEvent{}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
