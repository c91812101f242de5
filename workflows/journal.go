package workflows

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Kind is the kind of a journal entry: which call wrote it (RivetKit
// EntryKindType, plus child and continue).
type Kind string

// Entry kinds.
const (
	KindStep               Kind = "step"
	KindLoop               Kind = "loop"
	KindSleep              Kind = "sleep"
	KindMessage            Kind = "message"
	KindRollbackCheckpoint Kind = "rollback_checkpoint"
	KindJoin               Kind = "join"
	KindRace               Kind = "race"
	KindRemoved            Kind = "removed"
	KindVersionCheck       Kind = "version_check"
	KindChild              Kind = "child"
	KindContinue           Kind = "continue"
)

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool {
	switch k {
	case KindStep, KindLoop, KindSleep, KindMessage, KindRollbackCheckpoint, KindJoin,
		KindRace, KindRemoved, KindVersionCheck, KindChild, KindContinue:
		return true
	}
	return false
}

// EntryStatus is where a journaled call stands.
type EntryStatus string

// Entry statuses.
const (
	EntryCompleted EntryStatus = "completed"
	EntryFailed    EntryStatus = "failed"   // final: Error says how
	EntryRetrying  EntryStatus = "retrying" // a step between attempts: NextAt is the next
	EntryWaiting   EntryStatus = "waiting"  // a message, child or race not yet done
	EntrySleeping  EntryStatus = "sleeping" // a sleep: NextAt is its deadline
)

// Entry is one journaled call: the value of the KV key EntryKey(epoch, path)
// of the run actor, as JSON with short names (design §1.2).
type Entry struct {
	Kind Kind `json:"k"`
	// Ord is the entry's index within its scope, in first-execution order:
	// the order of the calls that first visited each name (Replay.Visit
	// hands it out). Messages name entries by it; the check does not
	// compare it, since a call's identity is its name.
	Ord    int         `json:"o"`
	Status EntryStatus `json:"s"`
	// At is the commit time: the source of W.Now after this entry.
	At time.Time `json:"at"`
	// Output is the step result, loop/race/child output, version number or
	// taken messages.
	Output json.RawMessage `json:"out,omitempty"`
	// Error is the final failure of a failed entry, or the last error of a
	// retrying step.
	Error    *EntryError `json:"err,omitempty"`
	Attempts int         `json:"n,omitempty"`
	// NextAt is a retrying step's next attempt, a sleep's deadline or a
	// message wait's timeout.
	NextAt time.Time `json:"next,omitzero"`
	// Alarm is the ID of the alarm armed for NextAt, cancelled when done.
	Alarm string `json:"alarm,omitempty"`
	// Extra is loop state and iteration, a race's winner, a child's run ID.
	Extra json.RawMessage `json:"x,omitempty"`
}

// EntryError is an entry's error: a StepError without the step's path and
// attempts (the entry's path and Attempts hold them).
type EntryError struct {
	Kind    FailureKind `json:"kind"`
	Code    string      `json:"code"`
	Message string      `json:"message"`
}

// MaxEntryBytes bounds the JSON of one entry (the event log's MaxEventBytes
// is 1 MiB). A larger entry is ErrEntryTooLarge: for a step result, a
// critical (non-retryable) failure of the step.
const MaxEntryBytes = 256 << 10

// EncodeEntry returns the JSON of e, the entry at p, or a *SizeError (for
// ErrEntryTooLarge) if it is over MaxEntryBytes.
func EncodeEntry(p Path, e Entry) ([]byte, error) {
	if !e.Kind.Valid() {
		return nil, fmt.Errorf("workflows: entry %s: unknown kind %q", p, e.Kind)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("workflows: entry %s: %w", p, err)
	}
	if len(b) > MaxEntryBytes {
		return nil, &SizeError{Err: ErrEntryTooLarge, Path: p.String(), Size: len(b), Limit: MaxEntryBytes}
	}
	return b, nil
}

// DecodeEntry parses an entry's JSON and checks its kind and Ord. The error
// wraps ErrInvalidPath.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Entry{}, fmt.Errorf("%w: entry: %w", ErrInvalidPath, err)
	}
	if !e.Kind.Valid() {
		return Entry{}, fmt.Errorf("%w: entry of unknown kind %q", ErrInvalidPath, e.Kind)
	}
	if e.Ord < 0 {
		return Entry{}, fmt.Errorf("%w: entry with negative ordinal %d", ErrInvalidPath, e.Ord)
	}
	return e, nil
}

