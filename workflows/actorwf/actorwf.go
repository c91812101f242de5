package actorwf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// ns is the reserved KV namespace of the journal and the run's record.
const ns = "wf"

// Keys in the namespace: the journal (workflows.EntryKey of epoch 0, so
// workflows.DecodeRecord reads it) and the run's outcome.
const (
	journalPrefix = "j/0/"
	outcomeKey    = "outcome"
)

// GuardKVKey is the key of the actor's own KV that W.State sets to "true"
// when workflow code reaches for the state outside a step: RivetKit's
// WORKFLOW_GUARD_KV_KEY, so tools that look for the misuse find it.
const GuardKVKey = "__rivet_actor_workflow_guard_triggered"

// ErrStateOutsideStep is W.State's error: a workflow reads and changes the
// actor's state only inside steps, whose changes are journaled.
var ErrStateOutsideStep = errors.New("state is only available inside workflow steps")

// Options configure a workflow.
type Options[S any] struct {
	// OnError is told of every failed step attempt, in the mailbox turn
	// that records it (so exactly once per attempt): it may change the
	// state, broadcast and send to the actor's queues like an action.
	OnError func(c *actors.Context[S], ev ErrorEvent)
}

// ErrorEvent is what OnError is told (RivetKit WorkflowErrorEvent).
type ErrorEvent struct {
	Step *StepErrorEvent `json:"step,omitempty"`
}

// StepErrorEvent is a failed step attempt.
type StepErrorEvent struct {
	StepName string `json:"stepName"`
	// Attempt counts from 1.
	Attempt   int  `json:"attempt"`
	WillRetry bool `json:"willRetry"`
	// RetryDelay is the wait before the next attempt, in milliseconds.
	RetryDelay int64     `json:"retryDelay,omitempty"`
	Error      ErrorInfo `json:"error"`
}

// ErrorInfo names an error as JavaScript does: a class name and a message.
type ErrorInfo struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// outcome is the run's record once the workflow function has returned.
type outcome struct {
	Status string    `json:"status"` // completed or failed
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
}

// With returns o with fn as its Run handler: a durable workflow. Options
// (at most one) configure it.
func With[S any](o actors.Options[S], fn func(w *W[S]) error, opts ...Options[S]) actors.Options[S] {
	d := &definition[S]{fn: fn}
	if len(opts) > 0 {
		d.opts = opts[0]
	}
	o.Run = d.run
	o.RunInspector = inspector{}
	return o
}

type definition[S any] struct {
	fn   func(w *W[S]) error
	opts Options[S]
}

// W is a workflow's context: its journaled calls take it as their first
// argument. A W is valid for one execution of the workflow function; the
// W of a loop iteration or a branch is scoped to it.
type W[S any] struct {
	x     *execution[S]
	ctx   context.Context
	scope workflows.Path
	// blocked, set on a branch's W, tells its Join or Race that the
	// branch has queued its first turn or waits (the next branch may
	// start: branches reach the mailbox in their order).
	blocked func()
}

// do runs fn in the mailbox for w (see execution.do).
func (w *W[S]) do(fn func(c *actors.Context[S]) error) error { return w.x.submit(fn, w.blocked) }

// block tells w's Join or Race that w waits.
func (w *W[S]) block() {
	if w.blocked != nil {
		w.blocked()
	}
}

// execution is one run of the workflow function, shared by its Ws.
type execution[S any] struct {
	d      *definition[S]
	rc     *actors.RunContext[S]
	replay *workflows.Replay

	mu sync.Mutex
	// fatal ends the execution: a failure of the workflow, or errStop.
	fatal error
	// pending are the completable messages taken and not completed.
	pending map[uint64]string
	// guard is set by W.State outside a step.
	guard bool
}

// errStop ends an execution without recording an outcome: the actor is
// going to sleep or away, and the next wake runs the workflow again.
var errStop = errors.New("actorwf: the execution stopped")

