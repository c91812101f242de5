package conformance

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
)

// Timing constants of the suite's sleep fixtures (fixtures/driver-test-suite/
// sleep.ts, which the tests import): the sleep timeout of most sleep types,
// the preventSleep grace period, and the sleep timeout and handler delay of
// the async raw WebSocket handler types.
const (
	sleepTimeout             = 1000 * time.Millisecond
	preventSleepTimeout      = 250 * time.Millisecond
	rawWsHandlerSleepTimeout = 100 * time.Millisecond
	rawWsHandlerDelay        = 250 * time.Millisecond
)

// noSleepIdleTimeout stands for RivetKit's noSleep option, which rivet-flow
// does not have: an idle timeout no test outlives.
const noSleepIdleTimeout = 365 * 24 * time.Hour

// sleepCounts is the state most sleep fixtures share: wakes (OnWake runs
// after the create too) and sleeps.
type sleepCounts struct {
	StartCount int `json:"startCount"`
	SleepCount int `json:"sleepCount"`
}

func countWake(c *actors.Context[sleepCounts]) error  { c.State.StartCount++; return nil }
func countSleep(c *actors.Context[sleepCounts]) error { c.State.SleepCount++; return nil }

// sleepFxPause waits d, or until ctx ends.
func sleepFxPause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sleepFxDelayFirstFrame waits a moment before a raw WebSocket handler's first
// message. Sent at once, that message can reach the suite's Node client in
// the same read as the handshake response; the client then dispatches it
// before the test's `await open` continuation has added its message
// listener, and the test waits for it forever (connectRawWebSocket). With
// RivetKit the hook starts a network hop later, so it never happens there.
func sleepFxDelayFirstFrame(ctx context.Context) { _ = sleepFxPause(ctx, 25*time.Millisecond) }

// sleepFxWriteJSON writes v as a text message to a raw WebSocket.
func sleepFxWriteJSON(ctx context.Context, ws actors.WebSocket, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ws.Write(ctx, true, data)
}

// ---- sleep ----------------------------------------------------------------

// sleepActor is the suite's `sleep`: counts wakes and sleeps, sleeps on
// request (triggerSleep) or after SLEEP_TIMEOUT idle, and sets an alarm
// (setAlarm) whose action only logs.
var sleepActor = actors.NewType("sleep", actors.Options[sleepCounts]{
	OnWake:      countWake,
	OnSleep:     countSleep,
	IdleTimeout: sleepTimeout,
}).
	Action("triggerSleep", actors.Act0(func(c *actors.Context[sleepCounts]) (any, error) {
		c.ForceSleep()
		return nil, nil
	})).
	Action("getCounts", actors.Act0(func(c *actors.Context[sleepCounts]) (sleepCounts, error) {
		return *c.State, nil
	})).
	Action("setAlarm", actors.Act(func(c *actors.Context[sleepCounts], duration float64) (any, error) {
		_, err := c.Schedule().After(msDuration(duration), "onAlarm")
		return nil, err
	})).
	Action("onAlarm", actors.Act0(func(c *actors.Context[sleepCounts]) (any, error) {
		c.Log().Info("alarm called")
		return nil, nil
	}))

// ---- sleepWithLongRpc -----------------------------------------------------

// longRpcVars holds the pending long-running RPC's release.
type longRpcVars struct {
	mu      sync.Mutex
	release chan struct{}
}

// sleepWithLongRpc: longRunningRpc tells its caller "waiting" and then waits
// until finishLongRunningRpc releases it. An actor runs one action at a
// time, so finishLongRunningRpc queues behind the waiting longRunningRpc
// and cannot release it: the wait ends at the action timeout. The suite's
// "long running rpcs keep actor awake" needs actions that run concurrently
// (as RivetKit's async actions do) to pass.
var sleepWithLongRpc = actors.NewType("sleepWithLongRpc", actors.Options[sleepCounts]{
	CreateVars:  func(*actors.Context[sleepCounts]) (any, error) { return &longRpcVars{}, nil },
	OnWake:      countWake,
	OnSleep:     countSleep,
	IdleTimeout: sleepTimeout,
}).
	Action("getCounts", actors.Act0(func(c *actors.Context[sleepCounts]) (sleepCounts, error) {
		return *c.State, nil
	})).
	Action("longRunningRpc", actors.Act0(func(c *actors.Context[sleepCounts]) (any, error) {
		v := c.Vars.(*longRpcVars)
		ch := make(chan struct{})
		v.mu.Lock()
		v.release = ch
		v.mu.Unlock()
		c.Log().Info("starting long running rpc")
		// Upstream broadcasts "waiting"; a broadcast goes out only once the
		// call is committed, so tell the caller at once instead.
		if conn := c.Conn(); conn != nil {
			_ = conn.Send("waiting")
		}
		select {
		case <-ch:
		case <-c.Context().Done():
			return nil, c.Context().Err()
		}
		c.Log().Info("finished long running rpc")
		return nil, nil
	})).
	Action("finishLongRunningRpc", actors.Act0(func(c *actors.Context[sleepCounts]) (any, error) {
		v := c.Vars.(*longRpcVars)
		v.mu.Lock()
		if v.release != nil {
			close(v.release)
			v.release = nil
		}
		v.mu.Unlock()
		return nil, nil
	}))