// JournalLimit returns the most bytes of journal (keys and values) a run may
// hold: 75% of its actor type's MaxStateBytes, which bounds state, KV and
// alarms together.
func JournalLimit(maxStateBytes int) int { return maxStateBytes / 4 * 3 }

// CheckJournalSize returns a *SizeError (for ErrJournalTooLarge) if a
// journal of size bytes is over JournalLimit(maxStateBytes).
func CheckJournalSize(size, maxStateBytes int) error {
	if limit := JournalLimit(maxStateBytes); size > limit {
		return &SizeError{Err: ErrJournalTooLarge, Size: size, Limit: limit}
	}
	return nil
}

// Record is one recorded entry with its path.
type Record struct {
	Path  Path
	Entry Entry
}

// DecodeRecord parses one KV pair of epoch's journal (a key under
// JournalPrefix(epoch)). The error wraps ErrInvalidPath.
func DecodeRecord(epoch int, key string, value []byte) (Record, error) {
	e, p, err := ParseEntryKey(key)
	if err != nil {
		return Record{}, err
	}
	if e != epoch {
		return Record{}, fmt.Errorf("%w: key %q is of epoch %d, not %d", ErrInvalidPath, key, e, epoch)
	}
	entry, err := DecodeEntry(value)
	if err != nil {
		return Record{}, fmt.Errorf("key %q: %w", key, err)
	}
	return Record{Path: p, Entry: entry}, nil
}

// Visit is what a journaled call finds in the journal.
type Visit struct {
	Path Path
	// Found reports whether the journal records the call; Entry is then the
	// recorded entry (return its outcome instead of running the call).
	Found bool
	Entry Entry
	// Ord is the entry's Ord: the recorded one, or the one to record for a
	// new entry.
	Ord int
	// Replaying reports whether, before this visit, the scope still had
	// recorded entries this execution had not visited. GetVersion uses it:
	// a version check new while replaying is an old run reaching changed
	// code (record 0), past the frontier it is new code (record the max).
	Replaying bool
}

// Replay checks one execution of a run function against one epoch of its
// journal (design §2, "Nondeterminism"): build it from the recorded entries
// when a runner starts, call Visit (or Removed) for every journaled call as
// the code makes it, Commit each entry written, and Complete when a scope or
// the whole function returns. Journal entries are keyed by name paths, not
// by call order, so code that calls the same names in another order replays
// cleanly. The four rules, per scope (the direct entries of one path):
//
//  1. Kind: a name recorded with one kind and called with another is a
//     KindMismatch (a Step where a Sleep was).
//  2. Frontier: a name the journal does not record, called while the scope
//     has recorded entries this execution has not yet visited, is an
//     UnexpectedCall: new code reached while replaying (a rename, or a call
//     inserted before recorded ones). Version checks and Removed are exempt:
//     they exist to mark such changes.
//  3. Duplicates: a path called twice in one execution is a DuplicateCall.
//  4. Completion: a recorded entry left unvisited when its scope completes
//     is a MissingCall, unless the code declared it with Removed.
//
// A removed marker (KindRemoved) stands for a call the code no longer
// makes, so rules 2 and 4 ignore it; rule 1 still catches a name re-added
// with another kind. Skip and SkipIterations mark entries the engine does
// not re-execute on purpose (a race's losers, a loop's finished
// iterations).
//
// A Replay is safe for concurrent use (branches of a Join run on their own
// goroutines, each in its own scope).
type Replay struct {
	mu      sync.Mutex
	entries map[Path]*slot
	scopes  map[Path]*scopeState
}

// slot is one path known to the journal or visited in this execution.
type slot struct {
	entry    Entry
	recorded bool // in the journal the Replay was built from
	stored   bool // entry holds a real entry: recorded, or committed since
	visited  bool // visited in this execution (Visit, Removed, Skip)
	kind     Kind // the kind of the visit (for duplicates)
}

// scopeState counts one scope's recorded entries.
type scopeState struct {
	pending int // recorded entries, removed markers aside, not yet visited
	nextOrd int // Ord for the next new entry
}

