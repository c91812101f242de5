package workflows

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/internal/jsonterms"
)

// Options configure a workflow's run actor type (design §8). Fields left
// zero take their defaults.
type Options struct {
	// CodeVersion is the run actor type's code version. Defaults to "1".
	CodeVersion string
	// MaxStateBytes bounds a run actor's state plus KV (the journal, input
	// and result). Defaults to 4 MiB.
	MaxStateBytes int
	// MaxBranches is the default concurrency bound of a Join's branches
	// (JoinOptions.Concurrency). Defaults to 8; at most 64.
	MaxBranches int
	// ParkAfter is the parking threshold (design §1.3): a sleep or wait
	// that ends sooner waits in memory (its alarm armed as a fallback); a
	// longer one, or a wait without a timeout after this long, parks the
	// run and lets its actor sleep. Defaults to 5s.
	ParkAfter time.Duration
	// MaxInbox bounds the signals buffered in a run's inbox; a signal
	// beyond it is refused with inbox_full. Defaults to 1000.
	MaxInbox int
	// CompensateOnFailure runs the compensations of completed steps
	// (StepOptions.Compensate) when the run fails, as on cancel. Defaults
	// to true.
	CompensateOnFailure *bool
	// Actions are extra actions on the run actor, beside the engine's
	// (RivetKit's actions beside run): from one, QueueOf(c).Send enqueues
	// into the run's own queues. A name the engine uses is refused at
	// Define.
	Actions map[string]actors.ActionFunc[RunState]
}

func (o Options) withDefaults() Options {
	if o.CodeVersion == "" {
		o.CodeVersion = "1"
	}
	if o.MaxStateBytes <= 0 {
		o.MaxStateBytes = 4 << 20
	}
	if o.ParkAfter <= 0 {
		o.ParkAfter = 5 * time.Second
	}
	if o.MaxInbox <= 0 {
		o.MaxInbox = 1000
	}
	if o.MaxBranches <= 0 {
		o.MaxBranches = 8
	}
	o.MaxBranches = min(o.MaxBranches, maxBranches)
	if o.CompensateOnFailure == nil {
		yes := true
		o.CompensateOnFailure = &yes
	}
	return o
}

// ErrInvalidInput: a run's input does not decode into its workflow's input
// type (StartRun refuses it; nothing is started). Compare with errors.Is.
var ErrInvalidInput = &Error{Code: CodeInvalidInput, Message: "invalid run input"}

// inputError is an input StartRun refuses: ErrInvalidInput, with a message
// saying what the input should have been.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func (e *inputError) Unwrap() error { return ErrInvalidInput }

// Definition is a workflow as the engine and the registry see it, whatever
// its input and output types. Only Define builds one.
type Definition interface {
	// Name is the workflow's name, which is also its run actor type's name.
	Name() string
	// ActorType is the run actor type (state RunState, key [runId]).
	ActorType() actors.Definition
	core() *core
}

// Workflow is a workflow defined by Define: a Go function run durably, one
// actor of type Name per run.
type Workflow[In, Out any] struct{ c *core }

// Name returns the workflow's name.
func (wf *Workflow[In, Out]) Name() string { return wf.c.name }

// ActorType returns the run actor type.
func (wf *Workflow[In, Out]) ActorType() actors.Definition { return wf.c.typ }

func (wf *Workflow[In, Out]) core() *core { return wf.c }

// core is the untyped part of a workflow: its name, options, run actor type
// and its function over JSON.
type core struct {
	name string
	opts Options
	typ  *actors.Type[RunState]
	fn   func(w *W, in json.RawMessage) (json.RawMessage, error)
	// checkInput reports input (JSON) that does not decode into the
	// workflow's input type, in the caller's terms: StartRun refuses it
	// before anything is appended.
	checkInput func(input json.RawMessage) error
	// eng is the engine runs of this workflow report to (NewEngine binds
	// it): runners need a Runtime's client, which the actor type predates.
	eng atomic.Pointer[Engine]
}

// Define defines a workflow named name (the run actor type's name: 1-64 of
// [A-Za-z0-9_-], starting with a letter) running fn. fn re-executes from the
// top whenever its run starts or resumes, so code outside journaled calls
// (Step) must be deterministic. Register the result with Register and pass
// it to NewEngine. An invalid name fails at Register (actors.NewType's
// rules); at most one Engine runs a Definition at a time.
func Define[In, Out any](name string, fn func(w *W, in In) (Out, error), opts ...Options) *Workflow[In, Out] {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	c := &core{name: name, opts: o.withDefaults()}
	c.checkInput = func(raw json.RawMessage) error {
		if len(raw) == 0 || string(raw) == "null" {
			return nil
		}
		var in In
		if err := json.Unmarshal(raw, &in); err != nil {
			return &inputError{msg: "input: " + jsonterms.Describe(err)}
		}
		return nil
	}
	c.fn = func(w *W, raw json.RawMessage) (json.RawMessage, error) {
		var in In
		if len(raw) > 0 && string(raw) != "null" {
			if err := json.Unmarshal(raw, &in); err != nil {
				return nil, &Error{Code: CodeInvalidInput, Message: fmt.Sprintf("workflow %s: input does not decode: %v", name, err)}
			}
		}
		out, err := fn(w, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, &Error{Code: CodeWorkflowFailed, Message: fmt.Sprintf("workflow %s: result does not encode as JSON: %v", name, err)}
		}
		return b, nil
	}
	c.typ = newRunType(c)
	return &Workflow[In, Out]{c: c}
}
