package workflows

import (
	"bytes"
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

// Codes of refused signals and messages.
const (
	// CodeRunFinished: the run is completed, failed or cancelled; it takes
	// no more signals (HTTP 409).
	CodeRunFinished errcode.Code = "run_finished"
	// CodeInboxFull: the run's inbox holds Options.MaxInbox signals not yet
	// taken (HTTP 429).
	CodeInboxFull errcode.Code = "inbox_full"
)

// Errors of Engine.Signal and Engine.Send; compare with errors.Is.
var (
	ErrRunFinished = &Error{Code: CodeRunFinished, Message: "workflow run is finished"}
	ErrInboxFull   = &Error{Code: CodeInboxFull, Message: "workflow run's inbox is full"}
)

// MaxSignalBytes bounds a signal's payload, a queue message's body and a
// message's response (JSON).
const MaxSignalBytes = 64 << 10

// InboxMsg is a message (a signal is a message whose queue is the signal's
// name) in a run's inbox, not yet taken by a wait; its body is the run
// actor's KV msgKey(ID).
type InboxMsg struct {
	ID   uint64    `json:"id"`
	Name string    `json:"name"`
	At   time.Time `json:"at"`
	// Completable: a sender waits for the message's completion; until it
	// is completed the run actor's KV holds owedKey(ID).
	Completable bool `json:"completable,omitempty"`
}

// msgKey is the KV key of the body of inbox message id.
func msgKey(id uint64) string { return "m/" + strconv.FormatUint(id, 10) }

// owedKey marks message id as owed a completion: set when a completable
// message is sent, deleted by the Do that completes it (the take of a
// non-completable wait, Message.Complete, or the run's end).
func owedKey(id uint64) string { return owedPrefix + strconv.FormatUint(id, 10) }

const owedPrefix = "mc/"

// SignalResult is what the signal and send actions answer: the message's
// ID and the run's status after it.
type SignalResult struct {
	ID     uint64 `json:"id"`
	Status Status `json:"status"`
}

// msgExtra is the Extra of a message entry. A wait that timed out records
// {"timedOut":true} ($timer writes it too); an entry of the first format
// (Output the body) names the message taken with ID and Name; the current
// format (Output a []takenMsg) has no Extra.
type msgExtra struct {
	ID       uint64 `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	TimedOut bool   `json:"timedOut,omitempty"`
}

// takenMsg is one message a wait took, as its entry's Output lists it.
type takenMsg struct {
	ID   uint64          `json:"id"`
	Name string          `json:"name"`
	Body json.RawMessage `json:"body"`
	At   time.Time       `json:"at"`
	// Owed: the wait was completable and a sender waits for the response.
	Owed bool `json:"owed,omitempty"`
}

// signal is the public signal(name, payload) action: send(name, payload,
// false) in the words of signals.
func (c *core) signal(ac *actors.Context[RunState], name string, payload json.RawMessage) (SignalResult, error) {
	id, err := c.enqueue(ac, "signal", name, payload, false)
	if err != nil {
		return SignalResult{}, err
	}
	return SignalResult{ID: id, Status: ac.State.Status}, nil
}

// enqueue appends a message to the run's inbox in the current event
// (design §1.5) and wakes a run parked on a wait for it (status running, a
// new runner), or pokes a runner waiting in memory. A finished run refuses
// it (run_finished), a full inbox too (inbox_full); what names the kind
// of message in errors ("signal", "message"). completable marks it owed a
// completion.
func (c *core) enqueue(ac *actors.Context[RunState], what, name string, body json.RawMessage, completable bool) (uint64, error) {
	st := ac.State
	if st.Status.Finished() {
		return 0, actors.NewUserError(string(CodeRunFinished), fmt.Sprintf("workflow run %s is %s: it takes no more %ss", st.RunID, st.Status, what), nil)
	}
	if err := ValidateName(name); err != nil {
		return 0, actors.NewUserError("invalid_request", what+" name: "+err.Error(), nil)
	}
	if len(body) == 0 {
		body = json.RawMessage("null")
	}
	if len(body) > MaxSignalBytes {
		return 0, actors.NewUserError(string(CodeEntryTooLarge), fmt.Sprintf("%s body is %d bytes, limit %d", what, len(body), MaxSignalBytes), nil)
	}
	if len(st.Inbox) >= c.opts.MaxInbox {
		return 0, actors.NewUserError(string(CodeInboxFull), fmt.Sprintf("workflow run %s holds %d messages not yet taken, limit %d: retry once it takes some", st.RunID, len(st.Inbox), c.opts.MaxInbox), nil)
	}
	now := ac.Now()
	st.NextMsgID++
	id := st.NextMsgID
	st.Inbox = append(st.Inbox, InboxMsg{ID: id, Name: name, At: now, Completable: completable})
	ac.KV().Put(msgKey(id), body)
	if completable {
		ac.KV().Put(owedKey(id), []byte("1"))
	}
	st.UpdatedAt = now
	if wakesOn(ac, name) {
		st.Status, st.Waiting = StatusRunning, nil
		ac.Broadcast("wf.progress", progress{Status: string(st.Status)})
		c.startIfIdle(ac)
	} else if v := vars(ac); v.active {
		poke(v)
	}
	return id, nil
}

// wakesOn reports whether the run in ac is parked (waiting) on a wait
// that a message named name ends.
func wakesOn(ac *actors.Context[RunState], name string) bool {
	return ac.State.Status == StatusWaiting && wantsMessage(ac, ac.State.Waiting, name)
}

// wantsMessage reports whether a message named name ends a wait of wt (of
// the run in ac): one naming it, or a queue wait for any name (its
// waiting entry's Extra says so: wt.Names cannot).
func wantsMessage(ac *actors.Context[RunState], wt *Waiting, name string) bool {
	if wt == nil {
		return false
	}
	if wt.wantsSignal(name) {
		return true
	}
	for _, path := range append([]string{wt.Entry}, wt.Entries...) {
		if waitsForAny(ac, path) {
			return true
		}
	}
	return false
}

// inboxWakes reports whether a message already in the inbox of the run in
// ac ends a wait of wt: a run about to park on wt has no reason to.
func inboxWakes(ac *actors.Context[RunState], wt *Waiting) bool {
	return slices.ContainsFunc(ac.State.Inbox, func(m InboxMsg) bool { return wantsMessage(ac, wt, m.Name) })
}

// anyQueue is the Extra of a waiting message entry that takes messages of
// any queue.
var anyQueue = json.RawMessage(`{"any":true}`)

// waitsForAny reports whether the entry at path is a waiting message
// entry that takes messages of any queue.
func waitsForAny(ac *actors.Context[RunState], path string) bool {
	p, err := ParsePath(path)
	if err != nil {
		return false
	}
	raw, ok := ac.KV().Get(EntryKey(ac.State.Epoch, p))
	if !ok {
		return false
	}
	e, err := DecodeEntry(raw)
	return err == nil && e.Kind == KindMessage && e.Status == EntryWaiting && bytes.Equal(e.Extra, anyQueue)
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
		return 0, "", inboxError(fmt.Sprintf("signal run %s of %s", runID, name), err)
	}
	return res.ID, res.Status, nil
}

// inboxError maps the inbox's refusals to ErrRunFinished and ErrInboxFull;
// other errors are wrapped with what.
func inboxError(what string, err error) error {
	var ue *actors.UserError
	if errors.As(err, &ue) {
		switch errcode.Code(ue.Code) {
		case CodeRunFinished:
			return fmt.Errorf("%w: %s", ErrRunFinished, ue.Message)
		case CodeInboxFull:
			return fmt.Errorf("%w: %s", ErrInboxFull, ue.Message)
		}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// WaitSignal waits for the signal named signal, as the journaled call name,
// and returns its payload; timedOut reports that timeout (> 0; 0 or less:
// none) passed first. It takes the oldest such signal in the run's inbox,
// so a signal sent before the wait is not lost, and journals it: a replay
// returns the same payload. Finding none it waits: in memory when the
// timeout ends sooner than Options.ParkAfter, else the run parks (status
// waiting; the actor leaves memory) until the signal arrives or the
// timeout's alarm fires. A wait without a timeout parks after ParkAfter.
// It is Queue().Next(name, NextOptions{Names: {signal}, Timeout}) that
// returns the body.
func (w *W) WaitSignal(name, signal string, timeout time.Duration) (payload json.RawMessage, timedOut bool, err error) {
	if err := ValidateName(signal); err != nil {
		return nil, false, w.fail(fmt.Errorf("WaitSignal %s: signal name: %w", name, err))
	}
	msgs, err := w.take(name, takeSpec{names: []string{signal}, count: 1}, timeout)
	if errors.Is(err, ErrTimeout) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	return msgs[0].Body, false, nil
}

// takeSpec is what a message wait takes: the oldest messages of names
// (none: any), at most count; completable: the caller completes them
// (Message.Complete), else they are completed when taken.
type takeSpec struct {
	names       []string
	count       int
	completable bool
}

// matches reports whether a message named name is one the wait takes.
func (s takeSpec) matches(name string) bool {
	return len(s.names) == 0 || slices.Contains(s.names, name)
}

// take is every message wait (WaitSignal, Next, NextBatch), as the
// journaled call name: it returns the messages the entry records, taking
// them now if it records none, or ErrTimeout once timeout (> 0) passed.
func (w *W) take(name string, spec takeSpec, timeout time.Duration) ([]takenMsg, error) {
	p, v, err := w.enter(KindMessage, name)
	if err != nil {
		return nil, err
	}
	if v.Found && v.Entry.Status == EntryCompleted {
		return w.takenOutcome(v.Entry)
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
		e, parked, wake, err := w.takeDo(p, v.Ord, spec, until, parkIt)
		if err != nil {
			return nil, w.fail(err)
		}
		if parked {
			return nil, w.fail(errParked)
		}
		if e.Status == EntryCompleted {
			return w.takenOutcome(e)
		}
		until = e.NextAt
		if !until.IsZero() {
			left = until.Sub(clk.Now())
		}
		if !w.memWait(left, wake) {
			return nil, w.fail(errStop)
		}
	}
}

// takenOutcome returns what a completed message entry records: the
// messages taken, or ErrTimeout.
func (w *W) takenOutcome(e Entry) ([]takenMsg, error) {
	w.visited(e)
	var x msgExtra
	if len(e.Extra) > 0 {
		if err := json.Unmarshal(e.Extra, &x); err != nil {
			return nil, w.fail(fmt.Errorf("%w: message entry: %w", ErrInvalidPath, err))
		}
	}
	switch {
	case x.TimedOut:
		return nil, ErrTimeout
	case x.ID != 0: // the first format: Output is the body
		return []takenMsg{{ID: x.ID, Name: x.Name, Body: append(json.RawMessage(nil), e.Output...), At: e.At}}, nil
	}
	var msgs []takenMsg
	if err := json.Unmarshal(e.Output, &msgs); err != nil || len(msgs) == 0 {
		return nil, w.fail(fmt.Errorf("%w: message entry records no messages: %v", ErrInvalidPath, err))
	}
	return msgs, nil
}

// takeBudget bounds the bodies one entry takes, under MaxEntryBytes with
// room for the entry's other fields; a wait always takes at least one.
const takeBudget = MaxEntryBytes - 16<<10

// takeDo is one compare-and-set Do on the message entry at p: it writes
// the waiting entry (with the timeout's alarm) if missing, takes the
// oldest messages spec matches from the inbox into it (FIFO by ID), or
// records the timeout once due; otherwise it parks the run when parkIt.
// The inbox is read in the same mailbox turn as the park, so a message
// cannot slip in between. Messages owed a completion that the wait does
// not complete itself are completed (with null) by this Do, and their
// senders told after the commit. It returns the entry and the actor's
// wake channel.
func (w *W) takeDo(p Path, ord int, spec takeSpec, until time.Time, parkIt bool) (Entry, bool, <-chan struct{}, error) {
	if w.ro != nil {
		return Entry{}, false, nil, w.frontier(p)
	}
	key := EntryKey(w.epoch, p)
	var e Entry
	var wake <-chan struct{}
	var done []uint64 // completed at take: tell their senders after the commit
	parked := false
	args := wfArgs{Op: "msg", Entry: p.String(), Status: StatusRunning}
	if parkIt {
		args.Status = StatusWaiting
	}
	err := do(w.ctx, w.h, args, func(ac *actors.Context[RunState]) error {
		parked, done = false, done[:0]
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
			if len(spec.names) == 0 {
				e.Extra = anyQueue
			}
			if !until.IsZero() {
				id, err := ac.Schedule().At(until, timerAction, p.String())
				if err != nil {
					return err
				}
				e.Alarm = id
			}
			dirty = true
		}
		if msgs, d := takeInbox(ac, spec); len(msgs) > 0 {
			out, err := json.Marshal(msgs)
			if err != nil {
				return err
			}
			done = d
			e.Output, e.Extra = out, nil
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
			ac.Broadcast("wf.progress", progress{Entry: p.String(), Status: string(e.Status)})
		}
		if e.Status == EntryWaiting && parkIt {
			parked = w.park(ac, StatusWaiting, &Waiting{Entry: p.String(), Names: spec.names, Until: e.NextAt, Alarm: e.Alarm})
		}
		return nil
	})
	if err != nil {
		if stopping(w.ctx, err) {
			return e, false, nil, errStop
		}
		return e, false, nil, fmt.Errorf("workflow %s run %s: wait for messages at %s: %w", w.c.name, w.runID, p, err)
	}
	for _, id := range done {
		notifyCompleted(w.c, w.actorID, id, nil)
	}
	if err := w.replay.Commit(p, e); err != nil {
		return e, false, nil, err
	}
	return e, parked, wake, nil
}

// takeInbox moves the oldest messages spec matches out of the inbox (their
// bodies out of KV), at most spec.count and about takeBudget bytes of
// bodies. It returns them, and the IDs of those it completed (owed a
// completion the wait does not make: not completable). It runs in the
// mailbox.
func takeInbox(ac *actors.Context[RunState], spec takeSpec) ([]takenMsg, []uint64) {
	st := ac.State
	var msgs []takenMsg
	var done []uint64
	size, full := 0, false
	keep := make([]InboxMsg, 0, len(st.Inbox))
	for _, m := range st.Inbox {
		if full || len(msgs) >= spec.count || !spec.matches(m.Name) {
			keep = append(keep, m)
			continue
		}
		body, ok := ac.KV().Get(msgKey(m.ID))
		if !ok {
			body = []byte("null")
		}
		if len(msgs) > 0 && size+len(body) > takeBudget {
			full = true // the rest waits for the next take, in order
			keep = append(keep, m)
			continue
		}
		size += len(body)
		ac.KV().Delete(msgKey(m.ID))
		_, owed := ac.KV().Get(owedKey(m.ID))
		if owed && !spec.completable {
			ac.KV().Delete(owedKey(m.ID))
			done = append(done, m.ID)
			owed = false
		}
		msgs = append(msgs, takenMsg{ID: m.ID, Name: m.Name, Body: append(json.RawMessage(nil), body...), At: m.At, Owed: owed})
	}
	if len(msgs) > 0 {
		st.Inbox = keep
	}
	return msgs, done
}
