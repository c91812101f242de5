package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Queue Tests" (upstream queue.ts):
// queueActor takes from its own queues in actions, queueLimitedActor has
// tiny queue limits, and the manyQueue* actors spawn a child whose Run
// handler drains 32 queues.

// queueView is a message as the suite's actions return it.
type queueView struct {
	Name string          `json:"name"`
	Body json.RawMessage `json:"body"`
}

func queueViews(msgs []*actors.Message) []queueView {
	out := make([]queueView, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, queueView{Name: m.Name, Body: m.Body})
	}
	return out
}

// queueErrorView is {group, code}, what the suite's actions that catch a
// queue error return.
type queueErrorView struct {
	Group string `json:"group"`
	Code  string `json:"code"`
}

// queueErrorOf names a queue error as RivetKit's client sees it; ok is
// false for any other error.
func queueErrorOf(err error) (queueErrorView, bool) {
	switch {
	case errors.Is(err, actors.ErrAborted):
		return queueErrorView{"actor", "aborted"}, true
	case errors.Is(err, actors.ErrMessageNotCompleted):
		return queueErrorView{"queue", "previous_message_not_completed"}, true
	case errors.Is(err, actors.ErrMessageAlreadyCompleted):
		return queueErrorView{"queue", "already_completed"}, true
	}
	return queueErrorView{}, false
}

// caught is the {group, code} of a queue error, or err itself.
func caught(err error) (any, error) {
	if v, ok := queueErrorOf(err); ok {
		return v, nil
	}
	return nil, err
}

// queueTake is RivetKit's nextBatch: timeout (ms) absent waits as long as
// the call may, 0 does not wait (tryNextBatch), more waits that long.
func queueTake(ctx context.Context, q *actors.Queue, o actors.NextOptions, timeout *float64) ([]*actors.Message, error) {
	if timeout != nil && *timeout <= 0 {
		return q.TryNextBatch(o)
	}
	if timeout != nil {
		o.Timeout = msDuration(*timeout)
	}
	return q.NextBatch(ctx, o)
}

// queueRequest is the options object of receiveRequest, tryReceiveMany
// and receiveMany.
type queueRequest struct {
	Names   []string `json:"names"`
	Count   int      `json:"count"`
	Timeout *float64 `json:"timeout"`
}

type queueActorState struct{}

type queueCtx = actors.Context[queueActorState]

// queueActorNames are queueActor's queues.
var queueActorNames = []string{"greeting", "self", "a", "b", "c", "one", "two", "missing", "abort",
	"tasks", "timeout", "nowait", "twice"}

