package workflows_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/workflows"
)

func TestErrorCodes(t *testing.T) {
	t.Parallel()
	nd := &workflows.NondeterminismError{Reason: workflows.KindMismatch, Scope: "/", Path: "a", Got: kStep, WantPath: "a", Want: kSleep}
	entry := &workflows.SizeError{Err: workflows.ErrEntryTooLarge, Path: "a", Size: 2, Limit: 1}
	journal := &workflows.SizeError{Err: workflows.ErrJournalTooLarge, Size: 2, Limit: 1}
	for _, tc := range []struct {
		name string
		err  error
		code errcode.Code
		is   []error // sentinels it matches
	}{
		{"sentinel nondeterminism", workflows.ErrNondeterminism, "nondeterminism", []error{workflows.ErrNondeterminism}},
		{"sentinel entry", workflows.ErrEntryTooLarge, "entry_too_large", []error{workflows.ErrEntryTooLarge}},
		{"sentinel journal", workflows.ErrJournalTooLarge, "journal_too_large", []error{workflows.ErrJournalTooLarge}},
		{"nondeterminism", nd, workflows.CodeNondeterminism, []error{workflows.ErrNondeterminism}},
		{"wrapped nondeterminism", fmt.Errorf("runner: %w", nd), workflows.CodeNondeterminism, []error{workflows.ErrNondeterminism}},
		{"entry size", entry, workflows.CodeEntryTooLarge, []error{workflows.ErrEntryTooLarge}},
		{"journal size", fmt.Errorf("commit: %w", journal), workflows.CodeJournalTooLarge, []error{workflows.ErrJournalTooLarge}},
		{"step without code", &workflows.StepError{Kind: workflows.FailureExhausted, Step: "a"}, workflows.CodeStepFailed, nil},
		{"step with a user code", &workflows.StepError{Kind: workflows.FailureCritical, Step: "a", Code: "quota"}, "quota", nil},
		{"step result too large", &workflows.StepError{Kind: workflows.FailureCritical, Step: "a", Code: string(workflows.CodeEntryTooLarge)},
			workflows.CodeEntryTooLarge, []error{workflows.ErrEntryTooLarge}},
		{"copy of a sentinel", &workflows.Error{Code: workflows.CodeJournalTooLarge, Message: "other text"},
			workflows.CodeJournalTooLarge, []error{workflows.ErrJournalTooLarge}},
	} {
		code, ok := workflows.ErrorCode(tc.err)
		if !ok || code != tc.code {
			t.Errorf("%s: ErrorCode = %q, %v; want %q", tc.name, code, ok, tc.code)
		}
		for _, s := range []error{workflows.ErrNondeterminism, workflows.ErrEntryTooLarge, workflows.ErrJournalTooLarge} {
			want := false
			for _, w := range tc.is {
				want = want || w == s
			}
			if got := errors.Is(tc.err, s); got != want {
				t.Errorf("%s: errors.Is(%v) = %v, want %v", tc.name, s, got, want)
			}
		}
	}
	if _, ok := workflows.ErrorCode(errors.New("plain")); ok {
		t.Error("a plain error has a code")
	}
	if _, ok := workflows.ErrorCode(nil); ok {
		t.Error("nil has a code")
	}
	var got *workflows.NondeterminismError
	if !errors.As(fmt.Errorf("x: %w", nd), &got) || got != nd {
		t.Error("errors.As did not find the *NondeterminismError")
	}
	var se *workflows.SizeError
	if !errors.As(fmt.Errorf("x: %w", entry), &se) || se != entry {
		t.Error("errors.As did not find the *SizeError")
	}
}

func TestNondeterminismMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  workflows.NondeterminismError
		want string
	}{
		{workflows.NondeterminismError{Reason: workflows.UnexpectedCall, Scope: "/", Path: "fetch2", Got: kStep,
			WantPath: "fetch", Want: kStep, Ord: 3, RunID: "r1", Workflow: "agent", Seq: 1842},
			`run r1 (agent): the code calls step "fetch2" in scope "/" where the journal records step "fetch" (entry 3, event seq 1842); guard new or renamed calls with GetVersion`},
		{workflows.NondeterminismError{Reason: workflows.KindMismatch, Scope: "main#41", Path: "main#41/fetch", Got: kStep,
			WantPath: "main#41/fetch", Want: kSleep, Ord: 0},
			`the code calls step "fetch" in scope "main#41" where the journal records sleep "fetch" (entry 0)`},
		{workflows.NondeterminismError{Reason: workflows.KindMismatch, Scope: "/", Path: "b", Got: kStep, Removed: true,
			WantPath: "b", Want: kSleep, Ord: 1, RunID: "r2"},
			`run r2: the code calls Removed("b", step) in scope "/" where the journal records sleep "b" (entry 1)`},
		{workflows.NondeterminismError{Reason: workflows.DuplicateCall, Scope: "/", Path: "a", Got: kSleep, WantPath: "a", Want: kStep, Ord: -1},
			`the code calls sleep "a" twice in scope "/" (first as step)`},
		{workflows.NondeterminismError{Reason: workflows.MissingCall, Scope: "tools/x", Path: "tools/x/call",
			WantPath: "tools/x/call", Want: kStep, Ord: 2, Seq: 7},
			`the code completed scope "tools/x" without calling step "call" that the journal records (entry 2, event seq 7); declare a removed call with Removed`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestSizeErrorMessage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  workflows.SizeError
		want string
	}{
		{workflows.SizeError{Err: workflows.ErrEntryTooLarge, Path: "plan", Size: 300000, Limit: workflows.MaxEntryBytes},
			`journal entry too large: entry "plan" is 300000 bytes, over the limit of 262144`},
		{workflows.SizeError{Err: workflows.ErrJournalTooLarge, Size: 10, Limit: 9},
			`workflow journal too large; use Loop or ContinueAsNew: 10 bytes, over the limit of 9`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestStepError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  workflows.StepError
		want string
	}{
		{workflows.StepError{Kind: workflows.FailureExhausted, Step: "plan", Attempts: 4, Code: "step_failed", Message: "boom"},
			`step "plan" failed, retries exhausted, after 4 attempts: step_failed: boom`},
		{workflows.StepError{Kind: workflows.FailureCritical, Step: "tools/a/call", Attempts: 1, Code: "quota"},
			`step "tools/a/call" failed with a non-retryable error after 1 attempt: quota`},
		{workflows.StepError{Kind: workflows.FailureTimeout, Step: "llm", Attempts: 1, Code: "step_failed", Message: "context deadline exceeded"},
			`step "llm" timed out after 1 attempt: step_failed: context deadline exceeded`},
		{workflows.StepError{Kind: workflows.FailureCancelled, Step: "x", Attempts: 0},
			`step "x" was cancelled after 0 attempts`},
		{workflows.StepError{Kind: "odd", Step: "x", Attempts: 2},
			`step "x" failed (odd) after 2 attempts`},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("\n got %s\nwant %s", got, tc.want)
		}
	}

	se := &workflows.StepError{Kind: workflows.FailureTimeout, Step: "llm", Attempts: 2, Code: "step_failed", Message: "slow"}
	wrapped := fmt.Errorf("run: %w", se)
	for _, tc := range []struct {
		target error
		want   bool
	}{
		{&workflows.StepError{}, true},
		{&workflows.StepError{Kind: workflows.FailureTimeout}, true},
		{&workflows.StepError{Kind: workflows.FailureTimeout, Step: "llm"}, true},
		{&workflows.StepError{Step: "llm", Attempts: 2, Code: "step_failed", Message: "slow"}, true},
		{&workflows.StepError{Kind: workflows.FailureExhausted}, false},
		{&workflows.StepError{Step: "other"}, false},
		{&workflows.StepError{Code: "quota"}, false},
		{&workflows.StepError{Attempts: 3}, false},
		{&workflows.StepError{Message: "fast"}, false},
		{workflows.ErrNondeterminism, false},
		{workflows.ErrEntryTooLarge, false},
		{errors.New("slow"), false},
	} {
		if got := errors.Is(wrapped, tc.target); got != tc.want {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", se, tc.target, got, tc.want)
		}
	}
	var as *workflows.StepError
	if !errors.As(wrapped, &as) || as != se {
		t.Error("errors.As did not find the *StepError")
	}

	// The journal's form round-trips through JSON to an equal *StepError.
	b, err := json.Marshal(se.EntryError())
	if err != nil || string(b) != `{"kind":"timeout","code":"step_failed","message":"slow"}` {
		t.Fatalf("EntryError JSON = %s, %v", b, err)
	}
	var ee workflows.EntryError
	if err := json.Unmarshal(b, &ee); err != nil {
		t.Fatal(err)
	}
	if back := ee.StepError("llm", 2); *back != *se {
		t.Errorf("replayed %+v, want %+v", back, se)
	}

	for _, k := range []workflows.FailureKind{workflows.FailureCritical, workflows.FailureExhausted, workflows.FailureTimeout, workflows.FailureCancelled} {
		if !k.Valid() {
			t.Errorf("%q not Valid", k)
		}
	}
	if workflows.FailureKind("rollback").Valid() || workflows.FailureKind("").Valid() {
		t.Error("an unknown failure kind is Valid")
	}
}

func TestTruncateMessage(t *testing.T) {
	t.Parallel()
	limit := workflows.MaxErrorMessageBytes
	for _, tc := range []struct {
		name string
		in   string
		same bool
	}{
		{"short", "boom", true},
		{"at the limit", strings.Repeat("x", limit), true},
		{"over", strings.Repeat("x", limit+1), false},
		{"multi-byte at the cut", strings.Repeat("é", limit), false},
		{"4-byte runes", strings.Repeat("🚀", limit), false},
	} {
		got := workflows.TruncateMessage(tc.in)
		if tc.same {
			if got != tc.in {
				t.Errorf("%s: changed", tc.name)
			}
			continue
		}
		if len(got) > limit || !utf8.ValidString(got) || !strings.HasSuffix(got, "...") ||
			!strings.HasPrefix(tc.in, strings.TrimSuffix(got, "...")) || len(got) < limit-4 {
			t.Errorf("%s: %d bytes, valid %v, ends %q", tc.name, len(got), utf8.ValidString(got), got[max(0, len(got)-8):])
		}
	}
}
