package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is a real HTTP server standing in for an OpenAI-compatible API; it
// records each request and answers with handler.
type fakeAPI struct {
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

func (f *fakeAPI) all() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

// setup starts a fake API answering with handler and returns a client of it
// (5 s timeout) and the fake.
func setup(t *testing.T, handler http.HandlerFunc) (*OpenAI, *fakeAPI) {
	t.Helper()
	api := &fakeAPI{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		api.mu.Lock()
		api.requests = append(api.requests, recorded{r.Method, r.URL.Path, r.Header.Clone(), body})
		api.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body)) // the handler may read it too
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = 5 * time.Second
	return &OpenAI{BaseURL: srv.URL + "/v1/", APIKey: "sk-test", Model: "test-model", HTTP: client}, api
}

// sse writes each event as "data: <event>\n\n", flushing after each.
func sse(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, e := range events {
		fmt.Fprintf(w, "data: %s\n\n", e)
		w.(http.Flusher).Flush()
	}
}

func contentChunk(s string) string {
	b, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": s}, "finish_reason": nil}}})
	return string(b)
}

const (
	roleChunk   = `{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	finishChunk = `{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	usageChunk  = `{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15}}`
)

func TestOpenAIStreaming(t *testing.T) {
	t.Parallel()
	m, api := setup(t, func(w http.ResponseWriter, r *http.Request) {
		sse(w, roleChunk, contentChunk("Hel"), contentChunk("lo"), contentChunk(", wörld"), finishChunk, usageChunk, "[DONE]")
	})
	var deltas []string
	resp, err := m.Complete(context.Background(), ChatRequest{Messages: []Message{{"user", "hi"}}}, func(s string) { deltas = append(deltas, s) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Hel", "lo", ", wörld"}; !reflect.DeepEqual(deltas, want) {
		t.Errorf("deltas = %q, want %q", deltas, want)
	}
	if want := (ChatResponse{Content: "Hello, wörld", Usage: Usage{PromptTokens: 12, CompletionTokens: 3}}); resp != want {
		t.Errorf("response = %+v, want %+v", resp, want)
	}
	reqs := api.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" {
		t.Errorf("request %s %s, want POST /v1/chat/completions", r.Method, r.Path)
	}
	for h, want := range map[string]string{"Authorization": "Bearer sk-test", "Content-Type": "application/json", "Accept": "text/event-stream"} {
		if got := r.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
}

func TestOpenAIRequestBody(t *testing.T) {
	t.Parallel()
	msgs := []Message{{"system", "be brief"}, {"user", "hi"}}
	for _, tc := range []struct {
		name string
		req  ChatRequest
		want string
	}{
		{"plain", ChatRequest{Messages: msgs},
			`{"messages":[{"content":"be brief","role":"system"},{"content":"hi","role":"user"}],"model":"test-model","stream":true,"stream_options":{"include_usage":true}}`},
		{"max tokens and JSON", ChatRequest{Messages: msgs, MaxTokens: 50, JSON: true},
			`{"max_tokens":50,"messages":[{"content":"be brief","role":"system"},{"content":"hi","role":"user"}],"model":"test-model","response_format":{"type":"json_object"},"stream":true,"stream_options":{"include_usage":true}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, api := setup(t, func(w http.ResponseWriter, r *http.Request) { sse(w, contentChunk("ok"), "[DONE]") })
			if _, err := m.Complete(context.Background(), tc.req, nil); err != nil {
				t.Fatal(err)
			}
			var body map[string]any
			if err := json.Unmarshal(api.all()[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(body) // keys sorted
			if string(got) != tc.want {
				t.Errorf("body = %s\nwant   %s", got, tc.want)
			}
		})
	}
}

func TestOpenAIHTTPErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status         int
		retryAfter     string
		body           string
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantMsg        string
	}{
		{429, "1", `{"error":{"message":"Rate limit reached","type":"requests"}}`, true, time.Second, "429 Too Many Requests (retry after 1s): Rate limit reached"},
		{500, "", "upstream exploded", true, 0, "500 Internal Server Error: upstream exploded"},
		{502, "", "", true, 0, "502 Bad Gateway"},
		{503, "30", "", true, 30 * time.Second, "retry after 30s"},
		{401, "", `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error"}}`, false, 0, "401 Unauthorized: Incorrect API key provided"},
		{400, "", `{"error":{"message":"max_tokens is too large"}}`, false, 0, "max_tokens is too large"},
		{403, "", "forbidden", false, 0, "403 Forbidden"},
		{404, "", "", false, 0, "404 Not Found"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			m, api := setup(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			called := false
			_, err := m.Complete(context.Background(), ChatRequest{Messages: []Message{{"user", "hi"}}}, func(string) { called = true })
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v (%T), want *HTTPError", err, err)
			}
			if he.Status != tc.status || he.RetryAfter != tc.wantRetryAfter || he.Body != tc.body {
				t.Errorf("HTTPError = %+v, want status %d, RetryAfter %s, body %q", he, tc.status, tc.wantRetryAfter, tc.body)
			}
			if he.Retryable() != tc.wantRetryable || Retryable(err) != tc.wantRetryable {
				t.Errorf("Retryable = %v/%v, want %v", he.Retryable(), Retryable(err), tc.wantRetryable)
			}
			d, ok := RetryDelay(err)
			if d != tc.wantRetryAfter || ok != (tc.wantRetryAfter > 0) {
				t.Errorf("RetryDelay = %s, %v; want %s", d, ok, tc.wantRetryAfter)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tc.wantMsg)
			}
			if n := len(api.all()); n != 1 || called {
				t.Errorf("%d requests (want 1: the client never retries), delta called %v", n, called)
			}
		})
	}
}

// waitForDisconnect blocks a handler until the client gives up.
func waitForDisconnect(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

func TestOpenAITimeout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		handler    http.HandlerFunc
		ctxTimeout bool // the caller's deadline instead of the client's Timeout
		wantDeltas int
	}{
		{"client timeout awaiting headers", func(w http.ResponseWriter, r *http.Request) { waitForDisconnect(r) }, false, 0},
		{"client timeout mid-stream", func(w http.ResponseWriter, r *http.Request) {
			sse(w, contentChunk("first"))
			waitForDisconnect(r)
		}, false, 1},
		{"context deadline awaiting headers", func(w http.ResponseWriter, r *http.Request) { waitForDisconnect(r) }, true, 0},
		{"context deadline mid-stream", func(w http.ResponseWriter, r *http.Request) {
			sse(w, contentChunk("first"))
			waitForDisconnect(r)
		}, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, _ := setup(t, tc.handler)
			ctx := context.Background()
			if tc.ctxTimeout {
				m.HTTP.Timeout = 0
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
				defer cancel()
			} else {
				m.HTTP.Timeout = 150 * time.Millisecond
			}
			deltas := 0
			start := time.Now()
			_, err := m.Complete(ctx, ChatRequest{Messages: []Message{{"user", "hi"}}}, func(string) { deltas++ })
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %s", elapsed)
			}
			if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v; want ErrTimeout and context.DeadlineExceeded", err)
			}
			t.Log(err)
			if !Retryable(err) || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("err = %v: want retryable, saying it timed out", err)
			}
			if deltas != tc.wantDeltas {
				t.Errorf("%d deltas, want %d", deltas, tc.wantDeltas)
			}
		})
	}
}

