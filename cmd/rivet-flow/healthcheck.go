package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// healthcheck asks a running server's /readyz: a probe for containers that have
// no shell or curl (the image is distroless).
func healthcheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("healthcheck", "Exit 0 if the server at --http-addr is ready, 1 if not.", stderr)
	addr := fs.String("http-addr", "127.0.0.1:6420", "the server's HTTP address")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "rivet-flow healthcheck:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+*addr+"/readyz", nil)
	if err != nil {
		fmt.Fprintln(stderr, "rivet-flow healthcheck:", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "rivet-flow healthcheck: %v; is the server running on %s?\n", err, *addr)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprintf(stdout, "%s %s", resp.Status, body)
	if resp.StatusCode != http.StatusOK {
		return 1
	}
	return 0
}