// ---- sleepWithWaitUntilMessage --------------------------------------------

type waitUntilMessageState struct {
	StartCount            int `json:"startCount"`
	SleepCount            int `json:"sleepCount"`
	WaitUntilMessageCount int `json:"waitUntilMessageCount"`
}

// sleepWithWaitUntilMessage: triggerSleep starts background work (10 ms,
// then it counts and sends "sleeping" to the calling connection) and asks
// to sleep. RivetKit sleeps once the work is done, the connection still
// open; rivet-flow drops the sleep request while a connection or the work
// keeps the actor awake, so it sleeps only after the idle timeout.
var sleepWithWaitUntilMessage = actors.NewType("sleepWithWaitUntilMessage", actors.Options[waitUntilMessageState]{
	OnWake:      func(c *actors.Context[waitUntilMessageState]) error { c.State.StartCount++; return nil },
	OnSleep:     func(c *actors.Context[waitUntilMessageState]) error { c.State.SleepCount++; return nil },
	IdleTimeout: sleepTimeout,
}).
	Action("triggerSleep", actors.Act0(func(c *actors.Context[waitUntilMessageState]) (any, error) {
		conn, lg := c.Conn(), c.Log()
		if conn == nil {
			return nil, actors.NewUserError("no_connection", "triggerSleep needs a connection to send to", nil)
		}
		// The background work must not touch c: it runs its change in the
		// actor's mailbox with actors.Do, which needs a handle from outside
		// any actor, such as the connection's.
		h := conn.Actor()
		c.WaitUntil(func(ctx context.Context) {
			if sleepFxPause(ctx, 10*time.Millisecond) != nil {
				return
			}
			err := actors.Do(ctx, h, "$waitUntil", nil, func(c *actors.Context[waitUntilMessageState]) error {
				c.State.WaitUntilMessageCount++
				msg := map[string]int{"sleepCount": c.State.SleepCount, "startCount": c.State.StartCount}
				c.OnCommit(func() { _ = conn.Send("sleeping", msg) })
				return nil
			})
			if err != nil {
				lg.Warn("waitUntil work failed", "err", err)
			}
		})
		c.ForceSleep()
		return nil, nil
	})).
	Action("getCounts", actors.Act0(func(c *actors.Context[waitUntilMessageState]) (waitUntilMessageState, error) {
		return *c.State, nil
	}))

// ---- sleepWithRawHttp -----------------------------------------------------

type rawHTTPSleepState struct {
	StartCount   int `json:"startCount"`
	SleepCount   int `json:"sleepCount"`
	RequestCount int `json:"requestCount"`
}

