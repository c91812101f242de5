package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/actors"
	"github.com/rivet-flow/rivet-flow/errcode"
)

// Codes of refused signals.
const (
	// CodeRunFinished: the run is completed, failed or cancelled; it takes
	// no more signals (HTTP 409).
	CodeRunFinished errcode.Code = "run_finished"
	// CodeInboxFull: the run's inbox holds Options.MaxInbox signals not yet
	// taken (HTTP 429).
	CodeInboxFull errcode.Code = "inbox_full"
)

// Errors of Engine.Signal; compare with errors.Is.
var (
	ErrRunFinished = &Error{Code: CodeRunFinished, Message: "workflow run is finished"}
	ErrInboxFull   = &Error{Code: CodeInboxFull, Message: "workflow run's inbox is full"}
)

// MaxSignalBytes bounds a signal's payload (JSON).
const MaxSignalBytes = 64 << 10

// InboxMsg is a signal in a run's inbox, not yet taken by a wait; its
// payload is the run actor's KV msgKey(ID).
type InboxMsg struct {
	ID   uint64    `json:"id"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
}

// msgKey is the KV key of the payload of inbox message id.
func msgKey(id uint64) string { return "m/" + strconv.FormatUint(id, 10) }

// SignalResult is what the signal action answers: the message's ID and
// the run's status after it.
type SignalResult struct {
	ID     uint64 `json:"id"`
	Status Status `json:"status"`
}

// msgExtra is the Extra of a message entry: the message taken, or that
// the wait timed out.
type msgExtra struct {
	ID       uint64 `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	TimedOut bool   `json:"timedOut,omitempty"`
}

// signal is the public signal(name, payload) action: it appends the
// signal to the inbox (design §1.5) and wakes a run parked on a wait for
// it (status running, a new runner), or pokes a runner waiting in memory.
// A finished run refuses it (run_finished), a full inbox too (inbox_full).
func (c *core) signal(ac *actors.Context[RunState], name string, payload json.RawMessage) (SignalResult, error) {
	st := ac.State
	if st.Status.Finished() {
		return SignalResult{}, actors.NewUserError(string(CodeRunFinished), fmt.Sprintf("workflow run %s is %s: it takes no more signals", st.RunID, st.Status), nil)
	}
	if err := ValidateName(name); err != nil {
		return SignalResult{}, actors.NewUserError("invalid_request", "signal name: "+err.Error(), nil)
	}
	if len(payload) == 0 {
		payload = json.RawMessage("null")
	}
	if len(payload) > MaxSignalBytes {
		return SignalResult{}, actors.NewUserError(string(CodeEntryTooLarge), fmt.Sprintf("signal payload is %d bytes, limit %d", len(payload), MaxSignalBytes), nil)
	}
	if len(st.Inbox) >= c.opts.MaxInbox {
		return SignalResult{}, actors.NewUserError(string(CodeInboxFull), fmt.Sprintf("workflow run %s holds %d signals not yet taken, limit %d", st.RunID, len(st.Inbox), c.opts.MaxInbox), nil)
	}
	now := ac.Now()
	st.NextMsgID++
	id := st.NextMsgID
	st.Inbox = append(st.Inbox, InboxMsg{ID: id, Name: name, At: now})
	ac.KV().Put(msgKey(id), payload)
	st.UpdatedAt = now
	if st.Status == StatusWaiting && st.Waiting.wantsSignal(name) {
		st.Status, st.Waiting = StatusRunning, nil
		ac.Broadcast("wf.progress", map[string]any{"status": st.Status})
		c.startIfIdle(ac)
	} else if v := vars(ac); v.active {
		poke(v)
	}
	return SignalResult{ID: id, Status: st.Status}, nil
}