// NewReplay builds the checker of one execution from the records of one
// epoch (DecodeRecord of every key under JournalPrefix). Two records with
// one path are an error wrapping ErrInvalidPath. Ords are not required to
// be unique or dense: they number new entries (after the highest recorded
// one in their scope) and order messages, while rules 2 and 4 count the
// unvisited entries themselves.
func NewReplay(records []Record) (*Replay, error) {
	r := &Replay{entries: make(map[Path]*slot, len(records)), scopes: map[Path]*scopeState{}}
	for _, rec := range records {
		if rec.Path.IsRoot() {
			return nil, fmt.Errorf("%w: an entry at the root", ErrInvalidPath)
		}
		if !rec.Entry.Kind.Valid() {
			return nil, fmt.Errorf("%w: entry %s of unknown kind %q", ErrInvalidPath, rec.Path, rec.Entry.Kind)
		}
		if _, dup := r.entries[rec.Path]; dup {
			return nil, fmt.Errorf("%w: entry %s recorded twice", ErrInvalidPath, rec.Path)
		}
		r.entries[rec.Path] = &slot{entry: rec.Entry, recorded: true, stored: true}
		sc := r.scope(rec.Path.Parent())
		sc.nextOrd = max(sc.nextOrd, rec.Entry.Ord+1)
		if rec.Entry.Kind != KindRemoved {
			sc.pending++
		}
	}
	return r, nil
}

// scope returns (creating) the state of scope p. Called with r.mu held.
func (r *Replay) scope(p Path) *scopeState {
	sc := r.scopes[p]
	if sc == nil {
		sc = &scopeState{}
		r.scopes[p] = sc
	}
	return sc
}

