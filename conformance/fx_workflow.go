package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows/actorwf"
)

// The fixtures of the suite's "Actor Workflow Tests" and the inspector's
// workflow tests (upstream workflow.ts): actors whose Run handler is a
// durable workflow (workflows/actorwf). Left out: workflowAccessActor,
// whose steps use a SQLite database.

// Upstream's queue names.
const (
	workflowQueueName       = "workflow-default"
	workflowNestedQueueName = "workflow-nested"
)

// wfIdle is upstream's sleepTimeout of most workflow fixtures.
const wfIdle = 50 * time.Millisecond

// nowMs is the call's time in milliseconds, as JavaScript's Date.now().
func nowMs[S any](c *actors.Context[S]) int64 { return c.Now().UnixMilli() }

type wfCounterState struct {
	RunCount       int64   `json:"runCount"`
	GuardTriggered bool    `json:"guardTriggered"`
	History        []int64 `json:"history"`
}

// workflowCounterActor: a loop that reaches for the state outside a step
// (refused, and recorded under actorwf.GuardKVKey), counts in a step and
// sleeps 25 ms; getState() reports the guard from the KV.
var workflowCounterActor = actors.NewType("workflowCounterActor", actorwf.With(actors.Options[wfCounterState]{
	State:       wfCounterState{History: []int64{}},
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfCounterState]) error {
	return actorwf.Forever(w, "counter", func(w *actorwf.W[wfCounterState]) error {
		_, _ = w.State() // outside a step: refused
		if _, err := actorwf.Step(w, "increment", func(c *actors.Context[wfCounterState]) (int64, error) {
			c.State.RunCount++
			c.State.History = append(c.State.History, c.State.RunCount)
			return c.State.RunCount, nil
		}); err != nil {
			return err
		}
		return actorwf.Sleep(w, "idle", 25*time.Millisecond)
	})
})).
	Action("getState", actors.Act0(func(c *actors.Context[wfCounterState]) (wfCounterState, error) {
		if v, ok := c.KV().Get(actorwf.GuardKVKey); ok && string(v) == "true" {
			c.State.GuardTriggered = true
		}
		return *c.State, nil
	}))

type wfQueueState struct {
	Received []json.RawMessage `json:"received"`
}

// workflowQueueActor: a loop taking completable messages of its queue and
// answering each with {echo: body} in the step that stores it.
var workflowQueueActor = actors.NewType("workflowQueueActor", actorwf.With(actors.Options[wfQueueState]{
	State:  wfQueueState{Received: []json.RawMessage{}},
	Queues: map[string]actors.QueueSpec[wfQueueState]{workflowQueueName: {}},
}, func(w *actorwf.W[wfQueueState]) error {
	return actorwf.Forever(w, "queue", func(w *actorwf.W[wfQueueState]) error {
		m, err := w.Queue().Next("queue-wait", actors.NextOptions{Names: []string{workflowQueueName}, Completable: true})
		if err != nil || m == nil {
			return err
		}
		_, err = actorwf.Step(w, "store-message", func(c *actors.Context[wfQueueState]) (bool, error) {
			c.State.Received = append(c.State.Received, m.Body)
			return true, m.CompleteIn(c, map[string]json.RawMessage{"echo": m.Body})
		})
		return err
	})
})).
	Action("getMessages", actors.Act0(func(c *actors.Context[wfQueueState]) ([]json.RawMessage, error) {
		return c.State.Received, nil
	})).
	// Upstream's action sends to its own queue and waits for the workflow's
	// answer. A rivet-flow action holds its actor's mailbox until it
	// returns, and the workflow's take is a turn of that mailbox: the wait
	// could only time out. Refused plainly instead (README, "RivetKit
	// conformance").
	Action("sendAndWait", actors.Act(func(c *actors.Context[wfQueueState], _ json.RawMessage) (any, error) {
		return nil, actors.NewUserError("not_supported", "an action cannot wait for its own actor's workflow: the action holds the actor's mailbox, which the workflow needs to take the message", nil)
	}))

