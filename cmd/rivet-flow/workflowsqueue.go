package main

import (
	"encoding/json"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/workflows"
)

// queueWorkflows are the workflows serve runs to show actor queues
// (RivetKit c.queue) to any client, the unmodified npm one included:
//
//   - echo answers messages: it takes messages of queues "ask" and "stop"
//     one at a time, completably, and completes each with
//     {"echo": body, "n": how many it answered, "tag": the run input's
//     tag}; a message of "stop" also ends the run. A client waits for the
//     answer with handle.send("ask", body, {wait: true, timeout}).
//   - batcher sums numbers in batches: its action add(n) enqueues n into
//     its own queue "items" (workflows.QueueOf), the run takes up to 10
//     at a time (NextBatch), and a message of "close" ends it with
//     {"total", "items", "batches"}.
func queueWorkflows() []workflows.Definition {
	return []workflows.Definition{echoWorkflow(), batcherWorkflow()}
}

// echoInput is echo's input (rvt-input of a getOrCreate).
type echoInput struct {
	Tag string `json:"tag,omitempty"`
}

// echoReply is what echo completes each message with.
type echoReply struct {
	Echo json.RawMessage `json:"echo"`
	N    int             `json:"n"`
	Tag  string          `json:"tag,omitempty"`
}

// echoResult is echo's result.
type echoResult struct {
	Answered int `json:"answered"`
}

func echoWorkflow() *workflows.Workflow[echoInput, echoResult] {
	return workflows.Define("echo", func(w *workflows.W, in echoInput) (echoResult, error) {
		return workflows.Loop(w, "serve", 0, func(w *workflows.W, n int) (workflows.LoopResult[int, echoResult], error) {
			m, err := w.Queue().Next("take", workflows.NextOptions{Names: []string{"ask", "stop"}, Completable: true})
			if err != nil {
				return workflows.LoopResult[int, echoResult]{}, err
			}
			n++
			if err := m.Complete(echoReply{Echo: m.Body, N: n, Tag: in.Tag}); err != nil {
				return workflows.LoopResult[int, echoResult]{}, err
			}
			if m.Name == "stop" {
				return workflows.Break[int](echoResult{Answered: n}), nil
			}
			return workflows.Continue[int, echoResult](n), nil
		})
	}, workflows.Options{ParkAfter: time.Second})
}

// batchState is batcher's loop state and result.
type batchState struct {
	Total   float64 `json:"total"`
	Items   int     `json:"items"`
	Batches int     `json:"batches"`
}

func batcherWorkflow() *workflows.Workflow[struct{}, batchState] {
	add := actors.Act(func(ac *actors.Context[workflows.RunState], n float64) (uint64, error) {
		return workflows.QueueOf(ac).Send("items", n)
	})
	return workflows.Define("batcher", func(w *workflows.W, _ struct{}) (batchState, error) {
		return workflows.Loop(w, "collect", batchState{}, func(w *workflows.W, s batchState) (workflows.LoopResult[batchState, batchState], error) {
			batch, err := w.Queue().NextBatch("take", workflows.NextOptions{Names: []string{"items", "close"}, Count: 10})
			if err != nil {
				return workflows.LoopResult[batchState, batchState]{}, err
			}
			s.Batches++
			for _, m := range batch {
				if m.Name == "close" {
					return workflows.Break[batchState](s), nil
				}
				var n float64
				if json.Unmarshal(m.Body, &n) == nil {
					s.Total += n
					s.Items++
				}
			}
			return workflows.Continue[batchState, batchState](s), nil
		})
	}, workflows.Options{ParkAfter: time.Second, Actions: map[string]actors.ActionFunc[workflows.RunState]{"add": add}})
}
