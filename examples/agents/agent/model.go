package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Message is one chat message. Role is "system", "user" or "assistant".
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatRequest is what a [Model] is asked.
type ChatRequest struct {
	Messages []Message `json:"messages"`
	// MaxTokens bounds the answer's length. Zero leaves it to the model.
	MaxTokens int `json:"maxTokens,omitempty"`
	// JSON asks for the answer as one JSON object (OpenAI's JSON mode).
	JSON bool `json:"json,omitempty"`
}

// ChatResponse is a model's complete answer.
type ChatResponse struct {
	Content string `json:"content"`
	Usage   Usage  `json:"usage"`
}

// Usage counts tokens as the model reports them (zero when it does not).
type Usage struct {
	PromptTokens     int `json:"promptTokens"`
	CompletionTokens int `json:"completionTokens"`
}

// Model answers chat requests.
//
// Implementations must be safe for concurrent use: the agent's workflow may
// call one model from several steps at once.
type Model interface {
	// Complete answers req, calling delta with each piece of text as it
	// arrives (delta may be nil). Concatenated, the pieces equal the returned
	// Content. delta is called on the caller's goroutine, never after Complete
	// returns. Complete honours ctx; when ctx's deadline passes the error
	// matches [ErrTimeout].
	Complete(ctx context.Context, req ChatRequest, delta func(string)) (ChatResponse, error)
}

var (
	// ErrTimeout is matched (with errors.Is) by errors of a model request that
	// ran out of time: the caller's context deadline or the HTTP client's
	// Timeout. Such errors also match context.DeadlineExceeded. Retryable.
	ErrTimeout = errors.New("agent: model request timed out")

	// ErrMalformedStream is matched by errors for an answer that is not the
	// protocol the client speaks (an SSE line or chunk it cannot parse). Not
	// retryable: asking again gets the same answer.
	ErrMalformedStream = errors.New("agent: malformed model stream")

	// ErrIncompleteStream is matched by errors for a stream that stopped
	// before the model finished: the connection ended before "data: [DONE]",
	// or the server sent an error event mid-stream. Retryable.
	ErrIncompleteStream = errors.New("agent: model stream ended early")
)

// HTTPError is a non-2xx answer from a model API.
type HTTPError struct {
	Status int
	// RetryAfter is the server's Retry-After header (seconds or an HTTP
	// date), zero when absent or unparsable.
	RetryAfter time.Duration
	// Body is the start of the response body (at most 4 KiB).
	Body string
}

// Error names the status, the delay the server asked for and the API's
// message (error.message of an OpenAI-style body, else the body's start).
func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "agent: model API answered %d %s", e.Status, http.StatusText(e.Status))
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if msg := apiMessage(e.Body); msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return b.String()
}

// Retryable reports whether asking again may succeed: 408, 429 and 5xx are
// retryable; every other status (400, 401, 403, 404, ...) is not.
func (e *HTTPError) Retryable() bool {
	return e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// apiMessage extracts error.message from an OpenAI-style error body, or
// returns the body's first 256 bytes trimmed.
func apiMessage(body string) string {
	var v struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal([]byte(body), &v) == nil && v.Error.Message != "" {
		return v.Error.Message
	}
	body = strings.TrimSpace(body)
	if len(body) > 256 {
		body = body[:256] + "..."
	}
	return body
}

// Retryable reports whether a [Model.Complete] error may succeed on another
// attempt: a retryable [*HTTPError], a timeout ([ErrTimeout]), a stream cut
// short ([ErrIncompleteStream]) or a transport failure (connection refused or
// reset). Cancellation, [ErrMalformedStream], configuration errors and other
// statuses are not.
func Retryable(err error) bool {
	var he *HTTPError
	var ue *url.Error
	switch {
	case err == nil:
		return false
	case errors.As(err, &he):
		return he.Retryable()
	case errors.Is(err, ErrTimeout), errors.Is(err, ErrIncompleteStream):
		return true
	case errors.Is(err, context.Canceled), errors.Is(err, ErrMalformedStream):
		return false
	case errors.As(err, &ue):
		return true
	}
	return false
}

// RetryDelay returns the delay the server asked for before the next attempt:
// the RetryAfter of a retryable [*HTTPError] in err's chain. ok is false when
// there is none, and the caller uses its own backoff. It fits a workflow
// step's RetryDelay option:
//
//	RetryDelay: func(err error, _ int) (time.Duration, bool) { return agent.RetryDelay(err) }
//
// The delay is the server's, uncapped: a caller with a deadline caps it.
func RetryDelay(err error) (time.Duration, bool) {
	var he *HTTPError
	if errors.As(err, &he) && he.Retryable() && he.RetryAfter > 0 {
		return he.RetryAfter, true
	}
	return 0, false
}

// timeoutError is a request that ran out of time. It matches ErrTimeout and
// context.DeadlineExceeded, and unwraps to the underlying error.
type timeoutError struct{ err error }

func (e *timeoutError) Error() string { return ErrTimeout.Error() + ": " + e.err.Error() }
func (e *timeoutError) Unwrap() error { return e.err }
func (e *timeoutError) Timeout() bool { return true }
func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// isTimeout reports whether err is a deadline: the context's or a net.Error
// timeout (http.Client.Timeout).
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