// destroySelfSoon asks for the actor's own destroy 10 ms from now, from
// outside the call (as upstream's setTimeout(c.destroy)): the destroy
// reaches the mailbox while the call waits in Next, and ends that wait.
func destroySelfSoon(c *queueCtx) error {
	h, err := c.Client().Ref(c.ActorID())
	if err != nil {
		return err
	}
	log := c.Log()
	go func() {
		time.Sleep(10 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Destroy(ctx); err != nil {
			log.Warn("queueActor: self-destroy failed", "err", err)
		}
	}()
	return nil
}

// cancelledContext is an AbortSignal already aborted.
func cancelledContext(parent context.Context) context.Context {
	ctx, cancel := context.WithCancel(parent)
	cancel()
	return ctx
}

// queueActor: every action the suite calls on it; see queue.ts upstream.
var queueActor = func() *actors.Type[queueActorState] {
	queues := map[string]actors.QueueSpec[queueActorState]{}
	for _, n := range queueActorNames {
		queues[n] = actors.QueueSpec[queueActorState]{}
	}
	one := func(c *queueCtx, o actors.NextOptions, timeout *float64) (any, error) {
		msgs, err := queueTake(c.Context(), c.Queue(), o, timeout)
		if err != nil || len(msgs) == 0 {
			return nil, err
		}
		return queueView{Name: msgs[0].Name, Body: msgs[0].Body}, nil
	}
	return actors.NewType("queueActor", actors.Options[queueActorState]{Queues: queues}).
		Action("receiveOne", actors.Act2(func(c *queueCtx, name string, opts *queueRequest) (any, error) {
			var timeout *float64
			if opts != nil {
				timeout = opts.Timeout
			}
			return one(c, actors.NextOptions{Names: []string{name}}, timeout)
		})).
		Action("receiveMany", actors.Act2(func(c *queueCtx, names []string, opts *queueRequest) ([]queueView, error) {
			if opts == nil {
				opts = &queueRequest{}
			}
			msgs, err := queueTake(c.Context(), c.Queue(), actors.NextOptions{Names: names, Count: opts.Count}, opts.Timeout)
			return queueViews(msgs), err
		})).
		Action("receiveRequest", actors.Act(func(c *queueCtx, req queueRequest) ([]queueView, error) {
			msgs, err := queueTake(c.Context(), c.Queue(), actors.NextOptions{Names: req.Names, Count: req.Count}, req.Timeout)
			return queueViews(msgs), err
		})).
		Action("tryReceiveMany", actors.Act(func(c *queueCtx, req queueRequest) ([]queueView, error) {
			msgs, err := c.Queue().TryNextBatch(actors.NextOptions{Names: req.Names, Count: req.Count})
			return queueViews(msgs), err
		})).
		Action("receiveWithIterator", actors.Act(func(c *queueCtx, name string) (any, error) {
			return one(c, actors.NextOptions{Names: []string{name}}, nil)
		})).
		Action("receiveWithAsyncIterator", actors.Act0(func(c *queueCtx) (any, error) {
			return one(c, actors.NextOptions{}, nil)
		})).
		Action("sendToSelf", actors.Act2(func(c *queueCtx, name string, body json.RawMessage) (bool, error) {
			// Upstream sends through a client handle to itself; a call cannot
			// wait for its own mailbox, and c.Queue().Send is the same send.
			_, err := c.Queue().Send(name, body)
			return err == nil, err
		})).
		Action("waitForAbort", actors.Act0(func(c *queueCtx) (bool, error) {
			if err := destroySelfSoon(c); err != nil {
				return false, err
			}
			_, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"abort"}, Timeout: 10 * time.Second})
			return err == nil, err
		})).
		Action("waitForSignalAbort", actors.Act0(func(c *queueCtx) (any, error) {
			_, err := c.Queue().Next(cancelledContext(c.Context()), actors.NextOptions{Names: []string{"abort"}, Timeout: 10 * time.Second})
			if err == nil {
				return map[string]bool{"ok": false}, nil
			}
			return caught(err)
		})).
		Action("waitForActorAbortWithSignal", actors.Act0(func(c *queueCtx) (any, error) {
			if err := destroySelfSoon(c); err != nil {
				return nil, err
			}
			ctx, cancel := context.WithCancel(c.Context()) // a signal nobody aborts
			defer cancel()
			_, err := c.Queue().Next(ctx, actors.NextOptions{Names: []string{"abort"}, Timeout: 10 * time.Second})
			if err == nil {
				return map[string]bool{"ok": false}, nil
			}
			return caught(err)
		})).
		Action("iterWithSignalAbort", actors.Act0(func(c *queueCtx) (any, error) {
			// RivetKit's iter ends (no error) when the wait is aborted.
			ctx := cancelledContext(c.Context())
			for {
				m, err := c.Queue().Next(ctx, actors.NextOptions{Names: []string{"abort"}})
				if errors.Is(err, actors.ErrAborted) {
					return map[string]bool{"ok": true}, nil
				}
				if err != nil {
					return nil, err
				}
				if m != nil {
					return map[string]bool{"ok": false}, nil
				}
			}
		})).
		Action("receiveAndComplete", actors.Act(func(c *queueCtx, name string) (any, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{name}, Completable: true})
			if err != nil || m == nil {
				return nil, err
			}
			if err := m.Complete(map[string]json.RawMessage{"echo": m.Body}); err != nil {
				return nil, err
			}
			return queueView{Name: m.Name, Body: m.Body}, nil
		})).
		Action("receiveWithoutComplete", actors.Act(func(c *queueCtx, name string) (any, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{name}, Completable: true})
			if err != nil || m == nil {
				return nil, err
			}
			return queueView{Name: m.Name, Body: m.Body}, nil
		})).
		Action("receiveManualThenNextWithoutComplete", actors.Act(func(c *queueCtx, name string) (any, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{name}, Completable: true})
			if err != nil {
				return nil, err
			}
			if m == nil {
				return map[string]any{"ok": false, "reason": "no_message"}, nil
			}
			zero := 0.0
			_, err = queueTake(c.Context(), c.Queue(), actors.NextOptions{Names: []string{name}}, &zero)
			c.Destroy()
			if err == nil {
				return map[string]any{"ok": false, "reason": "next_succeeded"}, nil
			}
			return caught(err)
		})).
		Action("receiveAndCompleteTwice", actors.Act(func(c *queueCtx, name string) (any, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{name}, Completable: true})
			if err != nil || m == nil {
				return nil, err
			}
			if err := m.Complete(map[string]bool{"ok": true}); err != nil {
				return nil, err
			}
			if err := m.Complete(map[string]bool{"ok": true}); err != nil {
				return caught(err)
			}
			return map[string]bool{"ok": false}, nil
		})).
		Action("receiveWithoutCompleteMethod", actors.Act(func(c *queueCtx, name string) (any, error) {
			m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{name}, Completable: true})
			if err != nil {
				return nil, err
			}
			return map[string]bool{"hasComplete": m != nil && m.Completable()}, nil
		})).
		Action("getQueueState", actors.Act0(func(c *queueCtx) (queueActorState, error) {
			return *c.State, nil
		}))
}()

