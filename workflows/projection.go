package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/eventlog"
	"github.com/rivet-flow/rivet-flow/internal/jsonpatch"
	"github.com/rivet-flow/rivet-flow/projections"
)

// RunsProjectionName names the runs projection (design §6.2) on a node's
// projection runner (/v1/projections/workflow_runs).
const RunsProjectionName = "workflow_runs"

// RunSummary is a run as the runs projection holds it: its row is the
// run actor's state (RunState) cut down to these fields, so every status a
// run takes is the one its state records.
type RunSummary struct {
	Workflow string `json:"workflow"`
	RunID    string `json:"runId"`
	Status   Status `json:"status"`
	// Current is the path of the last journaled call.
	Current string `json:"current,omitempty"`
	// Steps counts the completed steps.
	Steps int `json:"steps"`
	// Error is why the run failed (failed runs only).
	Error     *RunError `json:"error,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	EndedAt   time.Time `json:"endedAt,omitzero"`
}

// ErrorCode is the code of the run's error, "" when it has none.
func (r RunSummary) ErrorCode() string {
	if r.Error == nil {
		return ""
	}
	return r.Error.Code
}

// summaryFields are the members of the RunState JSON a row keeps (the
// json names of RunSummary's fields): a patch op on any other member
// (inbox, waiting, counters) is dropped.
var summaryFields = map[string]bool{
	"workflow": true, "runId": true, "status": true, "current": true, "steps": true,
	"error": true, "createdAt": true, "updatedAt": true, "endedAt": true,
}

// Row keys of the runs projection: runKey holds a run's row, statusKey
// indexes it by status (the value is {}), so listing one status reads
// exactly its runs.
func runKey(workflow, runID string) string { return "r/" + workflow + "/" + runID }

func runPrefix(workflow string) string { return "r/" + workflow + "/" }

func statusKey(st Status, workflow, runID string) string {
	return "s/" + string(st) + "/" + workflow + "/" + runID
}

func statusPrefix(st Status, workflow string) string { return "s/" + string(st) + "/" + workflow + "/" }

// RunsProjection is the runs projection over the run actors of the
// workflows named: it folds each run's state from its events (the whole
// state of a create, the patches after it), so its status is RunState's.
// names must not be empty (an empty filter would fold every actor type).
// Rows: r/<workflow>/<runId> (the row, a RunSummary) and
// s/<status>/<workflow>/<runId> (the status index).
func RunsProjection(names []string) (*projections.Definition[RunSummary], error) {
	if len(names) == 0 {
		return nil, errors.New("workflows: a runs projection needs at least one workflow")
	}
	return projections.Define(RunsProjectionName, projections.Filter{Types: names}, foldRun), nil
}

var emptyObject = []byte("{}")

// foldRun folds one event of a run actor into its row and status index.
func foldRun(tx projections.Tx[RunSummary], ev *eventlog.Event) error {
	ref, err := eventlog.ParseSubject(ev.Subject)
	if err != nil || len(ref.Key) != 1 {
		return nil // not a run actor: a run is keyed [runId]
	}
	wf, runID := ref.Type, ref.Key[0]
	key := runKey(wf, runID)
	raw := tx.Raw()
	before, found, err := raw.Get(key)
	if err != nil {
		return err
	}
	var oldStatus Status
	if found {
		if oldStatus, err = rowStatus(before); err != nil {
			return fmt.Errorf("run %s of %s: %w", runID, wf, err)
		}
	}
	var after []byte
	switch {
	case ev.Kind == eventlog.KindDestroy:
		if found {
			if err := raw.Delete(statusKey(oldStatus, wf, runID)); err != nil {
				return err
			}
		}
		return raw.Delete(key)
	case ev.HasState:
		if after, err = trimState(ev.State); err != nil {
			return fmt.Errorf("run %s of %s: event %d: %w", runID, wf, ev.Seq, err)
		}
	case ev.Patch != nil && found:
		if after, err = patchRow(before, ev.Patch); err != nil {
			return fmt.Errorf("run %s of %s: event %d: the state patch does not apply to the row (%w); rebuild the projection %s",
				runID, wf, ev.Seq, err, RunsProjectionName)
		}
	default:
		// No state change, or a patch to a run this projection never saw
		// created (its type joined the filter later): nothing to fold.
		return nil
	}
	newStatus, err := rowStatus(after)
	if err != nil {
		return fmt.Errorf("run %s of %s: event %d: %w", runID, wf, ev.Seq, err)
	}
	if !found || newStatus != oldStatus {
		if found {
			if err := raw.Delete(statusKey(oldStatus, wf, runID)); err != nil {
				return err
			}
		}
		if err := raw.Put(statusKey(newStatus, wf, runID), emptyObject); err != nil {
			return err
		}
	}
	return raw.Put(key, after)
}

// rowStatus is the status a row (or a state) records.
func rowStatus(row []byte) (Status, error) {
	var r struct {
		Status Status `json:"status"`
	}
	if err := json.Unmarshal(row, &r); err != nil {
		return "", fmt.Errorf("row does not decode: %w", err)
	}
	if r.Status == "" {
		return "", errors.New("row has no status")
	}
	return r.Status, nil
}

// trimState keeps the members of a RunState's JSON that a row holds, as
// they are (no re-encoding, so a patch finds exactly the members the state
// has).
func trimState(state []byte) ([]byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(state, &members); err != nil {
		return nil, fmt.Errorf("the run's state is not a JSON object: %w", err)
	}
	for k := range members {
		if !summaryFields[k] {
			delete(members, k)
		}
	}
	return json.Marshal(members)
}

// patchOp is what patchRow reads of one RFC 6902 operation.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// patchRow applies to a row the operations of a state patch that touch
// the members it keeps. The runtime's diffs are add, remove and replace;
// an operation on the whole state ("") replaces the row with that state,
// trimmed.
func patchRow(row, patch []byte) ([]byte, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(patch, &raws); err != nil {
		return nil, fmt.Errorf("the patch is not a JSON array: %w", err)
	}
	kept := make([]json.RawMessage, 0, len(raws))
	flush := func() error {
		if len(kept) == 0 {
			return nil
		}
		b, err := json.Marshal(kept)
		if err != nil {
			return err
		}
		if row, err = jsonpatch.Apply(row, b); err != nil {
			return err
		}
		kept = kept[:0]
		return nil
	}
	for _, r := range raws {
		var op patchOp
		if err := json.Unmarshal(r, &op); err != nil {
			return nil, fmt.Errorf("a patch operation does not decode: %w", err)
		}
		if op.Path == "" && (op.Op == "add" || op.Op == "replace") {
			if err := flush(); err != nil {
				return nil, err
			}
			trimmed, err := trimState(op.Value)
			if err != nil {
				return nil, err
			}
			row = trimmed
			continue
		}
		keep := summaryFields[topMember(op.Path)]
		if op.Op == "move" || op.Op == "copy" {
			if keep != summaryFields[topMember(op.From)] {
				return nil, fmt.Errorf("a %s from %q to %q crosses the row's members", op.Op, op.From, op.Path)
			}
		}
		if keep {
			kept = append(kept, r)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return row, nil
}

// topMember is the first member name of a JSON pointer ("/status" ->
// "status", "/error/code" -> "error"), unescaped.
func topMember(ptr string) string {
	seg, _, _ := strings.Cut(strings.TrimPrefix(ptr, "/"), "/")
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
}
