package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/dirlock"
	"github.com/rivet-flow/rivet-flow/internal/snapshot"
)

func rebuildCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := newCommand("rebuild", "", "Rebuild every actor snapshot from the event log in one sequential scan. Stop the server first.", stderr)
	cmd.envAll = true
	fs := cmd.fs
	var store logStoreFlags
	var logs logFlags
	store.register(fs, false)
	logs.register(fs)
	return cmd.leaf(0, 0, func([]string) int {
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

		status := newStatusLine(stderr)
		p, err := snapshot.Rebuild(ctx, log, snaps, snapshot.RebuildOptions{ProgressEvery: 50_000,
			Progress: func(p snapshot.RebuildProgress) { setRebuildProgress(status, p) }})
		status.end()
		if err != nil {
			return fail(err)
		}
		rate := float64(p.Scanned) / max(p.Elapsed.Seconds(), 1e-9)
		fmt.Fprintf(stdout, "rebuilt %d snapshots from %d events in %s (%.0f events/s)\n", p.Actors, p.Scanned, p.Elapsed.Round(time.Millisecond), rate)
		return 0
	})
}

// setRebuildProgress shows the progress of a rebuild.
func setRebuildProgress(s *statusLine, p snapshot.RebuildProgress) {
	frac := 1.0
	if p.Last > 0 {
		frac = float64(p.Seq) / float64(p.Last)
	}
	s.set("%s %3.0f%%  %d events  %s", textBar(frac), frac*100, p.Scanned, p.Elapsed.Round(time.Millisecond))
}
