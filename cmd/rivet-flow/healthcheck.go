package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// healthcheckCommand asks a running server's /readyz: a probe for containers
// that have no shell or curl (the image is distroless).
func healthcheckCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("healthcheck", "", "Exit 0 if the server at --addr is ready, 1 if not.", stderr)
	addr := cmd.fs.String("addr", "127.0.0.1:6420", "the server's address (host:port) or URL; --http-addr is the same flag; "+
		envName("http-addr")+", its old variable, still works, but "+clientEnv["addr"]+" wins when both are set")
	timeout := cmd.fs.Duration("timeout", 3*time.Second, "how long to wait for an answer")
	// --http-addr, its name before --addr, stays an alias.
	cmd.fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "http-addr" {
			name = "addr"
		}
		return pflag.NormalizedName(name)
	})
	cmd.envAll = false
	cmd.env = map[string]string{"addr": clientEnv["addr"], "timeout": envName("timeout")}
	return cmd.leaf(0, 0, func([]string) int {
		// RIVETFLOW_HTTP_ADDR, the variable it read first, still points the
		// probe at the server in a container whose environment configures
		// serve, when RIVETFLOW_ADDR does not.
		if _, ok := lookupEnv(clientEnv["addr"]); !ok && !cmd.fs.Changed("addr") {
			if v, ok := lookupEnv(envName("http-addr")); ok {
				*addr = v
			}
		}
		base := *addr
		if !strings.Contains(base, "://") {
			base = "http://" + base
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(base, "/")+"/readyz", nil)
		if err != nil {
			return cmd.usageError(fmt.Errorf("--addr %q: %w", *addr, err))
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
	})
}