type wfProcessedState struct {
	Processed []string `json:"processed"`
}

type wfItems struct {
	Items []string `json:"items"`
}

// nestedQueueWorkflow is the loop the nested fixtures share: take a
// completable message of items, process them with each, answer
// {processed: n}.
func nestedQueueWorkflow(process func(w *actorwf.W[wfProcessedState], items []string) error) func(w *actorwf.W[wfProcessedState]) error {
	return func(w *actorwf.W[wfProcessedState]) error {
		return actorwf.Forever(w, "command-loop", func(w *actorwf.W[wfProcessedState]) error {
			m, err := w.Queue().Next("wait", actors.NextOptions{Names: []string{workflowNestedQueueName}, Completable: true})
			if err != nil || m == nil {
				return err
			}
			var in wfItems
			_ = m.Decode(&in)
			if err := process(w, in.Items); err != nil {
				return err
			}
			return m.Complete(map[string]int{"processed": len(in.Items)})
		})
	}
}

// appendStep is a step that appends item to the processed list.
func appendStep(w *actorwf.W[wfProcessedState], name, item string) (string, error) {
	return actorwf.Step(w, name, func(c *actors.Context[wfProcessedState]) (string, error) {
		c.State.Processed = append(c.State.Processed, item)
		return item, nil
	})
}

// nestedFixture is a nested fixture type: the shared loop with process.
func nestedFixture(name string, process func(w *actorwf.W[wfProcessedState], items []string) error) *actors.Type[wfProcessedState] {
	return actors.NewType(name, actorwf.With(actors.Options[wfProcessedState]{
		State:       wfProcessedState{Processed: []string{}},
		Queues:      map[string]actors.QueueSpec[wfProcessedState]{workflowNestedQueueName: {}},
		IdleTimeout: wfIdle,
	}, nestedQueueWorkflow(process))).
		Action("getState", actors.Act0(func(c *actors.Context[wfProcessedState]) (wfProcessedState, error) {
			return *c.State, nil
		}))
}

// workflowNestedLoopActor processes the items in a nested loop.
var workflowNestedLoopActor = nestedFixture("workflowNestedLoopActor", func(w *actorwf.W[wfProcessedState], items []string) error {
	_, err := actorwf.Loop(w, "process-items", 0, func(w *actorwf.W[wfProcessedState], i int) (actorwf.LoopResult[int, struct{}], error) {
		if i >= len(items) {
			return actorwf.Break[int](struct{}{}), nil
		}
		if _, err := appendStep(w, fmt.Sprintf("process-item-%d", i), items[i]); err != nil {
			return actorwf.LoopResult[int, struct{}]{}, err
		}
		return actorwf.Continue[int, struct{}](i + 1), nil
	})
	return err
})

// workflowNestedJoinActor processes the items in the branches of a join.
var workflowNestedJoinActor = nestedFixture("workflowNestedJoinActor", func(w *actorwf.W[wfProcessedState], items []string) error {
	branches := map[string]func(w *actorwf.W[wfProcessedState]) (string, error){}
	for i, item := range items {
		branches[fmt.Sprintf("item-%d", i)] = func(w *actorwf.W[wfProcessedState]) (string, error) {
			return appendStep(w, fmt.Sprintf("process-item-%d", i), item)
		}
	}
	_, err := actorwf.Join(w, "process-items", branches)
	return err
})

// workflowNestedRaceActor races a fast step against a branch that waits
// to be cancelled.
var workflowNestedRaceActor = nestedFixture("workflowNestedRaceActor", func(w *actorwf.W[wfProcessedState], items []string) error {
	if len(items) == 0 {
		return nil
	}
	_, _, err := actorwf.Race(w, "process-item", []actorwf.Branch[wfProcessedState, string]{
		{Name: "fast", Run: func(w *actorwf.W[wfProcessedState]) (string, error) {
			return appendStep(w, "process-fast", items[0])
		}},
		{Name: "slow", Run: func(w *actorwf.W[wfProcessedState]) (string, error) {
			<-w.Context().Done()
			return "slow", nil
		}},
	})
	return err
})

