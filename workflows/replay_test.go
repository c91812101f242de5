package workflows_test

import (
	"errors"
	"math"
	"sync"
	"testing"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// rec is a recorded entry: path, kind and Ord.
type rec struct {
	path string
	kind workflows.Kind
	ord  int
}

// step is one operation on a Replay and what it must answer.
type step struct {
	op   string // visit (default), removed, skip, skipIter, complete
	kind workflows.Kind
	path string
	n    int // skipIter: before

	found     bool
	ord       int
	replaying bool

	// A divergence: its reason, and the journal's side.
	err      workflows.Divergence
	wantPath string
	want     workflows.Kind
	wantOrd  int
}

func newReplay(t testing.TB, recs []rec) *workflows.Replay {
	t.Helper()
	var records []workflows.Record
	for _, r := range recs {
		records = append(records, workflows.Record{Path: mustPath(t, r.path),
			Entry: workflows.Entry{Kind: r.kind, Ord: r.ord, Status: workflows.EntryCompleted}})
	}
	rp, err := workflows.NewReplay(records)
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

const (
	kStep    = workflows.KindStep
	kSleep   = workflows.KindSleep
	kLoop    = workflows.KindLoop
	kJoin    = workflows.KindJoin
	kRace    = workflows.KindRace
	kVersion = workflows.KindVersionCheck
	kRemoved = workflows.KindRemoved
)

func TestReplayRules(t *testing.T) {
	t.Parallel()
	abc := []rec{{"a", kStep, 0}, {"b", kSleep, 1}, {"c", kStep, 2}}
	for _, tc := range []struct {
		name  string
		recs  []rec
		steps []step
	}{
		{"same order replays", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"reordering kept names replays", abc, []step{
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"new calls after the recorded ones (a resumed run)", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{kind: kStep, path: "d", ord: 3},
			{kind: kSleep, path: "e", ord: 4},
			{op: "complete", path: "/"},
		}},
		{"a fresh run", nil, []step{
			{kind: kStep, path: "a", ord: 0},
			{kind: kStep, path: "b", ord: 1},
			{kind: kStep, path: "x/y", ord: 0},
			{op: "complete", path: "/"},
		}},
		{"rule 1: a step where a sleep was names both kinds", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "b", err: workflows.KindMismatch, wantPath: "b", want: kSleep, wantOrd: 1},
		}},
		{"rule 2: a rename fails before it runs, naming both", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b2", err: workflows.UnexpectedCall, wantPath: "b", want: kSleep, wantOrd: 1},
		}},
		{"rule 2: renaming the last call", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c2", err: workflows.UnexpectedCall, wantPath: "c", want: kStep, wantOrd: 2},
		}},
		{"rule 2: a call inserted before recorded ones", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "new", err: workflows.UnexpectedCall, wantPath: "b", want: kSleep, wantOrd: 1},
		}},
		{"rule 2 names the lowest unvisited Ord", abc, []step{
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "z", err: workflows.UnexpectedCall, wantPath: "a", want: kStep, wantOrd: 0},
		}},
		{"rule 2 is per scope", []rec{{"tools", kJoin, 0}, {"tools/a/call", kStep, 0}, {"tools/b/call", kStep, 0}}, []step{
			{kind: kJoin, path: "tools", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "tools/b/call", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "tools/b/more", ord: 1},
			{kind: kStep, path: "tools/a/call", found: true, ord: 0, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"rule 3: a duplicate recorded call", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "a", err: workflows.DuplicateCall, wantPath: "a", want: kStep, wantOrd: 0},
		}},
		{"rule 3: a duplicate new call, of another kind", nil, []step{
			{kind: kStep, path: "a", ord: 0},
			{kind: kSleep, path: "a", err: workflows.DuplicateCall, wantPath: "a", want: kStep, wantOrd: -1},
		}},
		{"rule 4: an entry left unvisited", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{op: "complete", path: "/", err: workflows.MissingCall, wantPath: "b", want: kSleep, wantOrd: 1},
		}},
		{"rule 4: Removed silences it", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{op: "removed", kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"Removed of another kind names both", abc, []step{
			{op: "removed", kind: kStep, path: "b", err: workflows.KindMismatch, wantPath: "b", want: kSleep, wantOrd: 1},
		}},
		{"Removed of an unrecorded name is exempt from the frontier", abc, []step{
			{op: "removed", kind: kStep, path: "gone", ord: 3, replaying: true},
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"a removed marker is visited by Removed", []rec{{"a", kStep, 0}, {"gone", kRemoved, 1}}, []step{
			{op: "removed", kind: kStep, path: "gone", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"a removed marker needs no visit and holds no frontier", []rec{{"a", kStep, 0}, {"gone", kRemoved, 1}}, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "b", ord: 2},
			{op: "complete", path: "/"},
		}},
		{"a re-added name is caught by its marker", []rec{{"gone", kRemoved, 0}}, []step{
			{kind: kStep, path: "gone", err: workflows.KindMismatch, wantPath: "gone", want: kRemoved, wantOrd: 0},
		}},
		{"a version check while replaying is exempt from the frontier", abc, []step{
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kVersion, path: "v1", ord: 3, replaying: true},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{kind: kVersion, path: "v2", ord: 4, replaying: false},
			{op: "complete", path: "/"},
		}},
		{"a recorded version check replays", []rec{{"v", kVersion, 0}}, []step{
			{kind: kVersion, path: "v", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "v", err: workflows.DuplicateCall, wantPath: "v", want: kVersion, wantOrd: 0},
		}},
		{"new Ords follow the highest recorded one", []rec{{"a", kStep, 0}, {"b", kStep, 5}, {"x/y", kStep, 9}}, []step{
			{kind: kStep, path: "b", found: true, ord: 5, replaying: true},
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "c", ord: 6},
			{kind: kStep, path: "d", ord: 7},
			{kind: kStep, path: "x/z", err: workflows.UnexpectedCall, wantPath: "x/y", want: kStep, wantOrd: 9},
		}},
		{"Skip passes over a race's losing branch", []rec{{"r", kRace, 0}, {"r/fast/s", kStep, 0}, {"r/slow/s", kStep, 0}, {"r/slow/t", kStep, 1}}, []step{
			{kind: kRace, path: "r", found: true, ord: 0, replaying: true},
			{op: "skip", path: "r/slow"},
			{kind: kStep, path: "r/fast/s", found: true, ord: 0, replaying: true},
			{op: "complete", path: "/"},
		}},
		{"a branch left unvisited", []rec{{"r", kRace, 0}, {"r/fast/s", kStep, 0}, {"r/slow/s", kStep, 0}}, []step{
			{kind: kRace, path: "r", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "r/fast/s", found: true, ord: 0, replaying: true},
			{op: "complete", path: "r/fast"},
			{op: "complete", path: "/", err: workflows.MissingCall, wantPath: "r/slow/s", want: kStep, wantOrd: 0},
		}},
		{"SkipIterations passes over finished iterations only", []rec{
			{"main", kLoop, 0}, {"main#0/f", kStep, 0}, {"main#1/f", kStep, 0}, {"main#1/g/h", kStep, 0},
			{"main#2/f", kStep, 0}, {"mainx#0/f", kStep, 0}, {"other/main#0/f", kStep, 0},
		}, []step{
			{kind: kLoop, path: "main", found: true, ord: 0, replaying: true},
			{op: "skipIter", path: "main", n: 2},
			{kind: kStep, path: "main#2/f", found: true, ord: 0, replaying: true},
			{op: "complete", path: "main#2"},
			{op: "complete", path: "/", err: workflows.MissingCall, wantPath: "mainx#0/f", want: kStep, wantOrd: 0},
		}},
		{"SkipIterations of a completed nested loop", []rec{
			{"outer#0/main", kLoop, 0}, {"outer#0/main#0/f", kStep, 0}, {"outer#0/main#7/f", kStep, 0}, {"outer#1/main#0/f", kStep, 0},
		}, []step{
			{kind: kLoop, path: "outer#0/main", found: true, ord: 0, replaying: true},
			{op: "skipIter", path: "outer#0/main", n: math.MaxInt},
			{op: "complete", path: "outer#0"},
			{op: "complete", path: "/", err: workflows.MissingCall, wantPath: "outer#1/main#0/f", want: kStep, wantOrd: 0},
		}},
		{"Complete of a scope looks only within it", []rec{{"main#0/f", kStep, 0}, {"main#0/g", kStep, 1}, {"z", kStep, 0}}, []step{
			{kind: kStep, path: "main#0/f", found: true, ord: 0, replaying: true},
			{op: "complete", path: "main#0", err: workflows.MissingCall, wantPath: "main#0/g", want: kStep, wantOrd: 1},
			{kind: kStep, path: "main#0/g", found: true, ord: 1, replaying: true},
			{op: "complete", path: "main#0"},
			{op: "complete", path: "/", err: workflows.MissingCall, wantPath: "z", want: kStep, wantOrd: 0},
		}},
		{"a failed visit changes nothing", abc, []step{
			{kind: kStep, path: "b", err: workflows.KindMismatch, wantPath: "b", want: kSleep, wantOrd: 1},
			{kind: kStep, path: "x", err: workflows.UnexpectedCall, wantPath: "a", want: kStep, wantOrd: 0},
			{kind: kSleep, path: "b", found: true, ord: 1, replaying: true},
			{kind: kStep, path: "a", found: true, ord: 0, replaying: true},
			{kind: kStep, path: "c", found: true, ord: 2, replaying: true},
			{op: "complete", path: "/"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rp := newReplay(t, tc.recs)
			for i, s := range tc.steps {
				p := mustPath(t, s.path)
				var v workflows.Visit
				var err error
				switch s.op {
				case "", "visit":
					v, err = rp.Visit(s.kind, p)
				case "removed":
					v, err = rp.Removed(p, s.kind)
				case "skip":
					rp.Skip(p)
					continue
				case "skipIter":
					rp.SkipIterations(p, s.n)
					continue
				case "complete":
					err = rp.Complete(p)
				default:
					t.Fatalf("unknown op %q", s.op)
				}
				if s.err != "" {
					var nd *workflows.NondeterminismError
					if !errors.As(err, &nd) || !errors.Is(err, workflows.ErrNondeterminism) {
						t.Fatalf("step %d (%s %s %s): err = %v, want %s", i, s.op, s.kind, s.path, err, s.err)
					}
					if nd.Reason != s.err || nd.WantPath != s.wantPath || nd.Want != s.want || nd.Ord != s.wantOrd {
						t.Fatalf("step %d: got %+v\nwant reason %s, journal %s %q entry %d", i, nd, s.err, s.want, s.wantPath, s.wantOrd)
					}
					if s.op != "complete" && (nd.Path != s.path || nd.Got != s.kind || nd.Scope != p.Parent().String() || nd.Removed != (s.op == "removed")) {
						t.Fatalf("step %d: the code's side is %+v", i, nd)
					}
					if s.op == "complete" && (nd.Path != s.wantPath || nd.Got != "") {
						t.Fatalf("step %d: a missing call's side is %+v", i, nd)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d (%s %s %s): %v", i, s.op, s.kind, s.path, err)
				}
				if s.op == "complete" {
					continue
				}
				if v.Path != p || v.Found != s.found || v.Ord != s.ord || v.Replaying != s.replaying {
					t.Fatalf("step %d (%s %s %s) = %+v; want found %v ord %d replaying %v", i, s.op, s.kind, s.path, v, s.found, s.ord, s.replaying)
				}
				if v.Found && (v.Entry.Ord != s.ord || v.Entry.Status != workflows.EntryCompleted) {
					t.Fatalf("step %d: entry %+v", i, v.Entry)
				}
			}
		})
	}
}

