package workflows

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// CodeUnsupportedVersion: a run's recorded version of a change (GetVersion)
// is outside what the code still supports.
const CodeUnsupportedVersion errcode.Code = "unsupported_version"

// ErrUnsupportedVersion is the failure of a GetVersion whose version is
// outside [minSupported, max]; compare with errors.Is.
var ErrUnsupportedVersion = &Error{Code: CodeUnsupportedVersion, Message: "workflow run's version of a change is no longer supported"}

// GetVersion returns which version of the change name this run follows, as
// the journaled call name (design §4.3), so that workflow code can change
// while runs are open: branch on the result, keeping the old code for the
// versions still supported. A run that reaches GetVersion for the first
// time on new code (past its journal's frontier) records max; an old run
// replaying its journal when it reaches the call (its journal records
// calls after it) records 0, the code before any change. The recorded
// version is returned on every replay. A version below minSupported (or
// above max) fails the run with ErrUnsupportedVersion: raise minSupported
// once no run of an older version is open.
func (w *W) GetVersion(name string, minSupported, max int) (int, error) {
	if err := w.failed(); err != nil {
		return 0, err
	}
	if minSupported < 0 || max < minSupported {
		return 0, w.fail(fmt.Errorf("workflows: GetVersion %q: want 0 <= minSupported (%d) <= max (%d)", name, minSupported, max))
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return 0, w.fail(err)
	}
	v, err := w.replay.Visit(KindVersionCheck, p)
	if err != nil {
		return 0, w.fail(w.nondeterminism(err))
	}
	if v.Found {
		var ver int
		if err := json.Unmarshal(v.Entry.Output, &ver); err != nil {
			return 0, w.fail(fmt.Errorf("%w: version %s does not decode: %w", ErrInvalidPath, p, err))
		}
		w.visited(v.Entry)
		return ver, w.checkVersion(p, ver, minSupported, max)
	}
	ver := max
	if v.Replaying {
		ver = 0
	}
	if err := w.checkVersion(p, ver, minSupported, max); err != nil {
		return ver, err
	}
	if w.ro != nil {
		// Replay only: an old run reaching new code records the version
		// and goes on, so the check goes on too, writing nothing.
		w.visited(Entry{})
		return ver, nil
	}
	e, err := w.commit(p, Entry{Kind: KindVersionCheck, Ord: v.Ord, Status: EntryCompleted, Output: json.RawMessage(fmt.Sprint(ver))})
	if err != nil {
		return 0, w.fail(err)
	}
	w.visited(e)
	return ver, nil
}

// checkVersion fails the run when version ver of change p is unsupported.
func (w *W) checkVersion(p Path, ver, minSupported, max int) error {
	if ver >= minSupported && ver <= max {
		return nil
	}
	return w.fail(&Error{Code: CodeUnsupportedVersion, Message: fmt.Sprintf(
		"workflow %s run %s: change %s: the run follows version %d, the code supports %d to %d; keep the code of version %d until this run ends, or cancel it",
		w.c.name, w.runID, p, ver, minSupported, max, ver)})
}

// Removed declares that the code no longer makes the call name of kind
// kind (RivetKit removed): a run whose journal records it replays without
// a missing_call nondeterminism failure, and, for a kind with a scope (a
// loop, join or race), everything journaled under it is passed over too.
// Where the journal records nothing, Removed records a small marker, so
// that re-adding the name later with another kind is caught.
func (w *W) Removed(name string, kind Kind) error {
	if err := w.failed(); err != nil {
		return err
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return w.fail(err)
	}
	v, err := w.replay.Removed(p, kind)
	if err != nil {
		return w.fail(w.nondeterminism(err))
	}
	if v.Found {
		w.replay.Skip(p)
		if kind == KindLoop {
			w.replay.SkipIterations(p, math.MaxInt)
		}
		return nil
	}
	if w.ro != nil {
		return nil // replay only: the marker is not written, the run goes on
	}
	if _, err := w.commit(p, Entry{Kind: KindRemoved, Ord: v.Ord, Status: EntryCompleted}); err != nil {
		return w.fail(err)
	}
	return nil
}