type wfChildState struct {
	Label     string   `json:"label"`
	Started   bool     `json:"started"`
	Processed []string `json:"processed"`
}

// workflowSpawnChildActor: created with its label as input; marks itself
// started, then serves its "work" queue, answering {ok: true}.
var workflowSpawnChildActor = actors.NewType("workflowSpawnChildActor", actorwf.With(actors.Options[wfChildState]{
	CreateState: func(_ *actors.Context[wfChildState], input json.RawMessage) (wfChildState, error) {
		var label string
		_ = json.Unmarshal(input, &label)
		return wfChildState{Label: label, Processed: []string{}}, nil
	},
	Queues:      map[string]actors.QueueSpec[wfChildState]{"work": {}},
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfChildState]) error {
	if _, err := actorwf.Step(w, "mark-started", func(c *actors.Context[wfChildState]) (bool, error) {
		c.State.Started = true
		return true, nil
	}); err != nil {
		return err
	}
	return actorwf.Forever(w, "cmd-loop", func(w *actorwf.W[wfChildState]) error {
		m, err := w.Queue().Next("wait-cmd", actors.NextOptions{Names: []string{"work"}, Completable: true})
		if err != nil || m == nil {
			return err
		}
		var cmd struct {
			Task string `json:"task"`
		}
		_ = m.Decode(&cmd)
		if _, err := actorwf.Step(w, "process-cmd", func(c *actors.Context[wfChildState]) (bool, error) {
			c.State.Processed = append(c.State.Processed, cmd.Task)
			return true, nil
		}); err != nil {
			return err
		}
		return m.Complete(map[string]bool{"ok": true})
	})
})).
	Action("getState", actors.Act0(func(c *actors.Context[wfChildState]) (wfChildState, error) {
		return *c.State, nil
	}))

type wfSpawnResult struct {
	Key    string  `json:"key"`
	Result any     `json:"result"`
	Error  *string `json:"error"`
}

type wfParentState struct {
	Results []wfSpawnResult `json:"results"`
}

// workflowSpawnParentActor: triggerSpawn(key) queues a spawn; its workflow
// creates child key in a step and waits for the child's answer to "work".
var workflowSpawnParentActor = actors.NewType("workflowSpawnParentActor", actorwf.With(actors.Options[wfParentState]{
	State:       wfParentState{Results: []wfSpawnResult{}},
	Queues:      map[string]actors.QueueSpec[wfParentState]{"spawn": {}},
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfParentState]) error {
	return actorwf.Forever(w, "parent-loop", func(w *actorwf.W[wfParentState]) error {
		m, err := w.Queue().Next("wait-parent", actors.NextOptions{Names: []string{"spawn"}, Completable: true})
		if err != nil || m == nil {
			return err
		}
		var in struct {
			Key string `json:"key"`
		}
		_ = m.Decode(&in)
		if _, err := actorwf.Step(w, "spawn-child", func(c *actors.Context[wfParentState]) (bool, error) {
			r := wfSpawnResult{Key: in.Key}
			res, err := spawnChild(c, in.Key)
			if err != nil {
				msg := err.Error()
				r.Error = &msg
			} else {
				r.Result = res
			}
			c.State.Results = append(c.State.Results, r)
			return true, nil
		}); err != nil {
			return err
		}
		return m.Complete(map[string]bool{"ok": true})
	})
})).
	Action("triggerSpawn", actors.Act(func(c *actors.Context[wfParentState], key string) (map[string]bool, error) {
		if _, err := c.Queue().Send("spawn", map[string]string{"key": key}); err != nil {
			return nil, err
		}
		return map[string]bool{"queued": true}, nil
	})).
	Action("getState", actors.Act0(func(c *actors.Context[wfParentState]) (wfParentState, error) {
		return *c.State, nil
	}))

