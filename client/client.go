// Package client is a typed, context-aware Go client for the rivet-flow HTTP
// API (the native /v1 routes served by `rivet-flow serve` and rivetflow.Start).
//
//	c, err := client.New("http://127.0.0.1:6420", nil)
//	a, _, err := c.GetOrCreate(ctx, "counter", []string{"a"}, nil)
//	n, err := client.CallAs[int64](ctx, c, a.ID, "increment", 5)
//
// Every error the server returns is a *Error with a stable Code; match it with
// errors.As or ErrorCode. A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Default values of Options.
const (
	// DefaultTimeout bounds a request whose context has no deadline.
	DefaultTimeout = 90 * time.Second
	// DefaultMaxRetryWait bounds one wait between retries.
	DefaultMaxRetryWait = 10 * time.Second
	// DefaultUserAgent is sent when Options.UserAgent is empty.
	DefaultUserAgent = "rivet-flow-go-client"
)

// maxResponseBytes bounds a response body the client decodes (a history page
// of the server's largest size fits well within it).
const maxResponseBytes = 64 << 20

// maxErrorBytes bounds the part of an error response the client reads.
const maxErrorBytes = 64 << 10

// Options configures a Client. A nil *Options means all defaults.
type Options struct {
	// Token is sent as a bearer token on every request; set it when the server
	// runs with --api-token. Defaults to none.
	Token string
	// HTTPClient sends the requests. Its Timeout, when set, also cuts Tail
	// streams short, so prefer contexts. Defaults to a client of its own with
	// keep-alive connections (up to 64 idle ones per host); release them with
	// Client.CloseIdleConnections.
	HTTPClient *http.Client
	// UserAgent is sent as the User-Agent header. Defaults to DefaultUserAgent.
	UserAgent string
	// Timeout bounds each request (retries included) whose context has no
	// deadline; Tail is not bounded by it. Defaults to DefaultTimeout; a
	// negative value means no bound.
	Timeout time.Duration
	// MaxRetries is how many times a request is retried after the server
	// rejected it with 429 (an actor's mailbox is full) or 503 (the server is
	// stopping). The server changes nothing on such a rejection, so every
	// request, actions included, can be retried. Each retry waits for the
	// response's Retry-After (else 100ms, doubling). Defaults to 0: no retry.
	MaxRetries int
	// MaxRetryWait bounds one wait between retries: when the server asks for
	// a longer one, the client stops retrying and returns the *Error.
	// Defaults to DefaultMaxRetryWait.
	MaxRetryWait time.Duration
}

// Client calls one rivet-flow server. Create it with New; it is safe for
// concurrent use.
type Client struct {
	base       *url.URL
	http       *http.Client
	auth       string
	userAgent  string
	timeout    time.Duration
	maxRetries int
	maxWait    time.Duration
}

// New returns a client for the server at baseURL (for example
// "http://127.0.0.1:6420"; a bare host:port means http). opts may be nil.
func New(baseURL string, opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	if o.MaxRetries < 0 {
		return nil, fmt.Errorf("client: MaxRetries %d is negative", o.MaxRetries)
	}
	c := &Client{base: u, http: o.HTTPClient, userAgent: o.UserAgent, timeout: o.Timeout,
		maxRetries: o.MaxRetries, maxWait: o.MaxRetryWait}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		c.http = &http.Client{Transport: tr}
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxWait <= 0 {
		c.maxWait = DefaultMaxRetryWait
	}
	if o.Token != "" {
		c.auth = "Bearer " + o.Token
	}
	return c, nil
}

// BaseURL returns the server's base URL, as the client uses it.
func (c *Client) BaseURL() string { return c.base.String() }

// CloseIdleConnections closes the keep-alive connections the client holds
// open. The client stays usable.
func (c *Client) CloseIdleConnections() { c.http.CloseIdleConnections() }

// do sends a request and decodes a 2xx response's JSON into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	if _, ok := ctx.Deadline(); !ok && c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, method, path, query, in, "application/json")
	if err != nil {
		return err
	}
	defer closeBody(resp.Body)
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("client: %s %s: decode the response: %w", method, path, err)
	}
	return nil
}

// send sends a request, retrying 429 and 503 as configured, and returns a 2xx
// response (the caller closes its body) or an error: a *Error for any other
// status.
func (c *Client) send(ctx context.Context, method, path string, query url.Values, in any, accept string) (*http.Response, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("client: encode the request: %w", err)
		}
	}
	// path is already escaped (see escape), so the URL is plain concatenation.
	target := c.base.String() + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Accept", accept)
		req.Header.Set("User-Agent", c.userAgent)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		key := idempotencyKey(ctx)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := c.http.Do(req)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, fmt.Errorf("client: %s %s: %w", method, path, ctxErr)
			}
			return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		apiErr := readError(resp)
		// An unknown outcome may have been applied: only a keyed call is safe to repeat.
		unsafe := apiErr.Code == CodeUnknownOutcome && key == ""
		if attempt >= c.maxRetries || !retryable(apiErr.Status) || unsafe {
			return nil, apiErr
		}
		wait := apiErr.RetryAfter
		if wait <= 0 {
			wait = min(100*time.Millisecond<<attempt, c.maxWait)
		}
		if wait > c.maxWait {
			return nil, apiErr
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, apiErr
		case <-t.C:
		}
	}
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// closeBody drains what is left of a body (so the connection is reused) and
// closes it.
func closeBody(b io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(b, maxErrorBytes))
	_ = b.Close()
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// escape escapes one path segment (an actor ID or action name).
func escape(s string) string { return url.PathEscape(s) }

// errMissing reports an empty required argument before any request is sent.
func errMissing(what string) error { return errors.New("client: " + what + " is empty") }
