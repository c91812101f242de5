package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/rivet-flow/rivet-flow/errcode"
)

// Event is one event of an actor's history, as the log holds it.
type Event struct {
	// Seq is the event's sequence in the log (shared by all actors).
	Seq uint64 `json:"seq"`
	// Kind is "create", "action", "destroy" or "system".
	Kind string `json:"kind"`
	// Action is the action's name ("$create" and "$destroy" for those kinds).
	Action string `json:"action,omitempty"`
	// Args are the action's arguments, as a JSON array.
	Args json.RawMessage `json:"args,omitempty"`
	// Output is the action's result.
	Output json.RawMessage `json:"output,omitempty"`
	// Caller says who called, such as "http:127.0.0.1".
	Caller string `json:"caller,omitempty"`
	// Time is the clock the action saw (recorded, so replays see it too).
	Time time.Time `json:"time"`
	// Stored is when the log stored the event.
	Stored time.Time `json:"stored"`
	// Generation is the actor's generation (see Actor.Generation).
	Generation uint64 `json:"generation"`
	// StateChanged reports whether the event changed the actor's state.
	StateChanged bool `json:"stateChanged"`
	// Patch is the state change as an RFC 6902 JSON Patch from the state
	// before the event (events record changes, not copies).
	Patch json.RawMessage `json:"patch,omitempty"`
	// State is the whole state after the event: where the event stored it
	// (a create, or a change larger than a patch), or on every event when
	// EventsOptions.State asked for it.
	State json.RawMessage `json:"state,omitempty"`
	// Broadcasts are the realtime events the action sent.
	Broadcasts []Broadcast `json:"broadcasts,omitempty"`
	// CodeVersion is the version of the actor code that ran.
	CodeVersion string `json:"codeVersion,omitempty"`
}

// Broadcast is a realtime event an action sent to the actor's subscribers.
type Broadcast struct {
	// Name is the event's name, such as "newCount".
	Name string `json:"name"`
	// Args are its arguments, as a JSON array.
	Args json.RawMessage `json:"args"`
}

// LogEvent is an event of any actor, as Tail streams it.
type LogEvent struct {
	// ActorID is the ID of the actor the event belongs to.
	ActorID string `json:"actorId"`
	Event
}

// EventsOptions pages through Events.
type EventsOptions struct {
	// After returns events after this log sequence: pass the previous page's
	// NextAfter. Defaults to 0, the start.
	After uint64
	// Limit is the page size; the server caps it (1000 by default). Defaults
	// to the server's default (100).
	Limit int
	// State asks for the whole state after each event (folded by the server).
	State bool
}

// EventPage is one page of an actor's history.
type EventPage struct {
	// Events are the page's events, oldest first.
	Events []Event `json:"events"`
	// NextAfter is the EventsOptions.After of the next page; 0 on the last.
	NextAfter uint64 `json:"nextAfter,omitempty"`
}

// Events reads one page of the actor's event history, straight from the log.
// opts may be nil. The history outlives a destroy: its last event is the
// tombstone.
func (c *Client) Events(ctx context.Context, id string, opts *EventsOptions) (*EventPage, error) {
	if id == "" {
		return nil, errMissing("actor ID")
	}
	q := url.Values{}
	if opts != nil {
		if opts.After > 0 {
			q.Set("after", strconv.FormatUint(opts.After, 10))
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.State {
			q.Set("state", "true")
		}
	}
	var page EventPage
	if err := c.do(ctx, http.MethodGet, "/v1/actors/"+escape(id)+"/events", q, nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// TailOptions selects what Tail streams.
type TailOptions struct {
	// After streams the events after this log sequence. With 0 and FromStart
	// false (the defaults), only events appended from now on are streamed.
	After uint64
	// FromStart streams the whole log from its first event (After is ignored).
	FromStart bool
	// Type streams only events of actors of this type. Defaults to all.
	Type string
	// Connected, when set, is called once the server has opened the stream,
	// before the first event. (For a gap-free handover from a history read,
	// tail with After rather than relying on this moment.)
	Connected func()
}

// maxSSELine bounds one line of the event stream (an event is one line).
const maxSSELine = 16 << 20

// Tail streams the server's event log (every actor's events, in log order)
// and calls fn with each event until ctx ends, fn returns an error, or the
// stream fails. It returns ctx's error when ctx ends, fn's error as is,
// ErrStreamClosed when the server ends the stream, or an *Error. opts may be
// nil. fn runs on the calling goroutine; a slow fn slows the stream (the
// server buffers nothing without bound). Options.Timeout does not apply.
func (c *Client) Tail(ctx context.Context, opts *TailOptions, fn func(LogEvent) error) error {
	q := url.Values{}
	if opts != nil {
		switch {
		case opts.FromStart:
			q.Set("after", "0")
		case opts.After > 0:
			q.Set("after", strconv.FormatUint(opts.After, 10))
		}
		if opts.Type != "" {
			q.Set("type", opts.Type)
		}
	}
	resp, err := c.send(ctx, http.MethodGet, "/v1/events/tail", q, nil, "text/event-stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if opts != nil && opts.Connected != nil {
		opts.Connected()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), maxSSELine)
	var event string
	var data []byte
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 { // end of one event
			if err := dispatch(event, data, fn); err != nil {
				return err
			}
			event, data = "", data[:0]
			continue
		}
		if line[0] == ':' { // a comment: the greeting or a heartbeat
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			event = string(value)
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("client: tail: an event is larger than %d bytes: %w", maxSSELine, err)
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: %v", ErrStreamClosed, err)
		}
		return fmt.Errorf("client: tail: %w", err)
	}
	return ErrStreamClosed
}

// dispatch hands one complete server-sent event to fn.
func dispatch(event string, data []byte, fn func(LogEvent) error) error {
	switch event {
	case "event":
		var ev LogEvent
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("client: tail: decode an event: %w", err)
		}
		return fn(ev)
	case "error":
		var p problem
		_ = json.Unmarshal(data, &p)
		if p.Message == "" {
			p.Message = "the server's log tail failed"
		}
		return &Error{Code: CodeTailFailed, Message: p.Message, Group: errcode.GroupAPI}
	}
	return nil // unknown events are for newer clients
}
