package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Defaults of [OpenAI] and [OpenAIFromEnv].
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1"
	DefaultOpenAIModel   = "gpt-4o-mini"
	DefaultOpenAITimeout = 60 * time.Second
)

// defaultHTTP is the client of an OpenAI with a nil HTTP.
var defaultHTTP = &http.Client{Timeout: DefaultOpenAITimeout}

// OpenAI is a [Model] backed by an OpenAI-compatible chat-completions API
// (OpenAI, or a local server such as vLLM, llama.cpp or Ollama). Complete
// sends one streamed request and never retries: a non-2xx answer is an
// [*HTTPError], a deadline matches [ErrTimeout]; see [Retryable] and
// [RetryDelay]. Safe for concurrent use.
type OpenAI struct {
	// BaseURL is the API root; Complete posts to BaseURL + "/chat/completions".
	// Defaults to DefaultOpenAIBaseURL.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>"; empty sends none.
	APIKey string
	// Model names the model. Defaults to DefaultOpenAIModel.
	Model string
	// HTTP sends the requests. Its Timeout bounds a whole completion,
	// streaming included. Defaults to a client with a Timeout of
	// DefaultOpenAITimeout.
	HTTP *http.Client
}

// OpenAIFromEnv configures an [OpenAI] from the environment:
//
//	AGENT_OPENAI_BASE_URL  API root. Defaults to https://api.openai.com/v1.
//	AGENT_OPENAI_API_KEY   required.
//	AGENT_OPENAI_MODEL     Defaults to gpt-4o-mini.
//	AGENT_OPENAI_TIMEOUT   per request, a Go duration ("90s") or seconds ("90"). Defaults to 60s.
func OpenAIFromEnv() (*OpenAI, error) {
	return openAIFromLookup(os.LookupEnv)
}

func openAIFromLookup(lookup func(string) (string, bool)) (*OpenAI, error) {
	get := func(name, def string) string {
		if v, ok := lookup(name); ok && strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
		return def
	}
	key := get("AGENT_OPENAI_API_KEY", "")
	if key == "" {
		return nil, errors.New("agent: AGENT_OPENAI_API_KEY is not set: the OpenAI model needs an API key (the Local model needs none)")
	}
	timeout := DefaultOpenAITimeout
	if v := get("AGENT_OPENAI_TIMEOUT", ""); v != "" {
		d, err := time.ParseDuration(v)
		if n, nerr := strconv.Atoi(v); err != nil && nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("agent: AGENT_OPENAI_TIMEOUT=%q: want a positive duration such as 60s", v)
		}
		timeout = d
	}
	return &OpenAI{
		BaseURL: get("AGENT_OPENAI_BASE_URL", DefaultOpenAIBaseURL),
		APIKey:  key,
		Model:   get("AGENT_OPENAI_MODEL", DefaultOpenAIModel),
		HTTP:    &http.Client{Timeout: timeout},
	}, nil
}

// Wire format of the chat-completions API.
type (
	chatBody struct {
		Model          string         `json:"model"`
		Messages       []Message      `json:"messages"`
		Stream         bool           `json:"stream"`
		StreamOptions  *streamOptions `json:"stream_options,omitempty"`
		MaxTokens      int            `json:"max_tokens,omitempty"`
		ResponseFormat *respFormat    `json:"response_format,omitempty"`
	}
	streamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	}
	respFormat struct {
		Type string `json:"type"`
	}
	wireUsage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	}
	wireError struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	}
	// chunk is one streamed event; completion a non-streamed answer.
	chunk struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			FinishReason *string `json:"finish_reason"`
		} `json:"choices"`
		Usage *wireUsage `json:"usage"`
		Error *wireError `json:"error"`
	}
	completion struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage *wireUsage `json:"usage"`
	}
)

// maxErrorBody bounds what HTTPError.Body keeps; maxLine an SSE line.
const (
	maxErrorBody = 4 << 10
	maxLine      = 1 << 20
)