func TestOpenAICancel(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		sse(w, contentChunk("first"))
		waitForDisconnect(r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	_, err := m.Complete(ctx, ChatRequest{}, func(string) { cancel() })
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) || Retryable(err) {
		t.Errorf("err = %v; want context.Canceled, not a timeout, not retryable", err)
	}
}

func TestOpenAIBadStreams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		body    string
		wantErr error
		wantMsg string
	}{
		{"malformed JSON", "data: " + contentChunk("a") + "\n\ndata: {\"choices\": [\n\n", ErrMalformedStream, "event ending at line 4 is not a JSON chunk"},
		{"not an SSE field", "data: " + contentChunk("a") + "\n\n<html>oops</html>\n", ErrMalformedStream, `line 3 is not a server-sent event field: "<html>oops</html>"`},
		{"no [DONE] nor finish", "data: " + contentChunk("a") + "\n\n", ErrIncompleteStream, "without a finish_reason or data: [DONE]"},
		{"error event", "data: " + contentChunk("a") + "\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", ErrIncompleteStream, "overloaded (server_error)"},
		{"line too long", "data: " + strings.Repeat("x", maxLine+1) + "\n\n", ErrMalformedStream, "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tc.body)
			})
			_, err := m.Complete(context.Background(), ChatRequest{}, nil)
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("err = %v; want %v mentioning %q", err, tc.wantErr, tc.wantMsg)
			}
			t.Log(err)
			if Retryable(err) != (tc.wantErr == ErrIncompleteStream) {
				t.Errorf("Retryable(%v) = %v", err, Retryable(err))
			}
		})
	}
}

func TestOpenAITolerantStreams(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, contentType, body, want string
	}{
		{"comments, fields, CRLF, no space after colon", "text/event-stream",
			": keep-alive\r\nevent: message\r\nid: 1\r\nretry: 100\r\ndata:" + contentChunk("a") + "\r\n\r\ndata: " + contentChunk("b") + "\r\n\r\ndata: [DONE]\r\n\r\n", "ab"},
		{"finish_reason without [DONE]", "text/event-stream",
			"data: " + contentChunk("a") + "\n\ndata: " + finishChunk + "\n\n", "a"},
		{"[DONE] without a final blank line", "text/event-stream",
			"data: " + contentChunk("a") + "\n\ndata: [DONE]", "a"},
		{"nothing after [DONE] is read", "text/event-stream",
			"data: " + contentChunk("a") + "\n\ndata: [DONE]\n\ngarbage\n", "a"},
		{"a non-streamed JSON answer", "application/json; charset=utf-8",
			`{"choices":[{"message":{"role":"assistant","content":"whole"}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`, "whole"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				io.WriteString(w, tc.body)
			})
			var joined strings.Builder
			resp, err := m.Complete(context.Background(), ChatRequest{}, func(s string) { joined.WriteString(s) })
			if err != nil || resp.Content != tc.want || joined.String() != tc.want {
				t.Errorf("Complete = %+v, %v (deltas %q); want %q", resp, err, joined.String(), tc.want)
			}
		})
	}
}

