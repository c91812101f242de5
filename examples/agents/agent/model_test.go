package agent

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRetryableAndRetryDelay(t *testing.T) {
	t.Parallel()
	limited := &HTTPError{Status: 429, RetryAfter: 2 * time.Second}
	for _, tc := range []struct {
		name      string
		err       error
		retryable bool
		delay     time.Duration
	}{
		{"nil", nil, false, 0},
		{"429 wrapped", fmt.Errorf("step plan: %w", limited), true, 2 * time.Second},
		{"503 without Retry-After", &HTTPError{Status: 503}, true, 0},
		{"408", &HTTPError{Status: 408}, true, 0},
		{"400 with Retry-After: delay ignored", &HTTPError{Status: 400, RetryAfter: time.Second}, false, 0},
		{"timeout", &timeoutError{context.DeadlineExceeded}, true, 0},
		{"incomplete stream", fmt.Errorf("%w: cut", ErrIncompleteStream), true, 0},
		{"malformed stream", fmt.Errorf("%w: junk", ErrMalformedStream), false, 0},
		{"cancelled", context.Canceled, false, 0},
		{"tool input", fmt.Errorf("%w: x", ErrToolInput), false, 0},
		{"other", errors.New("boom"), false, 0},
	} {
		if got := Retryable(tc.err); got != tc.retryable {
			t.Errorf("%s: Retryable = %v, want %v", tc.name, got, tc.retryable)
		}
		d, ok := RetryDelay(tc.err)
		if d != tc.delay || ok != (tc.delay > 0) {
			t.Errorf("%s: RetryDelay = %s, %v; want %s", tc.name, d, ok, tc.delay)
		}
	}
}

func TestTimeoutError(t *testing.T) {
	t.Parallel()
	cause := errors.New("read: i/o timeout")
	err := fmt.Errorf("step: %w", &timeoutError{cause})
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, cause) {
		t.Errorf("%v does not match ErrTimeout, context.DeadlineExceeded and its cause", err)
	}
	if want := "step: agent: model request timed out: read: i/o timeout"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err, want)
	}
}
