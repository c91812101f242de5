package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Codes the errors of this package carry (design §8). They are the codes a
// failed run reports (RunError.code) and that the HTTP layer will answer
// with; they join package errcode's catalogue when the engine lands
// (issue 18), and keep these spellings.
const (
	// CodeNondeterminism: the re-executing code diverged from the run's
	// journal (NondeterminismError says where and names both sides).
	CodeNondeterminism errcode.Code = "nondeterminism"
	// CodeEntryTooLarge: a journal entry (a step result, a message, loop
	// state) would exceed MaxEntryBytes; the step fails without retries.
	CodeEntryTooLarge errcode.Code = "entry_too_large"
	// CodeJournalTooLarge: the run's journal would exceed its share of the
	// run actor's MaxStateBytes (JournalLimit); use Loop or ContinueAsNew.
	CodeJournalTooLarge errcode.Code = "journal_too_large"
	// CodeStepFailed: the code a step failure is journaled with when the
	// step's error carries no code of its own (anything but an
	// actors.UserError).
	CodeStepFailed errcode.Code = "step_failed"
)

// Error is an error of this package with a stable code. errors.Is matches
// by code: errors.Is(err, ErrEntryTooLarge) holds for any error whose chain
// holds an *Error, a *SizeError or a *StepError with code entry_too_large.
type Error struct {
	Code    errcode.Code
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is matches by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

// Errors of the journal. Compare with errors.Is; the typed errors that carry
// the details (*NondeterminismError, *SizeError, *StepError) match them.
var (
	// ErrNondeterminism: the code diverged from the journal. The error in
	// the chain is a *NondeterminismError.
	ErrNondeterminism = &Error{Code: CodeNondeterminism, Message: "workflow code diverged from its journal"}
	// ErrEntryTooLarge: an entry exceeds MaxEntryBytes. The error in the
	// chain is a *SizeError (or, for a step result, a *StepError of kind
	// critical with this code).
	ErrEntryTooLarge = &Error{Code: CodeEntryTooLarge, Message: "journal entry too large"}
	// ErrJournalTooLarge: the journal exceeds JournalLimit. The error in the
	// chain is a *SizeError.
	ErrJournalTooLarge = &Error{Code: CodeJournalTooLarge, Message: "workflow journal too large; use Loop or ContinueAsNew"}
)

// Invalid arguments: programming errors in the workflow code (a name with a
// '/') or a damaged journal (a key that does not parse). They fail the run.
var (
	// ErrInvalidName: a name breaks ValidateName's rules.
	ErrInvalidName = errors.New("workflows: invalid name")
	// ErrInvalidPath: a path or journal key does not parse, or an entry
	// does not decode.
	ErrInvalidPath = errors.New("workflows: invalid journal path")
)

// ErrorCode returns the code of the first error in err's chain that has one
// (an *Error, *NondeterminismError, *SizeError or *StepError), and false if
// none has.
func ErrorCode(err error) (errcode.Code, bool) {
	var c interface{ ErrorCode() errcode.Code }
	if errors.As(err, &c) {
		return c.ErrorCode(), true
	}
	return "", false
}

// Divergence says which rule a NondeterminismError broke (design §2).
type Divergence string

// The rules of the nondeterminism check, in the design's order.
const (
	// KindMismatch (rule 1): the code calls a name that the journal records
	// with another kind (a Step where a Sleep was).
	KindMismatch Divergence = "kind_mismatch"
	// UnexpectedCall (rule 2, the replay frontier): the code calls a name the
	// journal does not record while the scope still has recorded entries
	// this execution has not visited.
	UnexpectedCall Divergence = "unexpected_call"
	// DuplicateCall (rule 3): the code calls the same path twice in one
	// execution.
	DuplicateCall Divergence = "duplicate_call"
	// MissingCall (rule 4): the code completed a scope without visiting an
	// entry the journal records there (and did not declare it Removed).
	MissingCall Divergence = "missing_call"
)

// NondeterminismError is a divergence between the re-executing code and the
// run's journal. It names both sides: what the code called (Got at Path)
// and what the journal records (Want at WantPath, entry Ord of its scope).
// errors.Is(err, ErrNondeterminism) holds.
type NondeterminismError struct {
	Reason Divergence
	// Scope is the scope both sides are in ("/" for the run's top level).
	Scope string
	// Path and Got are the code's call: its path and kind. For MissingCall,
	// Path is the recorded entry's and Got is empty (the code made no call).
	Path string
	Got  Kind
	// Removed is set when the code's call was Removed(name, Got).
	Removed bool
	// WantPath and Want are the journal's entry: its path and kind. For
	// KindMismatch, DuplicateCall and MissingCall WantPath equals Path; for
	// UnexpectedCall it is the scope's first recorded entry (lowest Ord) not
	// yet visited. For DuplicateCall, Want is the kind of the first call.
	WantPath string
	Want     Kind
	// Ord is the Ord of the journal's entry, or -1 when it is not recorded
	// (a duplicate of a call new in this execution).
	Ord int
	// RunID, Workflow and Seq (the stream sequence of the event that wrote
	// the journal's entry) are filled by the engine, which knows them; zero
	// values are left out of the message.
	RunID    string
	Workflow string
	Seq      uint64
}

// Error names both sides, as in: run r1 (agent): the code calls step
// "fetch2" in scope "/" where the journal records step "fetch" (entry 3,
// event seq 1842).
func (e *NondeterminismError) Error() string {
	var b strings.Builder
	if e.RunID != "" {
		b.WriteString("run " + e.RunID)
		if e.Workflow != "" {
			b.WriteString(" (" + e.Workflow + ")")
		}
		b.WriteString(": ")
	}
	got := fmt.Sprintf("%s %q", e.Got, lastSegment(e.Path))
	if e.Removed {
		got = fmt.Sprintf("Removed(%q, %s)", lastSegment(e.Path), e.Got)
	}
	want := fmt.Sprintf("%s %q", e.Want, lastSegment(e.WantPath))
	switch e.Reason {
	case DuplicateCall:
		fmt.Fprintf(&b, "the code calls %s twice in scope %q (first as %s)", got, e.Scope, e.Want)
	case MissingCall:
		fmt.Fprintf(&b, "the code completed scope %q without calling %s that the journal records", e.Scope, want)
	default:
		fmt.Fprintf(&b, "the code calls %s in scope %q where the journal records %s", got, e.Scope, want)
	}
	var at []string
	if e.Ord >= 0 {
		at = append(at, "entry "+strconv.Itoa(e.Ord))
	}
	if e.Seq > 0 {
		at = append(at, "event seq "+strconv.FormatUint(e.Seq, 10))
	}
	if len(at) > 0 {
		b.WriteString(" (" + strings.Join(at, ", ") + ")")
	}
	switch e.Reason {
	case UnexpectedCall:
		b.WriteString("; guard new or renamed calls with GetVersion")
	case MissingCall:
		b.WriteString("; declare a removed call with Removed")
	}
	return b.String()
}

// Unwrap returns ErrNondeterminism.
func (e *NondeterminismError) Unwrap() error { return ErrNondeterminism }

// ErrorCode returns CodeNondeterminism.
func (e *NondeterminismError) ErrorCode() errcode.Code { return CodeNondeterminism }

// SizeError is a limit that a journal entry or the journal would exceed.
// errors.Is(err, ErrEntryTooLarge) or errors.Is(err, ErrJournalTooLarge)
// holds, after Err.
type SizeError struct {
	// Err is ErrEntryTooLarge or ErrJournalTooLarge.
	Err *Error
	// Path is the entry's path (empty for the journal).
	Path string
	// Size and Limit are in bytes.
	Size, Limit int
}

// Error says what is too large, by how much.
func (e *SizeError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s: entry %q is %d bytes, over the limit of %d", e.Err.Message, e.Path, e.Size, e.Limit)
	}
	return fmt.Sprintf("%s: %d bytes, over the limit of %d", e.Err.Message, e.Size, e.Limit)
}