func TestReplayCommitLookup(t *testing.T) {
	t.Parallel()
	rp := newReplay(t, []rec{{"a", kStep, 0}})
	a, n := mustPath(t, "a"), mustPath(t, "n")
	if e, ok := rp.Lookup(a); !ok || e.Kind != kStep {
		t.Fatalf("Lookup of a recorded entry = %+v, %v", e, ok)
	}
	if err := rp.Commit(n, workflows.Entry{Kind: kStep}); err == nil {
		t.Fatal("Commit of an unvisited path succeeded")
	}
	if _, err := rp.Visit(kStep, a); err != nil {
		t.Fatal(err)
	}
	v, err := rp.Visit(kStep, n)
	if err != nil || v.Found || v.Ord != 1 {
		t.Fatalf("Visit(n) = %+v, %v", v, err)
	}
	if _, ok := rp.Lookup(n); ok {
		t.Fatal("Lookup found an entry visited but not committed")
	}
	if err := rp.Commit(n, workflows.Entry{Kind: kStep, Ord: v.Ord, Status: workflows.EntryRetrying, Attempts: 1}); err != nil {
		t.Fatal(err)
	}
	if err := rp.Commit(n, workflows.Entry{Kind: kStep, Ord: v.Ord, Status: workflows.EntryCompleted, Attempts: 2}); err != nil {
		t.Fatal(err)
	}
	if e, ok := rp.Lookup(n); !ok || e.Status != workflows.EntryCompleted || e.Attempts != 2 {
		t.Fatalf("Lookup after commits = %+v, %v", e, ok)
	}
	if err := rp.Complete(workflows.Path{}); err != nil {
		t.Fatal(err)
	}
	// A removed marker committed for a new Removed.
	g := mustPath(t, "gone")
	if v, err := rp.Removed(g, kStep); err != nil || v.Found || v.Ord != 2 {
		t.Fatalf("Removed(gone) = %+v, %v", v, err)
	}
	if err := rp.Commit(g, workflows.Entry{Kind: kRemoved, Ord: 2, Status: workflows.EntryCompleted}); err != nil {
		t.Fatal(err)
	}
	if e, ok := rp.Lookup(g); !ok || e.Kind != kRemoved {
		t.Fatalf("Lookup(gone) = %+v, %v", e, ok)
	}
}