// spawnChild creates (or gets) the child key and sends it a task, waiting
// up to 500 ms for its answer.
func spawnChild(c *actors.Context[wfParentState], key string) (any, error) {
	h, _, err := c.Client().GetOrCreate(c.Context(), "workflowSpawnChildActor", actors.NamespacedKey(c.Namespace(), []string{key}), key)
	if err != nil {
		return nil, err
	}
	res, err := h.SendQueue(c.Context(), "work", json.RawMessage(`{"task":"hello"}`), actors.QueueSendOptions{Wait: true, Timeout: 500 * time.Millisecond})
	if err != nil {
		return nil, err
	}
	out := map[string]any{"status": res.Status}
	if len(res.Response) > 0 {
		out["response"] = res.Response
	}
	return out, nil
}

type wfTicksState struct {
	Ticks int64 `json:"ticks"`
}

// workflowSleepActor ticks in a step, then sleeps 40 ms, forever.
var workflowSleepActor = actors.NewType("workflowSleepActor", actorwf.With(actors.Options[wfTicksState]{
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfTicksState]) error {
	return actorwf.Forever(w, "sleep", func(w *actorwf.W[wfTicksState]) error {
		if _, err := actorwf.Step(w, "tick", func(c *actors.Context[wfTicksState]) (int64, error) {
			c.State.Ticks++
			return c.State.Ticks, nil
		}); err != nil {
			return err
		}
		return actorwf.Sleep(w, "delay", 40*time.Millisecond)
	})
})).
	Action("getState", actors.Act0(func(c *actors.Context[wfTicksState]) (wfTicksState, error) {
		return *c.State, nil
	}))

type wfStepFailure struct {
	Kind     string `json:"kind"`
	Message  string `json:"message"`
	Attempts int    `json:"attempts"`
}

type wfTryState struct {
	InnerWrites    int64          `json:"innerWrites"`
	TryStepFailure *wfStepFailure `json:"tryStepFailure"`
	TryJoinFailure *string        `json:"tryJoinFailure"`
}

// workflowTryActor: a TryStep that fails without retries, and a Try around
// a join with a failing branch; a step stores both failures.
var workflowTryActor = actors.NewType("workflowTryActor", actorwf.With(actors.Options[wfTryState]{
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfTryState]) error {
	_, sf, err := actorwf.TryStep(w, "charge-card", func(c *actors.Context[wfTryState]) (bool, error) {
		c.State.InnerWrites++
		return false, errors.New("card declined")
	}, actorwf.StepOptions{MaxRetries: -1})
	if err != nil {
		return err
	}
	_, jf, err := actorwf.Try(w, "parallel-flow", func(w *actorwf.W[wfTryState]) (map[string]string, error) {
		return actorwf.Join(w, "parallel", map[string]func(w *actorwf.W[wfTryState]) (string, error){
			"ok":  func(*actorwf.W[wfTryState]) (string, error) { return "ok", nil },
			"bad": func(*actorwf.W[wfTryState]) (string, error) { return "", errors.New("join failed") },
		})
	})
	if err != nil {
		return err
	}
	_, err = actorwf.Step(w, "store-try-results", func(c *actors.Context[wfTryState]) (bool, error) {
		if sf != nil {
			c.State.TryStepFailure = &wfStepFailure{Kind: string(sf.Kind), Message: sf.Message, Attempts: sf.Attempts}
		}
		if jf != nil {
			s := jf.Source + ":" + jf.Name
			c.State.TryJoinFailure = &s
		}
		return true, nil
	})
	return err
})).
	Action("getState", actors.Act0(func(c *actors.Context[wfTryState]) (wfTryState, error) {
		return *c.State, nil
	}))