// Unwrap returns Err.
func (e *SizeError) Unwrap() error { return e.Err }

// ErrorCode returns Err's code.
func (e *SizeError) ErrorCode() errcode.Code { return e.Err.Code }

// FailureKind says how a step failed (RivetKit's TryStepFailure kind).
type FailureKind string

// Step failure kinds.
const (
	// FailureCritical: a non-retryable error (NonRetryable, or a result over
	// MaxEntryBytes); one attempt.
	FailureCritical FailureKind = "critical"
	// FailureExhausted: every attempt failed with a retryable error.
	FailureExhausted FailureKind = "exhausted"
	// FailureTimeout: an attempt ran past its timeout (not retried unless
	// StepOptions.RetryOnTimeout).
	FailureTimeout FailureKind = "timeout"
	// FailureCancelled: the run was cancelled while the step was pending.
	FailureCancelled FailureKind = "cancelled"
)

// Valid reports whether k is one of the four kinds.
func (k FailureKind) Valid() bool {
	switch k {
	case FailureCritical, FailureExhausted, FailureTimeout, FailureCancelled:
		return true
	}
	return false
}

// StepError is a step's final failure, as journaled: the step fails the run
// with it (Step) or returns it (TryStep). A replay of the failed entry
// returns an equal *StepError. It carries the failure's code and message,
// never the Go error itself, so that what the workflow code sees is the
// same on the first execution and on every replay.
//
// errors.Is matches a *StepError target field by field, with zero fields
// matching anything: errors.Is(err, &StepError{Kind: FailureTimeout}) holds
// for every timed-out step. It also matches an *Error by code, so a step
// whose result was too large satisfies errors.Is(err, ErrEntryTooLarge).
type StepError struct {
	Kind FailureKind
	// Step is the step's path ("plan", "tools/search-3/call").
	Step string
	// Attempts is how many attempts ran (1-based; 0 for a step cancelled
	// before its first).
	Attempts int
	// Code is the failure's code: an actors.UserError's own, or
	// CodeStepFailed, CodeEntryTooLarge, ...
	Code string
	// Message is the error's text (at most MaxErrorMessageBytes).
	Message string
}

