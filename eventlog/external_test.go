package eventlog_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/rivet-flow/rivet-flow/eventlog"
)

// freeAddr returns a loopback host:port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A second process joins over --nats-url: the same stream, the same fencing,
// over TCP instead of in process. The embedded node listening with
// --nats-listen plays the external server.
func TestExternalServerSharesTheLogAndFencing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr := freeAddr(t)
	server := openLog(t, t.TempDir(), func(c *eventlog.Config) { c.Listen = addr })
	remote := openLog(t, "", func(c *eventlog.Config) { c.URL = "nats://" + addr })
	if remote.Embedded() || !server.Embedded() {
		t.Fatal("remote log should not run its own server")
	}
	subj := subjectOf(t, "shared", "1")
	seq, err := remote.Append(ctx, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate, Caller: "remote"})
	if err != nil {
		t.Fatalf("append over TCP: %v", err)
	}
	// The embedded side sees it and is fenced by it.
	if _, err := server.Append(ctx, subj, 0, &eventlog.Event{Kind: eventlog.KindCreate}); !errors.Is(err, eventlog.ErrConflict) {
		t.Fatalf("stale append on the server: %v, want a conflict", err)
	}
	evs, err := server.ReadActor(ctx, subj, 0, 10)
	if err != nil || len(evs) != 1 || evs[0].Seq != seq || evs[0].Caller != "remote" {
		t.Fatalf("server reads %v, %v", evs, err)
	}
	if _, err := remote.Append(ctx, subj, seq, &eventlog.Event{Kind: eventlog.KindAction}); err != nil {
		t.Fatalf("fenced append over TCP: %v", err)
	}
}

func TestExternalServerUnreachable(t *testing.T) {
	t.Parallel()
	_, err := eventlog.Open(context.Background(), eventlog.Config{URL: "nats://" + freeAddr(t), Logger: discardLogger()})
	if err == nil {
		t.Fatal("Open succeeded with nothing listening")
	}
}
