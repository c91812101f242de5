package main

import (
	"bytes"
	"strings"
	"testing"
)

// The queue flags are checked at their bounds before anything starts.
func TestServeQueueFlagsBounds(t *testing.T) {
	for _, tc := range []struct{ flag, value, want string }{
		{"--queue-ready-window", "0", "want 1 to 100000"},
		{"--queue-ready-window", "100001", "want 1 to 100000"},
		{"--queue-lease-ttl", "999ms", "want at least 1s"},
		{"--deliver-concurrency", "0", "want 1 to 10000"},
		{"--deliver-concurrency", "10001", "want 1 to 10000"},
	} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", tc.flag, tc.value}, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.flag+" "+tc.value+": "+tc.want) {
			t.Errorf("%s %s: exit %d, stderr %q; want 2 and %q", tc.flag, tc.value, code, stderr.String(), tc.want)
		}
	}
}