// Signal sends signal (a name, as ValidateName checks) with payload (JSON;
// nil is null) to run runID of workflow name. It is buffered in the run's
// inbox until a WaitSignal takes it, so a signal sent before the wait
// begins is not lost. It returns the message's ID and the run's status.
// A finished run is ErrRunFinished, a full inbox ErrInboxFull.
func (e *Engine) Signal(ctx context.Context, name, runID, signal string, payload json.RawMessage) (uint64, Status, error) {
	if _, err := e.Get(ctx, name, runID); err != nil {
		return 0, "", err
	}
	if payload == nil {
		payload = json.RawMessage("null")
	}
	if !json.Valid(payload) {
		return 0, "", actors.NewUserError("invalid_request", "signal payload is not valid JSON", nil)
	}
	h, err := e.rt.Client().Get(ctx, name, []string{runID})
	if err != nil {
		return 0, "", fmt.Errorf("signal run %s of %s: %w", runID, name, err)
	}
	res, err := actors.Call[SignalResult](ctx, h, "signal", signal, payload)
	if err != nil {
		var ue *actors.UserError
		if errors.As(err, &ue) {
			switch errcode.Code(ue.Code) {
			case CodeRunFinished:
				return 0, "", fmt.Errorf("%w: %s", ErrRunFinished, ue.Message)
			case CodeInboxFull:
				return 0, "", fmt.Errorf("%w: %s", ErrInboxFull, ue.Message)
			}
		}
		return 0, "", fmt.Errorf("signal run %s of %s: %w", runID, name, err)
	}
	return res.ID, res.Status, nil
}

// WaitSignal waits for the signal named signal, as the journaled call name,
// and returns its payload; timedOut reports that timeout (> 0; 0 or less:
// none) passed first. It takes the oldest such signal in the run's inbox,
// so a signal sent before the wait is not lost, and journals it: a replay
// returns the same payload. Finding none it waits: in memory when the
// timeout ends sooner than Options.ParkAfter, else the run parks (status
// waiting; the actor leaves memory) until the signal arrives or the
// timeout's alarm fires. A wait without a timeout parks after ParkAfter.
func (w *W) WaitSignal(name, signal string, timeout time.Duration) (payload json.RawMessage, timedOut bool, err error) {
	if err := w.failed(); err != nil {
		return nil, false, err
	}
	if err := ValidateName(signal); err != nil {
		return nil, false, w.fail(fmt.Errorf("WaitSignal %s: signal name: %w", name, err))
	}
	p, err := w.scope.Child(name)
	if err != nil {
		return nil, false, w.fail(err)
	}
	v, err := w.replay.Visit(KindMessage, p)
	if err != nil {
		return nil, false, w.fail(w.nondeterminism(err))
	}
	if v.Found && v.Entry.Status == EntryCompleted {
		return w.messageOutcome(v.Entry)
	}
	clk := w.e.rt.Clock()
	var until time.Time
	if v.Found {
		until = v.Entry.NextAt
	} else if timeout > 0 {
		until = alarmTime(clk.Now().Add(timeout))
	}
	parkAfter := w.c.opts.ParkAfter
	start := clk.Now()
	for {
		now := clk.Now()
		left := parkAfter - now.Sub(start) // no deadline: wait in memory this long
		if !until.IsZero() {
			left = until.Sub(now)
		}
		parkIt := left >= parkAfter // a long timeout parks at once
		if until.IsZero() {
			parkIt = left <= 0 // no timeout: parks after ParkAfter in memory
		}
		e, parked, wake, err := w.takeDo(p, v.Ord, signal, until, parkIt)
		if err != nil {
			return nil, false, w.fail(err)
		}
		if parked {
			return nil, false, w.fail(errParked)
		}
		if e.Status == EntryCompleted {
			return w.messageOutcome(e)
		}
		until = e.NextAt
		if !until.IsZero() {
			left = until.Sub(clk.Now())
		}
		if !w.memWait(left, wake) {
			return nil, false, w.fail(errStop)
		}
	}
}

