package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
	"github.com/rivet-flow/rivet-flow/eventlog"
)

// Codes of the engine's lookups.
const (
	CodeWorkflowNotFound errcode.Code = "workflow_not_found"
	CodeRunNotFound      errcode.Code = "run_not_found"
	CodeInvalidRunID     errcode.Code = "invalid_run_id"
)

// Errors of the engine's lookups; compare with errors.Is.
var (
	ErrWorkflowNotFound = &Error{Code: CodeWorkflowNotFound, Message: "workflow not found"}
	ErrRunNotFound      = &Error{Code: CodeRunNotFound, Message: "workflow run not found"}
	ErrInvalidRunID     = &Error{Code: CodeInvalidRunID, Message: "invalid run ID: 1-128 of [A-Za-z0-9._-]"}
)

var runIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// ValidateRunID checks a run ID: 1 to 128 of [A-Za-z0-9._-].
func ValidateRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidRunID, id)
	}
	return nil
}

// Register adds the run actor types of defs to reg, each with the
// workflow's history check, so that an actors.Replayer of reg replays run
// histories by re-executing the workflow function over their journals.
// Call it before actors.NewRuntime; a name clashing with another actor
// type is the registry's "registered twice" error.
func Register(reg *actors.Registry, defs ...Definition) error {
	for _, d := range defs {
		if err := reg.Register(d.ActorType()); err != nil {
			return fmt.Errorf("workflow %s: %w", d.Name(), err)
		}
		if err := reg.SetHistoryCheck(d.Name(), historyCheck(d.core())); err != nil {
			return fmt.Errorf("workflow %s: %w", d.Name(), err)
		}
	}
	return nil
}

// EngineOptions configure an Engine. A nil *EngineOptions means defaults.
type EngineOptions struct {
	// Logger logs runner failures. Defaults to a discarding logger.
	Logger *slog.Logger
	// Log, when set and the engine has no runs projection
	// (UseRunsProjection), is the runtime's event log: Start lists the run
	// actors of every workflow from it (Log.Subjects) and resumes the
	// running ones. Without either, runs resume only when something wakes
	// their actor (a call, StartRun).
	Log *eventlog.Log
	// ResumeConcurrency bounds the runs Start resumes at once. Defaults to 16.
	ResumeConcurrency int
}

