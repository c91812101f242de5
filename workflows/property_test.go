package workflows_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/rivet-flow/rivet-flow/workflows"
)

// Property tests (rapid): paths round-trip through their text and keys, and
// the nondeterminism check follows the design's rules on random programs.
//
//	go test ./workflows -run TestProperty -rapid.checks 2000
//	go test ./workflows -run TestPropertyReplay -rapid.seed 1234 -rapid.v

// genName draws a valid name: letters, digits, punctuation, spaces and
// multi-byte runes, never '/', '#' or a control character.
func genName() *rapid.Generator[string] {
	return rapid.StringOfN(rapid.RuneFrom([]rune("abcXYZ019-_.:$ é本🚀")), 1, 12, -1)
}

// genPath builds a path from the root by random Child, Iteration and Branch
// steps, and returns it with the text it must have.
func genPath(t *rapid.T, label string) (workflows.Path, string) {
	var p workflows.Path
	var text []string
	depth := rapid.IntRange(0, 6).Draw(t, label+"-depth")
	for i := range depth {
		name := genName().Draw(t, fmt.Sprintf("%s-name%d", label, i))
		var err error
		switch rapid.IntRange(0, 2).Draw(t, fmt.Sprintf("%s-op%d", label, i)) {
		case 0:
			p, err = p.Child(name)
			text = append(text, name)
		case 1:
			it := rapid.IntRange(0, 1<<40).Draw(t, fmt.Sprintf("%s-iter%d", label, i))
			p, err = p.Iteration(name, it)
			text = append(text, fmt.Sprintf("%s#%d", name, it))
		default:
			branch := genName().Draw(t, fmt.Sprintf("%s-branch%d", label, i))
			p, err = p.Branch(name, branch)
			text = append(text, name, branch)
		}
		if err != nil {
			t.Fatalf("building a path of valid names: %v", err)
		}
	}
	if len(text) == 0 {
		return p, "/"
	}
	return p, joinSlash(text)
}

func joinSlash(s []string) string {
	out := s[0]
	for _, x := range s[1:] {
		out += "/" + x
	}
	return out
}

func TestPropertyPathRoundTrip(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		p, text := genPath(t, "p")
		if p.String() != text {
			t.Fatalf("String() = %q, want %q", p.String(), text)
		}
		back, err := workflows.ParsePath(p.String())
		if err != nil || back != p {
			t.Fatalf("ParsePath(%q) = %v, %v", p.String(), back, err)
		}
		if p.IsRoot() {
			return
		}
		if child, err := p.Parent().Child("x"); err != nil || child.Parent() != p.Parent() {
			t.Fatalf("Parent of %q does not take children back: %v", p, err)
		}
		if !p.Within(p.Parent()) || len(p.Segments()) != len(p.Parent().Segments())+1 {
			t.Fatalf("%q: parent %q", p, p.Parent())
		}
		epoch := rapid.IntRange(0, 1<<31).Draw(t, "epoch")
		key := workflows.EntryKey(epoch, p)
		e, kp, err := workflows.ParseEntryKey(key)
		if err != nil || e != epoch || kp != p {
			t.Fatalf("ParseEntryKey(%q) = %d, %v, %v", key, e, kp, err)
		}
	})
}

// Any text that parses is canonical: it prints back as itself.
func TestPropertyParseCanonical(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		s := rapid.StringOfN(rapid.RuneFrom([]rune("ab/#0123 \x00é")), 0, 16, -1).Draw(t, "s")
		p, err := workflows.ParsePath(s)
		if err != nil {
			if !errors.Is(err, workflows.ErrInvalidPath) {
				t.Fatalf("ParsePath(%q) = %v", s, err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePath(%q).String() = %q", s, p.String())
		}
	})
}

// call is one journaled call of a generated program.
type call struct {
	path workflows.Path
	kind workflows.Kind
}

