package watermillq

import (
	"errors"
	"strconv"

	"github.com/ThreeDotsLabs/watermill/message"
)

// permanent marks an error that retrying cannot cure.
type permanent struct{ err error }

func (p permanent) Error() string { return "permanent: " + p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that no retry cures (a malformed message, say):
// with middleware.PoisonQueueWithFilter(pub, topic, IsPermanent) it sends
// the message to the poison topic at once instead of being nacked and
// redelivered by the queue. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err (or an error it wraps) was marked with
// Permanent. It suits middleware.PoisonQueueWithFilter and, negated,
// middleware.Retry's ShouldRetry.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// Attempt is a subscribed message's delivery attempt (1 for the first), or
// 0 for a message that did not come from a Subscriber.
func Attempt(msg *message.Message) int {
	n, _ := strconv.Atoi(msg.Metadata.Get(MetadataAttempt))
	return n
}