// queueLimitedActor has queues "message" and "oversize", at most one
// message waiting and 64-byte messages.
var queueLimitedActor = actors.NewType("queueLimitedActor", actors.Options[struct{}]{
	Queues:               map[string]actors.QueueSpec[struct{}]{"message": {}, "oversize": {}},
	MaxQueueSize:         1,
	MaxQueueMessageBytes: 64,
})

// manyQueueNames are upstream's MANY_QUEUE_NAMES: cmd.0 to cmd.31.
var manyQueueNames = func() []string {
	out := make([]string, 32)
	for i := range out {
		out[i] = fmt.Sprintf("cmd.%d", i)
	}
	return out
}()

// manyQueueChildState is manyQueueChildActor's state; the label is the
// create input.
type manyQueueChildState struct {
	Label     any      `json:"label"`
	Started   bool     `json:"started"`
	Processed []string `json:"processed"`
}

// manyQueueChildActor: its Run handler takes the messages of its 32 queues
// as they come, records each queue name in processed and completes each
// with {ok: true, index: body.index}; ping() -> {label, pong: true},
// getSnapshot() -> the state.
var manyQueueChildActor = func() *actors.Type[manyQueueChildState] {
	queues := map[string]actors.QueueSpec[manyQueueChildState]{}
	for _, n := range manyQueueNames {
		queues[n] = actors.QueueSpec[manyQueueChildState]{}
	}
	return actors.NewType("manyQueueChildActor", actors.Options[manyQueueChildState]{
		Queues: queues,
		CreateState: func(c *actors.Context[manyQueueChildState], input json.RawMessage) (manyQueueChildState, error) {
			st := manyQueueChildState{Processed: []string{}}
			if len(input) > 0 {
				_ = json.Unmarshal(input, &st.Label)
			}
			return st, nil
		},
		Run: func(rc *actors.RunContext[manyQueueChildState]) error {
			q := rc.Queue()
			for {
				msgs, err := q.NextBatch(actors.NextOptions{Count: len(manyQueueNames), Completable: true})
				if err != nil {
					return err
				}
				if len(msgs) == 0 {
					continue
				}
				if err := rc.Do(func(c *actors.Context[manyQueueChildState]) error {
					c.State.Started = true
					for _, m := range msgs {
						c.State.Processed = append(c.State.Processed, m.Name)
					}
					return nil
				}); err != nil {
					return err
				}
				for _, m := range msgs {
					var body struct {
						Index any `json:"index"`
					}
					_ = m.Decode(&body)
					if err := m.Complete(map[string]any{"ok": true, "index": body.Index}); err != nil {
						return err
					}
				}
			}
		},
	}).
		Action("ping", actors.Act0(func(c *actors.Context[manyQueueChildState]) (any, error) {
			return map[string]any{"label": c.State.Label, "pong": true}, nil
		})).
		Action("getSnapshot", actors.Act0(func(c *actors.Context[manyQueueChildState]) (manyQueueChildState, error) {
			return *c.State, nil
		}))
}()