// messageOutcome returns what a completed message entry records.
func (w *W) messageOutcome(e Entry) (json.RawMessage, bool, error) {
	w.visited(e)
	var x msgExtra
	if len(e.Extra) > 0 {
		if err := json.Unmarshal(e.Extra, &x); err != nil {
			return nil, false, w.fail(fmt.Errorf("%w: message entry: %w", ErrInvalidPath, err))
		}
	}
	if x.TimedOut {
		return nil, true, nil
	}
	return append(json.RawMessage(nil), e.Output...), false, nil
}

// takeDo is one compare-and-set Do on the message entry at p: it writes
// the waiting entry (with the timeout's alarm) if missing, takes the
// oldest signal named signal from the inbox into it, or records the
// timeout once due; otherwise it parks the run when parkIt. The inbox is
// read in the same mailbox turn as the park, so a signal cannot slip in
// between. It returns the entry and the actor's wake channel.
func (w *W) takeDo(p Path, ord int, signal string, until time.Time, parkIt bool) (Entry, bool, <-chan struct{}, error) {
	key := EntryKey(w.epoch, p)
	var e Entry
	var wake <-chan struct{}
	parked := false
	args := wfArgs{Op: "msg", Entry: p.String(), Status: StatusRunning}
	if parkIt {
		args.Status = StatusWaiting
	}
	err := do(w.ctx, w.h, args, func(ac *actors.Context[RunState]) error {
		parked = false
		st := ac.State
		if st.Status != StatusRunning || st.Epoch != w.epoch {
			return errStop
		}
		wake = vars(ac).wake
		now := ac.Now()
		dirty := false
		if raw, ok := ac.KV().Get(key); ok {
			var err error
			if e, err = DecodeEntry(raw); err != nil {
				return err
			}
			if e.Status == EntryCompleted {
				return nil
			}
		} else {
			e = Entry{Kind: KindMessage, Ord: ord, Status: EntryWaiting, At: now, NextAt: until}
			if !until.IsZero() {
				id, err := ac.Schedule().At(until, timerAction, p.String())
				if err != nil {
					return err
				}
				e.Alarm = id
			}
			dirty = true
		}
		if i := slices.IndexFunc(st.Inbox, func(m InboxMsg) bool { return m.Name == signal }); i >= 0 {
			m := st.Inbox[i]
			body, ok := ac.KV().Get(msgKey(m.ID))
			if !ok {
				body = []byte("null")
			}
			ac.KV().Delete(msgKey(m.ID))
			st.Inbox = slices.Delete(slices.Clone(st.Inbox), i, i+1)
			x, _ := json.Marshal(msgExtra{ID: m.ID, Name: m.Name})
			e.Output, e.Extra = append(json.RawMessage(nil), body...), x
			e.Status, dirty = EntryCompleted, true
		} else if !e.NextAt.IsZero() && !now.Before(e.NextAt) {
			e.Output, e.Extra = json.RawMessage("null"), timedOut
			e.Status, dirty = EntryCompleted, true
		}
		if e.Status == EntryCompleted {
			if e.Alarm != "" {
				ac.Schedule().Cancel(e.Alarm)
			}
			e.At, e.Alarm = now, ""
		}
		if dirty {
			b, err := EncodeEntry(p, e)
			if err != nil {
				return err
			}
			ac.KV().Put(key, b)
			st.Current, st.UpdatedAt = p.String(), now
			ac.Broadcast("wf.progress", map[string]any{"entry": p.String(), "status": e.Status})
		}
		if e.Status == EntryWaiting && parkIt {
			parked = w.park(ac, StatusWaiting, &Waiting{Entry: p.String(), Names: []string{signal}, Until: e.NextAt, Alarm: e.Alarm})
		}
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return e, false, nil, errStop
		}
		return e, false, nil, fmt.Errorf("workflow %s run %s: wait for %s at %s: %w", w.c.name, w.runID, signal, p, err)
	}
	if err := w.replay.Commit(p, e); err != nil {
		return e, false, nil, err
	}
	return e, parked, wake, nil
}