// genProgram draws the calls of one execution: names unique per scope, in
// a few scopes (the root, loop iterations, branches), in visit order.
func genProgram(t *rapid.T) []call {
	scopes := []workflows.Path{{}}
	for i := range rapid.IntRange(0, 3).Draw(t, "scopes") {
		s, _ := genPath(t, fmt.Sprintf("scope%d", i))
		scopes = append(scopes, s)
	}
	kinds := []workflows.Kind{workflows.KindStep, workflows.KindSleep, workflows.KindMessage, workflows.KindLoop,
		workflows.KindJoin, workflows.KindRace, workflows.KindChild}
	seen := map[workflows.Path]bool{}
	var calls []call
	for i := range rapid.IntRange(1, 24).Draw(t, "calls") {
		scope := rapid.SampledFrom(scopes).Draw(t, fmt.Sprintf("call%d-scope", i))
		p, err := scope.Child(genName().Draw(t, fmt.Sprintf("call%d-name", i)))
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		calls = append(calls, call{p, rapid.SampledFrom(kinds).Draw(t, fmt.Sprintf("call%d-kind", i))})
	}
	return calls
}

// record runs calls on an empty journal and returns the entries a first
// execution writes, checking that Ords count up per scope in visit order.
func record(t *rapid.T, calls []call) []workflows.Record {
	rp, err := workflows.NewReplay(nil)
	if err != nil {
		t.Fatal(err)
	}
	next := map[workflows.Path]int{}
	var recs []workflows.Record
	for _, c := range calls {
		v, err := rp.Visit(c.kind, c.path)
		if err != nil || v.Found || v.Replaying || v.Ord != next[c.path.Parent()] {
			t.Fatalf("first execution: Visit(%s %s) = %+v, %v", c.kind, c.path, v, err)
		}
		next[c.path.Parent()]++
		recs = append(recs, workflows.Record{Path: c.path, Entry: workflows.Entry{Kind: c.kind, Ord: v.Ord, Status: workflows.EntryCompleted}})
	}
	if err := rp.Complete(workflows.Path{}); err != nil {
		t.Fatal(err)
	}
	return recs
}

// replay visits calls against recs and returns the index of the first call
// that failed (len(calls) if none did, or if only Complete failed) and the
// error.
func replay(t *rapid.T, recs []workflows.Record, calls []call) (int, error) {
	rp, err := workflows.NewReplay(recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		var err error
		if c.kind == workflows.KindRemoved {
			_, err = rp.Removed(c.path, workflows.KindStep)
		} else {
			_, err = rp.Visit(c.kind, c.path)
		}
		if err != nil {
			return i, err
		}
	}
	return len(calls), rp.Complete(workflows.Path{})
}

func divergence(t *rapid.T, err error) *workflows.NondeterminismError {
	var nd *workflows.NondeterminismError
	if !errors.As(err, &nd) {
		t.Fatalf("err = %v, want a *NondeterminismError", err)
	}
	return nd
}