// errRestart ends an execution that must run again from a fresh read of
// the journal (an append whose outcome is unknown).
var errRestart = errors.New("actorwf: the execution restarts")

// Context returns the execution's context: it ends when the actor sleeps
// or is destroyed (the workflow resumes at the next wake), and, in a
// race's branch, when another branch has won.
func (w *W[S]) Context() context.Context { return w.ctx }

// ActorID returns the actor's ID.
func (w *W[S]) ActorID() string { return w.x.rc.ActorID() }

// Key returns the actor's key.
func (w *W[S]) Key() []string { return w.x.rc.Key() }

// State fails with ErrStateOutsideStep: a workflow reads and changes the
// actor's state in steps (Step's function gets the actor's Context), whose
// changes are journaled. The misuse is recorded in the actor's KV under
// GuardKVKey, as RivetKit does.
func (w *W[S]) State() (*S, error) {
	w.x.mu.Lock()
	w.x.guard = true
	w.x.mu.Unlock()
	return nil, ErrStateOutsideStep
}

// run is the Run handler: executions of the workflow function until it has
// returned (recorded) or the actor stops.
func (d *definition[S]) run(rc *actors.RunContext[S]) error {
	for {
		err := d.execute(rc)
		if !errors.Is(err, errRestart) {
			return nil
		}
		select {
		case <-rc.Context().Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// execute loads the journal, runs the workflow function over it and
// records its outcome.
func (d *definition[S]) execute(rc *actors.RunContext[S]) error {
	var finished bool
	var records []workflows.Record
	var loadErr error
	err := rc.Do(func(c *actors.Context[S]) error {
		kv := c.ReservedKV(ns)
		if _, ok := kv.Get(outcomeKey); ok {
			finished = true
			return nil
		}
		for _, e := range kv.List(journalPrefix) {
			rec, err := workflows.DecodeRecord(0, e.Key, e.Value)
			if err != nil {
				loadErr = err
				return nil
			}
			records = append(records, rec)
		}
		return nil
	})
	x := &execution[S]{d: d, rc: rc}
	if err != nil {
		if errors.Is(x.classify(err), errRestart) {
			return errRestart // a transient failure of the load: read again
		}
		return nil
	}
	if finished {
		return nil
	}
	if loadErr == nil {
		x.replay, loadErr = workflows.NewReplay(records)
	}
	if loadErr != nil {
		return x.finish(fmt.Errorf("the workflow's journal is damaged: %w", loadErr))
	}
	w := &W[S]{x: x, ctx: rc.Context()}
	err = call(func() error { return d.fn(w) })
	if f := x.failed(); f != nil {
		err = f
	}
	switch {
	case errors.Is(err, errRestart):
		return errRestart
	case rc.Context().Err() != nil || errors.Is(err, errStop):
		return nil
	case err == nil:
		err = x.nondeterminism(x.replay.Complete(workflows.Path{}))
	}
	return x.finish(err)
}

// finish records the workflow's outcome: the actor then sleeps when idle
// and later wakes do not run the workflow again.
func (x *execution[S]) finish(runErr error) error {
	o := outcome{Status: "completed"}
	if runErr != nil {
		o = outcome{Status: "failed", Error: runErr.Error()}
		x.rc.Log().Warn("workflow failed; the actor sleeps until woken", "err", runErr)
	}
	err := x.do(func(c *actors.Context[S]) error {
		o.At = c.Now()
		b, _ := json.Marshal(o)
		c.ReservedKV(ns).Put(outcomeKey, b)
		return nil
	})
	if errors.Is(err, errRestart) {
		return errRestart
	}
	return nil
}

// fail records the error that ends the execution (the first wins) and
// returns it.
func (x *execution[S]) fail(err error) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.fatal == nil {
		x.fatal = err
	}
	return x.fatal
}

func (x *execution[S]) failed() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.fatal
}

// nondeterminism names the actor in a *workflows.NondeterminismError.
func (x *execution[S]) nondeterminism(err error) error {
	if nd, ok := err.(*workflows.NondeterminismError); ok {
		nd.RunID = x.rc.ActorID()
	}
	return err
}

// do runs fn in the actor's mailbox (fn records its own errors: what it
// returns is the runtime's). The guard flag rides along. An error means
// the execution cannot go on: errStop when the actor is stopping,
// errRestart when the append's outcome is unknown or transient, else the
// failure itself (a step whose changes do not fit the actor, say).
func (x *execution[S]) do(fn func(c *actors.Context[S]) error) error { return x.submit(fn, nil) }

// submit is do, calling queued (if set) once fn is in the mailbox's queue.
func (x *execution[S]) submit(fn func(c *actors.Context[S]) error, queued func()) error {
	x.mu.Lock()
	guard := x.guard
	x.mu.Unlock()
	wait := x.rc.Submit(func(c *actors.Context[S]) error {
		if guard {
			c.KV().Put(GuardKVKey, []byte("true"))
		}
		return fn(c)
	})
	if queued != nil {
		queued()
	}
	err := wait()
	if err == nil && guard {
		x.mu.Lock()
		x.guard = false
		x.mu.Unlock()
	}
	return x.classify(err)
}

// classify maps an error of a mailbox turn to what the execution does
// about it (see do).
func (x *execution[S]) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case x.rc.Context().Err() != nil || errors.Is(err, actors.ErrAborted) || errors.Is(err, actors.ErrNotFound):
		return x.fail(errStop)
	case errors.Is(err, actors.ErrUnknownOutcome) || errors.Is(err, actors.ErrConflict) ||
		errors.Is(err, actors.ErrStopping) || errors.Is(err, actors.ErrOverloaded) ||
		errors.Is(err, actors.ErrActionTimeout) || errors.Is(err, context.DeadlineExceeded):
		return x.fail(errRestart)
	default:
		return x.fail(err)
	}
}

