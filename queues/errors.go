package queues

import (
	"errors"
	"fmt"
)

// Errors of the Manager, matched with errors.Is. Each wraps a message that
// says what was wrong.
var (
	// ErrNotFound: no queue of this name.
	ErrNotFound = errors.New("queue not found")
	// ErrInvalid: a name, a configuration field or an argument is invalid.
	ErrInvalid = errors.New("invalid")
	// ErrInvalidCursor: a paging cursor that no page returned (it is also
	// ErrInvalid).
	ErrInvalidCursor = fmt.Errorf("%w cursor", ErrInvalid)
	// ErrFull: the queue holds maxMessages or maxBytes; nothing was enqueued.
	ErrFull = errors.New("queue full")
	// ErrTooLarge: a message body exceeds the queue's maxMessageBytes.
	ErrTooLarge = errors.New("message too large")
	// ErrInvalidReceipt: a receipt is malformed, belongs to another queue,
	// or names a message no longer in the queue (acknowledged, dead-lettered
	// or purged). Nothing was settled.
	ErrInvalidReceipt = errors.New("invalid receipt")
)