func TestReplayBadInput(t *testing.T) {
	t.Parallel()
	a := mustPath(t, "a")
	for name, records := range map[string][]workflows.Record{
		"twice":        {{Path: a, Entry: workflows.Entry{Kind: kStep}}, {Path: a, Entry: workflows.Entry{Kind: kStep, Ord: 1}}},
		"root":         {{Entry: workflows.Entry{Kind: kStep}}},
		"unknown kind": {{Path: a, Entry: workflows.Entry{Kind: "nope"}}},
	} {
		if _, err := workflows.NewReplay(records); !errors.Is(err, workflows.ErrInvalidPath) {
			t.Errorf("%s: NewReplay = %v, want ErrInvalidPath", name, err)
		}
	}
	rp := newReplay(t, nil)
	for _, k := range []workflows.Kind{"", "nope", kRemoved} {
		if _, err := rp.Visit(k, a); err == nil || errors.Is(err, workflows.ErrNondeterminism) {
			t.Errorf("Visit(%q) = %v, want a plain error", k, err)
		}
		if _, err := rp.Removed(a, k); err == nil || errors.Is(err, workflows.ErrNondeterminism) {
			t.Errorf("Removed(%q) = %v, want a plain error", k, err)
		}
	}
	if _, err := rp.Visit(kStep, workflows.Path{}); !errors.Is(err, workflows.ErrInvalidPath) {
		t.Errorf("Visit at the root = %v", err)
	}
	if _, err := rp.Removed(workflows.Path{}, kStep); !errors.Is(err, workflows.ErrInvalidPath) {
		t.Errorf("Removed at the root = %v", err)
	}
}