func (o *EngineOptions) withDefaults() EngineOptions {
	var r EngineOptions
	if o != nil {
		r = *o
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.ResumeConcurrency <= 0 {
		r.ResumeConcurrency = 16
	}
	return r
}

// Engine starts, reads and resumes the runs of a set of workflows on one
// runtime. Runners live in the run actors (KeepAwake), so they end with
// Runtime.Stop; Engine.Stop has nothing of its own to stop yet.
//
// Single node: every engine resumes every running run it finds, so run
// one engine per log until actor ownership lands (design §1.6).
type Engine struct {
	rt   *actors.Runtime
	defs map[string]*core
	opts EngineOptions

	// runs is the runs projection List reads (UseRunsProjection).
	runs atomic.Pointer[runsIndex]

	// busy counts the working runners (WaitIdle).
	busy busy

	mu sync.Mutex
	// finished holds, per run actor ID, the channels of Await calls to
	// close when the run finishes on this node.
	finished map[string][]chan Run
}

// NewEngine builds the engine of defs over rt, whose registry must hold
// their run actor types (Register). It binds each Definition to this
// engine: a Definition serves one engine at a time (the last built).
func NewEngine(rt *actors.Runtime, defs []Definition, opts *EngineOptions) (*Engine, error) {
	e := &Engine{rt: rt, defs: make(map[string]*core, len(defs)), opts: opts.withDefaults(), finished: map[string][]chan Run{}}
	for _, d := range defs {
		c := d.core()
		if _, dup := e.defs[c.name]; dup {
			return nil, fmt.Errorf("workflow %s: defined twice", c.name)
		}
		if _, ok := rt.Registry().Actions(c.name); !ok {
			return nil, fmt.Errorf("workflow %s: its run actor type is not registered (workflows.Register)", c.name)
		}
		e.defs[c.name] = c
	}
	for _, c := range e.defs {
		c.eng.Store(e)
	}
	return e, nil
}

// Start resumes the running runs and returns once each has a runner. It
// lists them from the runs projection (UseRunsProjection; the projections
// must be started), else from EngineOptions.Log's subjects. Call it after
// the runtime's Start.
func (e *Engine) Start(ctx context.Context) error {
	sem := make(chan struct{}, e.opts.ResumeConcurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	resume := func(name, runID string) {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := e.resume(ctx, name, runID); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	defer wg.Wait()
	for name := range e.defs {
		ok, err := e.forEachRunning(ctx, name, func(runID string) error {
			resume(name, runID)
			return nil
		})
		if err != nil {
			return err
		}
		if ok || e.opts.Log == nil {
			continue
		}
		filter, err := eventlog.TypeFilter(name)
		if err != nil {
			return err
		}
		subjects, err := e.opts.Log.Subjects(ctx, filter)
		if err != nil {
			return fmt.Errorf("workflow %s: list runs: %w", name, err)
		}
		for subject := range subjects {
			ref, err := eventlog.ParseSubject(subject)
			if err != nil || len(ref.Key) != 1 {
				continue
			}
			resume(name, ref.Key[0])
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Stop returns at once: runners end with Runtime.Stop.
func (e *Engine) Stop(context.Context) error { return nil }

// resume starts a runner for a run that is running and has none; a run
// that does not run (finished, or destroyed) is left alone without being
// woken.
func (e *Engine) resume(ctx context.Context, name, runID string) error {
	run, err := e.Get(ctx, name, runID)
	if errors.Is(err, ErrRunNotFound) || (err == nil && run.Status != StatusRunning) {
		return nil
	}
	if err != nil {
		return err
	}
	h, err := e.rt.Client().Get(ctx, name, []string{runID})
	if err != nil {
		return fmt.Errorf("resume run %s of %s: %w", runID, name, err)
	}
	c := e.defs[name]
	if err := actors.Do(ctx, h, wfEvent, nil, func(ac *actors.Context[RunState]) error {
		c.startIfIdle(ac)
		return nil
	}); err != nil {
		return fmt.Errorf("resume run %s of %s: %w", runID, name, err)
	}
	return nil
}

// Run is a run as Get reads it.
type Run struct {
	Workflow string `json:"workflow"`
	RunID    string `json:"runId"`
	// ActorID is the run actor's ID.
	ActorID string `json:"actorId"`
	Status  Status `json:"status"`
	// Current is the path of the last journaled call.
	Current string `json:"current,omitempty"`
	Steps   int    `json:"steps"`
	// Epoch counts the run's ContinueAsNew.
	Epoch int `json:"epoch"`
	// Waiting is what a sleeping or waiting run waits for.
	Waiting *Waiting `json:"waiting,omitempty"`
	// Inbox counts the signals and messages buffered, not yet taken.
	Inbox int `json:"inbox"`
	// CancelRequested: a cancel is being carried out (compensations).
	CancelRequested bool `json:"cancelRequested,omitempty"`
	// PausedFrom is the status a paused run will resume to.
	PausedFrom Status    `json:"pausedFrom,omitempty"`
	Error      *RunError `json:"error,omitempty"`
	// Result is the workflow's output, once completed.
	Result    json.RawMessage `json:"result,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
	UpdatedAt time.Time       `json:"updatedAt"`
	EndedAt   time.Time       `json:"endedAt,omitzero"`
}

// StartRun starts run runID of workflow name with input (JSON; nil is
// null), or finds it: idempotent on runID, created reports which. The run
// returned is as of the start; its runner goes on in the background. Input
// that does not decode into the workflow's input type is ErrInvalidInput,
// and nothing is started.
func (e *Engine) StartRun(ctx context.Context, name, runID string, input json.RawMessage) (Run, bool, error) {
	def, ok := e.defs[name]
	if !ok {
		return Run{}, false, fmt.Errorf("%w: %q", ErrWorkflowNotFound, name)
	}
	if err := ValidateRunID(runID); err != nil {
		return Run{}, false, err
	}
	if err := def.checkInput(input); err != nil {
		// Starting is idempotent on runID: a run that exists is returned as
		// it is, whatever the input (a retry after the input type changed, a
		// parent's Child replayed), so only a new run's input must decode.
		if run, gerr := e.Get(ctx, name, runID); gerr == nil {
			return run, false, nil
		}
		return Run{}, false, err
	}
	if input == nil {
		input = json.RawMessage("null")
	}
	_, created, err := e.rt.Client().GetOrCreate(ctx, name, []string{runID}, input)
	if err != nil {
		return Run{}, false, fmt.Errorf("start run %s of %s: %w", runID, name, err)
	}
	run, err := e.peek(ctx, name, runID)
	return run, created, err
}

// peek reads run runID from its actor's memory when it is awake (a Do
// that changes nothing: no log read, nothing appended), else from its log
// as Get does, without waking it.
func (e *Engine) peek(ctx context.Context, name, runID string) (Run, error) {
	id, err := actors.ActorID(name, []string{runID})
	if err != nil {
		return Run{}, err
	}
	if !e.rt.IsAwake(id) {
		return e.Get(ctx, name, runID)
	}
	h, err := e.rt.Client().Get(ctx, name, []string{runID})
	if err != nil {
		return Run{}, fmt.Errorf("read run %s of %s: %w", runID, name, err)
	}
	var run Run
	err = actors.Do(ctx, h, wfEvent, nil, func(ac *actors.Context[RunState]) error {
		out, _ := ac.KV().Get(outKey)
		run = runOf(id, ac.State, out)
		return nil
	})
	if errors.Is(err, actors.ErrNotFound) {
		return Run{}, fmt.Errorf("%w: %s of %s", ErrRunNotFound, runID, name)
	}
	if err != nil {
		return Run{}, fmt.Errorf("read run %s of %s: %w", runID, name, err)
	}
	return run, nil
}

// runOf is the Run of run actor id in state st, with output out (KV out).
func runOf(id string, st *RunState, out []byte) Run {
	run := Run{Workflow: st.Workflow, RunID: st.RunID, ActorID: id, Status: st.Status, Current: st.Current, Steps: st.Steps,
		Epoch: st.Epoch, Waiting: st.Waiting, Inbox: len(st.Inbox), CancelRequested: st.CancelRequested,
		PausedFrom: st.PausedFrom, Error: st.Error, CreatedAt: st.CreatedAt, UpdatedAt: st.UpdatedAt, EndedAt: st.EndedAt}
	if len(out) > 0 && st.Status == StatusCompleted {
		run.Result = append(json.RawMessage(nil), out...)
	}
	return run
}

// Get reads run runID of workflow name from its actor's log, without
// waking it.
func (e *Engine) Get(ctx context.Context, name, runID string) (Run, error) {
	if _, ok := e.defs[name]; !ok {
		return Run{}, fmt.Errorf("%w: %q", ErrWorkflowNotFound, name)
	}
	if err := ValidateRunID(runID); err != nil {
		return Run{}, err
	}
	id, err := actors.ActorID(name, []string{runID})
	if err != nil {
		return Run{}, err
	}
	im, err := e.rt.ImageAt(ctx, id, math.MaxUint64)
	if err != nil {
		return Run{}, fmt.Errorf("read run %s of %s: %w", runID, name, err)
	}
	if !im.Exists {
		return Run{}, fmt.Errorf("%w: %s of %s", ErrRunNotFound, runID, name)
	}
	var st RunState
	if err := json.Unmarshal(im.CurrentState(), &st); err != nil {
		return Run{}, fmt.Errorf("read run %s of %s: state does not decode: %w", runID, name, err)
	}
	out := im.KV[outKey]
	run := runOf(id, &st, out)
	return run, nil
}

// Start starts run runID of wf with input in (typed StartRun).
func Start[In, Out any](ctx context.Context, e *Engine, wf *Workflow[In, Out], runID string, in In) (Run, bool, error) {
	raw, err := json.Marshal(in)
	if err != nil {
		return Run{}, false, fmt.Errorf("start run %s of %s: input does not encode as JSON: %w", runID, wf.Name(), err)
	}
	return e.StartRun(ctx, wf.Name(), runID, raw)
}

// Result decodes a completed run's result as wf's output type.
func Result[In, Out any](wf *Workflow[In, Out], run Run) (Out, error) {
	var out Out
	if run.Status != StatusCompleted {
		return out, fmt.Errorf("workflow %s run %s is %s, not completed", wf.Name(), run.RunID, run.Status)
	}
	err := json.Unmarshal(run.Result, &out)
	return out, err
}

// Await waits until run runID of workflow name is finished (completed,
// failed or cancelled) and returns it; ctx bounds the wait. It is told by
// the runner that finishes the run on this node, so it costs no polling.
func (e *Engine) Await(ctx context.Context, name, runID string) (Run, error) {
	id, err := actors.ActorID(name, []string{runID})
	if err != nil {
		return Run{}, err
	}
	for {
		ch := make(chan Run, 1)
		e.mu.Lock()
		e.finished[id] = append(e.finished[id], ch)
		e.mu.Unlock()
		run, err := e.peek(ctx, name, runID)
		if err != nil || run.Status.Finished() {
			e.forget(id, ch)
			return run, err
		}
		select {
		case run := <-ch:
			if run.Status.Finished() {
				return run, nil
			}
		case <-ctx.Done():
			e.forget(id, ch)
			return run, ctx.Err()
		}
	}
}

// forget drops an Await channel that was not closed.
func (e *Engine) forget(id string, ch chan Run) {
	e.mu.Lock()
	defer e.mu.Unlock()
	chs := e.finished[id]
	for i, c := range chs {
		if c == ch {
			chs = append(chs[:i], chs[i+1:]...)
			break
		}
	}
	if len(chs) == 0 {
		delete(e.finished, id)
	} else {
		e.finished[id] = chs
	}
}

// notifyFinished hands run, as its finish committed it, to the Await calls
// of run actor id (a run that is not finished makes them read it again).
func (e *Engine) notifyFinished(id string, run Run) {
	e.mu.Lock()
	chs := e.finished[id]
	delete(e.finished, id)
	e.mu.Unlock()
	for _, ch := range chs {
		ch <- run // buffered, one send per channel
	}
}