// sleepWithRawHttp: GET /long-request?duration=ms answers {"completed":true}
// after that long; requests are counted.
var sleepWithRawHttp = actors.NewType("sleepWithRawHttp", actors.Options[rawHTTPSleepState]{
	OnWake:  func(c *actors.Context[rawHTTPSleepState]) error { c.State.StartCount++; return nil },
	OnSleep: func(c *actors.Context[rawHTTPSleepState]) error { c.State.SleepCount++; return nil },
	OnRequest: func(c *actors.Context[rawHTTPSleepState], w http.ResponseWriter, r *http.Request) {
		c.State.RequestCount++
		if r.URL.Path != "/long-request" {
			http.Error(w, "Not Found", http.StatusNotFound)
			return
		}
		duration := 1000
		if d, err := strconv.Atoi(r.URL.Query().Get("duration")); err == nil {
			duration = d
		}
		c.Log().Info("starting long fetch request", "duration", duration)
		if err := sleepFxPause(r.Context(), time.Duration(duration)*time.Millisecond); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		c.Log().Info("finished long fetch request")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"completed":true}`))
	},
	IdleTimeout: sleepTimeout,
}).
	Action("getCounts", actors.Act0(func(c *actors.Context[rawHTTPSleepState]) (rawHTTPSleepState, error) {
		return *c.State, nil
	}))

// ---- sleepWithRawWebSocket ------------------------------------------------

type rawWsSleepState struct {
	StartCount      int `json:"startCount"`
	SleepCount      int `json:"sleepCount"`
	ConnectionCount int `json:"connectionCount"`
}

// sleepWithRawWebSocket: a raw WebSocket that answers {"type":"getCounts"}
// with the counts and {"type":"keepAlive"} with an ack, echoes what is not
// JSON, and counts open sockets.
var sleepWithRawWebSocket = actors.NewType("sleepWithRawWebSocket", actors.Options[rawWsSleepState]{
	OnWake:  func(c *actors.Context[rawWsSleepState]) error { c.State.StartCount++; return nil },
	OnSleep: func(c *actors.Context[rawWsSleepState]) error { c.State.SleepCount++; return nil },
	OnWebSocket: func(s *actors.Session[rawWsSleepState], ws actors.WebSocket) {
		ctx := s.Context()
		var n int
		if err := s.Do(func(c *actors.Context[rawWsSleepState]) error {
			c.State.ConnectionCount++
			n = c.State.ConnectionCount
			return nil
		}); err != nil {
			return
		}
		defer func() {
			_ = s.Do(func(c *actors.Context[rawWsSleepState]) error { c.State.ConnectionCount--; return nil })
		}()
		sleepFxDelayFirstFrame(ctx)
		if sleepFxWriteJSON(ctx, ws, map[string]any{"type": "connected", "connectionCount": n}) != nil {
			return
		}
		for {
			text, data, err := ws.Read(ctx)
			if err != nil {
				return
			}
			if !text {
				continue
			}
			var msg struct {
				Type string `json:"type"`
			}
			if json.Unmarshal(data, &msg) != nil {
				err = ws.Write(ctx, true, data)
			} else {
				switch msg.Type {
				case "getCounts":
					var st rawWsSleepState
					if err = s.Do(func(c *actors.Context[rawWsSleepState]) error { st = *c.State; return nil }); err == nil {
						err = sleepFxWriteJSON(ctx, ws, map[string]any{"type": "counts", "startCount": st.StartCount,
							"sleepCount": st.SleepCount, "connectionCount": st.ConnectionCount})
					}
				case "keepAlive":
					err = sleepFxWriteJSON(ctx, ws, map[string]any{"type": "ack"})
				}
			}
			if err != nil {
				return
			}
		}
	},
	IdleTimeout: sleepTimeout,
}).
	Action("getCounts", actors.Act0(func(c *actors.Context[rawWsSleepState]) (rawWsSleepState, error) {
		return *c.State, nil
	}))

// ---- sleepRawWsSendOnSleep, sleepRawWsDelayedSendOnSleep ------------------

// sleepFxWsSet is the vars of the send-on-sleep types: the open raw WebSockets.
type sleepFxWsSet struct {
	mu  sync.Mutex
	wss []actors.WebSocket
}

func (v *sleepFxWsSet) add(ws actors.WebSocket) {
	v.mu.Lock()
	v.wss = append(v.wss, ws)
	v.mu.Unlock()
}

func (v *sleepFxWsSet) remove(ws actors.WebSocket) {
	v.mu.Lock()
	for i, w := range v.wss {
		if w == ws {
			v.wss = append(v.wss[:i], v.wss[i+1:]...)
			break
		}
	}
	v.mu.Unlock()
}

func (v *sleepFxWsSet) list() []actors.WebSocket {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]actors.WebSocket(nil), v.wss...)
}

// sendOnSleepType builds sleepRawWsSendOnSleep (delay 0) and
// sleepRawWsDelayedSendOnSleep (delay 100 ms before and after the send):
// OnSleep sends {"type":"sleeping","sleepCount":n} to every open raw
// WebSocket. The suite's tests call triggerSleep with a raw WebSocket open,
// and expect the sleep to happen anyway (RivetKit's c.sleep() does); an open
// raw WebSocket keeps a rivet-flow actor awake, Context.Sleep included, so
// OnSleep does not run then.
func sendOnSleepType(name string, delay time.Duration) *actors.Type[sleepCounts] {
	return actors.NewType(name, actors.Options[sleepCounts]{
		CreateVars: func(*actors.Context[sleepCounts]) (any, error) { return &sleepFxWsSet{}, nil },
		OnWake:     countWake,
		OnSleep: func(c *actors.Context[sleepCounts]) error {
			c.State.SleepCount++
			if delay > 0 {
				_ = sleepFxPause(c.Context(), delay)
			}
			for _, ws := range c.Vars.(*sleepFxWsSet).list() {
				_ = sleepFxWriteJSON(c.Context(), ws, map[string]any{"type": "sleeping", "sleepCount": c.State.SleepCount})
			}
			if delay > 0 {
				_ = sleepFxPause(c.Context(), delay)
			}
			return nil
		},
		OnWebSocket: func(s *actors.Session[sleepCounts], ws actors.WebSocket) {
			ctx := s.Context()
			if s.Do(func(c *actors.Context[sleepCounts]) error { c.Vars.(*sleepFxWsSet).add(ws); return nil }) != nil {
				return
			}
			defer func() {
				_ = s.Do(func(c *actors.Context[sleepCounts]) error { c.Vars.(*sleepFxWsSet).remove(ws); return nil })
			}()
			sleepFxDelayFirstFrame(ctx)
			if sleepFxWriteJSON(ctx, ws, map[string]any{"type": "connected"}) != nil {
				return
			}
			for {
				if _, _, err := ws.Read(ctx); err != nil {
					return
				}
			}
		},
		IdleTimeout: sleepTimeout,
	}).
		Action("triggerSleep", actors.Act0(func(c *actors.Context[sleepCounts]) (any, error) {
			c.ForceSleep()
			return nil, nil
		})).
		Action("getCounts", actors.Act0(func(c *actors.Context[sleepCounts]) (sleepCounts, error) {
			return *c.State, nil
		}))
}

// ---- sleepWithWaitUntilInOnWake -------------------------------------------

type waitUntilOnWakeState struct {
	StartCount         int  `json:"startCount"`
	SleepCount         int  `json:"sleepCount"`
	WaitUntilCalled    bool `json:"waitUntilCalled"`
	WaitUntilCompleted bool `json:"waitUntilCompleted"`
}

// sleepWithWaitUntilInOnWake: OnWake starts background work that marks
// waitUntilCompleted.
var sleepWithWaitUntilInOnWake = actors.NewType("sleepWithWaitUntilInOnWake", actors.Options[waitUntilOnWakeState]{
	OnWake: func(c *actors.Context[waitUntilOnWakeState]) error {
		c.State.StartCount++
		// Upstream passes waitUntil an async IIFE without an await: its body
		// (waitUntilCompleted = true) runs at once, inside onWake, and
		// waitUntil gets a settled promise. The same here: the work is done
		// now and the background task has nothing left to do.
		c.State.WaitUntilCompleted = true
		c.WaitUntil(func(context.Context) {})
		c.State.WaitUntilCalled = true
		return nil
	},
	OnSleep:     func(c *actors.Context[waitUntilOnWakeState]) error { c.State.SleepCount++; return nil },
	IdleTimeout: sleepTimeout,
}).
	Action("triggerSleep", actors.Act0(func(c *actors.Context[waitUntilOnWakeState]) (any, error) {
		c.ForceSleep()
		return nil, nil
	})).
	Action("getStatus", actors.Act0(func(c *actors.Context[waitUntilOnWakeState]) (waitUntilOnWakeState, error) {
		return *c.State, nil
	}))

// ---- sleepWithNoSleepOption -----------------------------------------------

// sleepWithNoSleepOption: RivetKit's noSleep, as an idle timeout no test
// outlives (rivet-flow has no option that disables sleeping).
var sleepWithNoSleepOption = actors.NewType("sleepWithNoSleepOption", actors.Options[sleepCounts]{
	OnWake:      countWake,
	OnSleep:     countSleep,
	IdleTimeout: noSleepIdleTimeout,
}).
	Action("getCounts", actors.Act0(func(c *actors.Context[sleepCounts]) (sleepCounts, error) {
		return *c.State, nil
	}))

// ---- sleepWithPreventSleep ------------------------------------------------

type preventSleepState struct {
	StartCount                        int  `json:"startCount"`
	SleepCount                        int  `json:"sleepCount"`
	PreventSleepOnWake                bool `json:"preventSleepOnWake"`
	DelayPreventSleepDuringShutdown   bool `json:"delayPreventSleepDuringShutdown"`
	PreventSleepClearedDuringShutdown bool `json:"preventSleepClearedDuringShutdown"`
}

type preventSleepStatus struct {
	StartCount                        int  `json:"startCount"`
	SleepCount                        int  `json:"sleepCount"`
	PreventSleep                      bool `json:"preventSleep"`
	PreventSleepOnWake                bool `json:"preventSleepOnWake"`
	DelayPreventSleepDuringShutdown   bool `json:"delayPreventSleepDuringShutdown"`
	PreventSleepClearedDuringShutdown bool `json:"preventSleepClearedDuringShutdown"`
}

// preventSleepVars is RivetKit's c.preventSleep flag, in memory: while it is
// set, a KeepAwake task waits on release, which keeps the actor awake.
type preventSleepVars struct {
	mu      sync.Mutex
	on      bool
	release chan struct{}
}

// setPreventSleep is RivetKit's c.setPreventSleep, which rivet-flow's
// Context does not have, built on KeepAwake: the actor cannot sleep while a
// KeepAwake task runs, so one waits until the flag is cleared (or the
// runtime stops).
func setPreventSleep(c *actors.Context[preventSleepState], prevent bool) bool {
	v := c.Vars.(*preventSleepVars)
	v.mu.Lock()
	defer v.mu.Unlock()
	switch {
	case prevent && !v.on:
		ch := make(chan struct{})
		v.on, v.release = true, ch
		c.KeepAwake(func(ctx context.Context) {
			select {
			case <-ch:
			case <-ctx.Done():
			}
		})
	case !prevent && v.on:
		ch := v.release
		v.on, v.release = false, nil
		close(ch)
	}
	return v.on
}

func (v *preventSleepVars) isOn() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.on
}

// sleepWithPreventSleep: setPreventSleep holds the actor awake until
// cleared; preventSleepOnWake restores it on every wake; with
// delayPreventSleepDuringShutdown, OnSleep holds the sleep back for
// PREVENT_SLEEP_TIMEOUT/2 and notes that it was cleared.
var sleepWithPreventSleep = actors.NewType("sleepWithPreventSleep", actors.Options[preventSleepState]{
	CreateVars: func(*actors.Context[preventSleepState]) (any, error) { return &preventSleepVars{}, nil },
	OnWake: func(c *actors.Context[preventSleepState]) error {
		c.State.StartCount++
		setPreventSleep(c, c.State.PreventSleepOnWake)
		return nil
	},
	OnSleep: func(c *actors.Context[preventSleepState]) error {
		c.State.SleepCount++
		if c.State.DelayPreventSleepDuringShutdown {
			// Upstream sets preventSleep during shutdown and clears it
			// PREVENT_SLEEP_TIMEOUT/2 later, which holds the shutdown back
			// until then (within the sleep grace period): here OnSleep
			// itself waits that long.
			v := c.Vars.(*preventSleepVars)
			v.mu.Lock()
			v.on = true
			v.mu.Unlock()
			_ = sleepFxPause(c.Context(), preventSleepTimeout/2)
			c.State.PreventSleepClearedDuringShutdown = true
			v.mu.Lock()
			v.on = false
			v.mu.Unlock()
		}
		return nil
	},
	IdleTimeout: sleepTimeout,
}).
	Action("triggerSleep", actors.Act0(func(c *actors.Context[preventSleepState]) (any, error) {
		c.ForceSleep()
		return nil, nil
	})).
	Action("getStatus", actors.Act0(func(c *actors.Context[preventSleepState]) (preventSleepStatus, error) {
		s := c.State
		return preventSleepStatus{StartCount: s.StartCount, SleepCount: s.SleepCount,
			PreventSleep: c.Vars.(*preventSleepVars).isOn(), PreventSleepOnWake: s.PreventSleepOnWake,
			DelayPreventSleepDuringShutdown:   s.DelayPreventSleepDuringShutdown,
			PreventSleepClearedDuringShutdown: s.PreventSleepClearedDuringShutdown}, nil
	})).
	Action("setPreventSleep", actors.Act(func(c *actors.Context[preventSleepState], prevent bool) (bool, error) {
		return setPreventSleep(c, prevent), nil
	})).
	Action("setPreventSleepOnWake", actors.Act(func(c *actors.Context[preventSleepState], prevent bool) (bool, error) {
		c.State.PreventSleepOnWake = prevent
		return c.State.PreventSleepOnWake, nil
	})).
	Action("setDelayPreventSleepDuringShutdown", actors.Act(func(c *actors.Context[preventSleepState], enabled bool) (bool, error) {
		c.State.DelayPreventSleepDuringShutdown = enabled
		c.State.PreventSleepClearedDuringShutdown = false
		return c.State.DelayPreventSleepDuringShutdown, nil
	}))

// ---- sleepRawWs{AddEventListener,On}{Message,Close} ----------------------

type asyncRawWsState struct {
	StartCount      int `json:"startCount"`
	SleepCount      int `json:"sleepCount"`
	MessageStarted  int `json:"messageStarted"`
	MessageFinished int `json:"messageFinished"`
	CloseStarted    int `json:"closeStarted"`
	CloseFinished   int `json:"closeFinished"`
}

// asyncRawWsType builds the four async raw WebSocket handler types: a
// "track-message" message (onClose false) or the socket's close (onClose
// true) starts a handler that counts its start, waits RAW_WS_HANDLER_DELAY
// and counts its end; the actor must stay awake until it ends. Upstream
// registers the handler with addEventListener or the on* property, which
// is the same thing here.
func asyncRawWsType(name string, onClose bool) *actors.Type[asyncRawWsState] {
	return actors.NewType(name, actors.Options[asyncRawWsState]{
		OnWake:  func(c *actors.Context[asyncRawWsState]) error { c.State.StartCount++; return nil },
		OnSleep: func(c *actors.Context[asyncRawWsState]) error { c.State.SleepCount++; return nil },
		OnWebSocket: func(s *actors.Session[asyncRawWsState], ws actors.WebSocket) {
			ctx := s.Context()
			// The handlers run on after the socket closes; the session (and
			// so the actor) stays until the last one ends.
			var handlers sync.WaitGroup
			defer handlers.Wait()
			sleepFxDelayFirstFrame(ctx)
			if sleepFxWriteJSON(ctx, ws, map[string]any{"type": "connected"}) != nil {
				return
			}
			for {
				text, data, err := ws.Read(ctx)
				if err != nil {
					break
				}
				if onClose || !text || string(data) != "track-message" {
					continue
				}
				handlers.Go(func() {
					if s.Do(func(c *actors.Context[asyncRawWsState]) error { c.State.MessageStarted++; return nil }) != nil {
						return
					}
					_ = sleepFxWriteJSON(ctx, ws, map[string]any{"type": "message-started"})
					_ = sleepFxPause(ctx, rawWsHandlerDelay)
					_ = s.Do(func(c *actors.Context[asyncRawWsState]) error { c.State.MessageFinished++; return nil })
				})
			}
			if onClose {
				if s.Do(func(c *actors.Context[asyncRawWsState]) error { c.State.CloseStarted++; return nil }) != nil {
					return
				}
				_ = sleepFxPause(ctx, rawWsHandlerDelay)
				_ = s.Do(func(c *actors.Context[asyncRawWsState]) error { c.State.CloseFinished++; return nil })
			}
		},
		IdleTimeout: rawWsHandlerSleepTimeout,
	}).
		Action("triggerSleep", actors.Act0(func(c *actors.Context[asyncRawWsState]) (any, error) {
			c.ForceSleep()
			return nil, nil
		})).
		Action("getStatus", actors.Act0(func(c *actors.Context[asyncRawWsState]) (asyncRawWsState, error) {
			return *c.State, nil
		}))
}

func init() {
	add(sleepActor, sleepWithLongRpc, sleepWithWaitUntilMessage, sleepWithRawHttp, sleepWithRawWebSocket,
		sendOnSleepType("sleepRawWsSendOnSleep", 0), sendOnSleepType("sleepRawWsDelayedSendOnSleep", 100*time.Millisecond),
		sleepWithWaitUntilInOnWake, sleepWithNoSleepOption, sleepWithPreventSleep,
		asyncRawWsType("sleepRawWsAddEventListenerMessage", false), asyncRawWsType("sleepRawWsAddEventListenerClose", true),
		asyncRawWsType("sleepRawWsOnMessage", false), asyncRawWsType("sleepRawWsOnClose", true))
}