// Visit checks the code's call of kind at p against the journal and marks
// p visited. It returns what the journal records there, or a
// *NondeterminismError (rules 1-3; a failed visit changes nothing).
func (r *Replay) Visit(kind Kind, p Path) (Visit, error) {
	if !kind.Valid() || kind == KindRemoved {
		return Visit{}, fmt.Errorf("workflows: Visit of kind %q (use Removed)", kind)
	}
	if p.IsRoot() {
		return Visit{}, fmt.Errorf("%w: a call at the root path", ErrInvalidPath)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.scope(p.Parent())
	s := r.entries[p]
	if s != nil && s.visited {
		return Visit{}, r.divergence(DuplicateCall, p, kind, false, p, s)
	}
	replaying := sc.pending > 0
	if s != nil && s.recorded {
		if s.entry.Kind != kind {
			return Visit{}, r.divergence(KindMismatch, p, kind, false, p, s)
		}
		r.markVisited(s, sc, kind)
		return Visit{Path: p, Found: true, Entry: s.entry, Ord: s.entry.Ord, Replaying: replaying}, nil
	}
	if replaying && kind != KindVersionCheck {
		want := r.firstPending(p.Parent())
		return Visit{}, r.divergence(UnexpectedCall, p, kind, false, want, r.entries[want])
	}
	return r.visitNew(p, kind, sc, replaying), nil
}

// Removed declares that the code no longer makes the call of kind at p
// (RivetKit removed(name, kind)). A recorded entry of that kind, or a
// removed marker, counts as visited; a recorded entry of another kind is a
// KindMismatch. When the journal records nothing at p, Visit.Found is false
// and the caller records a marker {k: "removed", o: Visit.Ord}, so that a
// later re-add of the name with another kind is caught. Removed is exempt
// from the frontier rule.
func (r *Replay) Removed(p Path, kind Kind) (Visit, error) {
	if !kind.Valid() || kind == KindRemoved {
		return Visit{}, fmt.Errorf("workflows: Removed of kind %q", kind)
	}
	if p.IsRoot() {
		return Visit{}, fmt.Errorf("%w: a call at the root path", ErrInvalidPath)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	sc := r.scope(p.Parent())
	s := r.entries[p]
	if s != nil && s.visited {
		return Visit{}, r.divergence(DuplicateCall, p, kind, true, p, s)
	}
	replaying := sc.pending > 0
	if s != nil && s.recorded {
		if s.entry.Kind != kind && s.entry.Kind != KindRemoved {
			return Visit{}, r.divergence(KindMismatch, p, kind, true, p, s)
		}
		r.markVisited(s, sc, kind)
		return Visit{Path: p, Found: true, Entry: s.entry, Ord: s.entry.Ord, Replaying: replaying}, nil
	}
	return r.visitNew(p, kind, sc, replaying), nil
}

// visitNew marks a path the journal does not record as visited and hands
// out its Ord. Called with r.mu held.
func (r *Replay) visitNew(p Path, kind Kind, sc *scopeState, replaying bool) Visit {
	ord := sc.nextOrd
	sc.nextOrd++
	r.entries[p] = &slot{entry: Entry{Kind: kind, Ord: ord}, visited: true, kind: kind}
	return Visit{Path: p, Ord: ord, Replaying: replaying}
}

// markVisited marks a recorded slot visited. Called with r.mu held.
func (r *Replay) markVisited(s *slot, sc *scopeState, kind Kind) {
	s.visited, s.kind = true, kind
	if s.entry.Kind != KindRemoved {
		sc.pending--
	}
}

// firstPending returns the recorded, unvisited, non-marker entry of scope
// with the lowest Ord (then path). Called with r.mu held, pending > 0.
func (r *Replay) firstPending(scope Path) Path {
	var best Path
	var bestSlot *slot
	for p, s := range r.entries {
		if !s.recorded || s.visited || s.entry.Kind == KindRemoved || p.Parent() != scope {
			continue
		}
		if bestSlot == nil || s.entry.Ord < bestSlot.entry.Ord || (s.entry.Ord == bestSlot.entry.Ord && p.s < best.s) {
			best, bestSlot = p, s
		}
	}
	return best
}

// divergence builds the error naming the code's call (got at p) and the
// journal's entry (at want, its slot ws). Called with r.mu held.
func (r *Replay) divergence(reason Divergence, p Path, got Kind, removed bool, want Path, ws *slot) *NondeterminismError {
	e := &NondeterminismError{
		Reason: reason, Scope: p.Parent().String(), Path: p.String(), Got: got, Removed: removed,
		WantPath: want.String(), Want: ws.entry.Kind, Ord: ws.entry.Ord,
	}
	if reason == DuplicateCall {
		e.Want = ws.kind
		if !ws.recorded {
			e.Ord = -1
		}
	}
	return e
}

// Commit records that the engine wrote e at p (a path visited in this
// execution), so that Lookup sees it. Rules are unaffected: the path is
// already visited.
func (r *Replay) Commit(p Path, e Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.entries[p]
	if s == nil || !s.visited {
		return fmt.Errorf("workflows: commit of entry %s, which this execution has not visited", p)
	}
	s.entry, s.stored = e, true
	return nil
}

// Lookup returns the entry at p (recorded, or committed in this execution)
// without visiting it.
func (r *Replay) Lookup(p Path) (Entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.entries[p]
	if s == nil || !s.stored {
		return Entry{}, false
	}
	return s.entry, true
}

// Skip marks every recorded entry within scope (Path.Within) visited, for
// code the engine does not re-execute on purpose: a race's losing branches.
func (r *Replay) Skip(scope Path) {
	r.skip(func(p Path) bool { return p.Within(scope) })
}

// SkipIterations marks visited every recorded entry within the iteration
// scopes loop#i with i < before (of the loop at path loop), for iterations
// a resumed loop does not run again; before = math.MaxInt skips them all
// (a completed loop replays its output without running any).
func (r *Replay) SkipIterations(loop Path, before int) {
	parent, name := loop.Parent(), loop.Base()
	r.skip(func(p Path) bool {
		for q := p; !q.IsRoot(); q = q.Parent() {
			if q.Parent() != parent {
				continue
			}
			n, i, ok := iterationOf(q.Base())
			return ok && n == name && i < before
		}
		return false
	})
}

// iterationOf splits a segment name#i.
func iterationOf(seg string) (name string, i int, ok bool) {
	name, iter, ok := strings.Cut(seg, "#")
	if !ok {
		return "", 0, false
	}
	i, err := parseCanonicalInt(iter)
	return name, i, err == nil
}

// skip marks the recorded entries whose path matches visited.
func (r *Replay) skip(match func(Path) bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, s := range r.entries {
		if s.recorded && !s.visited && match(p) {
			r.markVisited(s, r.scope(p.Parent()), s.entry.Kind)
		}
	}
}

// Complete checks rule 4 for scope and every scope below it: it returns a
// *NondeterminismError (MissingCall) naming the first recorded entry left
// unvisited (by scope path, then Ord), removed markers aside. Call it when
// the run function returns (for the root), and when a loop iteration, a
// join branch or a Try block completes (for its scope).
func (r *Replay) Complete(scope Path) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var missing []Path
	for p, s := range r.entries {
		if s.recorded && !s.visited && s.entry.Kind != KindRemoved && p.Within(scope) && p != scope {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	first := slices.MinFunc(missing, func(a, b Path) int {
		return cmp.Or(cmp.Compare(a.Parent().s, b.Parent().s), cmp.Compare(r.entries[a].entry.Ord, r.entries[b].entry.Ord), cmp.Compare(a.s, b.s))
	})
	s := r.entries[first]
	return &NondeterminismError{
		Reason: MissingCall, Scope: first.Parent().String(), Path: first.String(),
		WantPath: first.String(), Want: s.entry.Kind, Ord: s.entry.Ord,
	}
}