type wfTimelineState struct {
	WakeAts  []int64 `json:"wakeAts"`
	SleepAts []int64 `json:"sleepAts"`
}

// workflowStopTeardownActor waits forever for a message that never comes;
// its wakes and sleeps are timed.
var workflowStopTeardownActor = actors.NewType("workflowStopTeardownActor", actorwf.With(actors.Options[wfTimelineState]{
	State:       wfTimelineState{WakeAts: []int64{}, SleepAts: []int64{}},
	Queues:      map[string]actors.QueueSpec[wfTimelineState]{"never": {}},
	IdleTimeout: 75 * time.Millisecond,
	OnWake: func(c *actors.Context[wfTimelineState]) error {
		c.State.WakeAts = append(c.State.WakeAts, nowMs(c))
		return nil
	},
	OnSleep: func(c *actors.Context[wfTimelineState]) error {
		c.State.SleepAts = append(c.State.SleepAts, nowMs(c))
		return nil
	},
}, func(w *actorwf.W[wfTimelineState]) error {
	return actorwf.Forever(w, "wait-forever", func(w *actorwf.W[wfTimelineState]) error {
		_, err := w.Queue().Next("wait-for-never", actors.NextOptions{Names: []string{"never"}})
		return err
	})
})).
	Action("getTimeline", actors.Act0(func(c *actors.Context[wfTimelineState]) (wfTimelineState, error) {
		return *c.State, nil
	}))

type wfLifecycleState struct {
	StartCount int64    `json:"startCount"`
	SleepCount int64    `json:"sleepCount"`
	RunCount   int64    `json:"runCount"`
	Timeline   []string `json:"timeline,omitempty"`
}

// lifecycleOptions count wakes and sleeps.
func lifecycleOptions() actors.Options[wfLifecycleState] {
	return actors.Options[wfLifecycleState]{
		IdleTimeout: wfIdle,
		OnWake: func(c *actors.Context[wfLifecycleState]) error {
			c.State.StartCount++
			return nil
		},
		OnSleep: func(c *actors.Context[wfLifecycleState]) error {
			c.State.SleepCount++
			return nil
		},
	}
}

func getLifecycle(c *actors.Context[wfLifecycleState]) (wfLifecycleState, error) {
	return *c.State, nil
}

// workflowCompleteActor completes after one step; the actor then sleeps.
var workflowCompleteActor = actors.NewType("workflowCompleteActor", actorwf.With(lifecycleOptions(), func(w *actorwf.W[wfLifecycleState]) error {
	_, err := actorwf.Step(w, "complete", func(c *actors.Context[wfLifecycleState]) (bool, error) {
		c.State.RunCount++
		return true, nil
	})
	return err
})).Action("getState", actors.Act0(getLifecycle))

// workflowFailedStepActor's second step always fails: after its retries
// the workflow fails, and the actor sleeps.
var workflowFailedStepActor = actors.NewType("workflowFailedStepActor", actorwf.With(lifecycleOptions(), func(w *actorwf.W[wfLifecycleState]) error {
	if _, err := actorwf.Step(w, "prepare", func(c *actors.Context[wfLifecycleState]) (bool, error) {
		c.State.Timeline = append(c.State.Timeline, "prepare")
		return true, nil
	}); err != nil {
		return err
	}
	_, err := actorwf.Step(w, "fail", func(c *actors.Context[wfLifecycleState]) (bool, error) {
		c.State.RunCount++
		c.State.Timeline = append(c.State.Timeline, "fail")
		return false, errors.New("workflow step failed")
	}, actorwf.StepOptions{MaxRetries: 2})
	return err
})).Action("getState", actors.Act0(getLifecycle))

