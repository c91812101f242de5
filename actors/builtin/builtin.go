// Package builtin holds the actor types `rivet-flow serve` ships with, so the
// binary does something useful with no code: counter, chatRoom, reminder
// and rawCounter (raw HTTP and WebSocket handlers).
package builtin

import (
	"strings"

	"github.com/rivet-flow/rivet-flow/actors"
)

// CounterState is the counter's state.
type CounterState struct {
	Count int64 `json:"count"`
}

// Counter counts: increment(amount) -> count, add({"amount"}) -> count
// (the same, with an object: what a queue's deliverTo passes),
// setCount(n) -> n, getCount() -> count, getKey() -> its key (the actions of
// RivetKit's driver-test counter); it broadcasts newCount with each new count.
var Counter = actors.NewType("counter", actors.Options[CounterState]{}).
	Action("increment", actors.Act(func(c *actors.Context[CounterState], amount int64) (int64, error) {
		return addToCounter(c, amount), nil
	}).Named("amount")).
	Action("add", actors.Act(func(c *actors.Context[CounterState], in CounterAdd) (int64, error) {
		return addToCounter(c, in.Amount), nil
	}).Named("input")).
	Action("setCount", actors.Act(func(c *actors.Context[CounterState], n int64) (int64, error) {
		c.State.Count = n
		c.Broadcast("newCount", n)
		return n, nil
	}).Named("count")).
	Action("getCount", actors.Act0(func(c *actors.Context[CounterState]) (int64, error) {
		return c.State.Count, nil
	})).
	Action("getKey", actors.Act0(func(c *actors.Context[CounterState]) ([]string, error) {
		return c.Key(), nil
	}))

// CounterAdd is the argument of counter.add: an object, so a queue message
// such as {"counter":"c1","amount":2} can be delivered to it as it is.
type CounterAdd struct {
	Amount int64 `json:"amount"`
}

func addToCounter(c *actors.Context[CounterState], amount int64) int64 {
	c.State.Count += amount
	c.Broadcast("newCount", c.State.Count)
	return c.State.Count
}

// Message is one chat message.
type Message struct {
	Sender string `json:"sender"`
	Text   string `json:"text"`
	At     int64  `json:"timestamp"` // unix milliseconds, from the recorded clock
}

// ChatState is a chat room's state.
type ChatState struct {
	Messages []Message `json:"messages"`
}

// MaxChatHistory bounds a room's history; older messages are dropped.
const MaxChatHistory = 1000

// ChatRoom is a chat room: sendMessage(text) or sendMessage(sender, text),
// getHistory(); it broadcasts newMessage with each message.
var ChatRoom = actors.NewType("chatRoom", actors.Options[ChatState]{State: ChatState{Messages: []Message{}}}).
	Action("sendMessage", actors.Act2(func(c *actors.Context[ChatState], a string, b *string) (Message, error) {
		sender, text := "anonymous", a
		if b != nil && *b != "" { // text alone, or sender and text
			sender, text = a, *b
		}
		if strings.TrimSpace(text) == "" {
			return Message{}, actors.NewUserError("empty_message", "a message needs some text", nil)
		}
		m := Message{Sender: sender, Text: text, At: c.Now().UnixMilli()}
		c.State.Messages = append(c.State.Messages, m)
		if over := len(c.State.Messages) - MaxChatHistory; over > 0 {
			c.State.Messages = append([]Message(nil), c.State.Messages[over:]...)
		}
		c.Broadcast("newMessage", m)
		return m, nil
	}).Named("senderOrText", "text")).
	Action("getHistory", actors.Act0(func(c *actors.Context[ChatState]) ([]Message, error) {
		return c.State.Messages, nil
	}))

// Registry returns a registry with the built-in types.
func Registry() *actors.Registry {
	r, err := actors.NewRegistry(Counter, ChatRoom, Reminder, RawCounter)
	if err != nil {
		panic(err) // the built-in definitions are fixed; a failure is a bug here
	}
	return r
}