func TestPropertyReplay(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		calls := genProgram(t)
		recs := record(t, calls)
		ordOf := map[workflows.Path]int{}
		for _, r := range recs {
			ordOf[r.Path] = r.Entry.Ord
		}

		// Replaying the same calls against their own recording is clean.
		if i, err := replay(t, recs, calls); err != nil {
			t.Fatalf("same calls: call %d: %v", i, err)
		}

		// So is any reordering that keeps the names (keys are names, not
		// order): swapping two calls of a scope, branches interleaving
		// differently, anything.
		perm := rapid.Permutation(calls).Draw(t, "perm")
		if i, err := replay(t, recs, perm); err != nil {
			t.Fatalf("reordered calls: call %d: %v", i, err)
		}

		// A run that crashed after k calls resumes: the recorded calls
		// replay and the rest get the Ords a single execution gave them.
		k := rapid.IntRange(0, len(calls)).Draw(t, "crash after")
		rp, _ := workflows.NewReplay(recs[:k])
		for i, c := range calls {
			v, err := rp.Visit(c.kind, c.path)
			if err != nil || v.Found != (i < k) || v.Ord != ordOf[c.path] {
				t.Fatalf("resumed call %d (%s): %+v, %v", i, c.path, v, err)
			}
		}

		i := rapid.IntRange(0, len(calls)-1).Draw(t, "i")
		j := rapid.IntRange(0, len(calls)-1).Draw(t, "j")

		// Swapping the names of two calls of one scope, each keeping its
		// kind, is a reordering when the kinds agree and a kind mismatch,
		// naming both kinds, when they differ.
		if i != j && calls[i].path.Parent() == calls[j].path.Parent() {
			swapped := slices.Clone(calls)
			swapped[i].path, swapped[j].path = calls[j].path, calls[i].path
			at, err := replay(t, recs, swapped)
			if calls[i].kind == calls[j].kind {
				if err != nil {
					t.Fatalf("swapped names of one kind: %v", err)
				}
			} else {
				nd := divergence(t, err)
				first := min(i, j)
				if at != first || nd.Reason != workflows.KindMismatch || nd.Got != swapped[first].kind ||
					nd.Path != swapped[first].path.String() || nd.Want != calls[max(i, j)].kind {
					t.Fatalf("swapped names of two kinds: at %d, %+v", at, nd)
				}
			}
		}

		// Renaming a call fails at that call, naming the renamed entry.
		renamed := slices.Clone(calls)
		renamedPath, err := calls[i].path.Parent().Child(fmt.Sprintf("renamed\u00a0%d", i)) // genName has no U+00A0
		if err != nil {
			t.Fatal(err)
		}
		renamed[i].path = renamedPath
		at, err := replay(t, recs, renamed)
		if nd := divergence(t, err); at != i || nd.Reason != workflows.UnexpectedCall || nd.WantPath != calls[i].path.String() ||
			nd.Path != renamed[i].path.String() || nd.Ord != ordOf[calls[i].path] {
			t.Fatalf("renamed call %d: at %d, %+v", i, at, nd)
		}

		// Dropping a call is found when the run completes, unless Removed
		// declares it (here at the front, before any other call).
		dropped := slices.Delete(slices.Clone(calls), i, i+1)
		at, err = replay(t, recs, dropped)
		if nd := divergence(t, err); at != len(dropped) || nd.Reason != workflows.MissingCall || nd.WantPath != calls[i].path.String() {
			t.Fatalf("dropped call %d: at %d, %+v", i, at, nd)
		}
		if calls[i].kind == workflows.KindStep {
			declared := slices.Insert(slices.Clone(dropped), 0, call{calls[i].path, workflows.KindRemoved})
			if at, err := replay(t, recs, declared); err != nil {
				t.Fatalf("dropped and Removed: call %d: %v", at, err)
			}
		}

		// Calling a path twice fails at the second call.
		dupAt := rapid.IntRange(i+1, len(calls)).Draw(t, "dup at")
		duplicated := slices.Insert(slices.Clone(calls), dupAt, calls[i])
		at, err = replay(t, recs, duplicated)
		if nd := divergence(t, err); at != dupAt || nd.Reason != workflows.DuplicateCall {
			t.Fatalf("duplicated call %d at %d: failed at %d, %+v", i, dupAt, at, nd)
		}

		// A new call is fine once its scope has replayed every recorded
		// entry, and an unexpected call before that.
		insAt := rapid.IntRange(0, len(calls)).Draw(t, "insert at")
		scope := calls[i].path.Parent()
		fresh, err := scope.Child("fresh\u00a0call")
		if err != nil {
			t.Fatal(err)
		}
		inserted := slices.Insert(slices.Clone(calls), insAt, call{fresh, workflows.KindStep})
		pendingAfter := 0
		for _, c := range calls[insAt:] {
			if c.path.Parent() == scope {
				pendingAfter++
			}
		}
		at, err = replay(t, recs, inserted)
		if pendingAfter == 0 && err != nil {
			t.Fatalf("new call at %d, after its scope replayed: %v", insAt, err)
		}
		if pendingAfter > 0 {
			if nd := divergence(t, err); at != insAt || nd.Reason != workflows.UnexpectedCall {
				t.Fatalf("new call at %d with %d recorded calls after it: failed at %d, %+v", insAt, pendingAfter, at, nd)
			}
		}
	})
}
