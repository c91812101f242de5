package eventlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/rivet-flow/rivet-flow/internal/dirlock"
)

var (
	// ErrConflict matches every *ConflictError with errors.Is.
	ErrConflict = errors.New("append conflict")
	// ErrEventTooLarge reports an event over Config.MaxEventBytes.
	ErrEventTooLarge = errors.New("event too large")
	// ErrLogFull reports that the stream has reached its storage limit.
	ErrLogFull = errors.New("event log storage is full")
	// ErrClosed reports use of a closed Log.
	ErrClosed = errors.New("event log closed")
	// ErrDataDirLocked reports a data dir already used by another process.
	ErrDataDirLocked = dirlock.ErrLocked
)

// codeStoreFull is JetStream's error code 10047, "insufficient resources":
// the stream or the server has reached its storage limit. nats.go v1.55.0 has
// no constant for it; it names the other codes an append can meet
// (jetstream.JSErrCodeStreamWrongLastSequence and
// jetstream.JSErrCodeStreamWrongLastSequenceConstant).
const codeStoreFull jetstream.ErrorCode = 10047

// ConflictError is returned when an append's expected last sequence is not the
// subject's actual last sequence: another writer appended first (or this writer
// is stale). The caller must reload the actor from the log before appending again.
type ConflictError struct {
	Subject  string
	Expected uint64
	// Actual is the subject's last sequence when the server knows it, else 0.
	Actual uint64
}

// Error describes the conflict.
func (e *ConflictError) Error() string {
	if e.Actual == 0 {
		return fmt.Sprintf("append conflict on %s: expected last sequence %d, another append is in flight or won", e.Subject, e.Expected)
	}
	return fmt.Sprintf("append conflict on %s: expected last sequence %d, actual %d", e.Subject, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrConflict) match.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// classifyAppendErr turns a JetStream publish error into this package's errors.
func classifyAppendErr(subject string, expected uint64, err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("append to %s: %w", subject, err)
	}
	switch apiErr.ErrorCode {
	case jetstream.JSErrCodeStreamWrongLastSequence:
		return &ConflictError{Subject: subject, Expected: expected, Actual: actualFromDescription(apiErr.Description)}
	case jetstream.JSErrCodeStreamWrongLastSequenceConstant: // replicated streams: a fenced append for the subject is in flight
		return &ConflictError{Subject: subject, Expected: expected}
	case codeStoreFull:
		return fmt.Errorf("append to %s: %w: %v", subject, ErrLogFull, err)
	}
	if strings.Contains(apiErr.Description, "maximum bytes") || strings.Contains(apiErr.Description, "insufficient resources") {
		return fmt.Errorf("append to %s: %w: %v", subject, ErrLogFull, err)
	}
	return fmt.Errorf("append to %s: %w", subject, err)
}

// actualFromDescription reads the actual sequence at the end of JetStream's
// "wrong last sequence: N" description.
func actualFromDescription(desc string) uint64 {
	i := strings.LastIndexByte(desc, ' ')
	n, err := strconv.ParseUint(strings.TrimSpace(desc[i+1:]), 10, 64)
	if err != nil {
		return 0
	}
	return n
}