// Error names the step, how it failed and the last error.
func (e *StepError) Error() string {
	var how string
	switch e.Kind {
	case FailureCritical:
		how = "failed with a non-retryable error"
	case FailureExhausted:
		how = "failed, retries exhausted,"
	case FailureTimeout:
		how = "timed out"
	case FailureCancelled:
		how = "was cancelled"
	default:
		how = "failed (" + string(e.Kind) + ")"
	}
	s := fmt.Sprintf("step %q %s after %d attempt", e.Step, how, e.Attempts)
	if e.Attempts != 1 {
		s += "s"
	}
	if e.Code != "" || e.Message != "" {
		s += ": " + e.Code
		if e.Message != "" {
			s += ": " + e.Message
		}
	}
	return s
}

// Is matches a *StepError target field by field (zero fields match
// anything) and an *Error target by code.
func (e *StepError) Is(target error) bool {
	switch t := target.(type) {
	case *StepError:
		return (t.Kind == "" || t.Kind == e.Kind) && (t.Step == "" || t.Step == e.Step) &&
			(t.Code == "" || t.Code == e.Code) && (t.Attempts == 0 || t.Attempts == e.Attempts) &&
			(t.Message == "" || t.Message == e.Message)
	case *Error:
		return e.Code != "" && string(t.Code) == e.Code
	}
	return false
}

// ErrorCode returns Code, or CodeStepFailed when Code is empty.
func (e *StepError) ErrorCode() errcode.Code {
	if e.Code == "" {
		return CodeStepFailed
	}
	return errcode.Code(e.Code)
}

// EntryError returns the journal's form of e (an Entry's Error).
func (e *StepError) EntryError() *EntryError {
	return &EntryError{Kind: e.Kind, Code: e.Code, Message: e.Message}
}

// StepError returns the *StepError a step entry with this error replays as.
func (e *EntryError) StepError(step string, attempts int) *StepError {
	return &StepError{Kind: e.Kind, Step: step, Attempts: attempts, Code: e.Code, Message: e.Message}
}

// MaxErrorMessageBytes bounds the message of a journaled error; longer
// messages are cut (TruncateMessage).
const MaxErrorMessageBytes = 4 << 10

// TruncateMessage cuts msg to at most MaxErrorMessageBytes, on a UTF-8
// boundary, marking the cut with "...".
func TruncateMessage(msg string) string {
	if len(msg) <= MaxErrorMessageBytes {
		return msg
	}
	const mark = "..."
	cut := MaxErrorMessageBytes - len(mark)
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + mark
}