// Complete implements [Model]: POST {BaseURL}/chat/completions with
// "stream":true (and "stream_options":{"include_usage":true}, so usage is
// reported), "max_tokens" when req.MaxTokens > 0 and
// "response_format":{"type":"json_object"} when req.JSON, then reads the
// server-sent events until "data: [DONE]". A server that ignores "stream"
// and answers application/json is read too (one delta).
func (o *OpenAI) Complete(ctx context.Context, req ChatRequest, delta func(string)) (ChatResponse, error) {
	base, model, client := o.BaseURL, o.Model, o.HTTP
	if base == "" {
		base = DefaultOpenAIBaseURL
	}
	if model == "" {
		model = DefaultOpenAIModel
	}
	if client == nil {
		client = defaultHTTP
	}
	body := chatBody{
		Model:         model,
		Messages:      req.Messages,
		Stream:        true,
		StreamOptions: &streamOptions{IncludeUsage: true},
		MaxTokens:     req.MaxTokens,
	}
	if body.Messages == nil {
		body.Messages = []Message{}
	}
	if req.JSON {
		body.ResponseFormat = &respFormat{Type: "json_object"}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return ChatResponse{}, fmt.Errorf("agent: openai: encoding request: %w", err)
	}
	url := strings.TrimRight(base, "/") + "/chat/completions"
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return ChatResponse{}, fmt.Errorf("agent: openai: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if o.APIKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+o.APIKey)
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return ChatResponse{}, transportError(ctx, "sending the request", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		errBody, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		return ChatResponse{}, &HTTPError{
			Status:     resp.StatusCode,
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Body:       string(errBody),
		}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		return readCompletion(ctx, resp.Body, delta)
	}
	return readStream(ctx, resp.Body, delta)
}

// transportError classifies an error sending the request or reading the
// answer: a deadline is a timeout error; cancellation and others are wrapped
// as they are.
func transportError(ctx context.Context, what string, err error) error {
	if ctx.Err() == nil && isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &timeoutError{fmt.Errorf("openai: %s: %w", what, err)}
	}
	return fmt.Errorf("agent: openai: %s: %w", what, err)
}

// readStream reads server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html):
// data lines are joined until a blank line ends the event; comments and the
// fields event, id and retry are skipped; any other line is malformed.
func readStream(ctx context.Context, body io.Reader, delta func(string)) (ChatResponse, error) {
	var (
		resp     ChatResponse
		content  strings.Builder
		data     []string
		finished bool
		lineNo   int
	)
	// dispatch handles one event; done is true after [DONE].
	dispatch := func() (done bool, err error) {
		if len(data) == 0 {
			return false, nil
		}
		payload := strings.Join(data, "\n")
		data = data[:0]
		if strings.TrimSpace(payload) == "[DONE]" {
			return true, nil
		}
		var c chunk
		if err := json.Unmarshal([]byte(payload), &c); err != nil {
			return false, fmt.Errorf("%w: event ending at line %d is not a JSON chunk (%v): %q", ErrMalformedStream, lineNo, err, shorten(payload, 200))
		}
		if c.Error != nil {
			return false, fmt.Errorf("%w: the server sent an error at line %d: %s (%s)", ErrIncompleteStream, lineNo, c.Error.Message, c.Error.Type)
		}
		if c.Usage != nil {
			resp.Usage = Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens}
		}
		if len(c.Choices) > 0 {
			if s := c.Choices[0].Delta.Content; s != "" {
				content.WriteString(s)
				if delta != nil {
					delta(s)
				}
			}
			if c.Choices[0].FinishReason != nil && *c.Choices[0].FinishReason != "" {
				finished = true
			}
		}
		return false, nil
	}
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if line == "" {
			done, err := dispatch()
			if err != nil {
				return ChatResponse{}, err
			}
			if done {
				resp.Content = content.String()
				return resp, nil
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // comment (keep-alive)
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "data":
			data = append(data, value)
		case "event", "id", "retry":
		default:
			return ChatResponse{}, fmt.Errorf("%w: line %d is not a server-sent event field: %q", ErrMalformedStream, lineNo, shorten(line, 200))
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return ChatResponse{}, fmt.Errorf("%w: line %d is longer than %d bytes", ErrMalformedStream, lineNo+1, maxLine)
		}
		return ChatResponse{}, transportError(ctx, "reading the stream", err)
	}
	done, err := dispatch() // an event the server did not end with a blank line
	if err != nil {
		return ChatResponse{}, err
	}
	if !done && !finished {
		return ChatResponse{}, fmt.Errorf("%w: the connection closed after %d lines without a finish_reason or data: [DONE]", ErrIncompleteStream, lineNo)
	}
	resp.Content = content.String()
	return resp, nil
}

// readCompletion reads a non-streamed answer.
func readCompletion(ctx context.Context, body io.Reader, delta func(string)) (ChatResponse, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return ChatResponse{}, transportError(ctx, "reading the answer", err)
	}
	var c completion
	if err := json.Unmarshal(b, &c); err != nil {
		return ChatResponse{}, fmt.Errorf("%w: the JSON answer is not a chat completion (%v): %q", ErrMalformedStream, err, shorten(string(b), 200))
	}
	if len(c.Choices) == 0 {
		return ChatResponse{}, fmt.Errorf("%w: the JSON answer has no choices: %q", ErrMalformedStream, shorten(string(b), 200))
	}
	resp := ChatResponse{Content: c.Choices[0].Message.Content}
	if c.Usage != nil {
		resp.Usage = Usage{PromptTokens: c.Usage.PromptTokens, CompletionTokens: c.Usage.CompletionTokens}
	}
	if delta != nil && resp.Content != "" {
		delta(resp.Content)
	}
	return resp, nil
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date
// (RFC 9110 10.2.3), relative to now. Absent, unparsable or past: zero.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 || n > int64(365*24*time.Hour/time.Second) {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
