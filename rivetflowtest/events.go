package rivetflowtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/history"
)

// historyPage is the events read from the log at a time.
const historyPage = 500

// Events returns every event of actor actorID (an actor ID, as
// actors.Handle.ID), oldest first, read from the node's log in the form
// the export and the replayer use. It fails the test if the ID is invalid
// or the log cannot be read; an actor with no events has none.
func (n *Node) Events(t testing.TB, actorID string) []history.ExportEvent {
	t.Helper()
	evs, err := n.events(actorID)
	if err != nil {
		t.Fatalf("rivetflowtest: events of %s: %v", actorID, err)
	}
	return evs
}

func (n *Node) events(actorID string) ([]history.ExportEvent, error) {
	typ, key, err := actors.ParseID(actorID)
	if err != nil {
		return nil, err
	}
	subject, err := eventlog.ActorRef{Type: typ, Key: key}.Subject()
	if err != nil {
		return nil, fmt.Errorf("actor ID %q: %w", actorID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	var out []history.ExportEvent
	var after uint64
	for {
		page, more, err := n.node.Events().ReadActorPage(ctx, subject, after, historyPage)
		if err != nil {
			return nil, err
		}
		for _, ev := range page {
			out = append(out, history.Export(actorID, ev))
		}
		if !more || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].Seq
	}
}

// Export writes actor actorID's whole history to path as JSON Lines (the
// format of GET /v1/actors/{id}/export and `rivet-flow history export`),
// creating path's directory: a golden history for RequireReplays. It
// fails the test if the actor has no events or the file cannot be
// written.
func (n *Node) Export(t testing.TB, actorID, path string) {
	t.Helper()
	evs := n.Events(t, actorID)
	if len(evs) == 0 {
		t.Fatalf("rivetflowtest: export %s: the actor has no events", actorID)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatalf("rivetflowtest: export %s: %v", actorID, err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatalf("rivetflowtest: export %s: %v", actorID, err)
	}
	werr := history.Write(f, evs...)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		t.Fatalf("rivetflowtest: export %s to %s: %v", actorID, path, werr)
	}
}
