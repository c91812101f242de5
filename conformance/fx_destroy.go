package conformance

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// The fixtures of the suite's "Actor Destroy Tests" (upstream destroy.ts):
// destroyActor destroys itself on request and tells destroyObserver from
// its OnDestroy.

// destroyObserverState is destroyObserver's state: the keys of the actors
// whose OnDestroy ran.
type destroyObserverState struct {
	DestroyedActors []string `json:"destroyedActors"`
}

// destroyObserver records destroyed actors: notifyDestroyed(key),
// wasDestroyed(key) -> bool, reset().
var destroyObserver = actors.NewType("destroyObserver", actors.Options[destroyObserverState]{
	State: destroyObserverState{DestroyedActors: []string{}},
}).
	Action("notifyDestroyed", actors.Act(func(c *actors.Context[destroyObserverState], key string) (any, error) {
		c.State.DestroyedActors = append(c.State.DestroyedActors, key)
		return nil, nil
	})).
	Action("wasDestroyed", actors.Act(func(c *actors.Context[destroyObserverState], key string) (bool, error) {
		return slices.Contains(c.State.DestroyedActors, key), nil
	})).
	Action("reset", actors.Act0(func(c *actors.Context[destroyObserverState]) (any, error) {
		c.State.DestroyedActors = []string{}
		return nil, nil
	}))

// destroyActorState is destroyActor's state; Key is its key joined with "/",
// kept for OnDestroy.
type destroyActorState struct {
	Value int64  `json:"value"`
	Key   string `json:"key"`
}

// destroyActor: setValue(n) -> n, getValue() -> value, receiveValue() ->
// the body of the next message of its queue "values" (null when none comes
// within 5 s), destroy(); GET /state answers {"key","value"}; its
// WebSocket is welcomed with {"type":"welcome","key","value"}. OnDestroy
// calls destroyObserver ["observer"] (in the actor's namespace) with
// notifyDestroyed(key).
var destroyActor = actors.NewType("destroyActor", actors.Options[destroyActorState]{
	Queues: map[string]actors.QueueSpec[destroyActorState]{"values": {}},
	OnWake: func(c *actors.Context[destroyActorState]) error {
		c.State.Key = strings.Join(c.Key(), "/")
		return nil
	},
	OnRequest: func(c *actors.Context[destroyActorState], w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/state" {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"key": c.State.Key, "value": c.State.Value})
	},
	OnWebSocket: func(s *actors.Session[destroyActorState], ws actors.WebSocket) {
		var welcome []byte
		if err := s.Do(func(c *actors.Context[destroyActorState]) error {
			var err error
			welcome, err = json.Marshal(map[string]any{"type": "welcome", "key": c.State.Key, "value": c.State.Value})
			return err
		}); err != nil {
			return
		}
		ctx := s.Context()
		if ws.Write(ctx, true, welcome) != nil {
			return
		}
		// Upstream's socket stays open once welcomed; here it closes when the
		// hook returns, so wait for the client to close it.
		for {
			if _, _, err := ws.Read(ctx); err != nil {
				return
			}
		}
	},
	OnDestroy: func(c *actors.Context[destroyActorState]) error {
		h, _, err := c.Client().GetOrCreate(c.Context(), "destroyObserver",
			actors.NamespacedKey(c.Namespace(), []string{"observer"}), nil)
		if err != nil {
			return err
		}
		_, err = h.Action(c.Context(), "notifyDestroyed", c.State.Key)
		return err
	},
}).
	Action("setValue", actors.Act(func(c *actors.Context[destroyActorState], n int64) (int64, error) {
		c.State.Value = n // every action's change commits before it answers
		return n, nil
	})).
	Action("getValue", actors.Act0(func(c *actors.Context[destroyActorState]) (int64, error) {
		return c.State.Value, nil
	})).
	Action("receiveValue", actors.Act0(func(c *actors.Context[destroyActorState]) (any, error) {
		m, err := c.Queue().Next(c.Context(), actors.NextOptions{Names: []string{"values"}, Timeout: 5 * time.Second})
		if err != nil || m == nil {
			return nil, err
		}
		return m.Body, nil
	})).
	Action("destroy", actors.Act0(func(c *actors.Context[destroyActorState]) (any, error) {
		c.Destroy()
		return nil, nil
	}))

func init() {
	add(destroyObserver, destroyActor)
}