// manyQueueParentState is the state of both parents: the keys of the
// children spawned.
type manyQueueParentState struct {
	Spawned []string `json:"spawned"`
}

// spawnManyQueueChild gets or creates the child with key (and input key)
// in the actor's namespace.
func spawnManyQueueChild(c *actors.Context[manyQueueParentState], key string) error {
	_, _, err := c.Client().GetOrCreate(c.Context(), "manyQueueChildActor",
		actors.NamespacedKey(c.Namespace(), []string{key}), key)
	if err != nil {
		return err
	}
	c.State.Spawned = append(c.State.Spawned, key)
	return nil
}

func getSpawned(c *actors.Context[manyQueueParentState]) ([]string, error) {
	return c.State.Spawned, nil
}

// manyQueueActionParentActor: spawnChild(key) -> {key}, getSpawned().
var manyQueueActionParentActor = actors.NewType("manyQueueActionParentActor", actors.Options[manyQueueParentState]{
	State: manyQueueParentState{Spawned: []string{}},
}).
	Action("spawnChild", actors.Act(func(c *actors.Context[manyQueueParentState], key string) (any, error) {
		if err := spawnManyQueueChild(c, key); err != nil {
			return nil, err
		}
		return map[string]string{"key": key}, nil
	})).
	Action("getSpawned", actors.Act0(getSpawned))

// manyQueueRunParentActor: queueSpawn(key) puts {key} on its queue "spawn"
// -> {queued: true}; its Run handler takes those and spawns the children;
// getSpawned().
var manyQueueRunParentActor = actors.NewType("manyQueueRunParentActor", actors.Options[manyQueueParentState]{
	State:  manyQueueParentState{Spawned: []string{}},
	Queues: map[string]actors.QueueSpec[manyQueueParentState]{"spawn": {}},
	Run: func(rc *actors.RunContext[manyQueueParentState]) error {
		for {
			m, err := rc.Queue().Next(actors.NextOptions{Names: []string{"spawn"}})
			if err != nil {
				return err
			}
			if m == nil {
				continue
			}
			var body struct {
				Key string `json:"key"`
			}
			if err := m.Decode(&body); err != nil {
				continue
			}
			if err := rc.Do(func(c *actors.Context[manyQueueParentState]) error {
				return spawnManyQueueChild(c, body.Key)
			}); errors.Is(err, actors.ErrAborted) {
				return err
			}
		}
	},
}).
	Action("queueSpawn", actors.Act(func(c *actors.Context[manyQueueParentState], key string) (any, error) {
		if _, err := c.Queue().Send("spawn", map[string]string{"key": key}); err != nil {
			return nil, err
		}
		return map[string]bool{"queued": true}, nil
	})).
	Action("getSpawned", actors.Act0(getSpawned))

func init() {
	add(queueActor, queueLimitedActor, manyQueueChildActor, manyQueueActionParentActor, manyQueueRunParentActor)
}
