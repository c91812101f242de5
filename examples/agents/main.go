// Command agents runs the AI-agent example: an embedded rivet-flow node
// serving the durable workflow "agent" (examples/agents/agent), and prints
// how to drive a run with curl. See README.md.
//
//	go run ./examples/agents [--model local|openai] [--http-addr 127.0.0.1:6421] [--data-dir DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	rivetflow "github.com/rivet-flow/rivet-flow"
	"github.com/rivet-flow/rivet-flow/examples/agents/agent"
	"github.com/rivet-flow/rivet-flow/workflows"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agents:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("agents", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "data directory (default: a new temporary directory, removed at exit)")
	httpAddr := fs.String("http-addr", "127.0.0.1:6421", "HTTP listen address")
	modelName := fs.String("model", "local", "the model: local (offline, deterministic) or openai (AGENT_OPENAI_* environment variables)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var model agent.Model
	switch *modelName {
	case "local":
		model = agent.Local{}
	case "openai":
		m, err := agent.OpenAIFromEnv()
		if err != nil {
			return err
		}
		model = m
	default:
		return fmt.Errorf("--model %q: want local or openai", *modelName)
	}
	if *dataDir == "" {
		dir, err := os.MkdirTemp("", "rivet-flow-agents-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*dataDir = dir
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := rivetflow.Start(ctx, rivetflow.Config{DataDir: *dataDir, HTTPAddr: *httpAddr,
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Workflows: []workflows.Definition{agent.Workflow(model)}})
	if err != nil {
		return err
	}
	base := "http://" + n.Addr()
	fmt.Fprintf(stdout, `agent workflow (model %s) on %s, data in %s. Try:

  curl -X POST %[2]s/v1/workflows/agent/runs -d '{"runId":"r1","input":{"task":"What is (12 + 30) * 2, and where is paris?"}}'
  curl %[2]s/v1/workflows/agent/runs/r1                # status: waiting (for approval)
  curl -N %[2]s/v1/workflows/agent/runs/r1/sse         # live progress and streamed tokens (another terminal)
  curl -X POST %[2]s/v1/workflows/agent/runs/r1/signals/approve -d '{"payload":{"approved":true}}'
  curl %[2]s/v1/workflows/agent/runs/r1                # status: completed, result.summary

Ctrl-C stops.
`, *modelName, base, *dataDir)

	select {
	case <-ctx.Done():
	case err = <-n.Failed():
	}
	stop()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return errors.Join(err, n.Stop(sctx))
}