func TestOpenAIConnectionRefused(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m := &OpenAI{BaseURL: url, HTTP: &http.Client{Timeout: 5 * time.Second}}
	_, err := m.Complete(context.Background(), ChatRequest{}, nil)
	if err == nil || errors.Is(err, ErrTimeout) || !Retryable(err) {
		t.Errorf("err = %v; want a retryable transport error", err)
	}
}

// TestModelsAgree runs Local and OpenAI, the latter against a server that
// streams Local's answer, on the two requests of the agent: same content,
// same deltas. The messages survive the wire format.
func TestModelsAgree(t *testing.T) {
	t.Parallel()
	remote, _ := setup(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, err := Local{}.Complete(r.Context(), ChatRequest{Messages: body.Messages}, func(s string) { sse(w, contentChunk(s)) })
		if err != nil {
			sse(w, `{"error":{"message":"`+err.Error()+`"}}`)
			return
		}
		sse(w, finishChunk, "[DONE]")
	})
	for _, req := range []ChatRequest{
		PlanRequest(`Is 3 * (4 + 5) more than the words in "a b c"? Ask about Tokyo.`),
		SummaryRequest("t", []ToolResult{{Tool: "calc", Input: "1+1", Output: "2"}, {Tool: "lookup", Input: "x", Error: "no entry"}}),
	} {
		local, localDeltas := complete(t, Local{}, req)
		got, gotDeltas := complete(t, remote, req)
		if got.Content != local.Content || !reflect.DeepEqual(gotDeltas, localDeltas) {
			t.Errorf("over HTTP: %q %q\nlocal:     %q %q", got.Content, gotDeltas, local.Content, localDeltas)
		}
	}
}

func TestOpenAIConcurrent(t *testing.T) {
	t.Parallel()
	m, api := setup(t, func(w http.ResponseWriter, r *http.Request) {
		sse(w, contentChunk("x"), contentChunk("y"), "[DONE]")
	})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			resp, err := m.Complete(context.Background(), ChatRequest{}, nil)
			if err == nil && resp.Content != "xy" {
				err = fmt.Errorf("content %q", resp.Content)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(api.all()); n != 8 {
		t.Errorf("%d requests, want 8", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"1", time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{"Sunday, 08-Mar-26 06:00:30 GMT", 30 * time.Second}, // RFC 850
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", 0}, // more than a year: ignored
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestOpenAIFromEnv(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	if _, err := openAIFromLookup(env()); err == nil || !strings.Contains(err.Error(), "AGENT_OPENAI_API_KEY is not set") {
		t.Errorf("no key: err = %v", err)
	}
	if _, err := openAIFromLookup(env("AGENT_OPENAI_API_KEY", "  ")); err == nil {
		t.Error("blank key accepted")
	}

	o, err := openAIFromLookup(env("AGENT_OPENAI_API_KEY", "sk-1"))
	if err != nil {
		t.Fatal(err)
	}
	if o.BaseURL != "https://api.openai.com/v1" || o.APIKey != "sk-1" || o.Model != "gpt-4o-mini" || o.HTTP.Timeout != 60*time.Second {
		t.Errorf("defaults: %+v timeout %s", o, o.HTTP.Timeout)
	}

	for in, want := range map[string]time.Duration{"90s": 90 * time.Second, "2m": 2 * time.Minute, "30": 30 * time.Second} {
		o, err := openAIFromLookup(env("AGENT_OPENAI_API_KEY", "k", "AGENT_OPENAI_TIMEOUT", in,
			"AGENT_OPENAI_BASE_URL", "http://localhost:11434/v1", "AGENT_OPENAI_MODEL", "llama3"))
		if err != nil || o.HTTP.Timeout != want || o.BaseURL != "http://localhost:11434/v1" || o.Model != "llama3" {
			t.Errorf("timeout %q: %+v, %v", in, o, err)
		}
	}
	for _, bad := range []string{"soon", "-1s", "0"} {
		if _, err := openAIFromLookup(env("AGENT_OPENAI_API_KEY", "k", "AGENT_OPENAI_TIMEOUT", bad)); err == nil || !strings.Contains(err.Error(), "AGENT_OPENAI_TIMEOUT") {
			t.Errorf("timeout %q: err = %v", bad, err)
		}
	}
}