// enter begins a journaled call of kind named name in w's scope: its path
// and what the journal records there (a divergence fails the execution).
func (w *W[S]) enter(kind workflows.Kind, name string) (workflows.Path, workflows.Visit, error) {
	if err := w.x.failed(); err != nil {
		return workflows.Path{}, workflows.Visit{}, err
	}
	if err := w.ctx.Err(); err != nil {
		return workflows.Path{}, workflows.Visit{}, errStop
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return workflows.Path{}, workflows.Visit{}, w.x.fail(err)
	}
	v, err := w.x.replay.Visit(kind, p)
	if err != nil {
		return workflows.Path{}, workflows.Visit{}, w.x.fail(w.x.nondeterminism(err))
	}
	return p, v, nil
}

// child returns the W of a scope below w (a loop iteration, a try block):
// it blocks as w does.
func (w *W[S]) child(ctx context.Context, scope workflows.Path) *W[S] {
	return &W[S]{x: w.x, ctx: ctx, scope: scope, blocked: w.blocked}
}

// put writes entry e at p into the journal, in c's call, and tells the
// replay. An entry too large is the error.
func (x *execution[S]) put(c *actors.Context[S], p workflows.Path, e workflows.Entry) error {
	b, err := workflows.EncodeEntry(p, e)
	if err != nil {
		return err
	}
	c.ReservedKV(ns).Put(entryKey(p), b)
	return nil
}

// entryKey is the journal key of p, within the namespace.
func entryKey(p workflows.Path) string { return workflows.EntryKey(0, p) }

// commit writes e at p in a turn of its own.
func (w *W[S]) commit(p workflows.Path, e workflows.Entry) error {
	err := w.do(func(c *actors.Context[S]) error {
		if e.At.IsZero() {
			e.At = c.Now()
		}
		return w.x.put(c, p, e)
	})
	if err == nil {
		_ = w.x.replay.Commit(p, e)
	}
	return err
}

// wait waits until t keeping the actor awake, or until ctx ends (errStop).
func wait(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return errStop
	}
}

// call runs fn, turning a panic into an error.
func call(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}
