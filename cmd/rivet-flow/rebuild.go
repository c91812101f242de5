package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/dirlock"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

func rebuild(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rebuild", "Rebuild every actor snapshot from the event log in one sequential scan. Stop the server first.", stderr)
	var store logStoreFlags
	var logs logFlags
	store.register(fs, false)
	logs.register(fs)
	if err := parseWithEnv(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "rivet-flow rebuild:", err)
		return 2
	}
	logger, err := logs.logger(stderr)
	if err == nil {
		err = store.validate()
	}
	if err != nil {
		fmt.Fprintln(stderr, "rivet-flow rebuild:", err)
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "rivet-flow rebuild:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	lock, err := dirlock.Acquire(store.dataDir)
	if err != nil {
		return fail(fmt.Errorf("data dir %s: %w; stop the server first", store.dataDir, err))
	}
	defer lock.Release()
	cfg := store.config()
	cfg.Logger = logger
	log, err := eventlog.Open(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	defer log.Close(context.Background())
	snaps, err := snapshot.Open(filepath.Join(store.dataDir, "snapshots"), &snapshot.Options{Logger: logger})
	if err != nil {
		return fail(err)
	}
	defer snaps.Close()

	p, err := snapshot.Rebuild(ctx, log, snaps, snapshot.RebuildOptions{ProgressEvery: 50_000,
		Progress: func(p snapshot.RebuildProgress) { printProgress(stderr, p) }})
	fmt.Fprintln(stderr)
	if err != nil {
		return fail(err)
	}
	rate := float64(p.Scanned) / max(p.Elapsed.Seconds(), 1e-9)
	fmt.Fprintf(stdout, "rebuilt %d snapshots from %d events in %s (%.0f events/s)\n", p.Actors, p.Scanned, p.Elapsed.Round(time.Millisecond), rate)
	return 0
}

// printProgress draws one updating progress line.
func printProgress(w io.Writer, p snapshot.RebuildProgress) {
	const width = 30
	frac := 1.0
	if p.Last > 0 {
		frac = float64(p.Seq) / float64(p.Last)
	}
	done := int(frac * width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < done {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(w, "\r[%s] %3.0f%%  %d events  %s", bar, frac*100, p.Scanned, p.Elapsed.Round(time.Millisecond))
}