// Branches visit their own scopes from their own goroutines (run with -race).
func TestReplayConcurrentBranches(t *testing.T) {
	t.Parallel()
	const branches, calls = 16, 50
	var root workflows.Path
	var recs []workflows.Record
	paths := make([][]workflows.Path, branches)
	for b := range branches {
		scope, err := root.Branch("fan", "b"+string(rune('a'+b)))
		if err != nil {
			t.Fatal(err)
		}
		for c := range calls {
			p, err := scope.Child("s" + string(rune('A'+c%26)) + string(rune('a'+c/26)))
			if err != nil {
				t.Fatal(err)
			}
			paths[b] = append(paths[b], p)
			if c < calls/2 { // recorded half-way: the rest is new
				recs = append(recs, workflows.Record{Path: p, Entry: workflows.Entry{Kind: kStep, Ord: c}})
			}
		}
	}
	rp, err := workflows.NewReplay(recs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, branches)
	for b := range branches {
		wg.Go(func() {
			for c, p := range paths[b] {
				v, err := rp.Visit(kStep, p)
				if err == nil && (v.Found != (c < calls/2) || v.Ord != c) {
					err = errors.New("wrong visit " + p.String())
				}
				if err == nil && !v.Found {
					err = rp.Commit(p, workflows.Entry{Kind: kStep, Ord: v.Ord, Status: workflows.EntryCompleted})
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := rp.Complete(workflows.Path{}); err != nil {
		t.Fatal(err)
	}
}