// workflowDestroyActor destroys itself in a step; its OnDestroy tells the
// observer.
var workflowDestroyActor = actors.NewType("workflowDestroyActor", actorwf.With(actors.Options[struct{}]{
	OnDestroy: func(c *actors.Context[struct{}]) error {
		h, _, err := c.Client().GetOrCreate(c.Context(), "destroyObserver",
			actors.NamespacedKey(c.Namespace(), []string{"observer"}), nil)
		if err != nil {
			return err
		}
		_, err = h.Action(c.Context(), "notifyDestroyed", strings.Join(c.Key(), "/"))
		return err
	},
}, func(w *actorwf.W[struct{}]) error {
	_, err := actorwf.Step(w, "destroy", func(c *actors.Context[struct{}]) (bool, error) {
		c.Destroy()
		return true, nil
	})
	return err
})).Action("ping", actors.Act0(func(*actors.Context[struct{}]) (bool, error) { return true, nil }))

type wfErrorState struct {
	Attempts   int64                `json:"attempts"`
	WakeCount  int64                `json:"wakeCount"`
	SleepCount int64                `json:"sleepCount"`
	Events     []actorwf.ErrorEvent `json:"events"`
	LastError  *actorwf.ErrorEvent  `json:"lastError"`
	ErrorCount int64                `json:"errorCount"`
}

// flakyStep fails its first attempt, retried after 1 ms.
func flakyStep(w *actorwf.W[wfErrorState]) error {
	_, err := actorwf.Step(w, "flaky", func(c *actors.Context[wfErrorState]) (bool, error) {
		c.State.Attempts++
		if c.State.Attempts == 1 {
			return false, errors.New("workflow hook failed")
		}
		return true, nil
	}, actorwf.StepOptions{MaxRetries: 2, BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	return err
}

// flakyThenIdle is the error-hook fixtures' workflow: the flaky step, then
// a long sleep.
func flakyThenIdle(w *actorwf.W[wfErrorState]) error {
	if err := flakyStep(w); err != nil {
		return err
	}
	return actorwf.Sleep(w, "idle", time.Minute)
}

// recordError is the error hooks' OnError: the event goes into the state.
func recordError(c *actors.Context[wfErrorState], ev actorwf.ErrorEvent) {
	c.State.Events = append(c.State.Events, ev)
}

func getErrorState(c *actors.Context[wfErrorState]) (wfErrorState, error) { return *c.State, nil }

// workflowErrorHookActor records its workflow's step errors.
var workflowErrorHookActor = actors.NewType("workflowErrorHookActor", actorwf.With(actors.Options[wfErrorState]{
	State: wfErrorState{Events: []actorwf.ErrorEvent{}},
}, flakyThenIdle, actorwf.Options[wfErrorState]{OnError: recordError})).
	Action("getErrorState", actors.Act0(getErrorState))

// workflowErrorHookSleepActor also counts wakes and sleeps, and sleeps on
// demand (triggerSleep).
var workflowErrorHookSleepActor = actors.NewType("workflowErrorHookSleepActor", actorwf.With(actors.Options[wfErrorState]{
	State: wfErrorState{Events: []actorwf.ErrorEvent{}},
	OnWake: func(c *actors.Context[wfErrorState]) error {
		c.State.WakeCount++
		return nil
	},
	OnSleep: func(c *actors.Context[wfErrorState]) error {
		c.State.SleepCount++
		return nil
	},
}, flakyThenIdle, actorwf.Options[wfErrorState]{OnError: recordError})).
	Action("getErrorState", actors.Act0(getErrorState)).
	Action("triggerSleep", actors.Act0(func(c *actors.Context[wfErrorState]) (any, error) {
		c.ForceSleep()
		return nil, nil
	}))

// workflowErrorHookEffectsActor starts its workflow on a message; its
// OnError changes the state, broadcasts workflowError and queues the event
// on "errors".
var workflowErrorHookEffectsActor = actors.NewType("workflowErrorHookEffectsActor", actorwf.With(actors.Options[wfErrorState]{
	State:  wfErrorState{Events: []actorwf.ErrorEvent{}},
	Queues: map[string]actors.QueueSpec[wfErrorState]{"start": {}, "errors": {}},
}, func(w *actorwf.W[wfErrorState]) error {
	if _, err := w.Queue().Next("start", actors.NextOptions{Names: []string{"start"}}); err != nil {
		return err
	}
	return flakyThenIdle(w)
}, actorwf.Options[wfErrorState]{OnError: func(c *actors.Context[wfErrorState], ev actorwf.ErrorEvent) {
	c.State.LastError = &ev
	c.State.ErrorCount++
	c.Broadcast("workflowError", ev)
	_, _ = c.Queue().Send("errors", ev)
}})).
	Action("getErrorState", actors.Act0(getErrorState)).
	Action("startWorkflow", actors.Act0(func(c *actors.Context[wfErrorState]) (any, error) {
		_, err := c.Queue().Send("start", nil)
		return nil, err
	})).
	Action("receiveQueuedError", actors.Act0(func(c *actors.Context[wfErrorState]) (any, error) {
		m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"errors"}, Timeout: time.Second})
		if err != nil || m == nil {
			return nil, err
		}
		return m.Body, nil
	}))

