package eventlog_test

import (
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/eventlog/eventlogtest"
)

// TestConformance runs the conformance suite against each way the log runs:
// an embedded server, an embedded server with fsync always (appends go through
// group commit), and an external server over TCP.
func TestConformance(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		open, reopen := embeddedTarget()
		eventlogtest.Run(t, eventlogtest.Features{
			ConflictReportsActual: true,
			ContiguousSequences:   true,
			LargeEvents:           true,
			Reopen:                reopen,
		}, open)
	})
	t.Run("fsync-always", func(t *testing.T) {
		t.Parallel()
		open, reopen := embeddedTarget(func(c *eventlog.Config) { c.Fsync = eventlog.FsyncAlways })
		eventlogtest.Run(t, eventlogtest.Features{
			ConflictReportsActual: true,
			ContiguousSequences:   true,
			LargeEvents:           true,
			Reopen:                reopen,
		}, open)
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		// The embedded node listening on TCP plays the external server; every
		// log the suite opens is another client of it, sharing its stream.
		addr := freeAddr(t)
		openLog(t, t.TempDir(), func(c *eventlog.Config) { c.Listen = addr })
		const readBatch = 7 // a small read cap, so that paging meets it
		open := func(t *testing.T) *eventlog.Log {
			return openLog(t, "", func(c *eventlog.Config) {
				c.URL = "nats://" + addr
				c.MaxReadBatch = readBatch
			})
		}
		eventlogtest.Run(t, eventlogtest.Features{
			ConflictReportsActual: true,
			ContiguousSequences:   true,
			MaxReadBatch:          readBatch,
			LargeEvents:           true,
			// Reopening a client is connecting another one to the same server.
			Reopen: func(t *testing.T, _ *eventlog.Log) *eventlog.Log { return open(t) },
		}, open)
	})
}

// embeddedTarget opens embedded logs, each in a data dir of its own, and
// reopens a closed one in its dir.
func embeddedTarget(mutate ...func(*eventlog.Config)) (eventlogtest.Opener, func(*testing.T, *eventlog.Log) *eventlog.Log) {
	var mu sync.Mutex
	dirs := map[*eventlog.Log]string{}
	open := func(t *testing.T) *eventlog.Log {
		dir := t.TempDir()
		l := openLog(t, dir, mutate...)
		mu.Lock()
		dirs[l] = dir
		mu.Unlock()
		return l
	}
	reopen := func(t *testing.T, closed *eventlog.Log) *eventlog.Log {
		mu.Lock()
		dir, ok := dirs[closed]
		mu.Unlock()
		if !ok {
			t.Fatal("reopen: not a log of this target")
		}
		return openLog(t, dir, mutate...)
	}
	return open, reopen
}