type wfReplayState struct {
	Timeline []string `json:"timeline"`
}

// workflowReplayActor runs two steps; the inspector's replay runs them
// again.
var workflowReplayActor = actors.NewType("workflowReplayActor", actorwf.With(actors.Options[wfReplayState]{
	State:       wfReplayState{Timeline: []string{}},
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfReplayState]) error {
	for _, name := range []string{"one", "two"} {
		if _, err := actorwf.Step(w, name, func(c *actors.Context[wfReplayState]) (bool, error) {
			c.State.Timeline = append(c.State.Timeline, name)
			return true, nil
		}); err != nil {
			return err
		}
	}
	return nil
})).
	Action("getTimeline", actors.Act0(func(c *actors.Context[wfReplayState]) ([]string, error) {
		return c.State.Timeline, nil
	}))

type wfRunningState struct {
	PreparedAt *int64 `json:"preparedAt"`
	StartedAt  *int64 `json:"startedAt"`
}

// workflowRunningStepActor's second step runs for 250 ms outside the
// mailbox (an Activity), having recorded when it started.
var workflowRunningStepActor = actors.NewType("workflowRunningStepActor", actorwf.With(actors.Options[wfRunningState]{
	IdleTimeout: wfIdle,
}, func(w *actorwf.W[wfRunningState]) error {
	if _, err := actorwf.Step(w, "prepare", func(c *actors.Context[wfRunningState]) (bool, error) {
		t := nowMs(c)
		c.State.PreparedAt = &t
		return true, nil
	}); err != nil {
		return err
	}
	_, err := actorwf.Activity(w, "block", func(ctx context.Context, a *actorwf.ActivityContext[wfRunningState]) (bool, error) {
		if err := a.Do(func(c *actors.Context[wfRunningState]) error {
			t := nowMs(c)
			c.State.StartedAt = &t
			return nil
		}); err != nil {
			return false, err
		}
		select {
		case <-time.After(250 * time.Millisecond):
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		}
	})
	return err
})).
	Action("getState", actors.Act0(func(c *actors.Context[wfRunningState]) (wfRunningState, error) {
		return *c.State, nil
	}))

func init() {
	add(workflowCounterActor, workflowQueueActor, workflowNestedLoopActor, workflowNestedJoinActor,
		workflowNestedRaceActor, workflowSpawnChildActor, workflowSpawnParentActor, workflowSleepActor,
		workflowTryActor, workflowStopTeardownActor, workflowCompleteActor, workflowFailedStepActor,
		workflowDestroyActor, workflowErrorHookActor, workflowErrorHookSleepActor,
		workflowErrorHookEffectsActor, workflowReplayActor, workflowRunningStepActor)
}
